"""The background worker (issue 15): readers' requests write nothing but their view; the real
`flask worker` publishes a due article with no reader visiting and applies the search log; a
dashboard rebuild survives the web worker that started it; heartbeat, schedule and cleanup."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from microsite import jobs, queue, search
from microsite.content.importer import parse_page, store_page
from microsite.content.models import PUBLISHED, SCHEDULED, Article, Image, Page, Revision, ViewMark
from microsite.extensions import db
from microsite.search import index
from microsite.text import local_now
from microsite.web import counting
from tests.support.app import ADMIN_PASSWORD, SEED_TEXT, free_port, make_app
from tests.support.factories import add_article, make_user
from tests.support.forms import sign_in
from tests.support.queue import QueueRunner, queued_config
from tests.support.sql import statements
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The one write a reader's page view may cause: its view mark (microsite.web.counting), an insert
# that does nothing when the reader was counted already. Adding marks to the counts is the
# worker's job.
PARAM = r"(?:\?|%\(\w+\)s(?:::[A-Z ]+)?)"  # SQLite's ?, psycopg's %(name)s::TYPE
VIEW_RECORD = re.compile(
    rf"INSERT INTO view_marks \(slot, article_id, reader\) VALUES \({PARAM}, {PARAM}, {PARAM}\)"
    r" ON CONFLICT DO NOTHING"
)
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


# --- readers write nothing -----------------------------------------------------------------


@pytest.mark.parametrize("page_cache", [True, False], ids=["stored-pages", "no-page-cache"])
def test_a_readers_get_writes_nothing_but_its_view(app, client, seeded, monkeypatch, page_cache):
    if not page_cache:
        app.config["PAGE_CACHE_DIR"] = ""
    search.rebuild()
    due = add_article("到时未发的文章", "<p>到时未发</p>", status=SCHEDULED, published_at=None)
    due.scheduled_for = local_now() - timedelta(minutes=5)  # due: only the worker publishes it
    db.session.commit()
    monkeypatch.setattr(counting, "FLUSH_SECONDS", 0.0)  # every view is written at once
    tag = seeded.tags[0].name
    urls = [
        "/",
        f"/articles/{seeded.id}",
        f"/articles/{seeded.id}/related",
        f"/articles/{seeded.id}/related?page=2",
        "/search?q=" + quote("疫情防控"),
        f"/tags/{quote(tag)}",
        f"/categories/{quote(seeded.category.slug)}" if seeded.category else "/",
        "/healthz",
    ]
    for round_ in ("first views", "again"):
        for url in urls:
            seen = statements(app, lambda url=url: client.get(url))
            writes = [s for s, _ in seen if s.lstrip().upper().startswith(WRITES)]
            others = [s for s in writes if not VIEW_RECORD.fullmatch(s.strip())]
            assert others == [], f"{round_} of {url} wrote: {others}"
    assert [s for s, _ in seen if VIEW_RECORD.fullmatch(s.strip())] == []  # /healthz counts nothing
    db.session.expire_all()
    assert db.session.get(Article, due.id).status == SCHEDULED
    marks = db.session.scalar(select(func.count()).select_from(ViewMark))
    assert marks >= 1  # the view record did happen
    assert db.session.get(Article, seeded.id).view_count == 0  # counted by the worker only


# --- the schedule, the heartbeat, cleanup ------------------------------------------------------


def test_the_schedule_publishes_every_minute_and_cleans_up_hourly(app):
    huey = queue.huey(app)
    names = {task.name for task in huey.read_periodic(datetime(2026, 11, 29, 10, 5))}
    assert names == {"publish_due", "fold_view_counts"}
    names = {task.name for task in huey.read_periodic(datetime(2026, 11, 29, 10, 17))}
    assert names == {"publish_due", "fold_view_counts", "clean_up"}


def test_healthz_shows_the_workers_heartbeat(tmp_path, monkeypatch):
    app = make_app(tmp_path, **queued_config(tmp_path))
    client = app.test_client()
    body = client.get("/healthz").get_json()
    assert body["worker"] == {"status": "never", "last_seen": None}
    assert body["status"] == "degraded"
    with app.app_context():
        jobs.heartbeat(app)
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200 and body["worker"]["status"] == "ok"
    seen = datetime.fromisoformat(body["worker"]["last_seen"])  # with its offset, +08:00
    assert seen.utcoffset() == timedelta(hours=8)
    assert abs(seen - datetime.now(UTC)) < timedelta(minutes=1)
    later = time.time() + queue.STALE_AFTER + 1
    monkeypatch.setattr(queue.time, "time", lambda: later)
    response = client.get("/healthz")
    assert response.status_code == 200  # a silent worker degrades the site, never takes it down
    assert response.get_json()["worker"]["status"] == "stale"
    assert response.get_json()["status"] == "degraded"


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def cache_folders(root: Path, ages: dict[str, float]) -> None:
    for name, age in ages.items():
        (root / name).mkdir(parents=True)
        (root / name / "page.page").write_text("x")
        _age(root / name, age)


def test_cleanup_removes_cache_folders_older_than_an_hour_but_the_current(app, tmp_path):
    root = tmp_path / "cache"
    app.config["PAGE_CACHE_DIR"] = str(root)
    # A quiet site: its current (newest) folder was made two hours ago and stays.
    cache_folders(root, {"current": 7200, "older": 9000, "oldest": 12000})
    assert jobs.clean_page_cache(app) == 2
    assert [path.name for path in root.iterdir()] == ["current"]
    # A busy one: the previous stamp's folder is ten minutes old and stays its hour.
    cache_folders(root, {"new": 60, "previous": 600, "stale": 3700})
    assert jobs.clean_page_cache(app) == 2  # "stale", and "current" now that it is not
    assert sorted(path.name for path in root.iterdir()) == ["new", "previous"]


def test_cleanup_removes_only_old_pictures_nothing_shows(app, seeded, tmp_path):
    # The worker applies `flask prune-uploads`'s rule (microsite.content.picture_library) hourly.
    app.config["UPLOAD_PRUNE_DAYS"] = 7
    uploads = Path(app.config["UPLOAD_DIR"])
    uploads.mkdir(parents=True, exist_ok=True)
    names = {key: f"{key * 32}.png" for key in "abcde"}
    eight_days_ago = local_now() - timedelta(days=8)
    for key, name in names.items():
        (uploads / name).write_bytes(b"png")
        _age(uploads / name, 8 * 86400)
        uploaded = local_now() - timedelta(hours=1) if key == "e" else eight_days_ago
        db.session.add(
            Image(
                name=name,
                content_type="image/png",
                width=1,
                height=1,
                byte_size=3,
                created_at=uploaded,
            )
        )
    _age(uploads / names["e"], 3600)  # unused but new: an admin may be about to use it
    seeded.body += f'<p><img src="/media/{names["a"]}" alt=""></p>'
    db.session.add(Page(slug="pics", title="图片", body=f'<img src="/media/{names["b"]}">'))
    db.session.add(Revision(article_id=seeded.id, version=0, body=f"/media/{names['c']}"))
    db.session.commit()
    assert jobs.clean_uploads(app) == 1
    assert sorted(path.name for path in uploads.iterdir()) == sorted(names[key] for key in "abce")
    left = set(db.session.scalars(select(Image.name)))
    assert names["d"] not in left and names["a"] in left


# --- the real worker process ---------------------------------------------------------------


def process_env(tmp_path: Path, database: str, **extra) -> dict:
    """Environment for `flask --app wsgi …` and gunicorn serving the test's database."""
    return {
        **os.environ,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database,
        "MICROSITE_SEARCH_INDEX_DIR": str(tmp_path / "index"),
        "MICROSITE_JOBS_URL": queued_config(tmp_path)["JOBS_URL"],
        "MICROSITE_PAGE_CACHE_DIR": str(tmp_path / "cache"),
        "MICROSITE_UPLOAD_DIR": str(tmp_path / "uploads"),
        "MICROSITE_INDEX_FOLLOW_SECONDS": "0.2",
        # The worker's per-host index duties are Whoosh's; PostgreSQL search is written with
        # each commit and needs no worker (tests/test_search_postgres.py).
        "MICROSITE_SEARCH_BACKEND": "whoosh",
        **extra,
    }


def start_worker(tmp_path: Path, env: dict) -> subprocess.Popen:
    with (tmp_path / "worker.log").open("ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", "worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen, signum: int = signal.SIGTERM) -> int:
    if process.poll() is None:
        process.send_signal(signum)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise AssertionError("the process did not stop on its signal") from None
    return process.returncode


@pytest.fixture
def site(tmp_path):
    """A database with the seed, an admin and a Whoosh index, and the app to read it with."""
    app = make_app(tmp_path, SEARCH_BACKEND="whoosh", **queued_config(tmp_path))
    with app.app_context():
        store_page(parse_page(SEED_TEXT))
        make_user()
        search.rebuild()
        db.session.remove()
    return app


def test_a_due_article_goes_live_with_no_reader_visiting(site, tmp_path):
    with site.app_context():
        article = add_article("无人访问也会发表", "<p>无人访问 wq5</p>", status=SCHEDULED)
        article.published_at, article.scheduled_for = None, local_now() - timedelta(seconds=1)
        db.session.commit()
        article_id = article.id
        db.session.remove()
    env = process_env(tmp_path, site.config["SQLALCHEMY_DATABASE_URI"])
    worker = start_worker(tmp_path, env)
    try:

        def published() -> bool:
            with site.app_context():
                try:
                    return db.session.get(Article, article_id).status == PUBLISHED
                finally:
                    db.session.remove()

        def indexed() -> bool:  # the worker also applied the publication to the index
            where = index.live_dir(Path(env["MICROSITE_SEARCH_INDEX_DIR"]))
            with site.app_context():
                found = search.find("wq5").hits
                db.session.remove()
            return index.read_applied(where) > 0 and [h.article.id for h in found] == [article_id]

        def beating() -> bool:
            with site.app_context():
                return queue.worker_status(site)["status"] == "ok"

        wait_until(published, 60, "the worker publishes the due article")
        wait_until(indexed, 30, "the worker indexes it")
        wait_until(beating, 30, "the worker's heartbeat")
        assert worker.poll() is None
    finally:
        code = stop(worker, signal.SIGINT)  # Ctrl-C
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]


class Browser:
    """Cookies and forms over plain HTTP, enough to sign in and press a dashboard button."""

    def __init__(self, base: str) -> None:
        self.base = base
        handlers = [urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())]
        self.opener = urllib.request.build_opener(*handlers)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=20) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def submit(self, page: str, form_selector: str, **fields) -> tuple[int, str]:
        """Fill in the form found on `page` (its hidden CSRF token included) and post it."""
        form = BeautifulSoup(self.get(page)[1], "html.parser").select_one(form_selector)
        data = {field["name"]: field.get("value", "") for field in form.select("input[name]")}
        data.update(fields)
        body = urllib.parse.urlencode(data).encode()
        try:
            with self.opener.open(self.base + form["action"], data=body, timeout=20) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def web_workers(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


def test_a_dashboard_rebuild_survives_the_web_worker_that_started_it(site, tmp_path):
    with site.app_context():  # enough articles that the rebuild takes a moment
        db.session.add_all(
            Article(
                title=f"重建文章 {n}",
                body=f"<p>重建测试正文 {n} 灵活用工与劳务派遣</p>" * 5,
                status=PUBLISHED,
                published_at=local_now() - timedelta(minutes=n),
            )
            for n in range(300)
        )
        db.session.commit()
        published = db.session.scalar(
            select(db.func.count(Article.id)).where(Article.status == PUBLISHED)
        )
        db.session.remove()
    port = free_port()
    env = process_env(
        tmp_path,
        site.config["SQLALCHEMY_DATABASE_URI"],
        PORT=str(port),
        WEB_CONCURRENCY="1",  # one web worker: the one that handles the start
    )
    with (tmp_path / "gunicorn.log").open("ab") as log:
        web = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = start_worker(tmp_path, env)
    base = f"http://127.0.0.1:{port}"
    try:
        browser = Browser(base)

        def answering() -> bool:
            assert web.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
            try:
                return browser.get("/healthz")[0] == 200
            except OSError:
                return False

        wait_until(answering, 60, "gunicorn answers")
        status, _ = browser.submit(
            "/admin/login", "form.admin-form", username="editor", password=ADMIN_PASSWORD
        )
        assert status == 200, status  # signed in and redirected to the dashboard
        handlers = web_workers(web.pid)
        assert len(handlers) == 1
        status, page = browser.submit("/admin/", "#reindex-status form")
        assert status == 200  # redirected to the job's status page
        state = soup_text(page, "#reindex-status")
        assert "等待后台进程" in state or "正在重建索引" in state, state

        (handler,) = handlers
        os.kill(handler, signal.SIGTERM)  # gunicorn replaces the web worker that started it
        wait_until(lambda: web_workers(web.pid) - {handler}, 60, "a new web worker")

        def finished() -> str:
            try:
                text = soup_text(browser.get("/admin/reindex")[1], "#reindex-status")
            except OSError:
                return ""
            return text if "正在" not in text and "等待" not in text else ""

        text = wait_until(finished, 240, "the rebuild finishes")
        assert f"索引重建完成：共 {published} 篇文章" in text, text
        assert handler not in web_workers(web.pid)
    finally:
        worker_code = stop(worker)
        stop(web)
    assert worker_code == 0, (tmp_path / "worker.log").read_text()[-3000:]


def soup_text(html: str, selector: str) -> str:
    element = BeautifulSoup(html, "html.parser").select_one(selector)
    assert element is not None, html[:2000]
    return element.get_text(" ", strip=True)


# --- several hosts: one Redis queue ------------------------------------------------------------


def test_with_redis_a_rebuild_started_on_one_host_runs_on_anothers_worker(
    tmp_path,
    redis_uri,
):
    """One queue for every host: host X's dashboard starts a rebuild, host Y's worker takes
    it, and X's dashboard shows Y's progress and result from the shared queue storage."""
    x = make_app(
        tmp_path / "x", WTF_CSRF_ENABLED=False, JOBS_URL=redis_uri, SEARCH_BACKEND="whoosh"
    )
    database = x.config["SQLALCHEMY_DATABASE_URI"]
    y = make_app(
        tmp_path / "y",
        JOBS_URL=redis_uri,
        SEARCH_BACKEND="whoosh",
        SQLALCHEMY_DATABASE_URI=database,
        SEARCH_INDEX_DIR=str(tmp_path / "y-index"),
    )
    with x.app_context():
        store_page(parse_page(SEED_TEXT))
        make_user()
        published = db.session.scalar(
            select(db.func.count(Article.id)).where(Article.status == PUBLISHED)
        )
        db.session.remove()
    client = x.test_client()
    sign_in(client)
    htmx = {"HX-Request": "true"}
    started = client.post("/admin/reindex", headers=htmx).get_data(as_text=True)
    assert "等待后台进程" in started  # no worker anywhere yet: queued
    with QueueRunner(y):

        def done() -> str:
            text = soup_text(
                client.get("/admin/reindex", headers=htmx).get_data(as_text=True), "#reindex-status"
            )
            return text if "索引重建完成" in text else ""

        assert f"共 {published} 篇文章" in wait_until(done, 120, "Y's worker rebuilds")
    with y.app_context():
        assert search.status()["documents"] == published  # it was Y's index that was built
    with x.app_context():
        assert search.status()["status"] == "missing"
    for app in (x, y):
        with app.app_context():
            db.engine.dispose()
