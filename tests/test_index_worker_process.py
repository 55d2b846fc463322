"""The Whoosh index is one host's: web workers write the change log with each commit, and the
worker, a process of its own, is the one writer of the index. Here the web side is the test
app (its commits only write the log) and the worker's loop (microsite.jobs.HostLoop) runs in a
child process on the same database and index directory, as `make run` and systemd run them.

Runs on the SQLite file under `make test` and on PostgreSQL under `make test-postgres`.
Several hosts use PostgreSQL search instead (tests/test_search_postgres.py: two hosts).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from microsite import search
from microsite.content.models import IndexChange, User
from microsite.extensions import db
from microsite.search import index, sync
from tests.support.app import ADMIN_PASSWORD, in_app, make_app
from tests.support.processes import Child
from tests.support.search import hit_ids, results
from tests.support.waiting import wait_until

WORKER = """
import json, os, threading
from microsite import create_app, jobs
app = create_app(json.loads(os.environ["MICROSITE_WORKER_CONFIG"]))
loop = jobs.HostLoop(app)
print("ready", flush=True)
loop.run()
"""
FOLLOW_SECONDS = 0.2
# Far above what it needs, so a slow shared machine never fails a test that is right.
PATIENCE = 60.0


class WorkerProcess(Child):
    """The worker's loop in a child process; kill() is a SIGKILL, start() brings it back."""

    def __init__(self, config: dict, log: Path) -> None:
        super().__init__(WORKER, "MICROSITE_WORKER_CONFIG", config, log)

    def start(self) -> WorkerProcess:
        line = super().start()
        assert line == "ready", f"worker did not start: {self.output_tail()}"
        return self


@pytest.fixture
def host(tmp_path):
    """(web app, its signed-in test client, the worker process, not started yet)."""
    web = make_app(tmp_path, SEARCH_BACKEND="whoosh", WTF_CSRF_ENABLED=False)
    # A web worker only writes the log: the job a commit enqueues is the worker's.
    web.extensions.pop(sync.ON_LOGGED)

    def setup():
        user = User(username="editor", display_name="编辑部", role="admin")
        user.set_password(ADMIN_PASSWORD)
        db.session.add(user)
        db.session.commit()
        search.rebuild()

    in_app(web, setup)
    client = web.test_client()
    form = {"username": "editor", "password": ADMIN_PASSWORD}
    assert client.post("/admin/login", data=form).status_code == 302
    config = {
        key: web.config[key]
        for key in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "SEARCH_INDEX_DIR", "SEARCH_BACKEND")
    }
    config |= {
        "INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "INDEX_FOLLOW_SECONDS": FOLLOW_SECONDS,
        "JOBS_URL": "immediate",
    }
    worker = WorkerProcess(config, tmp_path / "worker.log")
    yield web, client, worker
    worker.kill()


def publish(client, title: str, body: str) -> int:
    form = {"title": title, "body": body, "category": "单主机", "tags": "", "status": "published"}
    response = client.post("/admin/articles/new", data=form)
    assert response.status_code == 302, response.status_code
    return int(response.headers["Location"].split("/articles/")[1].split("/")[0])


def hits(client, q: str) -> list[int]:
    return hit_ids(results(client, q))


def applied(web: Flask) -> int:
    return index.read_applied(index.live_dir(Path(web.config["SEARCH_INDEX_DIR"])))


def newest_change(web: Flask) -> int:
    return in_app(web, lambda: db.session.scalar(select(func.max(IndexChange.id))) or 0)


def test_the_worker_process_applies_what_web_workers_commit(host):
    web, client, worker = host
    article = publish(client, "工作进程应用", "<p>由工作进程写入索引 wq5</p>")
    # No worker yet: the reader's search answers from the index as it is and leaves it alone.
    before = applied(web)
    assert hits(client, "wq5") == []
    assert applied(web) == before < newest_change(web)
    worker.start()
    wait_until(lambda: applied(web) >= newest_change(web), PATIENCE, "the worker's turn")
    assert hits(client, "wq5") == [article]
    assert client.post(f"/admin/articles/{article}/clear").status_code == 302
    wait_until(lambda: hits(client, "wq5") == [], PATIENCE, "the clear applied")


def test_a_killed_worker_catches_up_when_restarted(host):
    web, client, worker = host
    worker.start()
    first = publish(client, "重启之前", "<p>重启之前 pr1</p>")
    wait_until(lambda: hits(client, "pr1") == [first], PATIENCE, "the first publish applied")
    worker.kill()
    second = publish(client, "宕机期间发表", "<p>宕机期间发表 pr2</p>")
    assert client.post(f"/admin/articles/{first}/clear").status_code == 302
    top = newest_change(web)
    assert applied(web) < top
    assert hits(client, "pr2") == []
    worker.start()  # the same index: no rebuild, it follows the log from where it stopped
    wait_until(lambda: applied(web) >= top, PATIENCE, "the restarted worker caught up")
    assert hits(client, "pr2") == [second]
    assert hits(client, "pr1") == []
