"""The job queue, bound per app: web code enqueues here, the worker (`flask worker`) consumes.

Huey keeps the queue, the schedule and a small key/value store (job progress, the worker's
heartbeat) in one place every process of the site can reach: a SQLite file in the instance
folder by default (one host, no server), Redis when JOBS_URL names one (several hosts), or
nowhere at all in "immediate" mode, where enqueuing runs the job at once in the caller (tests).
The tasks themselves are in microsite.jobs.
"""

from __future__ import annotations

import socket
import time
from datetime import datetime
from pathlib import Path

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

EXTENSION = "microsite.queue"
# The worker writes its heartbeat every 30 s; three missed beats and /healthz says stale.
STALE_AFTER = 90.0
IMMEDIATE = "immediate"
NAME = "microsite"


def make_huey(url: str, instance_path: str) -> Huey:
    """The Huey for a JOBS_URL: "" (SQLite in the instance folder), sqlite:///PATH,
    redis://… (or rediss://, unix://) or "immediate"."""
    # results=False: nobody waits for a job's return value, and stored ones would pile up.
    if url == IMMEDIATE:
        return MemoryHuey(NAME, immediate=True, results=False)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(NAME, url=url, results=False)
    if not url:
        url = f"sqlite:///{Path(instance_path) / 'jobs.sqlite3'}"
    if url.startswith("sqlite:///"):
        return SqliteHuey(NAME, filename=url.removeprefix("sqlite:///"), results=False)
    raise ValueError(f"MICROSITE_JOBS_URL: unknown queue {url!r} (sqlite:///…, redis://…)")


def init_app(app: Flask) -> None:
    from . import jobs
    from .search import sync

    url = app.config.get("JOBS_URL") or (IMMEDIATE if app.testing else "")
    app_jobs = app.extensions[EXTENSION] = jobs.Jobs(app, make_huey(url, app.instance_path))

    def search_changes_logged() -> None:
        try:
            app_jobs.apply_search_changes()
        except Exception:  # the queue is away: the worker's own loop applies the log anyway
            app.logger.exception("could not enqueue the search update")

    app.extensions[sync.ON_LOGGED] = search_changes_logged


def jobs(app: Flask | None = None):
    """This app's jobs.Jobs: the queue and its tasks."""
    return (app or current_app).extensions[EXTENSION]


def huey(app: Flask | None = None) -> Huey:
    return jobs(app).huey


def after_fork(app: Flask) -> None:
    """A forked web worker opens its own connection to the queue's storage."""
    close = getattr(huey(app).storage, "close", None)
    if close is not None:
        close()


def _heartbeat_key() -> str:
    # Per host: with a shared queue every host still runs its own worker (its page cache folder).
    return f"worker-heartbeat:{socket.gethostname()}"


def write_heartbeat(app: Flask, **details) -> None:
    huey(app).put(_heartbeat_key(), {"at": time.time(), **details})


def worker_status(app: Flask | None = None, now: float | None = None) -> dict:
    """This host's worker as /healthz shows it: "ok", "stale" (silent for STALE_AFTER
    seconds), "never" (no heartbeat yet); "immediate" when jobs run in the caller (tests)."""
    from .text import SITE_TZ

    if jobs(app).immediate:
        return {"status": IMMEDIATE, "last_seen": None}
    beat = huey(app).get(_heartbeat_key(), peek=True)
    if not isinstance(beat, dict) or "at" not in beat:
        return {"status": "never", "last_seen": None}
    now = time.time() if now is None else now
    seen = datetime.fromtimestamp(beat["at"], SITE_TZ).replace(microsecond=0)
    fresh = now - beat["at"] <= STALE_AFTER
    return {"status": "ok" if fresh else "stale", "last_seen": seen.isoformat()}
