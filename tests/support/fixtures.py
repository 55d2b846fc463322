"""Fixtures many test modules share, registered once by conftest.py
(`pytest_plugins = ["tests.support.fixtures"]`): a signed-in desk, the search index and a
shared read-only app, a throwaway redis-server, the app's movable clock."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from microsite import search
from microsite.content.importer import parse_page, store_page
from microsite.content.models import User
from microsite.extensions import db
from tests.support.app import SEED_TEXT, drop_later, free_port, keep_database, make_app
from tests.support.clock import movable_clock
from tests.support.factories import make_user
from tests.support.forms import sign_in
from tests.support.waiting import wait_until

# How long a redis-server may take to answer its first PING.
REDIS_PATIENCE = 60.0


@pytest.fixture
def sign_in_as(app, client):
    """sign_in_as(role) -> the test's client, signed in as a new user with that role
    (the `admin_user` fixture's account when the role is admin and it already exists)."""

    def signed_in(role: str = "admin", username: str = "editor"):
        if db.session.query(User).filter_by(username=username).first() is None:
            make_user(username, role=role)
        assert sign_in(client, username).status_code == 302
        return client

    return signed_in


@pytest.fixture
def site_clock(app):
    """The app's clock, moved by the test instead of sleeping: site_clock.move(minutes=2)."""
    return movable_clock(app)


@pytest.fixture
def desk(admin_user, sign_in_as):
    """The test's client, signed in as the admin (`admin_user`)."""
    return sign_in_as("admin")


# --- search --------------------------------------------------------------------------------


@pytest.fixture
def indexed(seeded):
    """The seed imported and the search index built from it: returns the seed article."""
    search.rebuild()
    return seeded


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory):
    """One app with the seed indexed, for a module's tests that only read (much faster than
    importing and indexing for each test). Returns (app, the seed article's id)."""
    app = make_app(tmp_path_factory.mktemp("search"), WTF_CSRF_ENABLED=False)
    # On PostgreSQL, conftest drops every app's database after each test: this one must
    # outlive the test, so it is handed back for dropping only when the module is done.
    kept = keep_database(app)
    with app.app_context():
        seed_id = store_page(parse_page(SEED_TEXT)).id
        search.rebuild()
        db.session.remove()
    yield app, seed_id
    drop_later(kept)


@pytest.fixture
def reader(shared_app):
    """A test client on the shared, read-only app (with an app context, like `client`)."""
    app, _ = shared_app
    with app.app_context():
        yield app.test_client()
        db.session.remove()


@pytest.fixture
def seed_id(shared_app) -> int:
    return shared_app[1]


@pytest.fixture
def on_whoosh(monkeypatch):
    """Apps made in this test search with Whoosh whatever the database: for tests of the
    per-host index and its change log (PostgreSQL search, the default there, has neither)."""
    monkeypatch.setenv("MICROSITE_SEARCH_BACKEND", "whoosh")


# --- redis -------------------------------------------------------------------------------


@pytest.fixture
def redis_uri(tmp_path):
    """A throwaway redis-server on a spare loopback port (Debian's `redis-server` package)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    pytest.importorskip("redis", reason="the redis extra is not installed: pip install .[redis]")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_until(answers, REDIS_PATIENCE, "redis-server answers")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


# --- a live server with someone who can sign in ----------------------------------------------


def _live_site_with(live_app, live_server, username: str, **fields) -> str:
    with live_app.app_context():
        make_user(username, **fields)
        db.session.remove()
    return live_server.url


@pytest.fixture
def admin_site(live_app, live_server) -> str:
    """The live server's URL (CSRF on, seed imported) with an admin, `editor`, who can sign in."""
    return _live_site_with(live_app, live_server, "editor")


@pytest.fixture
def editor_site(live_app, live_server) -> str:
    """The live server's URL (CSRF on, seed imported) with an editor (articles only), `writer`
    (记者), who can sign in."""
    return _live_site_with(live_app, live_server, "writer", display_name="记者", role="editor")
