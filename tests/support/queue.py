"""A real job queue for tests that need jobs to run beside the request, as the worker runs
them: an app whose queue is a SQLite file, consumed by a thread of the test process."""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask

from microsite import queue


def queued_config(tmp_path: Path) -> dict:
    return {"JOBS_URL": f"sqlite:///{tmp_path / 'jobs.sqlite3'}"}


class QueueRunner:
    """Takes the app's queued jobs one at a time and runs them, until the block ends."""

    def __init__(self, app: Flask) -> None:
        self.huey = queue.huey(app)
        assert not self.huey.immediate, "the app must have a real queue (queued_config)"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-queue-runner", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            task = self.huey.dequeue()
            if task is None:
                self._stop.wait(0.02)
            else:
                self.huey.execute(task)

    def __enter__(self) -> QueueRunner:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
