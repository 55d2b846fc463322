"""Background work: what the worker process (`flask worker`) does, never a web request.

On the queue (microsite.queue), run by whichever worker takes them:
  apply_search_changes   enqueued after a commit wrote the search change log
  rebuild_index          a rebuild started from the dashboard (progress: admin_jobs)
On the worker's scheduler (Huey periodic tasks, minute resolution):
  publish_due            every minute: scheduled articles whose time has come
  fold_view_counts       every minute: views recorded by every host added to the counts
  clean_up               every hour: old page-cache folders, pictures nothing shows
In the worker's own loop, per host (a shared queue hands a task to any host, but the page
cache folder and the heartbeat are the host's own, and so is a Whoosh index: one host's):
  the search change log  Whoosh: applied every INDEX_FOLLOW_SECONDS, the index's one writer
  related lists          after changes (else every RELATED_SWEEP_SECONDS): more-like-this
                         ids of published or edited articles, stored for readers (related)
  the heartbeat          every HEARTBEAT_SECONDS, read by /healthz
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from huey import Huey, crontab

from . import queue
from .extensions import db

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 30.0
# Related lists are looked for at least this often when nothing changed (a day-old list, a
# list never made); at once after a change, and every turn while a batch was full.
RELATED_SWEEP_SECONDS = 30.0
# A stored-page folder of an older content stamp is removed once untouched this long.
PAGE_CACHE_KEEP_SECONDS = 3600


class Jobs:
    """One app's queue and the tasks on it (each runs in an app context of its own)."""

    def __init__(self, app: Flask, huey: Huey) -> None:
        self.app, self.huey = app, huey
        task, every = huey.task, huey.periodic_task
        self.apply_search_changes = task(name="apply_search_changes")(
            self._in_app(apply_search_changes)
        )
        self.rebuild_index = task(name="rebuild_index")(self._in_app(rebuild_index))
        self.publish_due = every(crontab(), name="publish_due")(self._in_app(publish_due))
        self.fold_view_counts = every(crontab(), name="fold_view_counts")(
            self._in_app(fold_view_counts)
        )
        self.clean_up = every(crontab(minute="17"), name="clean_up")(self._in_app(clean_up))

    @property
    def immediate(self) -> bool:
        return self.huey.immediate

    def _in_app(self, work: Callable) -> Callable:
        app = self.app

        @functools.wraps(work)
        def run(*args, **kwargs):
            with app.app_context():
                try:
                    return work(*args, **kwargs)
                finally:
                    db.session.remove()

        return run


# --- tasks -------------------------------------------------------------------------------


def apply_search_changes() -> int:
    from . import search

    return search.apply_pending()


def rebuild_index() -> None:
    from flask import current_app

    from . import admin_jobs

    admin_jobs.run(current_app._get_current_object())


def publish_due() -> list[int]:
    from .content import scheduling

    return scheduling.publish_due()


def fold_view_counts() -> int:
    """Add the views every web worker and host recorded to the articles' counts."""
    from flask import current_app

    from .web.counting import fold_views, view_counter

    view_counter().write_marks()  # this process's own, if it served any
    return fold_views(current_app._get_current_object())


def clean_up() -> tuple[int, int]:
    from flask import current_app

    app = current_app._get_current_object()
    return clean_page_cache(app), clean_uploads(app)


# --- cleanup -----------------------------------------------------------------------------


def clean_page_cache(app: Flask, now: float | None = None) -> int:
    """Remove stored-page folders of older content stamps untouched for an hour; the newest
    folder always stays (it is the current stamp's, or will be again). Returns folders removed."""
    from .web.page_cache import BY_CONTENT

    root = app.config.get("PAGE_CACHE_DIR")
    if not root or not Path(root).is_dir():
        return 0
    now = time.time() if now is None else now
    # Stamps' folders, then pages kept by content (one folder per code and site revision).
    removed = _clean_folders(Path(root), now, skip=BY_CONTENT)
    if (Path(root) / BY_CONTENT).is_dir():
        removed += _clean_folders(Path(root) / BY_CONTENT, now)
    return removed


def _clean_folders(parent: Path, now: float, skip: str | None = None) -> int:
    folders = [(p.stat().st_mtime, p) for p in parent.iterdir() if p.is_dir() and p.name != skip]
    folders.sort()
    removed = 0
    for mtime, folder in folders[:-1]:
        if now - mtime >= PAGE_CACHE_KEEP_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def clean_uploads(app: Flask) -> int:
    """Delete uploaded pictures nothing shows once they are UPLOAD_PRUNE_DAYS old (the same
    rule as `flask prune-uploads`). Returns pictures removed."""
    from .content.picture_library import prune_unused_uploads

    older_than = timedelta(days=float(app.config["UPLOAD_PRUNE_DAYS"]))
    removed = prune_unused_uploads(app, older_than)
    if removed:
        log.info("removed %d unused uploads", len(removed))
    return len(removed)


# --- the worker process --------------------------------------------------------------------


def heartbeat(app: Flask) -> None:
    queue.write_heartbeat(app, pid=os.getpid())


class HostLoop:
    """The worker's per-host duties, in a thread of the worker process."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.interval = float(app.config["INDEX_FOLLOW_SECONDS"])
        self.stop = threading.Event()

    def run(self) -> None:
        from . import search
        from .content import related

        next_beat = next_sweep = 0.0
        seen = None
        while True:
            if time.monotonic() >= next_beat:
                try:
                    heartbeat(self.app)
                except Exception:  # the queue's storage is away: /healthz will say stale
                    log.exception("could not write the worker's heartbeat")
                next_beat = time.monotonic() + HEARTBEAT_SECONDS
            search.apply_pending(self.app)  # never raises; what fails waits for the next turn
            marker = related.site_marker(self.app)
            if marker != seen or time.monotonic() >= next_sweep:
                seen = marker
                stored = related.refresh_quietly(self.app)
                full = stored >= related.BATCH
                next_sweep = 0.0 if full else time.monotonic() + RELATED_SWEEP_SECONDS
            if self.stop.wait(self.interval):
                return


def run_worker(app: Flask, threads: int = 2) -> None:
    """Consume the queue and run the schedule until SIGINT or SIGTERM (`flask worker`)."""
    jobs = queue.jobs(app)
    loop = HostLoop(app)
    duties = threading.Thread(target=loop.run, name="microsite-host-duties", daemon=True)
    duties.start()
    jobs.publish_due()  # at once: what fell due while no worker ran
    consumer = jobs.huey.create_consumer(
        workers=threads, periodic=True, max_delay=1.0, check_worker_health=True
    )
    try:
        consumer.run()
    finally:
        loop.stop.set()
        duties.join(timeout=10)
