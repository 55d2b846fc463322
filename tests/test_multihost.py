"""Several web hosts on one database share the sign-in throttle (database or Redis), each host
in its own process.

Search across hosts is PostgreSQL's (tests/test_search_postgres.py: what one host publishes
the other finds at once); the Whoosh index is one host's (tests/test_index_worker_process.py).
Runs on the SQLite file under `make test` and on PostgreSQL under `make test-postgres`.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from microsite.content.models import User
from microsite.extensions import db
from tests.support.app import ADMIN_PASSWORD, make_app
from tests.support.processes import Child

# A host in its own process: the app behind a threaded server.
SERVE = """
import json, os
from werkzeug.serving import make_server
from microsite import create_app
app = create_app(json.loads(os.environ["MICROSITE_HOST_CONFIG"]))
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


def host_config(tmp_path: Path, name: str, database: str, **overrides) -> dict:
    return {
        "SECRET_KEY": "test-secret",  # shared: a session cookie from one host works on all
        "INSTANCE_PATH": str(tmp_path / name / "instance"),
        "SQLALCHEMY_DATABASE_URI": database,
        "SEARCH_INDEX_DIR": str(tmp_path / name / "index"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "WTF_CSRF_ENABLED": False,
        **overrides,
    }


class Host(Child):
    """The app served by a child process; kill() is a SIGKILL, start() comes back."""

    def __init__(self, config: dict, log: Path) -> None:
        super().__init__(SERVE, "MICROSITE_HOST_CONFIG", config, log)
        self.url = ""
        self.cookies: dict[str, str] = {}

    def start(self) -> Host:
        line = super().start()
        assert line.isdigit(), f"host did not start: {self.output_tail()}"
        self.url = f"http://127.0.0.1:{line}"
        return self

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


# --- shared sign-in throttle -------------------------------------------------------------


def two_hosts(tmp_path, storage: str) -> tuple[Host, Host]:
    app = make_app(tmp_path)
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
