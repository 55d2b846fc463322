"""Fixtures for the search tests, loaded with `pytest_plugins = ["tests.search_fixtures"]`
(conftest.py belongs to everyone; helpers live in search_helpers.py)."""

from __future__ import annotations

import pytest

from microsite import search
from microsite.extensions import db
from microsite.importer import parse_page, store_page

from . import conftest
from .conftest import SEED_TEXT, make_app


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
    kept = [entry for entry in conftest._apps_on_postgres if entry[0] is app]
    for entry in kept:
        conftest._apps_on_postgres.remove(entry)
    with app.app_context():
        seed_id = store_page(parse_page(SEED_TEXT)).id
        search.rebuild()
        db.session.remove()
    yield app, seed_id
    conftest._apps_on_postgres.extend(kept)


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
