"""Old addresses of an imported site answer 301 to their new page.

Search engines and readers know a moved site's permalinks (`/2022/09/02/slug/`, `/?p=12`,
`/?page_id=3`). They are kept in the `redirects` table and consulted only when nothing else
answers: a 404 for a path, or the home page asked with WordPress's `p`/`page_id` parameter. So a
redirect costs nothing on any page that exists.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

from flask import Flask, redirect, request
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from ...errors import render_error
from ...extensions import db
from ..models import Redirect

# WordPress's query permalinks: posts, pages, and attachments.
QUERY_NAMES = ("p", "page_id", "attachment_id")


def normalize(path: str, query: str = "") -> str:
    """The form an old address is stored and looked up in: a decoded path without its
    trailing slash, or the WordPress query alone ("?p=12")."""
    for name, value in parse_qsl(query):
        if name in QUERY_NAMES and value.isdigit():
            return f"?{name}={int(value)}"
    path = unquote(path)
    return path.rstrip("/") or "/"


def remember(old_path: str, target: str) -> bool:
    """Point `old_path` at `target` (in the caller's transaction); True if it was new."""
    row = db.session.scalar(select(Redirect).filter_by(old_path=old_path))
    if row is None:
        db.session.add(Redirect(old_path=old_path, target=target))
        return True
    row.target = target
    return False


def target_for(old_path: str) -> str | None:
    return db.session.scalar(select(Redirect.target).filter_by(old_path=old_path))


def query_redirect():
    """The home page asked as `/?p=12`: the 301 to that post's new page, or None."""
    for name in QUERY_NAMES:
        value = request.args.get(name, "")
        if value.isdigit():
            target = target_for(f"?{name}={int(value)}")
            return redirect(target, 301) if target else None
    return None


def _not_found(error: NotFound):
    if request.method in {"GET", "HEAD"}:
        target = target_for(normalize(request.path))
        if target and target != request.path:
            return redirect(target, 301)
    return render_error(error)


def init_app(app: Flask) -> None:
    app.register_error_handler(NotFound, _not_found)
