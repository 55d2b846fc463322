"""Scheduled publishing: an article whose publish time has come goes live once, on any worker.

A scheduled article has status SCHEDULED, published_at NULL and scheduled_for set, so every
public list, feed, sitemap and the search index (all of which need a published article with a
published_at) leave it out by construction, and its URL is a 404 for readers.

publish_due() moves the articles that have come due: one conditional UPDATE per article
(still scheduled, still due), so when several workers or hosts race for the same article,
exactly one UPDATE matches a row; only that process writes the search change-log row, in the
same transaction, and so the article reaches every host's index once. It runs before requests
(at most once a second per worker: one indexed query that finds nothing on most checks) and
from cron with `flask --app wsgi publish-due`, so an article appears without anyone acting.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from flask import current_app, request
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .extensions import db
from .models import PUBLISHED, SCHEDULED, Article
from .search import sync
from .text import cn_date, local_now

log = logging.getLogger(__name__)
EXTENSION = "microsite.scheduling"
# Requests that never show an article list: no check before them.
UNCHECKED_ENDPOINTS = frozenset({"static", "health.healthz"})


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
    with Session(bind) as session:
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


class OnRead:
    """Per app and process: publish due articles before a request, at most every `interval`
    seconds (0: before every request, as under TESTING, so a moved clock counts at once)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._checked: float | None = None
        self._lock = threading.Lock()

    def __call__(self) -> None:
        checked = self._checked
        if self.interval and checked is not None and time.monotonic() - checked < self.interval:
            return
        # Another thread of this worker checking right now covers this request too.
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._checked = time.monotonic()
            publish_due()
        except SQLAlchemyError:
            # The page may still answer (or report the database itself); try again next time.
            log.exception("could not publish scheduled articles")
        finally:
            self._lock.release()


def publish_due_on_read() -> None:
    """before_request: publish what has come due before answering (not for static files)."""
    if request.endpoint is None or request.endpoint in UNCHECKED_ENDPOINTS:
        return
    app = current_app
    on_read = app.extensions.get(EXTENSION)
    if on_read is None:
        interval = app.config.get("SCHEDULE_CHECK_SECONDS")
        if interval is None:
            interval = 0.0 if app.testing else 1.0
        on_read = app.extensions.setdefault(EXTENSION, OnRead(float(interval)))
    on_read()
