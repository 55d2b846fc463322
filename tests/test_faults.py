"""Faults: the index writer killed mid write, the index deleted or corrupted while serving, the
database briefly locked, a full disk under the index. Nothing saved is lost, readers never see
a 500 or a LockError, and the admin is told what happened.

Two admins saving the same article (the second refused, its text kept) is tried in
tests/test_admin_articles.py (test_a_stale_save_is_refused_and_the_text_kept and
test_a_save_racing_another_between_read_and_write_is_refused).
"""

from __future__ import annotations

import errno
import http.client
import os
import shutil
import signal
import sqlite3
import textwrap
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from whoosh.writing import SegmentWriter

from bench import load
from microsite import search
from microsite.content.importer import parse_page, store_page
from microsite.content.models import Article
from microsite.extensions import db
from tests.support.app import POSTGRES, SEED_TEXT, make_app
from tests.support.factories import make_user
from tests.support.forms import post_form, sign_in
from tests.support.sql import write_lock_held
from tests.support.waiting import wait_until

sqlite_only = pytest.mark.skipif(bool(POSTGRES), reason="SQLite locking and files")

# A wsgi module that makes each index commit linger while a flag file exists, and says which
# process is inside the commit: the test kills exactly that process there. Web workers never
# write the index: the background worker (`flask --app slowwsgi:app worker`) does.
SLOW_WSGI = textwrap.dedent(
    """
    import os, time
    from whoosh.writing import SegmentWriter

    MARKS = os.environ["FAULT_MARKS"]
    _commit = SegmentWriter.commit

    def commit(self, *args, **kwargs):
        if os.path.exists(os.path.join(MARKS, "slow")):
            open(os.path.join(MARKS, f"writing-{os.getpid()}"), "w").close()
            time.sleep(30)
        return _commit(self, *args, **kwargs)

    SegmentWriter.commit = commit
    from wsgi import app
    """
)


def _found(client: load.Client, token: str, article_id: int) -> bool:
    status, _, page = client.get("/search?q=" + quote(token))
    return status == 200 and f'/articles/{article_id}"' in page


@sqlite_only
def test_a_worker_killed_inside_an_index_write(tmp_path):
    """SIGKILL while the background worker holds Whoosh's write lock: the save had already
    answered (web workers only write the change log), the lock dies with the worker (flock),
    the site keeps serving, and once the worker is back the killed write's article, committed
    to the database before the index write, reaches the index through the change log, and so
    does the next save."""
    marks, module = tmp_path / "marks", tmp_path / "module"
    marks.mkdir()
    module.mkdir()
    (module / "slowwsgi.py").write_text(SLOW_WSGI)
    extra = {"FAULT_MARKS": str(marks), "PYTHONPATH": f"{module}:{load.ROOT}"}
    work = tmp_path / "site"
    work.mkdir()
    with load.serve(work, workers=3, app="slowwsgi:app", extra_env=extra) as site:
        ids = site.published_ids()
        stop = threading.Event()
        statuses, failures, bodies = [], [], []

        def read() -> None:
            client = load.Client(site.port)
            paths = ["/", f"/articles/{ids[0]}", "/search?q=" + quote("疫情")]
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    status, _, text = client.get(paths[n % len(paths)])
                except (OSError, http.client.HTTPException) as exc:
                    failures.append(repr(exc))
                    continue
                statuses.append(status)
                if "LockError" in text or "Traceback" in text:
                    bodies.append(text[:500])

        readers = [threading.Thread(target=read) for _ in range(3)]
        for thread in readers:
            thread.start()
        admin = load.Admin(site.port)
        admin.sign_in()
        (marks / "slow").touch()
        doomed = {}

        def publish_doomed() -> None:
            try:
                doomed["result"] = admin.publish("被中断的保存 killtoken", "正文 killtoken。")
            except (OSError, http.client.HTTPException) as exc:
                doomed["error"] = exc

        saving = threading.Thread(target=publish_doomed)
        saving.start()
        wait_until(lambda: any(marks.glob("writing-*")), 20, "no index write began", every=0.2)
        victim = int(next(marks.glob("writing-*")).name.split("-")[1])
        assert victim == site.worker.pid and victim not in site.workers()
        (marks / "slow").unlink()
        os.kill(victim, signal.SIGKILL)
        site.worker.wait(timeout=30)
        saving.join(timeout=30)
        assert doomed["result"][1] == 302  # the save never waited for the index
        site.start_worker()  # systemd's Restart=always

        with sqlite3.connect(site.database) as connection:
            row = connection.execute(
                "SELECT id FROM articles WHERE title = ?", ("被中断的保存 killtoken",)
            ).fetchone()
        assert row is not None, "the save committed before the index write was lost"
        killed_id = row[0]

        admin.client.close()
        article_id, status, _ = admin.publish("杀死之后的保存 aftertoken", "正文 aftertoken。")
        assert status == 302
        client = load.Client(site.port)
        # The restarted worker needs its start-up first (seconds on a busy machine).
        wait_until(
            lambda: _found(client, "aftertoken", article_id), 120, "aftertoken is found", every=0.2
        )
        wait_until(
            lambda: _found(client, "killtoken", killed_id), 15, "killtoken is found", every=0.2
        )
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
    log = site.log.read_text(errors="replace")
    assert "LockError" not in log
    assert statuses and all(status < 500 for status in statuses), sorted(set(statuses))
    assert not failures, failures[:5]
    assert not bodies, bodies[:2]


@pytest.fixture
def fault_app(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        make_user()
        store_page(parse_page(SEED_TEXT))
        search.rebuild()
        db.session.remove()
    return app


def _article_id(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Article.id).where(Article.status == "published"))


def _publish(client, title: str, body: str = "正文。"):
    return post_form(
        client, "/admin/articles/new", title=title, body=body, category="栏目", tags="",
        source_note="", status="published", published_at="", save="保存",
    )  # fmt: skip


@pytest.mark.usefixtures("on_whoosh")  # the index directory of the Whoosh backend
@pytest.mark.parametrize("damage", ["deleted", "corrupted"])
def test_a_lost_index_leaves_articles_served_and_reindex_restores_it(fault_app, damage):
    client = fault_app.test_client()
    article = _article_id(fault_app)
    assert client.get("/search?q=" + quote("疫情")).status_code == 200
    home = Path(fault_app.config["SEARCH_INDEX_DIR"])
    if damage == "deleted":
        shutil.rmtree(home)
    else:
        # Garbage over every file, in place: Whoosh maps segment files into memory, and a
        # file truncated under a live map kills the process (SIGBUS), see the module notes.
        live = search.index.live_dir(home)
        for path in live.iterdir():
            if path.is_file():
                with open(path, "r+b") as handle:
                    handle.write(os.urandom(path.stat().st_size))
    assert client.get(f"/articles/{article}").status_code == 200
    assert client.get("/").status_code == 200
    assert (
        client.get(f"/articles/{article}/related", headers={"HX-Request": "true"}).status_code
        == 200
    )
    if damage == "corrupted":
        # The running searcher may still answer from what it holds; never with a 500.
        assert client.get("/search?q=" + quote("基层")).status_code in {200, 503}
        search_state = fault_app.extensions["microsite.search"]
        search_state.searcher.close()  # as a restarted worker: open the index afresh
    response = client.get("/search?q=" + quote("疫情"))
    assert response.status_code == 503
    assert "搜索暂不可用" in response.get_data(as_text=True)
    fragment = client.get("/search?q=" + quote("疫情"), headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "搜索暂不可用" in fragment.get_data(as_text=True)
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded"
    # An admin can still save while the index is gone; reindex brings it all back.
    desk = fault_app.test_client()
    assert sign_in(desk).status_code == 302
    saved = _publish(desk, "索引损坏期间保存 losttoken")
    assert saved.status_code == 302
    with fault_app.app_context():
        result = fault_app.test_cli_runner().invoke(args=["reindex"])
    assert result.exit_code == 0, result.output
    response = client.get("/search?q=losttoken")
    assert response.status_code == 200
    assert "索引损坏期间保存" in response.get_data(as_text=True)
    assert client.get("/healthz").get_json()["status"] == "ok"


@sqlite_only
def test_requests_wait_for_a_briefly_locked_database(fault_app):
    """Another connection holds the write lock until an admin's save has begun writing: the
    save waits (busy_timeout) and succeeds once the lock goes instead of failing with
    "database is locked", and a page view is answered while the lock is still held (WAL)."""
    desk = fault_app.test_client()
    assert sign_in(desk).status_code == 302
    token_page = desk.get("/admin/articles/new").get_data(as_text=True)
    token = token_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    article = _article_id(fault_app)
    events: list[str] = []
    results = {}

    def save() -> None:
        data = {
            "csrf_token": token, "title": "锁等待 locktoken", "body": "正文。", "category": "栏目",
            "tags": "", "source_note": "", "status": "published", "published_at": "",
            "save": "保存",
        }  # fmt: skip
        results["save"] = desk.post("/admin/articles/new", data=data)
        events.append("saved")

    def view() -> None:
        results["view"] = fault_app.test_client().get(f"/articles/{article}")
        events.append("viewed")

    saving = threading.Thread(target=save, name="save")
    viewing = threading.Thread(target=view, name="view")
    with write_lock_held(fault_app, saving) as writing:
        saving.start()
        viewing.start()
        assert writing.wait(timeout=60), "the save never began writing"
        viewing.join(timeout=60)  # readers are not held up by a writer
        events.append("released")
    # The save could only finish after the lock went: it waited instead of failing.
    assert events == ["viewed", "released", "saved"]
    response = results["save"]
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert results["view"].status_code == 200
    with fault_app.app_context():
        assert db.session.scalar(db.select(Article).filter_by(title="锁等待 locktoken"))


@pytest.mark.usefixtures("on_whoosh")  # the index directory of the Whoosh backend
@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_index_disk_keeps_the_article_and_tells_the_admin(
    fault_app, monkeypatch, error
):
    def fail(self, *args, **kwargs):
        self.cancel()
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(SegmentWriter, "commit", fail)
    desk = fault_app.test_client()
    assert sign_in(desk).status_code == 302
    response = _publish(desk, "磁盘已满时保存 fulltoken")
    assert response.status_code == 302
    page = desk.get(response.headers["Location"]).get_data(as_text=True)
    assert "已保存" in page
    assert "搜索索引暂时无法更新" in page
    with fault_app.app_context():
        assert db.session.scalar(db.select(Article).filter_by(title="磁盘已满时保存 fulltoken"))
    # Once the disk has room again, the next change brings the index up to date.
    monkeypatch.undo()
    assert _publish(desk, "之后的保存 nexttoken").status_code == 302
    reader = fault_app.test_client()
    assert "磁盘已满时保存" in reader.get("/search?q=fulltoken").get_data(as_text=True)
