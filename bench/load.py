"""A bounded load test: readers and an admin against gunicorn on 127.0.0.1; nothing may be lost.

    python -m bench.load [--connections 64] [--seconds 30] [--workers 4]

Serves a throwaway copy of the demo (temporary database and index) with several gunicorn
workers on a spare loopback port. Reader threads, one keep-alive connection each, fetch the
home page, articles, related fragments (as htmx) and searches for the whole run; meanwhile an
admin signs in and publishes, edits, clears and restores articles. Afterwards every 5xx and
every connection error counts as a failure, and every save must be in the database with its
last text and be found by search. Exits 1 on any failure. Loopback only, stops by itself.
tests/test_load.py runs a short version; `make load` runs this one.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN_USER, ADMIN_PASSWORD = "loadadmin", secrets.token_hex(12)
SEARCH_WORDS = ["疫情", "防控", "基层", "核酸检测", "社区", "人力资源", "招聘", "警戒线"]
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_VERSION = re.compile(r'name="version"[^>]*value="(\d+)"')


def spare_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the site under test ------------------------------------------------------------------


@dataclass
class Site:
    work: Path
    port: int
    env: dict
    process: subprocess.Popen
    log: Path
    app: str = "wsgi:app"
    worker: subprocess.Popen | None = None

    def start_worker(self) -> subprocess.Popen:
        """The background worker (`flask worker`, as `make run` starts it), on the same app:
        it applies saves to the search index. Called again after it was killed, as systemd's
        Restart=always would."""
        with open(self.work / "worker.log", "ab") as out:
            self.worker = subprocess.Popen(
                [str(BIN / "flask"), "--app", self.app, "worker"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self.worker

    @property
    def database(self) -> Path:
        return self.work / "site.sqlite3"

    def workers(self) -> list[int]:
        """Process ids of the gunicorn workers (children of the master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "flask"), *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )

    def published_ids(self) -> list[int]:
        with sqlite3.connect(self.database) as connection:
            rows = connection.execute(
                "SELECT id FROM articles WHERE status = 'published' ORDER BY id"
            ).fetchall()
        return [row[0] for row in rows]


def _create_admin(env: dict) -> None:
    script = (
        "from microsite import create_app\n"
        "from microsite.extensions import db\n"
        "from microsite.content.models import User\n"
        "import os\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    user = User(username=os.environ['LOAD_ADMIN'], display_name='压测', role='admin')\n"
        "    user.set_password(os.environ['LOAD_PASSWORD'])\n"
        "    db.session.add(user); db.session.commit()\n"
    )
    extra = {"LOAD_ADMIN": ADMIN_USER, "LOAD_PASSWORD": ADMIN_PASSWORD}
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**env, **extra}, check=True)


def _wait(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the site did not answer on port {port}")


@contextmanager
def serve(
    work: Path, workers: int = 4, app: str = "wsgi:app", extra_env: dict | None = None
) -> Iterator[Site]:
    """The demo in a fresh database and index under `work`, served by gunicorn.

    `app` and `extra_env` (e.g. PYTHONPATH) let a fault test serve a wrapped application.
    """
    port = spare_port()
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_hex(16),
        "DATABASE_URL": f"sqlite:///{work / 'site.sqlite3'}",
        "MICROSITE_SEARCH_INDEX_DIR": str(work / "index"),
        "MICROSITE_JOBS_URL": f"sqlite:///{work / 'jobs.sqlite3'}",
        "INSTANCE_PATH": str(work / "instance"),
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_ACCESSLOG": str(work / "access.log"),
        "GUNICORN_LOGLEVEL": "warning",
        "FLASK_APP": "wsgi",
        **(extra_env or {}),
    }
    subprocess.run([BIN / "flask", "demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    _create_admin(env)
    log = work / "gunicorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", app],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    site = Site(work, port, env, process, log, app=app)
    site.start_worker()
    try:
        _wait(port, process)
        yield site
    finally:
        for running in (process, site.worker):
            running.send_signal(signal.SIGTERM)
            try:
                running.wait(timeout=30)
            except subprocess.TimeoutExpired:
                running.kill()
                running.wait()


# --- a small HTTP client: keep-alive, cookies, forms ---------------------------------------


class Client:
    def __init__(self, port: int, timeout: float = 30) -> None:
        self.port, self.timeout = port, timeout
        self.cookies: dict[str, str] = {}
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict, str]:
        """(status, headers, text); connection errors are raised, after closing."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=self.timeout
            )
        try:
            self._connection.request(method, path, body=body, headers=headers)
            response = self._connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, dict(response.headers), data.decode("utf-8", "replace")

    def get(self, path: str, **headers) -> tuple[int, dict, str]:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, fields: dict) -> tuple[int, dict, str]:
        body = urlencode(fields).encode()
        kind = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.request("POST", path, body=body, headers=kind)


class Admin:
    """Signs in and works the article desk through the real forms."""

    def __init__(self, port: int) -> None:
        self.client = Client(port)

    def _token(self, path: str) -> tuple[str, str]:
        status, _, page = self.client.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        found = _CSRF.search(page)
        return (found.group(1) if found else ""), page

    def sign_in(self) -> None:
        token, _ = self._token("/admin/login")
        fields = {"csrf_token": token, "username": ADMIN_USER, "password": ADMIN_PASSWORD}
        status, headers, _ = self.client.post("/admin/login", fields)
        if status != 302:
            raise RuntimeError(f"sign-in answered {status}")

    def publish(self, title: str, body: str) -> tuple[int, int, str]:
        """(article id, HTTP status, page text) of a new published article."""
        token, _ = self._token("/admin/articles/new")
        status, headers, page = self.client.post(
            "/admin/articles/new", self._fields(token, title, body)
        )
        if status != 302:
            return 0, status, page
        return int(headers["Location"].rstrip("/").split("/")[-2]), status, page

    def edit(self, article_id: int, title: str, body: str) -> tuple[int, str]:
        path = f"/admin/articles/{article_id}/edit"
        token, page = self._token(path)
        version = _VERSION.search(page)
        fields = self._fields(token, title, body, version.group(1) if version else "")
        status, _, text = self.client.post(path, fields)
        return status, text

    def action(self, article_id: int, what: str) -> int:
        token, _ = self._token("/admin/")
        status, _, _ = self.client.post(
            f"/admin/articles/{article_id}/{what}", {"csrf_token": token}
        )
        return status

    @staticmethod
    def _fields(token: str, title: str, body: str, version: str = "") -> dict:
        return {
            "csrf_token": token,
            "title": title,
            "body": body,
            "category": "压测栏目",
            "tags": "压测 负载",
            "source_note": "来源：负载测试",
            "status": "published",
            "published_at": "",
            "version": version,
            "save": "保存",
        }


# --- the run ------------------------------------------------------------------------------


@dataclass
class Result:
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    latencies: dict = field(default_factory=lambda: defaultdict(list))
    admin_ops: Counter = field(default_factory=Counter)
    admin_failures: list = field(default_factory=list)
    saved: dict = field(default_factory=dict)  # id -> (token, title, body)
    missing_in_db: list = field(default_factory=list)
    missing_in_search: list = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def ok(self) -> bool:
        return not (
            self.server_errors
            or self.errors
            or self.admin_failures
            or self.missing_in_db
            or self.missing_in_search
            or not self.saved
        )

    def report(self) -> str:
        lines = [
            f"{self.requests} reader requests in {self.seconds:.1f} s "
            f"({self.requests / max(self.seconds, 0.001):.0f}/s); statuses {dict(self.statuses)}",
            f"connection errors: {dict(self.errors) or 0}; 5xx: {self.server_errors}",
        ]
        for kind, values in sorted(self.latencies.items()):
            if values:
                values = sorted(values)
                p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
                lines.append(
                    f"  {kind:8} n={len(values):6}  p50 {statistics.median(values) * 1000:7.1f} ms"
                    f"  p95 {p95 * 1000:7.1f} ms"
                )
        lines.append(f"admin: {dict(self.admin_ops)}; failures: {self.admin_failures or 0}")
        lines.append(
            f"saved articles: {len(self.saved)}; missing in DB: {self.missing_in_db or 0}; "
            f"missing in search: {self.missing_in_search or 0}"
        )
        lines.append("PASS" if self.ok else "FAIL")
        return "\n".join(lines)


def _reader(port: int, ids: list[int], deadline: float, result: Result, lock) -> None:
    client = Client(port)
    rng = random.Random()
    statuses, errors, latencies = Counter(), Counter(), defaultdict(list)
    while time.monotonic() < deadline:
        kind = rng.choice(["home", "article", "related", "search"])
        headers = {}
        if kind == "home":
            path = "/"
        elif kind == "article":
            path = f"/articles/{rng.choice(ids)}"
        elif kind == "related":
            path = f"/articles/{rng.choice(ids)}/related?page={rng.randint(1, 3)}"
            headers = {"HX-Request": "true"}
        else:
            path = "/search?q=" + quote(rng.choice(SEARCH_WORDS))
        started = time.monotonic()
        try:
            status, _, _ = client.get(path, **headers)
        except (OSError, http.client.HTTPException) as exc:
            errors[f"{kind}: {type(exc).__name__}"] += 1
            continue
        latencies[kind].append(time.monotonic() - started)
        statuses[status] += 1
    client.close()
    with lock:
        result.statuses.update(statuses)
        result.errors.update(errors)
        for kind, values in latencies.items():
            result.latencies[kind].extend(values)


def _admin(port: int, deadline: float, result: Result, run_id: str) -> None:
    admin = Admin(port)
    try:
        admin.sign_in()
    except (OSError, http.client.HTTPException, RuntimeError) as exc:
        result.admin_failures.append(f"sign-in: {exc}")
        return
    n = 0
    while time.monotonic() < deadline:
        n += 1
        token = f"lt{run_id}n{n}"
        title, body = f"压测文章 {token}", f"第一段 {token}。\n第二段讲负载测试。"
        try:
            article_id, status, _ = admin.publish(title, body)
            result.admin_ops["publish"] += 1
            if status != 302:
                result.admin_failures.append(f"publish {token}: {status}")
                continue
            result.saved[article_id] = (token, title, body)
            title = f"{title} 修订"
            status, _ = admin.edit(article_id, title, body)
            result.admin_ops["edit"] += 1
            if status != 302:
                result.admin_failures.append(f"edit {article_id}: {status}")
            else:
                result.saved[article_id] = (token, title, body)
            if n % 2 == 0:
                for what in ("clear", "restore"):
                    status = admin.action(article_id, what)
                    result.admin_ops[what] += 1
                    if status != 302:
                        result.admin_failures.append(f"{what} {article_id}: {status}")
        except (OSError, http.client.HTTPException, RuntimeError) as exc:
            result.admin_failures.append(f"{token}: {type(exc).__name__}: {exc}")
            admin.client.close()


def verify(site: Site, result: Result) -> None:
    """Every save is in the database with its last title, published, and found by search."""
    with sqlite3.connect(site.database) as connection:
        for article_id, (_, title, _) in result.saved.items():
            row = connection.execute(
                "SELECT title, status FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
            if row is None or row[0] != title or row[1] != "published":
                result.missing_in_db.append(article_id)
        newest = connection.execute("SELECT max(id) FROM index_changes").fetchone()[0] or 0
    _wait_for_the_index(site, newest)
    client = Client(site.port)
    for article_id, (token, _, _) in result.saved.items():
        status, _, page = client.get("/search?q=" + quote(token))
        if status != 200 or f'/articles/{article_id}"' not in page:
            result.missing_in_search.append(article_id)
    client.close()


def _wait_for_the_index(site: Site, newest: int, seconds: float = 60) -> None:
    """The worker applies saves to the index a moment after their commit: wait (bounded) until
    it has applied the last one, so search is checked against every save."""
    from microsite.search import index

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        where = index.live_dir(site.work / "index")
        if where is not None and index.read_applied(where) >= newest:
            return
        time.sleep(0.1)


def run(connections: int = 64, seconds: float = 30, workers: int = 4, work: Path | None = None):
    """Serve, load, verify; returns the Result."""
    with tempfile.TemporaryDirectory(prefix="microsite-load-") as scratch:
        work = work or Path(scratch)
        with serve(work, workers=workers) as site:
            ids = site.published_ids()
            result = Result()
            lock = threading.Lock()
            started = time.monotonic()
            deadline = started + seconds
            threads = [
                threading.Thread(target=_reader, args=(site.port, ids, deadline, result, lock))
                for _ in range(connections)
            ]
            threads.append(
                threading.Thread(
                    target=_admin, args=(site.port, deadline, result, secrets.token_hex(3))
                )
            )
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=seconds + 120)
            result.seconds = time.monotonic() - started
            verify(site, result)
            return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    print(
        f"load: {args.connections} connections, {args.seconds:.0f} s, "
        f"{args.workers} gunicorn workers on 127.0.0.1"
    )
    result = run(args.connections, args.seconds, args.workers)
    print(result.report())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
