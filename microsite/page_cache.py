"""Rendered reader pages, kept on disk and shared by the workers of a host.

Every reader who is not signed in gets the same page for a URL, and it changes only when an
article, a setting or a masked word does. Every article change that lists or pages can show
(title, body, status, dates, category, keywords) adds a row to the search outbox
(index_changes), whose ids only grow; settings and masked words are read on every request
anyway. Their hash is the content stamp, and a page is stored under it: a change makes a new
stamp, so nothing ever has to be invalidated, and a reader never sees a page older than the
database. Views add what else a page shows (the article's own version, its byline).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from flask import Response, current_app, g, make_response, request
from flask_login import current_user
from sqlalchemy import select

from .extensions import db
from .files import new_folder, write_atomically
from .models import IndexChange
from .site import masked_words, site_settings

# The response headers a stored page keeps; the after-request hooks add the rest every time.
KEPT_HEADERS = ("Content-Type", "ETag", "Last-Modified", "Vary")
# A folder of an older stamp stays this long: other workers may still be writing into it.
GRACE = 60
_written: dict[str, int] = {}


def content_stamp() -> str:
    """Names the content every reader page is made from; new with every change."""
    if "content_stamp" not in g:
        # The newest outbox row with its time: a database restored from a backup reaches the
        # same id again with other content, but not at the same time.
        newest = select(IndexChange.id, IndexChange.created_at).order_by(IndexChange.id.desc())
        outbox = db.session.execute(newest.limit(1)).first()
        content = [tuple(outbox or ()), site_settings(), masked_words()]
        encoded = json.dumps(content, ensure_ascii=False, sort_keys=True, default=str).encode()
        g.content_stamp = hashlib.sha256(encoded).hexdigest()[:24]
    return g.content_stamp


def serve(render: Callable[[], Response | str], *key: object) -> Response:
    """The stored page for this URL, or render() stored for the next reader.

    key: what else the page shows that the content stamp does not cover.
    """
    root = current_app.config.get("PAGE_CACHE_DIR")
    if not root or request.method != "GET" or current_user.is_authenticated:
        return make_response(render())
    entry = _entry(Path(root), key)
    stored = _read(entry)
    if stored is not None:
        return stored.make_conditional(request)
    response = make_response(render())
    if _storable(response):
        _write(entry, response, current_app.config["PAGE_CACHE_MAX_ENTRIES"])
    return response


def _entry(root: Path, key: tuple) -> Path:
    # The fragment and the full page share a URL: htmx's headers are part of the name.
    htmx = (request.headers.get("HX-Request"), request.headers.get("HX-History-Restore-Request"))
    name = json.dumps([request.full_path, htmx, [str(part) for part in key]], ensure_ascii=False)
    digest = hashlib.sha256(name.encode()).hexdigest()
    return root / content_stamp() / f"{digest}.page"


def _storable(response: Response) -> bool:
    return (
        response.status_code == 200
        and not response.direct_passthrough
        and "Set-Cookie" not in response.headers
        and not response.cache_control.no_store
    )


def _read(entry: Path) -> Response | None:
    try:
        with entry.open("rb") as handle:
            headers = json.loads(handle.readline())
            body = handle.read()
    except (OSError, ValueError):
        return None
    return Response(body, 200, headers)


def _write(entry: Path, response: Response, limit: int) -> None:
    """Store a page; a full disk or a full folder only means the next reader renders it."""
    folder = str(entry.parent)
    if folder not in _written:
        _written.clear()  # counts of older stamps are of no more use
        _written[folder] = 0
    if _written[folder] >= limit or not new_folder(entry.parent, GRACE):
        return
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    if write_atomically(entry, json.dumps(headers).encode() + b"\n" + response.get_data()):
        _written[folder] += 1
