"""The WSGI front: what a reader's GET can be answered with before Flask's request machinery.

A stored page (microsite.web.page_cache) costs a stamp query and a file read; everything Flask
does around it (request and app contexts, the session, login loading, CSRF, the before and
after hooks, the teardown) cost more than that (issue 17.1). So the front answers three
kinds of request itself and hands everything else to the Flask app unchanged:
- `/static/…` and `/media/…` files that exist (as Flask's static route and views/media.py
  would: same headers, conditional, cached for a year when versioned), never per-user;
- a reader's GET of a stored page in the current stamp's folder: the page cache's own key
  (page_cache.request_name), its own stamp (page_cache.stamp_row), the headers Flask adds to
  a stored page precomputed, and the article view counted as the view would count it.

It refuses to answer (and Flask does the work, exactly as before) on anything it does not
know to be a plain reader's request: a Host outside TRUSTED_HOSTS (the 400 page stays
Flask's, and no stored page is ever served for such a Host), a session or remember cookie
(maybe signed in), a NUL byte, a query parameter the view does not understand (the home
page's `?p=12` redirects), a repeated one, a conditional or range request (304s stay
werkzeug's), a development origin not yet recorded, a miss, or any error. tests/
test_page_cache_front.py checks that its answers equal the Flask app's, header for header.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_cookie
from werkzeug.routing import RequestRedirect
from werkzeug.security import safe_join
from werkzeug.utils import send_from_directory
from werkzeug.wsgi import get_host, get_path_info

from ..content import images
from . import page_cache, search_pages
from .counting import view_counter
from .security import HSTS, SECURITY_HEADERS

# The views whose pages the page cache stores for readers.
STORED_VIEWS = {"public.home", "public.article", "public.related", "public.tag", "public.category"}
STORED_VIEWS |= {"search.search"}  # named by the index's state too (search_pages.page_name)
ARTICLE = re.compile(r"/articles/(\d+)")
# A request carrying any of these may want a 304, a part or a precondition: Flask answers.
CONDITIONAL = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH")
CONDITIONAL += ("HTTP_IF_UNMODIFIED_SINCE", "HTTP_RANGE", "HTTP_IF_RANGE")
YEAR = 365 * 24 * 3600
# Paths whose routing is remembered (then forgotten all at once: crawlers cannot grow it).
ROUTES_KEPT = 10_000
REMEMBER = "remember_token"  # Flask-Login's default REMEMBER_COOKIE_NAME


def query_pairs(query: str) -> list[tuple[str, str]]:
    """The query's (name, value) pairs, decoded as werkzeug decodes request.args."""
    return parse_qsl(
        query.encode("latin1").decode(), keep_blank_values=True, errors="werkzeug.url_quote"
    )


class Front:
    """app.wsgi_app = Front(app, app.wsgi_app): ProxyFix and the like still wrap it."""

    def __init__(self, app: Flask, flask_wsgi) -> None:
        self.app, self.flask_wsgi = app, flask_wsgi
        self.static_prefix = (app.static_url_path or "/static") + "/"
        self._routes: dict[str, tuple[str, ...] | None] = {}

    def __call__(self, env, start_response):
        answer = None
        if env.get("REQUEST_METHOD") == "GET":
            try:
                answer = self._answer(env)
            except Exception:  # noqa: BLE001 - anything odd is Flask's to answer
                answer = None
        if answer is None:
            return self.flask_wsgi(env, start_response)
        if isinstance(answer, tuple):
            headers, body = answer
            start_response("200 OK", headers)
            return [body]
        return answer(env, start_response)

    def _answer(self, env):
        config = self.app.config
        # Flask's own check (create_url_adapter): an untrusted Host raises, and Flask answers.
        host = get_host(env, config["TRUSTED_HOSTS"])
        path = get_path_info(env)
        if "\x00" in path:
            return None
        if path.startswith(self.static_prefix):
            return self._static(env, path[len(self.static_prefix) :])
        if path.startswith("/media/"):
            return self._media(env, path[len("/media/") :])
        if self._maybe_signed_in(env) or any(h in env for h in CONDITIONAL):
            return None
        return self._stored(env, "/" + path.lstrip("/"), host)

    def _maybe_signed_in(self, env) -> bool:
        """Whether the request carries a session or remember cookie, as Flask reads cookies
        (werkzeug's parser: `session =v` and ` session= v` are the session too), or merely
        names one anywhere in its Cookie header (a second layer: a spelling the parser may
        read one day costs that reader a render, never a stored page while signed in)."""
        cookie = env.get("HTTP_COOKIE")
        if not cookie:
            return False
        config = self.app.config
        names = (config["SESSION_COOKIE_NAME"], config.get("REMEMBER_COOKIE_NAME", REMEMBER))
        if any(name in cookie for name in names):
            return True
        return any(name in names for name in parse_cookie(env))

    def _stored(self, env, path: str, host: str):
        config = self.app.config
        root, origin = config.get("PAGE_CACHE_DIR"), self._origin()
        if not root or not origin:
            return None
        query = env.get("QUERY_STRING", "")
        args: list[tuple[str, str]] = []
        if query:
            if "%00" in query:
                return None
            args = self._understood(env, path, query)
            if args is None:
                return None
        htmx = (env.get("HTTP_HX_REQUEST"), env.get("HTTP_HX_HISTORY_RESTORE_REQUEST"))
        if path == search_pages.PATH:
            name = search_pages.page_name(self.app, dict(args), htmx, origin, host)
            if name is None:
                return None
        else:
            name = page_cache.request_name(path, args, htmx, origin, host)
        stamp = page_cache.stamp_of(page_cache.stamp_row(self.app))
        entry = os.path.join(root, stamp, page_cache.digest(name) + ".page")
        try:
            with open(entry, "rb") as handle:
                stored = json.loads(handle.readline())
                body = handle.read()
        except (OSError, ValueError):
            return None
        # The article view reads no parameter: any query that got this far (`?&`) is its
        # page, and Flask's on_hit counts it.
        if article := ARTICLE.fullmatch(path):
            self._count(env, int(article.group(1)))
        return self._headers(stored, len(body), env), body

    def _understood(self, env, path: str, query: str) -> list[tuple[str, str]] | None:
        """The query's parameters if its view stores pages and understands every one of them;
        None otherwise (Flask answers, as it would)."""
        names = self._routes.get(path, False)
        if names is False:
            names = self._route(env, path)
            if len(self._routes) >= ROUTES_KEPT:
                self._routes.clear()
            self._routes[path] = names
        if names is None:
            return None
        pairs = query_pairs(query)
        given = [name for name, _ in pairs]
        if len(set(given)) != len(given) or not set(given) <= set(names):
            return None
        values = dict(pairs)
        return [(name, values[name]) for name in names if name in values]

    def _route(self, env, path: str) -> tuple[str, ...] | None:
        """The parameters the view of this path understands, if it is one whose pages are
        stored; None otherwise. Routing depends on the path alone (no host matching)."""
        config, url_map = self.app.config, self.app.url_map
        if url_map.host_matching or self.app.subdomain_matching:
            return None
        adapter = url_map.bind_to_environ(
            env, server_name=config["SERVER_NAME"], subdomain=url_map.default_subdomain or ""
        )
        try:
            endpoint, _ = adapter.match(path, "GET")
        except (HTTPException, RequestRedirect):
            return None
        if endpoint not in STORED_VIEWS:
            return None
        return tuple(getattr(self.app.view_functions[endpoint], "understood_args", ()))

    def _origin(self) -> str | None:
        return self.app.config.get("SITE_URL") or self.app.extensions.get("site_origin")

    def _count(self, env, article_id: int) -> None:
        counter = view_counter(self.app)
        counter.record_view(
            article_id, "GET", env.get("HTTP_USER_AGENT", ""), env.get("REMOTE_ADDR")
        )
        if counter.due():
            with self.app.app_context():
                counter.write_marks()

    def _headers(self, stored: dict, length: int, env) -> list[tuple[str, str]]:
        """What the Flask app sends with a stored page (tests/test_page_cache_front.py)."""
        vary = stored.get("Vary")
        vary = f"{vary}, Cookie" if vary else "Cookie"  # login loading reads the session
        headers = [(k, v) for k, v in stored.items() if k != "Vary"]
        headers += [("Content-Length", str(length)), ("Vary", vary)]
        headers += [("Cache-Control", "public, no-cache"), *SECURITY_HEADERS]
        if env.get("wsgi.url_scheme") == "https":
            headers.append(HSTS)
        headers.append((page_cache.CACHE_HEADER, "hit"))
        return headers

    def _static(self, env, filename: str):
        folder = self.app.static_folder
        if not folder or not (found := safe_join(folder, filename)) or not os.path.isfile(found):
            return None
        # As rendering._static_max_age reads it: the first `v` value, decoded, non-empty.
        version = next((v for k, v in query_pairs(env.get("QUERY_STRING", "")) if k == "v"), "")
        versioned = bool(version)
        return self._file(env, folder, filename, max_age=YEAR if versioned else None)

    def _media(self, env, name: str):
        if not images.NAME.fullmatch(name):
            return None
        folder = self.app.config["UPLOAD_DIR"]
        if not os.path.isfile(os.path.join(folder, name)):
            return None
        extension = name.rsplit(".", 1)[1]
        response = self._file(
            env, folder, name, max_age=YEAR, mimetype=images.CONTENT_TYPES[extension]
        )
        response.cache_control.public = True
        response.cache_control.immutable = True
        return response

    def _file(self, env, folder: str, name: str, **options):
        response = send_from_directory(
            folder,
            name,
            env,
            use_x_sendfile=self.app.config["USE_X_SENDFILE"],
            response_class=self.app.response_class,
            _root_path=self.app.root_path,
            **options,
        )
        for header, value in SECURITY_HEADERS:
            response.headers.setdefault(header, value)
        if env.get("wsgi.url_scheme") == "https":
            response.headers.setdefault(*HSTS)
        return response
