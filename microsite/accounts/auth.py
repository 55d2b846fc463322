"""Who is signed in: user loading, sign-in and sign-out, roles, same-site `next`.

The server-side sessions live in microsite.accounts.user_sessions, the sign-in throttle in
microsite.accounts.throttle.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import cache
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, Unauthorized
from werkzeug.security import check_password_hash, generate_password_hash

from ..content.models import User
from ..errors import render_error
from ..extensions import db, login_manager
from ..web.client import client_address
from . import throttle, user_sessions
from .usernames import normalize

ADMIN, EDITOR = "admin", "editor"
ROLES = (ADMIN, EDITOR)
_STAMP = "_auth_stamp"


def _stamp(user: User) -> str:
    """Changes with the password, so a new password signs out every other session."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def load_user(user_id: str) -> User | None:
    """The user of this request's session, if that session is still open on the server."""
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active:
        return None  # a disabled account's open sessions end at their next request
    # Two independent locks: the server-side row (ended by sign-out, "end other sessions",
    # disabling, a password change) and the password stamp, which ends sessions even when a
    # password is changed somewhere that forgets to end them (the command line, say).
    if not hmac.compare_digest(str(session.get(_STAMP, "")).encode(), _stamp(user).encode()):
        return None
    return user if user_sessions.find(user.id) is not None else None


@cache
def _dummy_hash() -> str:
    # Checked when the username is unknown, so both kinds of failure take the same time.
    return generate_password_hash(secrets.token_hex(16), method="scrypt")


def authenticate(username: str, password: str) -> User | None:
    """The user with these credentials, or None (unknown users cost as much as known ones)."""
    name = normalize(username)
    user = db.session.scalar(db.select(User).filter_by(username=name))
    if user is None:
        check_password_hash(_dummy_hash(), password)
    # A disabled account is refused like a wrong password (its hash is still checked).
    elif user.check_password(password) and user.is_active:
        return user
    # For operators (fail2ban and the like); the password is never logged.
    current_app.logger.warning("sign-in failed for %r from %s", name, client_address())
    return None


def sign_in(user: User) -> None:
    """Start a fresh session: nothing set before sign-in survives it (session fixation), and
    the server records it so it can be listed and ended."""
    session.clear()
    login_user(user)
    session[_STAMP] = _stamp(user)
    user_sessions.start(user.id)


def refresh_stamp(user: User) -> None:
    """Keep this session valid after its own password change."""
    session[_STAMP] = _stamp(user)


def password_changed(user: User) -> None:
    """End every session of `user` but this request's own (when it is theirs)."""
    mine = current_user.is_authenticated and current_user.id == user.id
    user_sessions.end_all(user.id, keep_current=mine)
    if mine:
        refresh_stamp(user)


def sign_out() -> None:
    user_sessions.end_current()
    logout_user()
    session.clear()


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (no //host, /\\host or scheme)."""
    if not target or len(target) > 2000:
        return None
    # Browsers read a backslash as a slash and drop tabs and newlines: refuse them outright.
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def current_path() -> str:
    """This request's path and query, for a `next` that brings the admin back."""
    return request.full_path.rstrip("?") if request.query_string else request.path


def _unauthorized() -> Response:
    """Pages send the browser to the login form; htmx requests get a 401 and a redirect hint."""
    if request.htmx:
        response = render_error(Unauthorized())
        came_from = urlsplit(request.htmx.current_url or "")
        back = safe_next(came_from.path) if came_from.netloc == request.host else None
        response.headers["HX-Redirect"] = url_for("admin.login", next=back)
        response.vary.add("HX-Request")
        return response
    back = current_path() if request.method == "GET" else None
    return redirect(url_for("admin.login", next=back))


# --- roles ---------------------------------------------------------------------------------
#
# One mechanism: every admin URL is admin-only unless its view is marked `@editor_allowed`.
# The admin blueprint's before_request (views/admin/__init__.py, `require_sign_in`) refuses
# editors the rest, so a route added later is closed to editors until someone decides otherwise.

ADMIN_ONLY_MESSAGE = "只有管理员可以使用这项功能。"
_EDITOR_ALLOWED = "_microsite_editor_allowed"


def editor_allowed(view: Callable) -> Callable:
    """Mark an admin view as open to editors (articles and everything that serves them)."""
    setattr(view, _EDITOR_ALLOWED, True)
    return view


def is_editor_allowed(view: Callable | None) -> bool:
    return bool(view is not None and getattr(view, _EDITOR_ALLOWED, False))


def _csrf_error(error: CSRFError):
    return render_error(BadRequest("表单已过期或缺少安全校验信息，请刷新页面后重新提交。"))


def init_app(app: Flask) -> None:
    login_manager.user_loader(load_user)
    login_manager.login_message = "请先登录。"
    login_manager.login_view = "admin.login"
    login_manager.unauthorized_handler(_unauthorized)
    app.register_error_handler(CSRFError, _csrf_error)
    throttle.init_app(app)
