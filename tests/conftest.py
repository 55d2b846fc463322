"""Shared fixtures: app on tmp SQLite and tmp index, clients, seed data, live server, browser.

Helpers live in tests/support/ (test modules import them from there, never from here); the
fixtures many modules share are in tests/support/fixtures.py, registered below.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from microsite.content.importer import parse_page, store_page
from microsite.content.models import User
from microsite.extensions import db
from tests.support.app import (
    ADMIN_PASSWORD,
    CHROMIUM,
    POSTGRES,
    SEED_TEXT,
    FreshContextClient,
    LiveServer,
    drop_postgres_databases,
    make_app,
    seeded_live_app,
)

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(autouse=True)
def _drop_postgres_databases():
    yield
    drop_postgres_databases()


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + POSTGRES.rsplit('@', 1)[1] if POSTGRES else 'SQLite'}"


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


# --- live server and browser -------------------------------------------------------------


@pytest.fixture
def live_app(tmp_path) -> Flask:
    """A real app (CSRF on) with the seed imported, for the live server."""
    return seeded_live_app(tmp_path)


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
