"""Scheduled publishing: an article whose publish time has come goes live once, on any worker.

A scheduled article has status SCHEDULED, published_at NULL and scheduled_for set, so every
public list, feed, sitemap and the search index (all of which need a published article with a
published_at) leave it out by construction, and its URL is a 404 for readers.

publish_due() moves the articles that have come due: one conditional UPDATE per article
(still scheduled, still due), so when several workers or hosts race for the same article,
exactly one UPDATE matches a row; only that process writes the search change-log row, in the
same transaction, and so the article reaches the search index once. The worker runs it every
minute and when it starts (microsite.jobs); `flask --app wsgi publish-due` runs it by hand. A
reader's request never does: pages only read.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from ..extensions import db, new_session
from ..search import sync
from ..text import cn_date, local_now
from .models import PUBLISHED, SCHEDULED, Article

log = logging.getLogger(__name__)


def when_text(value: datetime) -> str:
    """2026年11月29日 10:05 (seconds only when there are some), for the desk's messages."""
    clock = f"{value:%H:%M:%S}" if value.second else f"{value:%H:%M}"
    return f"{cn_date(value)} {clock}"


def due_ids(connection, now: datetime) -> list[int]:
    """Ids of the scheduled articles due at `now`, earliest first (one (status,
    scheduled_for) index range; sorted here so the statement stays a plain range scan)."""
    query = select(Article.id, Article.scheduled_for).where(
        Article.status == SCHEDULED, Article.scheduled_for <= now
    )
    rows = connection.execute(query).all()
    return [row.id for row in sorted(rows, key=lambda row: (row.scheduled_for, row.id))]


def _publish(bind, article_id: int, now: datetime) -> bool:
    """Publish one due article; False when another process got there first (or it was
    edited meanwhile): the UPDATE matched no row and this process wrote nothing."""
    with new_session(bind=bind) as session:
        result = session.execute(
            update(Article)
            .where(
                Article.id == article_id,
                Article.status == SCHEDULED,
                Article.scheduled_for <= now,
            )
            # SET reads the row as it was: published_at takes the planned time.
            .values(
                status=PUBLISHED,
                published_at=Article.scheduled_for,
                scheduled_for=None,
                version=Article.version + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            session.rollback()
            return False
        # A Core UPDATE fires no flush events: name the article for the search sync, which
        # writes its change-log row in this transaction and applies it after the commit.
        sync.note(session, article_id)
        session.commit()
    return True


def publish_due(now: datetime | None = None, bind=None) -> list[int]:
    """Publish every scheduled article due at `now` (default: the site's clock); returns the
    ids this call published, each published by exactly one caller however many race."""
    now = now or local_now()
    bind = bind if bind is not None else db.engine
    with bind.connect() as connection:
        ids = due_ids(connection, now)
    published = [article_id for article_id in ids if _publish(bind, article_id, now)]
    if published:
        log.info("published scheduled articles %s", published)
    return published
