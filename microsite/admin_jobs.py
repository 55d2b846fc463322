"""The dashboard's search reindex: a background thread, one job at a time.

The job's state lives in a small JSON file in the instance folder, not in memory, because
the status poll may reach any gunicorn worker, not only the one running the job. A lock
file created with O_EXCL keeps two workers from starting a rebuild at once; a heartbeat
lets a job whose worker died be recognised and replaced.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from flask import Flask

from .extensions import db
from .text import SITE_TZ

STATE_FILE = "reindex-job.json"
LOCK_FILE = "reindex-job.lock"
HEARTBEAT = 0.5  # seconds between state writes while running
STALE_AFTER = 60  # a running job silent this long lost its worker

IDLE, RUNNING, DONE, FAILED = "idle", "running", "done", "failed"


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
        return self.state == RUNNING and time.time() - (self.heartbeat or 0) > STALE_AFTER

    @property
    def running(self) -> bool:
        return self.state == RUNNING and not self.stale

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


def _paths(app: Flask) -> tuple[Path, Path]:
    folder = Path(app.instance_path)
    return folder / STATE_FILE, folder / LOCK_FILE


def read_state(app: Flask) -> JobState:
    """The last known state of the reindex job (idle if none ever ran)."""
    state_file, _ = _paths(app)
    try:
        raw = json.loads(state_file.read_text(encoding="utf-8"))
        return JobState(**{key: raw[key] for key in JobState.__dataclass_fields__ if key in raw})
    except (OSError, ValueError, TypeError):
        return JobState()


def _write_state(app: Flask, state: JobState) -> None:
    state_file, _ = _paths(app)
    temporary = state_file.with_name(f"{state_file.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(state)), encoding="utf-8")
    # Atomic: a poll never reads half a file.
    os.replace(temporary, state_file)


def _take_lock(app: Flask) -> bool:
    _, lock = _paths(app)
    for _attempt in range(2):
        try:
            os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return True
        except FileExistsError:
            if not read_state(app).stale:
                return False
            lock.unlink(missing_ok=True)
    return False


class _Job:
    def __init__(self, app: Flask) -> None:
        self.app = app
        now = time.time()
        self.state = JobState(state=RUNNING, started_at=now, heartbeat=now)
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
        beat = threading.Thread(target=self._beat, name="reindex-heartbeat", daemon=True)
        beat.start()
        final = {"state": FAILED, "error": "重建被中断。"}
        try:
            with self.app.app_context():
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
            _paths(self.app)[1].unlink(missing_ok=True)


def _rebuild(progress) -> int:
    # Imported when the job runs, so the admin works even while search is being built.
    from . import search

    rebuild = getattr(search, "rebuild", None)
    if rebuild is None:
        raise RuntimeError("搜索模块尚未提供 rebuild()，无法重建索引。")
    total = rebuild(progress=progress)
    return int(total)


def start(app: Flask) -> bool:
    """Start a rebuild in the background; False if one is already running."""
    if not _take_lock(app):
        return False
    job = _Job(app)
    _write_state(app, job.state)
    threading.Thread(target=job.run, name="reindex", daemon=True).start()
    return True
