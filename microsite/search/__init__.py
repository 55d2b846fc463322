"""Chinese full-text search with Whoosh: the public API the rest of the site calls.

init_app(app)                        bind to the app (the factory calls it)
find(q, page=1, sort="relevance")    a page of results -> results.SearchPage
more_like(article, limit)            ids of similar published articles (for related lists)
rebuild(progress=None, procs=1)      rebuild from the database and swap in; -> documents
status()                             the index's state, for /healthz
SearchUnavailable                    raised by find() when there is no readable index
clean(q)                             the reader's input as it will be searched (trimmed, cut)
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..extensions import db
from ..models import Article
from ..text import local_now
from . import index, sync
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
    "clean",
    "find",
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


class SearchState:
    """Per app and process: the index location, the searcher and ids waiting for a retry."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.searcher = LiveSearcher(home)
        self._retry = sync.Pending()
        self._lock = threading.Lock()

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
            lambda s: any(s.document_number(id=str(i)) is not None for i in gone)
        )


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = SearchState(Path(app.config["SEARCH_INDEX_DIR"]))
    sync.listen()


def state() -> SearchState:
    return current_app.extensions[EXTENSION]


def status() -> dict:
    """The index's state ("ok", "missing", "unreadable"), generation and document count."""
    return index.status(state().home)


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
    """Rebuild the index from the database into a fresh directory and swap it in.

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
        total = session.scalar(select(func.count(Article.id)).where(*LIVE)) or 0
        procs = _auto_procs(total) if procs is None else procs
        count = index.build(search.home, _live_articles(session), total, progress, procs)
    _catch_up(search, bind, since)
    return count
