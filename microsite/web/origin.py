"""The site's own address. Every absolute URL is built from it, never from a request's Host.

A Host header is whatever the client typed; a page that prints it (canonical, og:url, JSON-LD,
the feed, sitemaps) and is then stored for every reader lets one forged request point the whole
site at another host. So:
- `MICROSITE_SITE_URL` names the origin (`https://news.example.cn`); with it set, Flask's
  TRUSTED_HOSTS is its host plus `MICROSITE_TRUSTED_HOSTS`, and any other Host gets a 400 page.
- Without it (development), the first host the site is asked for is written once into the
  instance folder (like the generated secret key), so every worker and every restart agrees
  on it and no later request can change it; a warning says so once per process.
- Query strings: a page names the parameters it understands (`understands`); canonical URLs
  and the page cache's key carry those only, so junk parameters are neither echoed nor stored.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, urlencode, urlsplit

from flask import Flask, current_app, g, request, url_for
from flask.globals import request_ctx
from werkzeug.exceptions import SecurityError

ORIGIN_FILE = "site_url"
# Characters a URL path keeps as they are (RFC 3986 pchar and "/"); the rest is percent-encoded.
PATH_SAFE = "/:@!$&'()*+,;=~"
UNKNOWN_HOST = "此网站不接受这个域名的请求，请使用网站的正式网址访问。"
_warned: list[str] = []
View = TypeVar("View", bound=Callable)


def parse_origin(value: str) -> str:
    """`scheme://host[:port]`, lower-cased; anything else is a configuration error."""
    parts = urlsplit(value.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise ValueError(
            f"MICROSITE_SITE_URL must be an origin like https://news.example.cn, not {value!r}"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


def trusted_hosts(site_url: str | None, extra: list[str]) -> list[str] | None:
    """The hosts requests may name (ports are not compared); None: any host."""
    hosts = [urlsplit(site_url).hostname] if site_url else []
    hosts += [host.strip().lower() for host in extra if host.strip()]
    return hosts or None


def site_origin() -> str:
    """The configured origin, or in development the first host the site was asked for."""
    app = current_app._get_current_object()
    origin = app.config.get("SITE_URL") or app.extensions.get("site_origin")
    origin = origin or g.get("refused_host_origin")
    if not origin:
        origin = _first_seen(app)
        app.extensions["site_origin"] = origin
    return origin


def site_origin_known() -> bool:
    return bool(current_app.config.get("SITE_URL") or current_app.extensions.get("site_origin"))


def _first_seen(app: Flask) -> str:
    """Read or, the very first time, write the development origin; all workers agree on it."""
    path = Path(app.instance_path) / ORIGIN_FILE
    candidate = parse_origin(f"{request.scheme}://{request.host}")
    try:
        origin = candidate if _create_once(path, candidate + "\n") else None
        origin = origin or parse_origin(path.read_text(encoding="utf-8"))
    except OSError:
        # A read-only instance folder: this process keeps the first host it saw.
        app.logger.exception("cannot record the site origin in %s", path)
        origin = candidate
    if not _warned:
        _warned.append(origin)
        app.logger.warning(
            "MICROSITE_SITE_URL is not set: absolute URLs use %s, the first host this site was "
            "asked for (kept in %s). Set MICROSITE_SITE_URL in production.",
            origin,
            path,
        )
    return origin


def _create_once(path: Path, text: str) -> bool:
    """Write a file only if it does not exist, whole or not at all: a worker reading it while
    another creates it never sees it empty (the text is written first, then linked in place)."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as tmp:
        tmp.write(text)
    try:
        os.link(tmp.name, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp.name)


def absolute_url(endpoint: str, **values) -> str:
    """url_for on the site's origin: for links that leave the site (feeds, sitemaps, meta)."""
    return site_origin() + url_for(endpoint, **values)


def understands(*names: str) -> Callable[[View], View]:
    """Declare the query parameters a view reads; all others are ignored for URLs and caching."""

    def mark(view: View) -> View:
        view.understood_args = names
        return view

    return mark


def understood_args() -> list[tuple[str, str]]:
    """The request's values of the parameters its view understands (the first of each)."""
    view = current_app.view_functions.get(request.endpoint or "")
    names = getattr(view, "understood_args", ())
    return [(name, request.args[name]) for name in names if name in request.args]


def canonical_url() -> str:
    """This page's address on the site's origin, with only the parameters it understands."""
    url = site_origin() + quote(request.script_root + request.path, safe=PATH_SAFE)
    query = urlencode(understood_args())
    return f"{url}?{query}" if query else url


def refuse_unknown_host() -> None:
    """First before-request hook: a Host outside TRUSTED_HOSTS ends here with a styled 400.

    Flask only records the refusal while binding URLs and reports it after every other hook has
    run, and without a URL adapter the error page could not even build its links; so the
    refusal comes first and the page is built on the configured origin.
    """
    error = request.routing_exception
    if isinstance(error, SecurityError):
        if not site_origin_known():
            # Only MICROSITE_TRUSTED_HOSTS is set and no trusted host came yet: name the first.
            g.refused_host_origin = f"http://{current_app.config['TRUSTED_HOSTS'][0]}"
        origin = urlsplit(site_origin())
        request_ctx.url_adapter = current_app.url_map.bind(
            origin.netloc, script_name=request.script_root or "/", url_scheme=origin.scheme
        )
        raise SecurityError(UNKNOWN_HOST)


def init_app(app: Flask) -> None:
    site_url = app.config.get("SITE_URL")
    if site_url:
        app.config["SITE_URL"] = site_url = parse_origin(site_url)
    if app.config.get("TRUSTED_HOSTS") is None:
        app.config["TRUSTED_HOSTS"] = trusted_hosts(site_url, app.config["EXTRA_TRUSTED_HOSTS"])
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unknown_host)
    app.jinja_env.globals.update(absolute_url=absolute_url, canonical_url=canonical_url)
