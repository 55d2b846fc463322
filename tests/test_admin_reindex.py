"""Rebuilding the search index from the dashboard: a job on the queue, run by the worker,
its progress polled through htmx. Here the worker is a thread consuming a real queue."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from microsite import admin_jobs, queue, search
from microsite.content.models import PUBLISHED, Article, User
from microsite.extensions import db
from tests.support.app import ADMIN_PASSWORD, FreshContextClient, make_app, soup
from tests.support.forms import sign_in
from tests.support.queue import QueueRunner, queued_config

HTMX = {"HX-Request": "true"}


@pytest.fixture
def app(tmp_path):
    """The usual test app, but its jobs go to a real queue that a worker thread consumes."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=False, **queued_config(tmp_path))
    app.test_client_class = FreshContextClient
    with app.app_context(), QueueRunner(app):
        yield app
        db.session.remove()


def poll_status(client, until, timeout: float = 20.0, what: str = "the awaited state"):
    """Poll the status fragment, as the page does every second, until until(status) holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fragment = client.get("/admin/reindex", headers=HTMX)
        status = soup(fragment).select_one("#reindex-status")
        if until(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"the reindex job did not reach {what}")


def wait_until_finished(client, timeout: float = 20.0):
    """The status once the job ended (the fragment stops polling)."""
    return poll_status(client, lambda s: not s.has_attr("hx-trigger"), timeout, "its end")


@pytest.fixture
def held_rebuild(monkeypatch):
    """A stand-in for search.rebuild that reports progress and waits to be released."""
    release = threading.Event()
    calls = []

    def rebuild(progress=None):
        calls.append(progress)
        progress(1, 3)
        release.wait(10)
        progress(3, 3)
        return 3

    monkeypatch.setattr(search, "rebuild", rebuild)
    monkeypatch.setattr(admin_jobs, "HEARTBEAT", 0.02)
    return release, calls


def test_reindex_runs_in_the_background_and_reports_progress(desk, held_rebuild):
    release, calls = held_rebuild
    started = desk.post("/admin/reindex", headers=HTMX)
    assert started.status_code == 200 and "HX-Request" in started.headers["Vary"]
    status = soup(started).select_one("#reindex-status")
    assert status["hx-get"] == "/admin/reindex" and status["hx-trigger"] == "every 1s"
    assert status["hx-swap"] == "outerHTML"
    running = poll_status(desk, lambda s: "1 / 3" in s.get_text(), what="1 / 3")
    assert running.has_attr("hx-trigger") and running.select_one("progress")["value"] == "33"
    again = soup(desk.post("/admin/reindex", headers=HTMX)).select_one("#reindex-status")
    assert again.has_attr("hx-trigger")  # still the first job: no second rebuild starts
    release.set()
    done = wait_until_finished(desk)
    assert "索引重建完成：共 3 篇文章" in done.get_text()
    assert done.select_one("form")["hx-post"] == "/admin/reindex"
    assert len(calls) == 1


def test_without_javascript_the_form_redirects_to_the_status_page(desk, held_rebuild):
    release, _ = held_rebuild
    response = desk.post("/admin/reindex")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/reindex"
    page = soup(desk.get("/admin/reindex"))
    assert page.select_one("h1").get_text() == "搜索索引"
    assert page.select_one("#reindex-status noscript a")["href"] == "/admin/reindex"
    warned = desk.post("/admin/reindex", follow_redirects=True)
    assert "正在重建中" in soup(warned).select_one(".flash--warning").get_text()
    release.set()
    wait_until_finished(desk)


def test_a_failed_rebuild_says_why(desk, monkeypatch):
    def broken(progress=None):
        raise search.RebuildInProgress("另一个索引重建正在进行。")

    monkeypatch.setattr(search, "rebuild", broken)
    desk.post("/admin/reindex", headers=HTMX)
    status = wait_until_finished(desk)
    assert "索引重建失败：另一个索引重建正在进行。" in status.get_text()


def test_the_dashboard_shows_the_reindex_panel(desk):
    panel = soup(desk.get("/admin/")).select_one("#reindex-status")
    assert panel.select_one("form")["action"] == "/admin/reindex"
    assert "从数据库完整重建" in panel.select_one("form")["hx-confirm"]


def test_a_job_whose_worker_died_can_be_replaced(app, desk, held_rebuild):
    release, calls = held_rebuild
    huey = queue.huey(app)
    assert huey.put_if_empty(admin_jobs.LOCK_KEY, "a worker that died")
    dead = {"state": "running", "done": 5, "total": 9, "heartbeat": time.time() - 3600}
    huey.put(admin_jobs.STATE_KEY, dead)
    page = soup(desk.get("/admin/reindex"))
    assert "没有完成" in page.select_one("#reindex-status").get_text()
    desk.post("/admin/reindex", headers=HTMX)
    release.set()
    assert "共 3 篇" in wait_until_finished(desk).get_text()
    assert len(calls) == 1 and huey.get(admin_jobs.LOCK_KEY, peek=True) is None


def test_real_rebuild_indexes_every_published_article(desk, seeded):
    published = db.session.scalar(
        select(func.count(Article.id)).where(
            Article.status == PUBLISHED, Article.published_at.is_not(None)
        )
    )
    desk.post("/admin/reindex", headers=HTMX)
    status = wait_until_finished(desk, timeout=60)
    assert f"共 {published} 篇文章" in status.get_text()


def test_a_queued_rebuild_says_it_waits_for_the_worker(tmp_path, monkeypatch):
    """No worker consumes the queue: the dashboard says the job waits, and keeps polling."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=False, **queued_config(tmp_path))
    app.test_client_class = FreshContextClient
    with app.app_context():
        user = User(username="editor", display_name="编辑部", role="admin")
        user.set_password(ADMIN_PASSWORD)
        db.session.add(user)
        db.session.commit()
        client = app.test_client()
        sign_in(client)
        status = soup(client.post("/admin/reindex", headers=HTMX)).select_one("#reindex-status")
        assert "等待后台进程" in status.get_text() and status["hx-trigger"] == "every 1s"
        assert queue.huey(app).pending_count() == 1
        db.session.remove()
