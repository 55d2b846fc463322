"""Background work: what the worker process (`flask worker`) does, never a web request.

On the queue (microsite.queue), run by whichever worker takes them:
  apply_search_changes   enqueued after a commit wrote the search change log
  rebuild_index          a rebuild started from the dashboard (progress: admin_jobs)
On the worker's scheduler (Huey periodic tasks, minute resolution):
  publish_due            every minute: scheduled articles whose time has come
  flush_view_counts      every minute: views counted but not yet written
  clean_up               every hour: old page-cache folders, pictures nothing shows
In the worker's own loop, per host (a shared queue hands a task to any host, but each host
has its own search index, cache folder and heartbeat):
  the search change log  applied every INDEX_FOLLOW_SECONDS: the one writer of this index
  the heartbeat          every HEARTBEAT_SECONDS, read by /healthz
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from huey import Huey, crontab
from sqlalchemy import select

from . import queue
from .extensions import db

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 30.0
# A stored-page folder of an older content stamp is removed once untouched this long.
PAGE_CACHE_KEEP_SECONDS = 3600
MEDIA_LINK = re.compile(r"/media/([0-9a-f]{32}\.(?:jpg|png|webp))")


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
        self.flush_view_counts = every(crontab(), name="flush_view_counts")(
            self._in_app(flush_view_counts)
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
    from . import scheduling

    return scheduling.publish_due()


def flush_view_counts() -> int:
    from .counting import view_counter

    return view_counter().flush()


def clean_up() -> tuple[int, int]:
    from flask import current_app

    app = current_app._get_current_object()
    return clean_page_cache(app), clean_uploads(app)


# --- cleanup -----------------------------------------------------------------------------


def clean_page_cache(app: Flask, now: float | None = None) -> int:
    """Remove stored-page folders of older content stamps untouched for an hour; the newest
    folder always stays (it is the current stamp's, or will be again). Returns folders removed."""
    root = app.config.get("PAGE_CACHE_DIR")
    if not root or not Path(root).is_dir():
        return 0
    now = time.time() if now is None else now
    folders = [(path.stat().st_mtime, path) for path in Path(root).iterdir() if path.is_dir()]
    folders.sort()
    removed = 0
    for mtime, folder in folders[:-1]:
        if now - mtime >= PAGE_CACHE_KEEP_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def used_pictures() -> set[str]:
    """Names of uploads some article, page or kept version shows (`/media/<name>` in its
    body): a version may be restored, so its pictures are in use too."""
    from .models import Article, Page, Revision

    used: set[str] = set()
    for column in (Article.body, Page.body, Revision.body):
        query = select(column).where(column.contains("/media/")).execution_options(yield_per=500)
        for body in db.session.scalars(query):
            used.update(MEDIA_LINK.findall(body or ""))
    return used


def clean_uploads(app: Flask, now: float | None = None) -> int:
    """Delete uploaded pictures older than UPLOAD_UNUSED_DAYS that nothing shows (the file
    and its record). Returns pictures removed."""
    from .models import Image

    folder = Path(app.config["UPLOAD_DIR"])
    if not folder.is_dir():
        return 0
    now = time.time() if now is None else now
    cutoff = now - float(app.config["UPLOAD_UNUSED_DAYS"]) * 86400
    old = {
        path.name: path
        for path in folder.iterdir()
        if MEDIA_LINK.fullmatch(f"/media/{path.name}") and path.stat().st_mtime < cutoff
    }
    unused = sorted(set(old) - used_pictures())
    for name in unused:
        image = db.session.scalar(select(Image).where(Image.name == name))
        if image is not None:
            db.session.delete(image)
    db.session.commit()
    for name in unused:  # the records went first: a picture is never listed without its file
        old[name].unlink(missing_ok=True)
    if unused:
        log.info("removed %d unused uploads", len(unused))
    return len(unused)


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

        next_beat = 0.0
        while True:
            if time.monotonic() >= next_beat:
                try:
                    heartbeat(self.app)
                except Exception:  # the queue's storage is away: /healthz will say stale
                    log.exception("could not write the worker's heartbeat")
                next_beat = time.monotonic() + HEARTBEAT_SECONDS
            search.apply_pending(self.app)  # never raises; what fails waits for the next turn
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
