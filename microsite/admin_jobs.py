"""The dashboard's search reindex: a job on the queue, run by the worker, one at a time.

start() (a web request) takes the job's lock and enqueues it; the worker process runs it
(run()). The job's state lives in the queue's key/value storage, not in a web worker, so the
status poll may reach any web worker, or any host with a shared queue, and a web worker
restarted meanwhile loses nothing. A heartbeat lets a job whose worker died be recognised and
replaced.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from flask import Flask

from . import queue
from .extensions import db
from .text import SITE_TZ

STATE_KEY = "reindex-job:state"
LOCK_KEY = "reindex-job:lock"
HEARTBEAT = 0.5  # seconds between state writes while running
STALE_AFTER = 60  # a job silent this long lost its worker (or none took it)

IDLE, QUEUED, RUNNING, DONE, FAILED = "idle", "queued", "running", "done", "failed"


@dataclass(frozen=True)
class JobState:
    state: str = IDLE
    done: int = 0
    total: int = 0
    count: int | None = None
    error: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    heartbeat: float | None = None

    @property
    def stale(self) -> bool:
        active = self.state in (QUEUED, RUNNING)
        return active and time.time() - (self.heartbeat or 0) > STALE_AFTER

    @property
    def running(self) -> bool:
        return self.state in (QUEUED, RUNNING) and not self.stale

    @property
    def queued(self) -> bool:
        return self.state == QUEUED and not self.stale

    @property
    def percent(self) -> int:
        return min(100, self.done * 100 // self.total) if self.total else 0

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round(self.finished_at - self.started_at, 1)

    @property
    def finished(self) -> datetime | None:
        if self.finished_at is None:
            return None
        return datetime.fromtimestamp(self.finished_at, SITE_TZ).replace(tzinfo=None)


def read_state(app: Flask) -> JobState:
    """The last known state of the reindex job (idle if none ever ran)."""
    raw = queue.huey(app).get(STATE_KEY, peek=True)
    if not isinstance(raw, dict):
        return JobState()
    try:
        return JobState(**{key: raw[key] for key in JobState.__dataclass_fields__ if key in raw})
    except TypeError:
        return JobState()


def _write_state(app: Flask, state: JobState) -> None:
    queue.huey(app).put(STATE_KEY, asdict(state))


def _take_lock(app: Flask) -> bool:
    huey = queue.huey(app)
    for _attempt in range(2):
        if huey.put_if_empty(LOCK_KEY, uuid.uuid4().hex):
            return True
        if not read_state(app).stale:
            return False
        huey.delete(LOCK_KEY)
    return False


class _Job:
    """The running rebuild in the worker: progress kept here, written every HEARTBEAT."""

    def __init__(self, app: Flask, started_at: float | None) -> None:
        self.app = app
        now = time.time()
        self.state = JobState(state=RUNNING, started_at=started_at or now, heartbeat=now)
        self.guard = threading.Lock()
        self.stopped = threading.Event()

    def progress(self, done: int, total: int) -> None:
        with self.guard:
            self.state = replace(self.state, done=done, total=total)

    def _flush(self, **changes) -> None:
        with self.guard:
            self.state = replace(self.state, heartbeat=time.time(), **changes)
            _write_state(self.app, self.state)

    def _beat(self) -> None:
        while not self.stopped.wait(HEARTBEAT):
            self._flush()

    def run(self) -> None:
        self._flush()
        # A thread of the worker process, which is no web worker: it keeps the heartbeat
        # going while one step of the build runs for long.
        beat = threading.Thread(target=self._beat, name="reindex-heartbeat", daemon=True)
        beat.start()
        final = {"state": FAILED, "error": "重建被中断。"}
        try:
            try:
                final = {"state": DONE, "count": _rebuild(self.progress)}
            except Exception as exc:  # the admin sees the failure; the log has the trace
                self.app.logger.exception("reindex failed")
                final = {"state": FAILED, "error": str(exc) or type(exc).__name__}
            finally:
                db.session.remove()
        finally:
            self.stopped.set()
            beat.join()
            self._flush(finished_at=time.time(), **final)
            queue.huey(self.app).delete(LOCK_KEY)


def _rebuild(progress) -> int:
    # Imported when the job runs, so the admin works even while search is being built.
    from . import search

    rebuild = getattr(search, "rebuild", None)
    if rebuild is None:
        raise RuntimeError("搜索模块尚未提供 rebuild()，无法重建索引。")
    total = rebuild(progress=progress)
    return int(total)


def start(app: Flask) -> bool:
    """Queue a rebuild for the worker; False if one is already queued or running."""
    if not _take_lock(app):
        return False
    now = time.time()
    _write_state(app, JobState(state=QUEUED, started_at=now, heartbeat=now))
    queue.jobs(app).rebuild_index()
    return True


def run(app: Flask) -> None:
    """The worker's side (microsite.jobs.rebuild_index): run the queued rebuild."""
    _Job(app, read_state(app).started_at).run()
