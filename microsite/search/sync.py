"""Keep the index following the database, through SQLAlchemy session events.

after_flush notes which articles changed in a way the index sees; after_commit applies
them, reading each article afresh in a new session (the committed truth, whatever flushes came
in between); a rollback forgets them, so a failed commit never reaches the index. The index
is written only after the database commit succeeded, and a failure to write it is logged,
never raised into the request that saved the article: the article is saved, and the ids are
retried with the next change (or a rebuild catches up).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, selectinload

from ..models import PUBLISHED, Article, Category, Tag, article_tags

log = logging.getLogger(__name__)

PENDING = "microsite.search.pending"
# Only these attributes change what the index holds; a view count or version bump does not.
INDEXED = ("title", "body", "status", "published_at", "category_id", "category", "tags")
CHUNK = 500


@dataclass
class Pending:
    articles: set[int] = field(default_factory=set)
    categories: set[int] = field(default_factory=set)
    tags: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.articles or self.categories or self.tags)

    def merge(self, other: Pending) -> None:
        self.articles |= other.articles
        self.categories |= other.categories
        self.tags |= other.tags


def _changed(obj, names) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _after_flush(session: Session, _context) -> None:
    pending = session.info.setdefault(PENDING, Pending())
    for obj in session.new:
        if isinstance(obj, Article):
            pending.articles.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Article):
            pending.articles.add(obj.id)
    for obj in session.dirty:
        if isinstance(obj, Article) and _changed(obj, INDEXED):
            pending.articles.add(obj.id)
        elif isinstance(obj, Category) and _changed(obj, ("name",)):
            pending.categories.add(obj.id)
        elif isinstance(obj, Tag) and _changed(obj, ("name",)):
            pending.tags.add(obj.id)


def _after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if not pending or not has_app_context():
        return
    state = current_app.extensions.get("microsite.search")
    if state is None:
        return
    state.apply(pending, session.get_bind())


def _after_soft_rollback(session: Session, previous) -> None:
    # Only the outermost rollback discards the transaction; a savepoint's rollback keeps
    # what the outer transaction flushed before it (re-reading an id is harmless anyway).
    if previous.parent is None:
        session.info.pop(PENDING, None)


def listen() -> None:
    """Register the listeners once per process, for every Session."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)


def resolve(session: Session, pending: Pending) -> tuple[list[Article], set[int]]:
    """The live articles to (re)index and the ids to remove, read from the database."""
    ids = set(pending.articles)
    if pending.categories:
        query = select(Article.id).where(Article.category_id.in_(pending.categories))
        ids |= set(session.scalars(query))
    if pending.tags:
        query = select(article_tags.c.article_id).where(article_tags.c.tag_id.in_(pending.tags))
        ids |= set(session.scalars(query))
    live = []
    ordered = sorted(ids)
    # In chunks: a catch-up after a rebuild may name thousands of ids, past SQLite's limit
    # on bound parameters.
    for start in range(0, len(ordered), CHUNK):
        query = (
            select(Article)
            .options(selectinload(Article.tags))
            .where(Article.id.in_(ordered[start : start + CHUNK]), Article.status == PUBLISHED)
            .where(Article.published_at.is_not(None))
        )
        live.extend(session.scalars(query))
    return live, ids - {article.id for article in live}
