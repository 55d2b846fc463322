"""Stored search pages: a repeated query costs a file read, and is never older than the index.

Readers' queries repeat (popular words; the active search sends every prefix typed), and a
search page is made from three things, all of which the name of a stored page holds:
- the database (the ten articles shown, masked words, settings) and the code: the page
  cache's content stamp, read before the page is made, as for every reader page;
- the search index, which with Whoosh lags the commit: the worker applies the change log a
  moment later, so under the stamp of a publish the index may still answer without it. The
  name holds the index's state as the searcher reads it: the live generation's directory and
  Whoosh's TOC generation, which every index commit and every rebuild moves. It is read
  before the search (the searcher reopens on a newer TOC), so a page holds an index at least
  as new as its name: once the worker has applied a change, its new TOC names new pages.
  PostgreSQL search is written in the article's own transaction, which moves the stamp, so
  its state is a constant (a `reindex` there writes the vectors with raw SQL: it moves the
  article revision with each batch, see backends/postgres.py);
- the request, normalized only where the page provably does not change: the query as
  `search.clean` makes it (trimmed, control characters and runs of spaces made one space, cut
  at 200 characters), the sort as `find` reads it (anything but "date" is relevance), the page
  number as an integer. The page shows no raw parameter: its canonical link is built from
  these too (search_url), so `page=01` and `page=1` share a page but `page=1` and no page do
  not (the link names what was asked). The analyzer's own folding (社區 → 社区) is not applied:
  the page echoes what was typed. Everything else (htmx headers, origin, host) as for other pages.

Not stored: signed-in users' pages, anything but a 200, "搜索暂不可用" (a 200 for htmx, sent
no-store), pages of an index that holds no document, input the view refuses (its 4xx). The
front (microsite.web.front) answers a stored search page the same way, with the same name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, current_app, request
from werkzeug.exceptions import BadRequest

from ..content.listings import page_number
from ..search import EXTENSION as SEARCH
from ..search import SORTS, clean
from ..search.backends import EXTENSION as BACKEND
from ..search.index import SCHEMA_VERSION, live_dir, schema_version
from . import page_cache
from .origin import site_origin

PATH = "/search"
# Past this a page is a 404 (views/search.py): never stored, never served from the store.
MAX_PAGES = 100
# Whoosh's TOC file of each index generation (whoosh.index.TOC._pattern, index name MAIN).
_TOC = re.compile(r"^_MAIN_([0-9]+)\.toc$")


def index_state(app: Flask) -> str | None:
    """What the searcher will read: the live generation and its TOC generation with Whoosh;
    None when there is no readable index (nothing is stored or served from the store)."""
    if app.extensions[BACKEND].name != "whoosh":
        return "postgres"  # written in the article's transaction: the stamp says it all
    where = live_dir(app.extensions[SEARCH].home)
    if where is None or not _current_schema(where):
        return None
    try:
        names = os.listdir(where)
    except OSError:
        return None
    found = [int(m.group(1)) for name in names if (m := _TOC.match(name))]
    if not found:
        return None
    try:
        toc = (where / f"_MAIN_{max(found)}.toc").stat()
    except OSError:
        return None
    # Whoosh never rewrites a TOC in place: another time or size means its files were replaced
    # or damaged, and pages stored from what they held must not answer for them.
    return f"{where.name}/{max(found)}/{toc.st_mtime_ns}-{toc.st_size}"


def _current_schema(where: Path) -> bool:
    # A generation's schema is written once, when it is built: read once per directory.
    if where not in _schema_ok:
        if len(_schema_ok) > 64:
            _schema_ok.clear()
        if schema_version(where) != SCHEMA_VERSION:
            return False  # not remembered: `reindex` replaces it by another directory anyway
        _schema_ok.add(where)
    return True


_schema_ok: set[Path] = set()


def normalized(args: Mapping[str, str]) -> list[tuple[str, str]] | None:
    """The parameters given, as the view reads them (q cleaned, sort one of SORTS, page an
    integer); None for a page number the view refuses (400 or 404)."""
    raw = args.get("page")
    if raw is not None:
        # The view's own rule (listings.page_number: no leading zero, at most 6 digits), so the
        # front never answers from the store what the view refuses with a 400.
        try:
            number = page_number(raw)
        except BadRequest:
            return None
        if number > MAX_PAGES:
            return None
    sort = args.get("sort")
    values = {
        "q": clean(args.get("q")),
        "sort": sort if sort in SORTS else SORTS[0],
        "page": raw if raw is not None else "",
    }
    return [(name, values[name]) for name in ("q", "sort", "page") if name in args]


def page_name(
    app: Flask, args: Mapping[str, str], htmx: tuple, origin: str, host: str
) -> str | None:
    """The name a search page is stored under (besides the stamp), or None: not stored."""
    wanted = normalized(args)
    state = index_state(app) if wanted is not None else None
    if state is None:
        return None
    return page_cache.request_name(PATH, [*wanted, ("index", state)], htmx, origin, host)


def request_page_name() -> str | None:
    """page_name for the request being handled (the view's `name` for page_cache.serve)."""
    htmx = (request.headers.get("HX-Request"), request.headers.get("HX-History-Restore-Request"))
    app = current_app._get_current_object()
    return page_name(app, request.args, htmx, site_origin(), request.host)


def search_url(params: list[tuple[str, str]]) -> str:
    """The page's canonical address, from the normalized parameters only."""
    return site_origin() + PATH + (f"?{urlencode(params)}" if params else "")
