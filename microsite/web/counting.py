"""Page views: at most one per reader, article and half hour, counted the same on every host.

A *reader* is a client address (an IPv6 address by its /64, which one subscriber usually
holds whole), hashed with the secret key so the table never holds addresses. The User-Agent
plays no part: sending 100 different ones from one address is still one reader. Well-known
crawlers are not readers at all, and a HEAD request is not a view.

Recording is cheap and shared. A view adds a *mark* (window, article, reader) to this worker's
buffer, a set, so a reader's reloads collapse in memory; at most every FLUSH_SECONDS the buffer
goes to the `view_marks` table in one INSERT ... ON CONFLICT DO NOTHING, whose primary key is
the mark itself: a reader already marked in this window by any worker on any host adds
nothing. Windows are fixed half hours of the wall clock (REPEAT_WINDOW), the same on every host.

Counting is separate: `fold_views(app)` claims the marks no fold has counted, adds them to
`articles.view_count` in the same transaction and forgets windows too old to matter. Several
folds may run at once (each mark is claimed by exactly one). It runs where the buffer is
written, and from whatever runs background jobs.

The count is a plain SQL UPDATE, not an ORM change, so it neither bumps the article's version
(an admin's open edit stays valid) nor touches the search index or the page cache's stamp,
and it names `updated_at` so that column's onupdate does not fire: reading is not an edit.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import threading
import time

from flask import Flask, current_app, request
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from .. import text
from ..content.models import Article, ViewMark
from ..extensions import db

# How often a worker writes its buffered marks (and, for now, folds them into the counts).
FLUSH_SECONDS = 10.0
# One reader's views of one article within one window count once.
REPEAT_WINDOW = 30 * 60
# A buffer this full is written at the end of the request whatever the time.
FLUSH_AT_MARKS = 5_000
# While the database refuses writes the buffer keeps at most this many marks.
MAX_BUFFERED = 100_000

# Crawlers that say so. "bot", "spider" and "crawl" cover Googlebot, Baiduspider, bingbot,
# Sogou web spider, 360Spider, YisouSpider, Bytespider, YandexBot, Applebot, PetalBot and the
# SEO tools; the rest name themselves otherwise. "cubot" is a phone brand, not a robot.
CRAWLER = re.compile(
    r"(?<!cu)bot|spider|crawl|slurp|facebookexternalhit|mediapartners-google|ia_archiver"
    r"|feedfetcher",
    re.IGNORECASE,
)

Mark = tuple[int, int, int]  # (window start, article id, reader)


def is_crawler(user_agent: str) -> bool:
    return bool(CRAWLER.search(user_agent))


def _now() -> float:
    return text.utc_now().timestamp()


def window_start(now: float | None = None) -> int:
    """The start (Unix seconds) of the counting window holding `now`."""
    now = _now() if now is None else now
    return int(now // REPEAT_WINDOW) * REPEAT_WINDOW


def _address_key(address: str | None) -> str:
    """The part of an address that names one reader: IPv6 by its /64 network."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return address or ""
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False).network_address)
    return str(parsed)


class ViewCounter:
    def __init__(self, secret: str) -> None:
        # A keyed hash: the marks table can be read without learning readers' addresses.
        self._key = hashlib.blake2b(secret.encode(), digest_size=32).digest()
        self._lock = threading.Lock()
        self._pending: set[Mark] = set()
        self._last_write = time.monotonic()

    def reader(self, address: str | None) -> int:
        """A signed 64-bit number for this client address (fits a BIGINT)."""
        digest = hashlib.blake2b(
            _address_key(address).encode(), key=self._key, digest_size=8
        ).digest()
        return int.from_bytes(digest, "big", signed=True)

    def record(self, article_id: int) -> bool:
        """Buffer a view of this article by the current request's reader; False when the
        request is not a reader's view (a crawler, a HEAD)."""
        return self.record_view(
            article_id, request.method, request.user_agent.string, request.remote_addr
        )

    def record_view(self, article_id: int, method: str, user_agent: str, address) -> bool:
        """record() outside a request (microsite.web.front answers stored pages before Flask)."""
        if method != "GET" or is_crawler(user_agent):
            return False
        mark = (window_start(), article_id, self.reader(address))
        with self._lock:
            self._pending.add(mark)
        return True

    def due(self) -> bool:
        if not self._pending:
            return False
        waited = time.monotonic() - self._last_write
        return waited >= FLUSH_SECONDS or len(self._pending) >= FLUSH_AT_MARKS

    def write_marks(self) -> int:
        """Write the buffered marks, ignoring those already there; returns marks sent."""
        with self._lock:
            pending, self._pending = self._pending, set()
            self._last_write = time.monotonic()
        if not pending:
            return 0
        # In key order: two workers inserting overlapping marks then wait for each other in
        # the same order instead of deadlocking (PostgreSQL).
        rows = [{"slot": s, "article_id": a, "reader": r} for s, a, r in sorted(pending)]
        try:
            with db.engine.begin() as connection:
                connection.execute(_insert_ignoring_duplicates(connection.dialect.name), rows)
        except SQLAlchemyError:
            current_app.logger.exception("view marks could not be saved; keeping them")
            with self._lock:
                self._pending |= set(list(pending)[: max(0, MAX_BUFFERED - len(self._pending))])
            return 0
        return len(pending)

    def flush(self) -> int:
        """Write this worker's marks and fold every host's into the counts; views added."""
        self.write_marks()
        return fold_views(current_app._get_current_object())


def _insert_ignoring_duplicates(dialect: str):
    """INSERT INTO view_marks … ON CONFLICT DO NOTHING, in the database's own dialect."""
    if dialect == "postgresql":
        return postgresql.insert(ViewMark).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(ViewMark).on_conflict_do_nothing()
    raise RuntimeError(f"view counting supports SQLite and PostgreSQL, not {dialect}")


def fold_views(app: Flask) -> int:
    """Add the marks no fold has counted yet to `articles.view_count`, and delete marks of
    windows before the previous one; returns the views added.

    One transaction: marks are claimed with this fold's random id, counted by that id, and the
    counts added, so a fold that fails counts nothing and a concurrent fold (another worker,
    another host, the background worker) never counts a mark twice.
    """
    fold_id = secrets.randbits(62) + 1
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(update(ViewMark).where(ViewMark.fold.is_(None)).values(fold=fold_id))
        counts = connection.execute(
            select(ViewMark.article_id, func.count())
            .where(ViewMark.fold == fold_id)
            .group_by(ViewMark.article_id)
            .order_by(ViewMark.article_id)  # rows locked in one order by every fold
        ).all()
        if counts:
            connection.execute(
                update(Article)
                .where(Article.id == bindparam("article_id"))
                # Naming updated_at keeps it: its onupdate would otherwise fire, and the
                # sitemap's lastmod, the feed's <updated> and Last-Modified would move on a read.
                .values(
                    view_count=Article.view_count + bindparam("views"),
                    updated_at=Article.updated_at,
                )
                .execution_options(synchronize_session=False),
                [{"article_id": article_id, "views": views} for article_id, views in counts],
            )
        # Marks of the previous window stay: a buffer written late may still repeat them.
        connection.execute(delete(ViewMark).where(ViewMark.slot < window_start() - REPEAT_WINDOW))
    return sum(views for _, views in counts)


def view_counter(app: Flask | None = None) -> ViewCounter:
    """This app's counter (one per app, so test apps never share buffers)."""
    return (app or current_app).extensions["view_counter"]


def init_app(app: Flask) -> None:
    counter = app.extensions["view_counter"] = ViewCounter(app.config["SECRET_KEY"] or "")

    @app.teardown_request
    def _write_when_due(_exc) -> None:
        # Recording the views is what a page view must write; adding them to the counts is
        # the background worker's job (microsite.jobs.fold_view_counts), never a reader's.
        if counter.due():
            counter.write_marks()
