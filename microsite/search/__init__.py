"""Chinese full-text search: the public API the rest of the site calls.

The engine is a backend (backends/: Whoosh, or PostgreSQL full-text search), chosen by
MICROSITE_SEARCH_BACKEND; views, listings and the admin only call what is listed here.

init_app(app)                        bind to the app (the factory calls it)
find(q, page=1, sort="relevance")    a page of results -> results.SearchPage
more_like(article, limit)            ids of similar published articles (for related lists)
rebuild(progress=None, procs=1)      rebuild from the database and swap in; -> documents
status()                             the index's state, for /healthz
follow()                             Whoosh: apply the change log entries this index has not seen
apply_pending(app=None)              follow(), for the worker (microsite.jobs): the one writer
SearchUnavailable                    raised by find() when there is no readable index
clean(q)                             the reader's input as it will be searched (trimmed, cut)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from ..content.models import Article, IndexChange
from ..extensions import db
from ..text import local_now
from . import backends, index, sync
from .index import RebuildInProgress, SearchUnavailable
from .query import clean
from .results import LIVE, SORTS, Hit, SearchPage, find, more_like
from .searcher import LiveSearcher

__all__ = [
    "SORTS",
    "Hit",
    "RebuildInProgress",
    "SearchPage",
    "SearchUnavailable",
    "apply_pending",
    "clean",
    "find",
    "follow",
    "init_app",
    "more_like",
    "rebuild",
    "state",
    "status",
]
log = logging.getLogger(__name__)
EXTENSION = "microsite.search"
# Articles saved from this long before a rebuild started are indexed again after the swap:
# their commit may have gone to the old generation while the new one was being built.
# updated_at has whole seconds, hence a margin above one second.
CATCH_UP_MARGIN = timedelta(seconds=2)
AUTO_PROCS_FROM = 2000
# Change-log entries applied per index commit while catching up.
FOLLOW_BATCH = 1000
# Pruning runs at most this often per process, and an applied entry stays this long: a
# rebuild's new generation starts from the log position it read as it began, and takes the
# rebuild lock (which stops pruning) a moment later, so no entry it still needs can go.
PRUNE_EVERY = 300.0
PRUNE_MIN_AGE = timedelta(minutes=10)

NEWEST_CHANGE = select(func.max(IndexChange.id))


class SearchState:
    """Per app and process: the index location, the searcher and ids waiting for a retry.

    The Whoosh index is one host's: its worker is the one writer, and the change log
    (index_changes, written with each commit) is how web workers hand it their changes. The
    index records the last entry it applied (index.read_applied), and that index is the log's
    only reader, so whatever it applied can go. Several hosts use PostgreSQL search, which
    needs no log (backends/postgres.py)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        # Searches read the index as it is: the worker (microsite.jobs) keeps it following the
        # log, so a reader's request never writes it.
        self.searcher = LiveSearcher(home)
        self._retry = sync.Pending()
        self._lock = threading.Lock()
        self._checked = 0.0
        self._pruned = 0.0

    # --- following the change log --------------------------------------------------------

    def follow(self, bind=None, wait: float = index.WRITE_TIMEOUT, held=None) -> int:
        """Apply the change-log entries this index has not applied yet, in id order, and
        record the last id in the index; returns the number of entries applied. Never raises:
        what fails stays in the log for the next try. wait: how long to wait for another
        process of this host that is applying the log; held: (generation, descriptor) of the
        follow lock this caller already holds (see hold())."""
        try:
            return self._follow(bind if bind is not None else db.engine, wait, held)
        except Exception:
            self._checked = 0.0  # the next search tries again
            log.exception("could not apply the index change log; will retry")
            return 0

    def _follow(self, bind, wait: float, held) -> int:
        where = index.live_dir(self.home)
        if where is None:
            return 0  # nothing to follow yet: `flask reindex` builds the index first
        if index.schema_version(where) != index.SCHEMA_VERSION:
            return 0  # an outdated index is not searched; `reindex` replaces it whole
        with bind.connect() as connection:  # a bare connection: half the cost of a Session
            top = connection.scalar(NEWEST_CHANGE) or 0
        last = index.read_applied(where)
        if top <= last:
            self._checked = time.monotonic()  # up to date (a failed catch-up is not)
            self._prune_now_and_then(bind)
            return 0
        applied = 0
        if held is not None and held[0] == where:
            fd = None  # the caller holds the lock of this generation
        else:
            fd = index.take_follow_lock(where, wait)
            if fd is None:
                log.info("another process is applying the change log to %s", where)
                return 0
        try:
            last = index.read_applied(where)  # another process may have applied them meanwhile
            while top > last:
                with Session(bind) as session:
                    rows = session.execute(
                        select(IndexChange.id, IndexChange.article_id)
                        .where(IndexChange.id > last)
                        .order_by(IndexChange.id)
                        .limit(FOLLOW_BATCH)
                    ).all()
                if not rows:
                    last = top  # ids of rolled-back transactions: nothing left to apply
                else:
                    pending = sync.Pending(articles={row.article_id for row in rows})
                    if self._needs_write(pending, bind):
                        index.apply(self.home, lambda p=pending: self._load(p, bind), where)
                    last = rows[-1].id
                    applied += len(rows)
                index.write_applied(where, last)
        finally:
            if fd is not None:
                index.release_follow_lock(fd)
        self._checked = time.monotonic()
        self._prune_now_and_then(bind)
        return applied

    def _prune_now_and_then(self, bind) -> None:
        now = time.monotonic()
        if now - self._pruned >= PRUNE_EVERY:
            self._pruned = now
            self.prune(bind)

    def prune(self, bind=None) -> int:
        """Delete the log entries the live index has applied that are PRUNE_MIN_AGE old;
        returns how many. The newest entry always stays: the page cache's stamp names it, and
        an empty log would give the stamp of an empty log again. Nothing goes while a rebuild
        runs (its generation will follow the log from where the rebuild began)."""
        bind = bind if bind is not None else db.engine
        where = index.live_dir(self.home)
        if where is None or index.rebuild_running(self.home):
            return 0
        applied = index.read_applied(where)
        with Session(bind) as session:
            newest = session.scalar(NEWEST_CHANGE) or 0
            settled = select(func.max(IndexChange.id)).where(
                IndexChange.id <= applied,
                IndexChange.id < newest,
                IndexChange.created_at < local_now() - PRUNE_MIN_AGE,
            )
            upto = session.scalar(settled)
            if not upto:
                return 0
            deleted = session.execute(delete(IndexChange).where(IndexChange.id <= upto)).rowcount
            session.commit()
            return deleted

    def apply(self, pending: sync.Pending, bind) -> None:
        """Bring the index in line with the database for these changes; never raises."""
        with self._lock:
            pending.merge(self._retry)
            self._retry = sync.Pending()
        if index.live_dir(self.home) is None:
            return  # nothing to follow yet: `flask reindex` builds the index from the database
        try:
            if self._needs_write(pending, bind):
                index.apply(self.home, lambda: self._load(pending, bind))
        except SearchUnavailable:
            log.warning("search index unavailable; changes wait for a reindex")
        except Exception:
            log.exception("could not update the search index; will retry with the next change")
            with self._lock:
                self._retry.merge(pending)

    @staticmethod
    def _load(pending: sync.Pending, bind) -> tuple[list[dict], set[int]]:
        # A new session each time: the database as it is now, not an older snapshot.
        with Session(bind) as session:
            live, gone = sync.resolve(session, pending)
            return [index.document(article) for article in live], gone

    def _needs_write(self, pending: sync.Pending, bind) -> bool:
        """False when nothing indexed changes (a draft saved again): no writer, no new
        generation, so searchers and the related-list cache stay valid."""
        with Session(bind) as session:
            live, gone = sync.resolve(session, pending)
        if live:
            return True
        return self.searcher.run(
            lambda s: any(s.document_number(id=str(i)) is not None for i in gone), follow=False
        )


def init_app(app: Flask) -> None:
    search = SearchState(Path(app.config["SEARCH_INDEX_DIR"]))
    app.extensions[EXTENSION] = search
    app.extensions[backends.EXTENSION] = backends.create(backends.chosen(app.config))
    sync.listen(app)


def follow() -> int:
    """Apply the change-log entries this app's index has not seen; returns how many."""
    return state().follow()


def apply_pending(app: Flask | None = None) -> int:
    """Apply the change-log entries this host's index has not applied yet; returns how many.
    The worker's call (microsite.jobs): web workers only write the log. Never raises."""
    app = app or current_app._get_current_object()
    if app.extensions[backends.EXTENSION].name != "whoosh":
        return 0  # PostgreSQL search is written with each commit: there is no log to apply
    with app.app_context():
        return app.extensions[EXTENSION].follow()


def state() -> SearchState:
    return current_app.extensions[EXTENSION]


def status() -> dict:
    """The index's state ("ok", "missing", "unreadable", "outdated"), generation, documents."""
    return backends.current().status()


def _live_articles(session: Session):
    query = (
        select(Article)
        .options(selectinload(Article.tags))
        .where(*LIVE)
        .order_by(Article.id)
        .execution_options(yield_per=500)
    )
    return session.scalars(query)


def _catch_up(search: SearchState, bind, since) -> None:
    with Session(bind) as session:
        live = set(session.scalars(select(Article.id).where(*LIVE)))
        changed = set(session.scalars(select(Article.id).where(Article.updated_at >= since)))
    with search.searcher.use() as searcher:
        indexed = {int(fields["id"]) for fields in searcher.all_stored_fields()}
    stale = (live ^ indexed) | changed
    if stale:
        search.apply(sync.Pending(articles=stale), bind)


def _auto_procs(total: int) -> int:
    # Two indexing processes took 150 s instead of 280 s for 10,000 articles here; for a few
    # hundred, starting them costs more than it saves.
    return min(2, os.cpu_count() or 1) if total >= AUTO_PROCS_FROM else 1


def rebuild(progress: Callable[[int, int], None] | None = None, procs: int | None = 1) -> int:
    """Index every published article again, with the configured backend; returns how many.
    progress(done, total) is called as documents are added."""
    return backends.current().rebuild(progress, procs)


def whoosh_rebuild(
    progress: Callable[[int, int], None] | None = None, procs: int | None = 1
) -> int:
    """Rebuild the Whoosh index from the database into a fresh directory and swap it in.

    progress(done, total) is called as documents are added. Runs in its own database
    session, so it can run in a background thread. Returns the number of documents.
    Raises RebuildInProgress when another rebuild (in any process) is running.
    procs: indexing processes; None picks by size. Keep 1 from a thread of a web worker:
    the extra processes are forked, and forking a threaded process is not safe.
    """
    search = state()
    bind = db.engine
    since = local_now() - CATCH_UP_MARGIN
    with Session(bind) as session:
        # Read before the articles: every change up to here is in what the build reads, and
        # the index then follows the log from this id.
        applied = session.scalar(select(func.max(IndexChange.id))) or 0
        total = session.scalar(select(func.count(Article.id)).where(*LIVE)) or 0
        procs = _auto_procs(total) if procs is None else procs
        articles = _live_articles(session)
        try:
            count = index.build(search.home, articles, total, progress, procs, applied=applied)
        finally:
            # On PostgreSQL a server-side cursor: a refused or failed build must close it,
            # or its connection is left open until the garbage collector finds it.
            articles.close()
    _catch_up(search, bind, since)
    search.follow(bind)
    return count
