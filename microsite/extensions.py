"""Flask extensions, created once and bound to the app in the factory; session hooks per app."""

from collections.abc import Callable

from flask import Flask, current_app, has_app_context
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, sessionmaker


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()
# Sessions opened by hand beside db.session (the worker's one-row transactions): new_session(bind).
new_session = sessionmaker()

SESSION_EVENTS = ("before_flush", "after_flush", "before_commit", "after_commit")
SESSION_EVENTS += ("after_soft_rollback",)
_HOOKS = "microsite.session_hooks"


def on_session(app: Flask, name: str, hook: Callable) -> None:
    """Run hook(session, ...) on the `name` event of every session (db.session, new_session)
    working inside this app's context, and of no other app's: two apps in one process (the
    tests make many) never run each other's hooks, and sessions of other code run none."""
    if name not in SESSION_EVENTS:
        raise ValueError(f"not a session event this app dispatches: {name}")
    hooks = app.extensions.setdefault(_HOOKS, {}).setdefault(name, [])
    if hook not in hooks:
        hooks.append(hook)
    for target in (db.session, new_session):
        if not event.contains(target, name, _DISPATCH[name]):
            event.listen(target, name, _DISPATCH[name])


def _dispatcher(name: str) -> Callable:
    def dispatch(session, *args) -> None:
        if has_app_context():
            for hook in current_app.extensions.get(_HOOKS, {}).get(name, ()):
                hook(session, *args)

    dispatch.__name__ = dispatch.__qualname__ = f"dispatch_{name}"
    return dispatch


_DISPATCH = {name: _dispatcher(name) for name in SESSION_EVENTS}


def on_engine_connect(app: Flask, hook: Callable) -> None:
    """Run hook(dbapi_connection, record) on each new connection of this app's engines only."""
    with app.app_context():
        engines = list(db.engines.values())
    for engine in engines:
        if not event.contains(engine, "connect", hook):
            event.listen(engine, "connect", hook)
