"""Response headers every page carries, and the SQLite settings that keep writers waiting."""

from __future__ import annotations

from flask import Flask, abort, request
from flask_login import current_user

from ..extensions import on_engine_connect

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


# Every response carries these (setdefault: a view may have set its own); built once.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),
    # Ignored by current browsers (CSP does the work); in old ones, mode=block stops the page
    # instead of letting the XSS auditor rewrite it.
    ("X-XSS-Protection", "1; mode=block"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _security_headers(response):
    headers = response.headers
    for name, value in SECURITY_HEADERS:
        headers.setdefault(name, value)
    # Pages rendered for a signed-in admin carry their CSRF token and drafts: never shared.
    if current_user.is_authenticated and not response.cache_control.no_store:
        response.cache_control.private = True
        response.cache_control.no_store = True
    if request.is_secure:
        headers.setdefault(*HSTS)
    return response


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers go on while one worker writes; busy_timeout makes a writer wait
    # for the lock instead of failing with "database is locked".
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _refuse_nul_bytes() -> None:
    # No text on this site contains NUL, and PostgreSQL refuses it outright: answer 400 here
    # rather than let it reach a query. Form fields of an upload (multipart) are text too;
    # the files themselves are not looked at. The forms' fields drop the other controls.
    values = [request.path, *request.args.values()]
    if request.method == "POST":
        values += request.form.values()
    if any("\x00" in value for value in values):
        abort(400, description="请求中含有无效字符。")


def init_app(app: Flask) -> None:
    on_engine_connect(app, _sqlite_pragmas)
    app.before_request(_refuse_nul_bytes)
    app.after_request(_security_headers)
