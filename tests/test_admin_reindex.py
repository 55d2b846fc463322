"""Rebuilding the search index from the dashboard: a background job polled through htmx."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from microsite import admin_jobs, search
from microsite.extensions import db
from microsite.models import PUBLISHED, Article
from tests.conftest import soup
from tests.test_admin_helpers import sign_in

HTMX = {"HX-Request": "true"}


@pytest.fixture
def desk(client, admin_user):
    sign_in(client)
    return client


def wait_until_finished(client, timeout: float = 20.0):
    """Poll the status fragment, as the page does every second, until the job ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fragment = client.get("/admin/reindex", headers=HTMX)
        status = soup(fragment).select_one("#reindex-status")
        if not status.has_attr("hx-trigger"):
            return status
        time.sleep(0.05)
    raise AssertionError("the reindex job did not finish")


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
    time.sleep(0.1)
    running = soup(desk.get("/admin/reindex", headers=HTMX)).select_one("#reindex-status")
    assert "1 / 3" in running.get_text() and running.select_one("progress")["value"] == "33"
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
    folder = Path(app.instance_path)
    (folder / admin_jobs.LOCK_FILE).touch()
    dead = {"state": "running", "done": 5, "total": 9, "heartbeat": time.time() - 3600}
    (folder / admin_jobs.STATE_FILE).write_text(json.dumps(dead))
    page = soup(desk.get("/admin/reindex"))
    assert "没有完成" in page.select_one("#reindex-status").get_text()
    desk.post("/admin/reindex", headers=HTMX)
    release.set()
    assert "共 3 篇" in wait_until_finished(desk).get_text()
    assert len(calls) == 1 and not (folder / admin_jobs.LOCK_FILE).exists()


def test_real_rebuild_indexes_every_published_article(desk, seeded):
    published = db.session.scalar(
        select(func.count(Article.id)).where(
            Article.status == PUBLISHED, Article.published_at.is_not(None)
        )
    )
    desk.post("/admin/reindex", headers=HTMX)
    status = wait_until_finished(desk, timeout=60)
    assert f"共 {published} 篇文章" in status.get_text()
