"""Server-side sign-in sessions: one `user_sessions` row per sign-in.

The signed session cookie carries a random token; the table keeps only its SHA-256, so a
database dump opens no session. A session lives while its row does: signing out, a password
change (other sessions), disabling the user (all) and "end all other sessions" delete rows, so
a cookie copied earlier is worthless afterwards. Rows also die of old age: after
`SESSION_IDLE_MINUTES` without a request, or `SESSION_MAX_HOURS` after sign-in, whatever the
browser does. A small table rather than a library (Flask-Session and the like store whole
session dicts server-side but know nothing of users): listing and ending one user's sessions is
a query here.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app, g, request, session
from sqlalchemy import delete, select, update

from ..content.models import UserSession
from ..extensions import db
from ..text import local_now
from ..web.client import client_address

TOKEN_KEY = "_session_token"
# last_seen_at is written at most this often: a busy editor costs one UPDATE a minute.
TOUCH_EVERY = timedelta(minutes=1)
_G_KEY = "microsite_user_session"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _idle() -> timedelta:
    return timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])


def _lifetime() -> timedelta:
    return timedelta(hours=current_app.config["SESSION_MAX_HOURS"])


def _alive_since(now: datetime):
    """Rows that have neither idled out nor outlived the absolute lifetime at `now`."""
    return (UserSession.last_seen_at > now - _idle()) & (UserSession.created_at > now - _lifetime())


def start(user_id: int) -> None:
    """Record a new sign-in and put its token in the (freshly cleared) session cookie."""
    now = local_now()
    token = secrets.token_urlsafe(32)
    # Old rows of anyone go at sign-in time: expired sessions need no sweeper process.
    db.session.execute(delete(UserSession).where(~_alive_since(now)))
    row = UserSession(
        user_id=user_id,
        token_hash=_digest(token),
        user_agent=(request.user_agent.string or "")[:300],
        address=(client_address() or "")[:64],
        created_at=now,
        last_seen_at=now,
    )
    db.session.add(row)
    db.session.commit()
    session[TOKEN_KEY] = token
    g.setdefault(_G_KEY, row.id)


def current_token_hash() -> str | None:
    token = session.get(TOKEN_KEY)
    return _digest(token) if isinstance(token, str) and token else None


def find(user_id: int) -> UserSession | None:
    """This request's live session of `user_id`, touched if a minute has passed; else None."""
    digest = current_token_hash()
    if digest is None:
        return None
    now = local_now()
    query = select(UserSession).where(
        UserSession.token_hash == digest, UserSession.user_id == user_id, _alive_since(now)
    )
    row = db.session.scalar(query)
    if row is None:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        # Its own short transaction, so whatever the view has pending is neither committed
        # nor rolled back by this bookkeeping.
        with db.engine.begin() as connection:
            connection.execute(
                update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now)
            )
    g.setdefault(_G_KEY, row.id)
    return row


def current_id() -> int | None:
    """The id of this request's session row (for the sessions page's 本机 marker)."""
    return g.get(_G_KEY)


def end_current() -> None:
    digest = current_token_hash()
    if digest is not None:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == digest))
        db.session.commit()


def end_all(user_id: int, keep_current: bool = False) -> int:
    """End every session of `user_id` (but this request's, if asked); how many ended."""
    query = delete(UserSession).where(UserSession.user_id == user_id)
    digest = current_token_hash() if keep_current else None  # no request: the command line
    if digest is not None:
        query = query.where(UserSession.token_hash != digest)
    ended = db.session.execute(query).rowcount
    db.session.commit()
    return ended


def end_one(user_id: int, session_id: int) -> bool:
    """End one session of `user_id` (never another user's); whether it was open."""
    query = delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user_id)
    ended = db.session.execute(query).rowcount
    db.session.commit()
    return bool(ended)


def open_sessions(user_id: int) -> list[UserSession]:
    """The user's live sessions, most recently used first."""
    query = (
        select(UserSession)
        .where(UserSession.user_id == user_id, _alive_since(local_now()))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    return list(db.session.scalars(query))


_BROWSERS = [
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/|HeadlessChrome/")),
    ("Safari", re.compile(r"Safari/")),
    ("curl", re.compile(r"^curl/")),
]
_SYSTEMS = [
    ("Android", re.compile(r"Android")),
    ("iPhone", re.compile(r"iPhone")),
    ("iPad", re.compile(r"iPad")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("Linux", re.compile(r"Linux|X11")),
]


def device(user_agent: str) -> str:
    """A short, readable name for a User-Agent string: 'Chrome · Linux', or 未知设备."""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent)), "")
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), "")
    return " · ".join(part for part in (browser, system) if part) or "未知设备"
