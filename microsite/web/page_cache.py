"""Rendered reader pages, kept on disk and shared by the workers of a host.

Every reader who is not signed in gets the same page for a URL, and it changes only when the
code or what the site shows does. The content stamp names all of it at once:
- the code: a hash of the templates' and modules' sizes and times, taken once per process;
- articles: every change a list can show adds a row to the search outbox (index_changes),
  whose ids only grow, written in the same transaction, also by the scheduler's UPDATE;
- every ORM save of an article (or of its related list, keywords or category made for it)
  writes a new random ARTICLES_REVISION setting in the same flush; everything else the ORM
  saves that a reader sees (bylines, renamed categories and keywords, pages, settings, masked
  words) a new SITE_REVISION (see `listen`).
A page is stored under its stamp, so nothing ever has to be invalidated and no reader gets a
page older than the database. A stored page costs one small query and a file read: it was
stored only as a 200 for a reader, so what it shows (and that it is readable) still holds.

Article pages and related fragments are also kept by what they show (`content_key`): the
article's version, its neighbours' and the listed headlines' versions, under a folder named by
the code and SITE_REVISION. A publish elsewhere changes the stamp but not that key, so when
the stamp's folder misses, the page kept by content answers without rendering (and is copied
into the stamp's folder for the next reader); the long tail stays warm across publishing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, current_app, g, make_response, request
from flask_login import current_user
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from ..config import PROJECT_ROOT
from ..content.models import (
    Article,
    Category,
    IndexChange,
    MaskedWord,
    Page,
    RelatedList,
    Setting,
    Tag,
    User,
)
from ..extensions import db, on_session
from ..files import new_folder, write_atomically
from ..text import local_now
from .origin import site_origin, understood_args

# The response headers a stored page keeps; the after-request hooks add the rest every time.
KEPT_HEADERS = ("Content-Type", "ETag", "Last-Modified", "Vary")
# Says where a reader's page came from: "hit" (this stamp's folder), "kept" (kept by what it
# shows, copied into the stamp's folder) or "miss" (rendered now). Load tests count it.
CACHE_HEADER = "X-Cache"
# A folder of an older stamp stays this long: other workers may still be writing into it.
GRACE = 60
# The settings rows whose values change with every change a reader can see: SITE_REVISION
# for what every page shows (settings, masked words, bylines, names, pages), ARTICLES_REVISION
# for articles (what lists show; an article page's own key names what it shows).
SITE_REVISION = "_site_revision"
ARTICLES_REVISION = "_articles_revision"
REVISIONS = (SITE_REVISION, ARTICLES_REVISION)
# Under PAGE_CACHE_DIR, beside the stamps' folders: pages kept by what they show.
BY_CONTENT = "_by_content"
# Saved through the ORM, these change what readers see (Setting: all but the marker itself).
READER_VISIBLE = (Article, Category, Tag, User, Page, MaskedWord)
_written: dict[str, int] = {}
_code_version: list[str] = []


def code_version() -> str:
    """Changes when a deploy changes a template or a module (read once per process)."""
    if not _code_version:
        templates, code = PROJECT_ROOT / "templates", PROJECT_ROOT / "microsite"
        files = sorted([*templates.rglob("*.*"), *code.rglob("*.py")])
        marks = [f"{path}:{path.stat().st_size}:{path.stat().st_mtime_ns}" for path in files]
        _code_version.append(hashlib.sha256("\n".join(marks).encode()).hexdigest()[:16])
    return _code_version[0]


_NEWEST = select(IndexChange.id).order_by(IndexChange.id.desc()).limit(1)
# One row in one round trip, built once: the newest outbox row's id and time (a database
# restored from a backup reaches the same id again with other content, but not at the same
# time) and the site revision.
STAMP_QUERY = select(
    _NEWEST.scalar_subquery(),
    _NEWEST.with_only_columns(IndexChange.created_at).scalar_subquery(),
    select(Setting.value).where(Setting.key == SITE_REVISION).scalar_subquery(),
    select(Setting.value).where(Setting.key == ARTICLES_REVISION).scalar_subquery(),
)


def content_stamp() -> str:
    """Names the code and content every reader page is made from; new with every change."""
    if "content_stamp" not in g:
        row = stamp_row(current_app._get_current_object())
        g.outbox_top, g.site_revision = row[0] or 0, row[2]
        g.content_stamp = stamp_of(row)
    return g.content_stamp


def stamp_of(row: tuple) -> str:
    """The stamp's folder name for this row (the last one is remembered: it rarely moves)."""
    global _last_stamp
    named = (code_version(), row)
    # One read of one immutable pair: another thread may replace it meanwhile, but never
    # hand this one its stamp (tests/test_front_attacks.py forces that interleaving).
    last = _last_stamp
    if last is not None and last[0] == named:
        return last[1]
    content = [named[0], *(str(part) for part in row)]
    stamp = hashlib.sha256(json.dumps(content).encode()).hexdigest()[:24]
    _last_stamp = (named, stamp)
    return stamp


_last_stamp: tuple | None = None


# Connections of a parent process, kept referenced: closing one in a forked child would end
# the parent's (PostgreSQL's goodbye goes down the shared socket).
_inherited: list[object] = []


def stamp_row(app: Flask) -> tuple:
    """The stamp's one row, asked on this process's own autocommit connection: no session,
    no pool checkout, no ORM (the stamp is asked before every stored page, issue 17.1).
    Each SELECT sees the newest commit, as the session's first statement would.

    The threads of a worker (gunicorn threads) share the connection one query at a time:
    the driver serializes them anyway (SQLite's connection mutex, psycopg's lock), and a
    thread closing it after a failure must never close it under another's query (SQLite
    then crashes the process) nor several threads open one each (all but one leaked)."""
    with _stamp_lock:
        for attempt in (1, 2):
            held = app.extensions.get("page_stamp")
            if held is None or held[0] != os.getpid():
                if held is not None:
                    _inherited.append(held)
                held = app.extensions["page_stamp"] = (os.getpid(), *_stamp_connection(app))
            _, connection, sql = held
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute(sql)
                    return tuple(cursor.fetchone())
                finally:
                    cursor.close()
            except Exception:
                # A dropped connection (a database restart): open another once, then give up.
                app.extensions.pop("page_stamp", None)
                with contextlib.suppress(Exception):
                    connection.close()
                if attempt == 2:
                    raise
    raise AssertionError("unreachable")


_stamp_lock = threading.RLock()


def _new_stamp_lock() -> None:
    global _stamp_lock
    _stamp_lock = threading.RLock()  # a fork may copy it held by a thread the child lacks


os.register_at_fork(after_in_child=_new_stamp_lock)


def _stamp_connection(app: Flask) -> tuple[object, str]:
    with app.app_context():
        engine = db.engine
    sql = str(STAMP_QUERY.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    # Taken out of the pool for good (the pool's connect hooks have run: SQLite's pragmas).
    pooled = engine.raw_connection()
    connection = pooled.driver_connection
    pooled.detach()
    if engine.dialect.name == "postgresql":
        connection.autocommit = True  # never left idle in a transaction
    if not event.contains(engine, "engine_disposed", _close_stamp_connections):
        event.listen(engine, "engine_disposed", _close_stamp_connections)
    _opened.append((weakref.ref(app), weakref.ref(engine)))
    # An app that goes away (the tests make many) closes its connection rather than leaving
    # it to the garbage collector, which psycopg warns about in whatever code runs then.
    weakref.finalize(app, _close_if_opened_here, os.getpid(), connection)
    return connection, sql


def _close_if_opened_here(pid: int, connection) -> None:
    if os.getpid() == pid:  # a forked child never closes its parent's connection
        with contextlib.suppress(Exception):
            connection.close()


# (app, engine) of every stamp connection this process opened, so that disposing of an engine
# (gunicorn's post_fork, tests dropping a database) closes that engine's stamp connections.
# Weak references: an app that goes away takes its connection with it.
_opened: list[tuple[weakref.ref, weakref.ref]] = []


def _close_stamp_connections(engine) -> None:
    for entry in list(_opened):
        app, opened_on = entry[0](), entry[1]()
        if app is None or opened_on is None:
            _opened.remove(entry)
            continue
        if opened_on is not engine:
            continue
        _opened.remove(entry)
        with _stamp_lock:  # never under another thread's query
            held = app.extensions.get("page_stamp")
            if held is not None and held[0] == os.getpid():  # never a parent's, after a fork
                app.extensions.pop("page_stamp", None)
                with contextlib.suppress(Exception):
                    held[1].close()


def _shown_to_readers(item: object) -> bool:
    if isinstance(item, RelatedList):  # the worker's refresh: only a list that moved
        return inspect(item).attrs.ids.history.has_changes()
    if isinstance(item, Setting):
        return item.key not in REVISIONS
    return isinstance(item, READER_VISIBLE)


def _article_level(item: object, is_new: bool) -> bool:
    """Whether only the pages showing this item's article(s) change: the article itself, its
    related list, or a keyword or category just made for it (nothing else shows it yet)."""
    return isinstance(item, (Article, RelatedList)) or (
        is_new and isinstance(item, (Tag, Category))
    )


def _mark_site_change(session: Session, _context, _instances) -> None:
    changed = [(item, True) for item in session.new]
    changed += [(item, False) for item in [*session.dirty, *session.deleted]]
    shown = [(item, is_new) for item, is_new in changed if _shown_to_readers(item)]
    for item, _ in shown:
        if isinstance(item, Article) and inspect(item).attrs.tags.history.has_changes():
            # Keywords alone write no article row: touch it, so its version (which an
            # article page's key names) moves too, even within the same second.
            item.updated_at = local_now()
            flag_modified(item, "updated_at")
    if any(_article_level(item, is_new) for item, is_new in shown):
        new_revision(session, ARTICLES_REVISION)
    if not all(_article_level(item, is_new) for item, is_new in shown):
        new_revision(session, SITE_REVISION)


def new_revision(session: Session, key: str) -> None:
    """A new random value for one of the REVISIONS settings, in this flush."""
    marker = session.get(Setting, key) or Setting(key=key)
    marker.data = uuid.uuid4().hex
    session.add(marker)


def listen(app: Flask) -> None:
    """Mark site changes in this app's sessions (not in other apps' or other code's)."""
    on_session(app, "before_flush", _mark_site_change)


def serve(
    render: Callable[[], Response | str],
    on_hit: Callable[[], object] | None = None,
    content_key: Callable[[], object] | None = None,
    name: Callable[[], str | None] | None = None,
) -> Response:
    """The stored page for this URL, or render() stored for the next reader.

    on_hit: what a view must still do when its page comes from the store (count a view).
    content_key: names everything the page shows (JSON-able), or None when it is not to be
    kept by content; such a page outlives stamps that change nothing it shows.
    name: the page's name instead of the request's, for a page made from more than the
    request and the stamp (microsite.web.search_pages); None from it: made, not stored.
    """
    root = current_app.config.get("PAGE_CACHE_DIR")
    if not root or request.method != "GET" or current_user.is_authenticated:
        return make_response(render())
    own = name() if name is not None else None
    if name is not None and own is None:
        return make_response(render())
    limit = current_app.config["PAGE_CACHE_MAX_ENTRIES"]
    entry = _entry(Path(root), own)
    stored = _read(entry)
    kept = None
    if stored is None and content_key is not None and (key := content_key()) is not None:
        kept = _content_entry(Path(root), key)
        stored = _read(kept)
        if stored is not None:
            _write(entry, stored, limit)  # the next reader pays only the stamp again
    if stored is not None:
        if on_hit is not None:
            on_hit()
        stored.headers[CACHE_HEADER] = "hit" if kept is None else "kept"
        return _for_caches(stored).make_conditional(request)
    response = make_response(render())
    if _storable(response) and _index_caught_up():
        _write(entry, response, limit)
        if kept is not None:
            _write(kept, response, limit)
    response.headers[CACHE_HEADER] = "miss"
    return _for_caches(response)


def _for_caches(response: Response) -> Response:
    """A reader's page may be kept by a browser, nginx or a CDN, but checked with us (its
    ETag or Last-Modified; a 304 costs a stored-page hit) before each use: no reader is
    shown a page older than the database unless the proxy is told to (docs/deploy.md)."""
    if response.status_code == 200 and "Cache-Control" not in response.headers:
        response.cache_control.public = True
        response.cache_control.no_cache = True
    return response


def _index_caught_up() -> bool:
    """Whether this host's search index has applied every change the stamp names. The worker
    applies them a moment after the commit; a page made before (related headlines come from
    the index) is served but not stored, so it cannot outlive that moment."""
    from ..search import index, state

    where = index.live_dir(state().home)
    return where is None or index.read_applied(where) >= g.get("outbox_top", 0)


def _request_name() -> str:
    htmx = (request.headers.get("HX-Request"), request.headers.get("HX-History-Restore-Request"))
    return request_name(request.path, understood_args(), htmx, site_origin(), request.host)


def request_name(path: str, args: list, htmx: tuple, origin: str, host: str) -> str:
    """What a stored page is named by, besides its stamp (shared with microsite.web.front).

    Only what the page is made from: htmx's headers as htmx-flask reads them (true or not)
    and the Host as the trust check names it (lower case, no port, no trailing dot). Raw,
    each spelling a client chose (`HX-Request: a1`, `a2`, …; `Host: NEWS.example.cn:1`, `:2`,
    …) was a page of its own, and a few thousand requests filled the stamp's folder up to
    PAGE_CACHE_MAX_ENTRIES: no reader page was stored again until the next change."""
    flags = tuple((value or "").lower() == "true" for value in htmx)
    return json.dumps([path, args, flags, (origin, host_name(host))], ensure_ascii=False)


def host_name(host: str) -> str:
    """`NEWS.Example.cn.:8443` -> `news.example.cn`; `[::1]:80` -> `[::1]`."""
    host = host.lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0].rstrip(".") if ":" in host else host.rstrip(".")


def _content_entry(root: Path, key: object) -> Path:
    """The file a page is kept in by what it shows: in a folder of the code and the site
    revision (a setting or masked word shows on every page), named by the request and key."""
    content_stamp()  # reads the site revision, once per request
    site = json.dumps([code_version(), g.site_revision])
    folder = hashlib.sha256(site.encode()).hexdigest()[:24]
    name = json.dumps([_request_name(), key], ensure_ascii=False, default=str)
    digest = hashlib.sha256(name.encode()).hexdigest()
    return root / BY_CONTENT / folder / f"{digest}.page"


def _entry(root: Path, name: str | None = None) -> Path:
    """The file a page is kept in, named by everything the page is made from.

    Only the query parameters the view understands count: junk ones render the same page
    and must not fill the disk. The fragment and the full page share a URL, so htmx's headers
    count. The origin the page's links are built on counts, and the Host too (it is trusted
    by then, but one host's page must never answer for another).
    """
    return root / content_stamp() / f"{digest(name or _request_name())}.page"


def digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


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
        # Counts of older folders beside this one (older stamps) are of no more use.
        for older in [f for f in _written if Path(f).parent == entry.parent.parent]:
            del _written[older]
        _written[folder] = 0
    if _written[folder] >= limit or not new_folder(entry.parent, GRACE, keep=BY_CONTENT):
        return
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    if write_atomically(entry, json.dumps(headers).encode() + b"\n" + response.get_data()):
        _written[folder] += 1
