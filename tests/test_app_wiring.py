"""Listeners belong to one app: its engine and its sessions, never every Engine or Session
in the process (the tests make many apps in one process, and so may a WSGI server)."""

from __future__ import annotations

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from microsite.content.models import Category, Setting
from microsite.extensions import db, new_session, on_session
from microsite.search import sync
from microsite.web import page_cache, security
from tests.support.app import make_app


def _revisions() -> dict[str, str]:
    rows = db.session.scalars(select(Setting).where(Setting.key.in_(page_cache.REVISIONS)))
    return {row.key: row.data for row in rows}


def _save_twice(app) -> None:
    """A commit through db.session and one through new_session, in this app's context."""
    with app.app_context():
        db.session.add(Category(name="甲", slug="a"))
        db.session.commit()
        with new_session(bind=db.engine) as session:
            session.add(Category(name="乙", slug="b"))
            session.commit()


def test_a_hook_runs_for_its_own_apps_sessions_only(tmp_path):
    first, second = make_app(tmp_path / "a"), make_app(tmp_path / "b")
    seen = []
    on_session(first, "after_commit", lambda session: seen.append(session))
    _save_twice(second)
    assert seen == []
    _save_twice(first)
    assert len(seen) == 2


def test_no_listener_is_registered_on_every_session_or_engine(tmp_path):
    app = make_app(tmp_path)
    assert not event.contains(Session, "before_flush", page_cache._mark_site_change)
    assert not event.contains(Session, "after_flush", sync._after_flush)
    assert not event.contains(Engine, "connect", security._sqlite_pragmas)
    with app.app_context():
        assert event.contains(db.engine, "connect", security._sqlite_pragmas)
        before = _revisions()
        # A session of other code, even on this app's engine, runs none of the app's hooks.
        with Session(db.engine) as session:
            session.add(Category(name="别处", slug="elsewhere"))
            session.commit()
        assert _revisions() == before
        db.session.add(Category(name="本站", slug="here"))
        db.session.commit()
        assert _revisions() != before


def test_an_engine_outside_the_app_keeps_sqlites_defaults(tmp_path):
    app = make_app(tmp_path)
    other = create_engine(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    try:
        with other.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() != "wal"
    finally:
        other.dispose()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context(), db.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
