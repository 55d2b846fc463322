"""View counting that never turns a page view into a serialized database write.

Each worker counts views in memory and adds them to the database in one short transaction at
most every FLUSH_SECONDS, and when a gunicorn worker exits (gunicorn.conf.py's worker_exit).
A reader reloading the same article within REPEAT_WINDOW seconds is counted once: the key is
a hash of address, user agent and article, held per worker, so a reload that lands on another
worker may count again (a documented limit).
The update is a plain SQL UPDATE, not an ORM change, so it neither bumps the article's version
(an admin's open edit stays valid) nor touches the search index.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, OrderedDict

from flask import Flask, current_app, request
from sqlalchemy import bindparam, update
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .models import Article

FLUSH_SECONDS = 10.0
REPEAT_WINDOW = 30 * 60
MAX_REMEMBERED = 50_000


class ViewCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Counter[int] = Counter()
        self._seen: OrderedDict[bytes, float] = OrderedDict()
        self._last_flush = time.monotonic()

    def _reader_key(self, article_id: int) -> bytes:
        who = f"{request.remote_addr}|{request.user_agent.string}|{article_id}"
        return hashlib.blake2b(who.encode(), digest_size=16).digest()

    def record(self, article_id: int) -> bool:
        """Count one view unless this reader viewed the article recently; True if counted."""
        key, now = self._reader_key(article_id), time.monotonic()
        with self._lock:
            seen_at = self._seen.pop(key, None)
            self._seen[key] = now
            while len(self._seen) > MAX_REMEMBERED:
                self._seen.popitem(last=False)
            if seen_at is not None and now - seen_at < REPEAT_WINDOW:
                return False
            self._pending[article_id] += 1
            return True

    def due(self) -> bool:
        return bool(self._pending) and time.monotonic() - self._last_flush >= FLUSH_SECONDS

    def flush(self) -> int:
        """Add the pending counts to the database in one transaction; returns views written."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._last_flush = time.monotonic()
        if not pending:
            return 0
        rows = [{"article_id": k, "n": n} for k, n in pending.items()]
        statement = (
            update(Article)
            .where(Article.id == bindparam("article_id"))
            # A column's onupdate fires for Core UPDATEs too: naming updated_at keeps it, so a
            # read never moves the sitemap's lastmod, the feed's <updated> or Last-Modified.
            .values(view_count=Article.view_count + bindparam("n"), updated_at=Article.updated_at)
            .execution_options(synchronize_session=False)
        )
        try:
            with db.engine.begin() as connection:
                connection.execute(statement, rows)
        except SQLAlchemyError:
            current_app.logger.exception("view counts could not be saved; keeping them")
            with self._lock:
                self._pending.update(pending)
            return 0
        return sum(pending.values())


def view_counter() -> ViewCounter:
    """This app's counter (one per app, so test apps never share counts)."""
    return current_app.extensions["view_counter"]


def init_app(app: Flask) -> None:
    counter = app.extensions["view_counter"] = ViewCounter()

    @app.teardown_request
    def _flush_when_due(_exc) -> None:
        if counter.due():
            counter.flush()
