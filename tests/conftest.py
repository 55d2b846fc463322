"""Shared fixtures: app on tmp SQLite and tmp index, clients, seed data, live server, browser."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from werkzeug.serving import make_server

from microsite import create_app
from microsite.cli import DEMO_PAGE
from microsite.extensions import db
from microsite.importer import parse_page, store_page
from microsite.models import User

SEED_TEXT = DEMO_PAGE.read_text(encoding="utf-8")
SEED_TITLE = "拉紧基层疫情防控警戒线"
ADMIN_PASSWORD = "correct horse battery"
CHROMIUM = "/usr/bin/chromium"
# Set (by scripts/with-postgres) to run the whole suite on PostgreSQL instead of SQLite: each
# app then gets a database of its own on that server, dropped when its test ends.
POSTGRES = os.environ.get("MICROSITE_TEST_POSTGRES")
_apps_on_postgres: list[tuple[Flask, str]] = []


def _postgres_admin():
    import psycopg

    return psycopg.connect(POSTGRES.replace("+psycopg", ""), autocommit=True)


def database_uri(tmp_path: Path) -> str:
    """A new, empty database for one app: a SQLite file, or a PostgreSQL database."""
    if not POSTGRES:
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    name = f"test_{uuid.uuid4().hex[:16]}"
    with _postgres_admin() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(autouse=True)
def _drop_postgres_databases():
    yield
    while _apps_on_postgres:
        app, name = _apps_on_postgres.pop()
        with app.app_context():
            db.engine.dispose()
        with _postgres_admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + POSTGRES.rsplit('@', 1)[1] if POSTGRES else 'SQLite'}"


def make_app(tmp_path: Path, **overrides) -> Flask:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": database_uri(tmp_path),
        "SEARCH_INDEX_DIR": str(tmp_path / "index"),
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    config.update(overrides)
    app = create_app(config)
    if POSTGRES:
        _apps_on_postgres.append((app, config["SQLALCHEMY_DATABASE_URI"].rsplit("/", 1)[1]))
    with app.app_context():
        upgrade()
    return app


class FreshContextClient(FlaskClient):
    """Each request gets its own app context, as in production.

    The `app` fixture keeps a context pushed for the test's own database work; without this,
    requests would reuse it and share `g` (the signed-in user, settings caches) between them.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def app(tmp_path) -> Iterator[Flask]:
    app = make_app(tmp_path, WTF_CSRF_ENABLED=False)
    app.test_client_class = FreshContextClient
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def seeded(app):
    """The seed page imported: returns the main article."""
    return store_page(parse_page(SEED_TEXT))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def admin_user(app) -> User:
    user = User(username="editor", display_name="编辑部", role="admin")
    user.set_password(ADMIN_PASSWORD)
    db.session.add(user)
    db.session.commit()
    return user


def soup(response) -> BeautifulSoup:
    """The response body parsed as HTML."""
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


# --- live server and browser -------------------------------------------------------------


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def live_app(tmp_path) -> Flask:
    """A real app (CSRF on) with the seed imported, for the live server."""
    app = make_app(tmp_path)
    with app.app_context():
        store_page(parse_page(SEED_TEXT))
        db.session.remove()
    return app


@pytest.fixture
def live_server(live_app) -> Iterator[LiveServer]:
    server = LiveServer(live_app).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Debian's Chromium, never a downloaded browser; no background traffic on a closed network.
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }
