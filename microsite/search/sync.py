"""Keep the index following the database, through SQLAlchemy session events.

after_flush notes which articles changed in a way the index sees; before_commit writes one
IndexChange row (the outbox) per such article into the same transaction, so the change log
holds exactly the committed changes; after_commit then tells the app (ON_LOGGED:
microsite.queue enqueues the worker's apply job), and the worker applies the log to the index:
a web worker never writes the index itself. A rollback forgets the notes
and the rows alike, so a failed commit never reaches any index. A failure to write the index
is logged in the worker: the entry stays in the log and is applied on the next try.

With the PostgreSQL search backend there is no log: before_commit writes the articles' search
vectors into their own rows instead (backends/postgres.py), in the same transaction.

On PostgreSQL, ids come from a sequence in insert order, not commit order: a transaction-level
advisory lock, taken just before the rows are written and held until commit, makes commits
of outbox rows follow their ids, so an index that has applied id N never misses a smaller one.
(SQLite writers are serialised by the database itself.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import Flask, current_app, has_app_context
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session, selectinload

from ..content.models import Article, Category, IndexChange, Tag, article_tags
from ..extensions import on_session

log = logging.getLogger(__name__)

PENDING = "microsite.search.pending"
# app.extensions key of a callable run after a commit that wrote change-log rows.
ON_LOGGED = "microsite.search.on_logged"
# Only these attributes change what the index holds; a view count or version bump does not.
INDEXED = ("title", "body", "status", "published_at", "category_id", "category", "tags")
CHUNK = 500
# pg_advisory_xact_lock key for writers of the change log ("mi" "ix" as bytes).
OUTBOX_LOCK_KEY = 0x6D69_6978


@dataclass
class Pending:
    articles: set[int] = field(default_factory=set)
    categories: set[int] = field(default_factory=set)
    tags: set[int] = field(default_factory=set)
    # Article ids already written to the change log in this transaction.
    logged: set[int] = field(default_factory=set)

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


def note(session: Session, *ids: int) -> None:
    """Name articles changed by a Core statement (which fires no flush events), so this
    session's commit logs and applies them like any ORM change."""
    session.info.setdefault(PENDING, Pending()).articles.update(ids)


def article_ids(session: Session, pending: Pending) -> set[int]:
    """Every article id a change touches: renamed categories and tags name their articles."""
    ids = set(pending.articles)
    if pending.categories:
        query = select(Article.id).where(Article.category_id.in_(pending.categories))
        ids |= set(session.scalars(query))
    if pending.tags:
        query = select(article_tags.c.article_id).where(article_tags.c.tag_id.in_(pending.tags))
        ids |= set(session.scalars(query))
    return ids


def _before_commit(session: Session) -> None:
    pending = session.info.get(PENDING)
    if session.new or session.dirty or session.deleted:
        session.flush()  # the notes must cover what this commit is about to write
        pending = session.info.get(PENDING)
    if not pending:
        return
    with session.no_autoflush:
        new = article_ids(session, pending) - pending.logged
    if not new:
        return
    if _backend() == "postgres":
        from .backends import postgres

        # The words go into the article rows themselves, in this transaction: no log.
        postgres.write(session, new)
        _mark_site_change(session)
        pending.logged |= new
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": OUTBOX_LOCK_KEY})
    session.add_all(IndexChange(article_id=article_id) for article_id in sorted(new))
    pending.logged |= new
    session.flush()


def _mark_site_change(session: Session) -> None:
    """A new site revision, for changes made by Core statements (scheduled publishing): with
    the Whoosh backend the newest change-log row tells the page cache, here nothing else does."""
    from ..web.page_cache import ARTICLES_REVISION, new_revision

    new_revision(session, ARTICLES_REVISION)
    session.flush()


def _after_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released: the outer transaction may still roll back
    pending = session.info.pop(PENDING, None)
    # Whoosh: the worker applies the log to this host's index (microsite.jobs). PostgreSQL
    # search wrote its words with the commit itself and has nothing to apply.
    if pending and pending.logged and _backend() == "whoosh":
        on_logged = current_app.extensions.get(ON_LOGGED)
        if on_logged is not None:
            on_logged()


def _backend() -> str | None:
    if not has_app_context():
        return None
    from .backends import EXTENSION

    backend = current_app.extensions.get(EXTENSION)
    return backend.name if backend is not None else None


def _after_soft_rollback(session: Session, previous) -> None:
    # Only the outermost rollback discards the transaction; a savepoint's rollback keeps
    # what the outer transaction flushed before it (re-reading an id is harmless anyway).
    if previous.parent is None:
        session.info.pop(PENDING, None)
    elif PENDING in session.info:
        # Log rows written inside the savepoint went with it: write them again at commit
        # (a row too many is harmless, a missing one is not).
        session.info[PENDING].logged.clear()


def listen(app: Flask) -> None:
    """Follow changes in this app's sessions (not in other apps' or other code's)."""
    on_session(app, "after_flush", _after_flush)
    on_session(app, "before_commit", _before_commit)
    on_session(app, "after_commit", _after_commit)
    on_session(app, "after_soft_rollback", _after_soft_rollback)


def resolve(session: Session, pending: Pending) -> tuple[list[Article], set[int]]:
    """The live articles to (re)index and the ids to remove, read from the database."""
    ids = article_ids(session, pending)
    live = []
    ordered = sorted(ids)
    # In chunks: a catch-up after a rebuild may name thousands of ids, past SQLite's limit
    # on bound parameters.
    for start in range(0, len(ordered), CHUNK):
        query = (
            select(Article)
            .options(selectinload(Article.tags))
            .where(Article.id.in_(ordered[start : start + CHUNK]), Article.is_live)
        )
        live.extend(session.scalars(query))
    return live, ids - {article.id for article in live}
