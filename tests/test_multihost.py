"""Several web hosts on one database (issue 9's "done when") with the Whoosh backend: each
host keeps its own search index and its worker follows the change log, so what one host
publishes or clears shows on every other; a host killed and restarted catches up; hosts share
the sign-in throttle (database or Redis).

Runs on the SQLite file under `make test` and on PostgreSQL under `make test-postgres`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import func, select

from microsite import create_app, jobs, search
from microsite.content.models import IndexChange, User
from microsite.extensions import db
from microsite.search import index
from tests.support.app import ADMIN_PASSWORD, make_app
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
# A host in its own process: a new host builds its index from the database, then its worker's
# per-host loop (microsite.jobs.HostLoop) follows the log while the server answers.
SERVE = """
import json, os, threading
from werkzeug.serving import make_server
from microsite import create_app, jobs, search
app = create_app(json.loads(os.environ["MICROSITE_HOST_CONFIG"]))
with app.app_context():
    if search.status()["status"] == "missing":
        search.rebuild()
threading.Thread(target=jobs.HostLoop(app).run, daemon=True).start()
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""
FOLLOW_SECONDS = 0.2
# How long a condition may take before the test gives up: far above what it needs, so a slow
# shared machine never fails a test that is right (how fast is bench/'s business).
PATIENCE = 60.0


def host_config(tmp_path: Path, name: str, database: str, **overrides) -> dict:
    return {
        "SECRET_KEY": "test-secret",  # shared: a session cookie from one host works on all
        "INSTANCE_PATH": str(tmp_path / name / "instance"),
        "SQLALCHEMY_DATABASE_URI": database,
        "SEARCH_INDEX_DIR": str(tmp_path / name / "index"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "WTF_CSRF_ENABLED": False,
        "INDEX_FOLLOW_SECONDS": FOLLOW_SECONDS,
        # The per-host index and its change log: PostgreSQL's own search (the default there)
        # needs neither; tests/test_search_postgres.py covers it.
        "SEARCH_BACKEND": "whoosh",
        **overrides,
    }


class Host:
    """The app served by a child process; kill() is a SIGKILL, start() comes back."""

    def __init__(self, config: dict, log: Path) -> None:
        self.config, self.log = config, log
        self.process: subprocess.Popen | None = None
        self.url = ""
        self.cookies: dict[str, str] = {}

    def start(self) -> Host:
        env = {**os.environ, "MICROSITE_HOST_CONFIG": json.dumps(self.config)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVE],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        line = self.process.stdout.readline().strip()
        assert line.isdigit(), f"host did not start: {self.log.read_text()[-2000:]}"
        self.url = f"http://127.0.0.1:{line}"
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        if self.process and self.process.stdout:
            self.process.stdout.close()

    def request(self, path: str, form: dict | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.url + path, data=data)
        if self.cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def hits(self, q: str) -> list[int]:
        status, body = self.request("/search?" + urllib.parse.urlencode({"q": q}))
        assert status == 200, status
        return hit_ids(body)

    @property
    def live_index(self) -> Path | None:
        return index.live_dir(Path(self.config["SEARCH_INDEX_DIR"]))


def hit_ids(html: str) -> list[int]:
    links = BeautifulSoup(html, "html.parser").select(".search-hit .search-hit__title a")
    return [int(a["href"].rsplit("/", 1)[1]) for a in links]


def in_app(app: Flask, work):
    with app.app_context():
        try:
            return work()
        finally:
            db.session.remove()


def newest_change(app: Flask) -> int:
    return in_app(app, lambda: db.session.scalar(select(func.max(IndexChange.id))) or 0)


def publish(client, title: str, body: str) -> int:
    form = {"title": title, "body": body, "category": "多主机", "tags": "", "status": "published"}
    response = client.post("/admin/articles/new", data=form)
    assert response.status_code == 302, response.status_code
    return int(response.headers["Location"].split("/articles/")[1].split("/")[0])


@pytest.fixture
def hosts(tmp_path):
    """Host A (the usual test app) and host B (a second app, its own index) on one database,
    both in this process with an editor signed in; child-process hosts are killed at the end.
    Jobs run as they are enqueued (TESTING), so A's own index follows A's commits at once;
    B's index follows only when B's worker loop runs (see b_worker)."""
    (tmp_path / "a").mkdir()
    a = make_app(tmp_path / "a", SEARCH_BACKEND="whoosh")
    a.config.update(WTF_CSRF_ENABLED=False, INDEX_FOLLOW_SECONDS=FOLLOW_SECONDS)
    database = a.config["SQLALCHEMY_DATABASE_URI"]
    b = create_app({"TESTING": True, **host_config(tmp_path, "b", database)})

    def setup():
        user = User(username="editor", display_name="编辑部", role="admin")
        user.set_password(ADMIN_PASSWORD)
        db.session.add(user)
        db.session.commit()
        search.rebuild()

    in_app(a, setup)
    in_app(b, search.rebuild)  # a new host: built from the database, then following the log
    clients = []
    for app in (a, b):
        client = app.test_client()
        form = {"username": "editor", "password": ADMIN_PASSWORD}
        assert client.post("/admin/login", data=form).status_code == 302
        clients.append(client)
    children: list[Host] = []
    yield a, b, clients, children, database
    for child in children:
        child.kill()
    in_app(b, lambda: db.engine.dispose())


@pytest.fixture
def b_worker(hosts):
    """Host B's worker loop (the per-host part of `flask worker`) in a thread."""
    loop = jobs.HostLoop(hosts[1])
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    yield loop
    loop.stop.set()
    thread.join(timeout=10)


def test_published_on_one_host_is_found_on_the_other_and_cleared_everywhere(hosts, b_worker):
    a, b, (on_a, on_b), _, _ = hosts
    article = publish(on_a, "多主机发表", "<p>在甲主机发表 hq9 的文章</p>")
    top = newest_change(a)
    b_home = Path(b.config["SEARCH_INDEX_DIR"])
    # B's worker applies the entry without any search asking for it...
    began = time.monotonic()
    wait_until(lambda: index.read_applied(index.live_dir(b_home)) >= top, PATIENCE)
    took = time.monotonic() - began
    print(f"B's worker applied A's change after {took:.3f} s")
    # ...and B's search finds it.
    assert hit_ids(on_b.get("/search?q=hq9").get_data(as_text=True)) == [article]

    # Cleared through B: gone from A's index, not just filtered out of A's results.
    assert on_b.post(f"/admin/articles/{article}/clear").status_code == 302
    in_app(a, search.apply_pending)  # A's worker's turn (its own loop is not running here)
    assert hit_ids(on_a.get("/search?q=hq9").get_data(as_text=True)) == []
    indexed = in_app(
        a,
        lambda: search.state().searcher.run(
            lambda s: s.document_number(id=str(article)), follow=False
        ),
    )
    assert indexed is None


def test_a_readers_search_never_writes_the_index_the_hosts_worker_does(hosts):
    a, b, (on_a, on_b), _, _ = hosts
    b_home = Path(b.config["SEARCH_INDEX_DIR"])
    before = index.read_applied(index.live_dir(b_home))
    article = publish(on_a, "先追上再回答", "<p>先追上再回答 kv4</p>")
    # No worker on B yet: its search answers from the index as it is, and leaves it alone.
    assert hit_ids(on_b.get("/search?q=kv4").get_data(as_text=True)) == []
    assert index.read_applied(index.live_dir(b_home)) == before
    assert search.apply_pending(b) > 0  # B's worker's turn
    assert hit_ids(on_b.get("/search?q=kv4").get_data(as_text=True)) == [article]


def test_a_killed_host_catches_up_when_restarted(hosts, tmp_path):
    a, b, (on_a, on_b), children, database = hosts
    first = publish(on_a, "重启之前", "<p>重启之前 pr1</p>")
    c = Host(host_config(tmp_path, "c", database), tmp_path / "c.log").start()
    children.append(c)
    assert c.hits("pr1") == [first]  # built its index at start, from the database

    c.kill()
    second = publish(on_a, "宕机期间发表", "<p>宕机期间发表 pr2</p>")
    assert on_b.post(f"/admin/articles/{first}/clear").status_code == 302
    top = newest_change(a)
    assert index.read_applied(c.live_index) < top

    c.start()  # the same index directory: no rebuild, its worker follows the log from there
    assert c.request("/healthz")[0] == 200
    began = time.monotonic()
    wait_until(lambda: index.read_applied(c.live_index) >= top, PATIENCE)
    took = time.monotonic() - began
    print(f"restarted host applied what it missed {took:.3f} s after it answered")
    health = json.loads(c.request("/healthz")[1])
    assert health["search"]["in_sync"] is True
    assert c.hits("pr2") == [second]
    assert c.hits("pr1") == []


# --- shared sign-in throttle -------------------------------------------------------------


def two_hosts(tmp_path, storage: str) -> tuple[Host, Host]:
    app = make_app(tmp_path, SEARCH_BACKEND="whoosh")
    with app.app_context():
        user = User(username="editor", display_name="编辑部", role="admin")
        user.set_password(ADMIN_PASSWORD)
        db.session.add(user)
        db.session.commit()
        db.session.remove()
    database = app.config["SQLALCHEMY_DATABASE_URI"]
    made = []
    for name in ("x", "y"):
        config = host_config(tmp_path, name, database, RATELIMIT_STORAGE_URI=storage)
        made.append(Host(config, tmp_path / f"{name}.log"))
    return made[0], made[1]


def wrong_password(host: Host) -> int:
    return host.request("/admin/login", {"username": "editor", "password": "wrong"})[0]


def test_with_redis_two_hosts_share_the_sign_in_throttle(tmp_path, redis_uri):
    x, y = two_hosts(tmp_path, redis_uri)
    try:
        x.start()
        y.start()
        assert [wrong_password(x) for _ in range(3)] == [422] * 3
        assert [wrong_password(y) for _ in range(2)] == [422] * 2
        assert wrong_password(x) == 429  # the sixth failure, counted across both hosts
        assert wrong_password(y) == 429
    finally:
        x.kill()
        y.kill()


def test_by_default_hosts_share_the_sign_in_throttle_through_the_database(tmp_path):
    """No Redis configured (`memory://` is the Flask-Limiter default): the sign-in throttle
    counts in the site's database, so two hosts still count together (issue 14.4)."""
    x, y = two_hosts(tmp_path, "memory://")
    try:
        x.start()
        y.start()
        assert [wrong_password(x) for _ in range(3)] == [422] * 3
        assert [wrong_password(y) for _ in range(2)] == [422] * 2
        assert wrong_password(x) == 429
        assert wrong_password(y) == 429
    finally:
        x.kill()
        y.kill()
