"""Apps for tests: a fresh database per app, the seed page, a live server, parsing pages.

conftest.py builds its fixtures from these; test modules import them from here (never from
conftest or another test module).
"""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import threading
import uuid
from pathlib import Path

from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from werkzeug.serving import make_server

from microsite import create_app
from microsite.cli import DEMO_PAGE
from microsite.content.importer import parse_page, store_page
from microsite.extensions import db

SEED_TEXT = DEMO_PAGE.read_text(encoding="utf-8")
SEED_TITLE = "拉紧基层疫情防控警戒线"
# The seed articles that carry a cleared-at time: id -> that time.
CLEARED_IN_SEED = {
    18: "2022-09-09 11:48:22",
    56: "2023-05-13 23:42:41",
    58: "2022-09-09 11:48:22",
    95: "2023-05-15 02:38:23",
    99: "2022-09-09 12:00:48",
}
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


def drop_postgres_databases() -> None:
    """Drop the databases of the apps made during the test that just ended."""
    while _apps_on_postgres:
        app, name = _apps_on_postgres.pop()
        with app.app_context():
            db.engine.dispose()
        _close_left_open(name)
        with _postgres_admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _close_left_open(name: str) -> None:
    """Close connections to `name` still open after its engine was disposed (dispose leaves
    checked-out ones alone). Left to the garbage collector, psycopg's ResourceWarning failed
    whichever later test was running when it came (seen twice in three PostgreSQL runs, on
    browser tests' setup); which code leaves them open is not known yet."""
    import psycopg

    gc.collect()
    for leftover in gc.get_objects():
        if isinstance(leftover, psycopg.Connection) and not leftover.closed:
            with contextlib.suppress(Exception):
                if leftover.info.dbname == name:
                    leftover.close()


def keep_database(app: Flask) -> list[tuple[Flask, str]]:
    """Take `app`'s database off the after-test drop list (an app that outlives one test);
    hand the result to `drop_later` when it is done."""
    kept = [entry for entry in _apps_on_postgres if entry[0] is app]
    for entry in kept:
        _apps_on_postgres.remove(entry)
    return kept


def drop_later(kept: list[tuple[Flask, str]]) -> None:
    _apps_on_postgres.extend(kept)


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


def soup(response) -> BeautifulSoup:
    """The response body parsed as HTML."""
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


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


def seeded_live_app(tmp_path: Path, **overrides) -> Flask:
    """A real app (CSRF on) with the seed imported, for a live server."""
    app = make_app(tmp_path, **overrides)
    with app.app_context():
        store_page(parse_page(SEED_TEXT))
        db.session.remove()
    return app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def in_app(app: Flask, work):
    """work() in a fresh app context of `app`, its session removed afterwards: for tests that
    drive two apps (two hosts, web and worker) from one process."""
    with app.app_context():
        try:
            return work()
        finally:
            db.session.remove()
