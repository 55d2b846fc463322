"""More-like-this lists, computed by the worker and read by readers from the database.

Asking the search engine which articles are most like one costs ~100 ms with Whoosh, too
much for the first reader of an article. So the worker asks when an article is published or
edited (and again once a list is a day old, so newer articles get their chance) and keeps
the ids in `related_lists`; a reader's view only reads that row. Until the worker has been
there, the related headlines fall back to the same category's and the site's latest ones
(content/listings.py). Writing a list that differs starts a new site revision, so stored
pages that show it are made again (web/page_cache.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, exists, select
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..text import local_now
from .models import Article, RelatedList

log = logging.getLogger(__name__)
# A list older than this is asked again: articles published since may belong on it.
MAX_AGE = timedelta(hours=24)
# Articles refreshed per worker turn: ~100 ms each with Whoosh, so a turn stays short.
BATCH = 20


def stored_ids(article: Article) -> list[int]:
    """The worker's ids for this article (maybe of an older version, until it catches up);
    [] when it has not been there yet. One primary-key read, never the search engine."""
    row = db.session.get(RelatedList, article.id)
    return decode(row.ids) if row is not None else []


def decode(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.isdigit()]


def encode(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def due(limit: int, now=None) -> list[Article]:
    """Live articles whose list is missing, of another version or older than MAX_AGE;
    the most recently changed first."""
    cutoff = (now or local_now()) - MAX_AGE
    fresh = exists().where(
        and_(
            RelatedList.article_id == Article.id,
            RelatedList.version == Article.version,
            RelatedList.computed_at >= cutoff,
        )
    )
    query = (
        select(Article)
        .where(Article.is_live, ~fresh)
        .order_by(Article.updated_at.desc(), Article.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def refresh(limit: int = BATCH) -> int:
    """Compute and store the lists of up to `limit` due articles; returns how many were
    stored. The worker's call; stops early (and stores nothing wrong) without an index."""
    from ..search import backends
    from ..search.index import SearchUnavailable

    engine = backends.current()
    size = int(current_app.config["RELATED_MAX"])
    stored = 0
    for article in due(limit):
        try:
            ids = [i for i in engine.similar(article, size) if i != article.id]
        except SearchUnavailable:
            break  # no index yet: the fallback headlines stay until there is one
        _store(article, ids)
        stored += 1
    try:
        db.session.commit()
    except SQLAlchemyError:  # another host stored the same article first: next turn
        db.session.rollback()
        log.info("related lists not stored this turn", exc_info=True)
        return 0
    return stored


def _store(article: Article, ids: list[int]) -> None:
    row = db.session.get(RelatedList, article.id) or RelatedList(article_id=article.id)
    row.version, row.computed_at = article.version, local_now()
    text = encode(ids)
    if row.ids != text:  # an unchanged list must not start a new site revision
        row.ids = text
    db.session.add(row)


def site_marker(app) -> tuple | None:
    """What changes with every article change (the page cache's stamp row): the worker's
    loop refreshes when it moves. None when the database is away."""
    from ..web.page_cache import STAMP_QUERY

    with app.app_context():
        try:
            return tuple(db.session.execute(STAMP_QUERY).one())
        except SQLAlchemyError:
            return None
        finally:
            db.session.remove()


def refresh_quietly(app) -> int:
    """refresh() for the worker's loop: never raises (what fails is tried next turn)."""
    with app.app_context():
        try:
            return refresh()
        except Exception:
            log.exception("could not refresh related lists")
            db.session.rollback()
            return 0
        finally:
            db.session.remove()
