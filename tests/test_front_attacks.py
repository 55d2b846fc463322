"""Attacks on the WSGI front (microsite.web.front), performed as a hostile client would.

The front answers stored pages, static files and pictures before any Flask hook runs, so
every check Flask makes around those (the Host, the session, CSRF, the query the view reads,
the headers it adds) must either be made again by the front or make the front step aside.
Each test below performs one attack and compares what the front answers with what the Flask
app alone answers (or with what the attack must never get)."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client

from microsite.content.models import DRAFT, Category, Tag
from microsite.extensions import db
from microsite.text import local_now
from microsite.web import front
from tests.support.app import make_app
from tests.support.factories import add_article, make_user, picture
from tests.support.forms import sign_in
from tests.support.responses import fetch, headers_of

SITE = "https://news.example.cn"
HX = {"HX-Request": "true"}


@pytest.fixture
def story(app):
    earlier = local_now() - timedelta(days=1)
    news = Category(name="政策解读", slug="zhengce")
    for n in range(24):
        add_article(f"旧闻{n}", "<p>旧的正文。</p>", published_at=earlier + timedelta(hours=n))
    article = add_article("人力资源市场周报", "<p>本周招聘需求上升。</p>", category=news)
    article.tags.append(Tag(name="招聘"))
    db.session.commit()
    return article


class Fresh(Client):
    """A client whose every request gets its own app context, as in production (the `app`
    fixture keeps one pushed: without this, `g` and the user loaded would be shared)."""

    def __init__(self, app, wsgi=None, **options) -> None:
        super().__init__(wsgi or app, **options)
        self.flask_app = app

    def open(self, *args, **kwargs):
        with self.flask_app.app_context():
            return super().open(*args, **kwargs)


def behind_flask(app) -> Client:
    """A client of the Flask app alone, without the front."""
    assert isinstance(app.wsgi_app, front.Front)
    return Fresh(app, app.wsgi_app.flask_wsgi)


def entered_flask(app) -> list[int]:
    entered: list[int] = []
    app.before_request_funcs.setdefault(None, []).append(lambda: entered.append(1))
    return entered


def reader_pages(story) -> list[tuple[str, dict]]:
    return [
        (f"/articles/{story.id}", {}),
        (f"/articles/{story.id}/related?page=2", HX),
        (f"/articles/{story.id}/related?page=2", {}),
        ("/", {}),
        ("/", HX),
        ("/?page=2", {}),
        ("/tags/招聘", {}),
        ("/categories/zhengce", {}),
        ("/categories/zhengce", HX),
    ]


# --- signed-in users ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    ["session={}", "session ={}", "session\t=\t{}", "theme=dark; session ={}", " session = {}"],
)
def test_a_session_cookie_spelled_oddly_still_gets_the_signed_in_page(app, client, story, spelling):
    """Werkzeug reads `session =v` (spaces around the name or the `=`) as the session cookie.
    A front that looks for the text `session=` would serve such a signed-in request the stored
    anonymous page: an editor (or a script of theirs) would get a public, shareable page where
    Flask marks every signed-in page private and no-store, and a draft preview would 404."""
    path = f"/articles/{story.id}"
    make_user("editor", role="admin")
    sign_in(client)
    value = client.get_cookie("session").value
    visitor = Fresh(app, use_cookies=False)
    visitor.get(path)  # stored for readers under the stamp of now (sign-in may move it)
    assert visitor.get(path).headers["X-Cache"] == "hit"
    page = visitor.get(path, environ_overrides={"HTTP_COOKIE": spelling.format(value)})
    assert page.status_code == 200
    assert "X-Cache" not in page.headers, spelling
    assert "no-store" in page.headers["Cache-Control"], spelling
    assert "admin-links" in page.get_data(as_text=True), spelling


@pytest.mark.parametrize(
    "cookie",
    ["remember_token=1|x", "remember_token =1|x", "a=b; remember_token\t= 1|x", "session"],
)
def test_a_remember_cookie_spelled_oddly_reaches_flask(app, story, cookie):
    """Flask-Login signs a browser in again from its remember cookie: a request carrying one,
    however spelled, must reach Flask (which may sign it in), never the stored page."""
    path = f"/articles/{story.id}"
    Fresh(app).get(path)
    assert Fresh(app).get(path).headers["X-Cache"] == "hit"
    entered = entered_flask(app)
    Fresh(app, use_cookies=False).get(path, environ_overrides={"HTTP_COOKIE": cookie})
    assert entered == [1], cookie


def test_a_signed_in_editors_pages_are_never_stored_for_readers(app, client, story):
    """A draft preview or a page with the admin bar (and its CSRF token) stored under a
    reader's key would show every reader the draft and the editor's token."""
    draft = add_article("尚未发布的稿件", "<p>内部稿件。</p>", status=DRAFT)
    make_user("editor", role="admin")
    sign_in(client)
    for path, headers in [*reader_pages(story), (f"/articles/{draft.id}", {})]:
        assert client.get(path, headers=headers).status_code == 200, path
    reader = app.test_client()
    for path, headers in reader_pages(story):
        page = reader.get(path, headers=headers)
        text = page.get_data(as_text=True)
        assert page.headers["X-Cache"] == "miss", path  # nothing the editor saw was stored
        assert "admin-links" not in text and "X-CSRFToken" not in text, path
        assert "尚未发布的稿件" not in text, path
    assert reader.get(f"/articles/{draft.id}").status_code == 404


def test_an_anonymous_session_cookie_never_stores_its_own_page(app, story):
    """A reader holding an anonymous session (a flash message, a CSRF token from the login
    page) must not get a page made from it stored for everyone: the page that pops a flash
    writes the session and is not stored; a reader without cookies gets a clean page."""
    client = app.test_client()
    client.get("/admin/login")  # an anonymous session with a CSRF token
    with client.session_transaction() as session:
        session["_flashes"] = [("message", "只给这个访客看的提示")]
    first = client.get("/")
    assert first.status_code == 200
    page = app.test_client().get("/")
    assert "只给这个访客看的提示" not in page.get_data(as_text=True)
    assert "X-CSRFToken" not in page.get_data(as_text=True)


# --- Host ---------------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path):
    """An app with its origin configured, CSRF on, and a stored article page."""
    site = make_app(tmp_path / "site", SITE_URL=SITE, EXTRA_TRUSTED_HOSTS=["www.news.example.cn"])
    with site.app_context():
        item = add_article("人力资源市场周报", "<p>本周招聘需求上升。</p>")
        site.config["_path"] = f"/articles/{item.id}"
        db.session.remove()
    client = site.test_client()
    path = site.config["_path"]
    assert client.get(path, base_url=SITE).status_code == 200
    assert client.get(path, base_url=SITE).headers["X-Cache"] == "hit"
    return site


@pytest.mark.parametrize(
    "host",
    [
        "evil.example.com",
        "evil.example.com:443",
        "news.example.cn.evil.example.com",
        "evil.example.com/news.example.cn",
        "news.example.cn@evil.example.com",
        "",
        "news.example.cn, evil.example.com",
    ],
)
def test_a_forged_host_never_gets_a_stored_page(site, host):
    """A stored page served under a foreign Host lets a forger frame the site as theirs (and,
    had it been rendered for that Host, point every reader at it); Flask refuses with its 400
    page, so the front must never answer."""
    path = site.config["_path"]
    forged = Fresh(site, use_cookies=False).get(
        path, base_url=SITE, environ_overrides={"HTTP_HOST": host}
    )
    assert forged.status_code == 400, host
    assert "X-Cache" not in forged.headers, host
    assert "evil" not in forged.get_data(as_text=True), host


@pytest.mark.parametrize(
    "host", ["NEWS.EXAMPLE.CN", "news.example.cn:8443", "news.example.cn.", "www.news.example.cn"]
)
def test_a_trusted_host_spelled_otherwise_gets_only_the_sites_own_links(site, host):
    """Uppercase, a port, a trailing dot, an extra trusted name: whatever Flask accepts, the
    page (stored or rendered) names the configured origin only, never the spelling the client
    sent, and Flask and the front agree on the status."""
    path = site.config["_path"]
    overrides = {"HTTP_HOST": host}
    by_front = Fresh(site, use_cookies=False).get(path, base_url=SITE, environ_overrides=overrides)
    by_flask = behind_flask(site).get(path, base_url=SITE, environ_overrides=overrides)
    assert by_front.status_code == by_flask.status_code, host
    if by_front.status_code == 200:
        text = by_front.get_data(as_text=True)
        assert f'<link rel="canonical" href="{SITE}{path}"' in text, host
        assert host not in text or host == "news.example.cn.", host


def test_x_forwarded_host_through_proxyfix_is_checked_like_host(site):
    """Behind ProxyFix(x_host=1) the forwarded host becomes the Host: a forged one must get
    the 400 page from the front's layer too, not a stored page."""
    site.wsgi_app = ProxyFix(site.wsgi_app, x_host=1, x_proto=1)
    path = site.config["_path"]
    client = Fresh(site, use_cookies=False)
    forged = client.get(path, base_url=SITE, headers={"X-Forwarded-Host": "evil.example.com"})
    assert forged.status_code == 400 and "X-Cache" not in forged.headers
    forwarded = {"X-Forwarded-Host": "news.example.cn", "X-Forwarded-Proto": "https"}
    good = client.get(path, base_url="http://10.0.0.2", headers=forwarded)
    assert good.status_code == 200 and good.headers["X-Cache"] == "hit"
    assert good.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_forged_first_host_in_development_never_answers_for_the_real_one(tmp_path):
    """Without MICROSITE_SITE_URL the first host is recorded; a later forged Host is served
    (development accepts any) but with the recorded origin's links, and the page stored for
    the forged Host is never the one the real host gets (the key names the Host)."""
    dev = make_app(tmp_path / "dev")
    with dev.app_context():
        item = add_article("人力资源市场周报", "<p>本周招聘需求上升。</p>")
        path = f"/articles/{item.id}"
        db.session.remove()
    client = Fresh(dev, use_cookies=False)
    # Before any host is recorded the front cannot know the origin: Flask answers.
    entered = entered_flask(dev)
    first = client.get(path, base_url="http://127.0.0.1:5000")
    assert entered == [1] and first.headers["X-Cache"] == "miss"
    for _ in range(2):
        forged = client.get(path, base_url="http://evil.example.com")
        assert "evil.example.com" not in forged.get_data(as_text=True)
    real = client.get(path, base_url="http://127.0.0.1:5000")
    assert real.headers["X-Cache"] == "hit"
    assert real.get_data() == first.get_data()


# --- paths ------------------------------------------------------------------------------


def test_path_tricks_to_static_and_media_get_what_flask_gives(app, tmp_path):
    """`..`, encoded dots and slashes, backslashes, NUL, doubled slashes, a directory, a very
    long name, a symlink out of the upload folder: the front must never serve a file Flask's
    own routes would refuse (the app's code, its instance folder, the secret key)."""
    folder = app.config["UPLOAD_DIR"]
    os.makedirs(folder, exist_ok=True)
    good = "a" * 32 + ".png"
    with open(os.path.join(folder, good), "wb") as handle:
        handle.write(picture())
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET_KEY=do-not-leak")
    os.symlink(secret, os.path.join(folder, "b" * 32 + ".png"))
    os.makedirs(os.path.join(folder, "c" * 32 + ".png"))
    paths = [
        "/static/../microsite/__init__.py",
        "/static/%2e%2e/microsite/__init__.py",
        "/static/..%2fmicrosite/__init__.py",
        "/static/css/..%2f..%2fmicrosite/__init__.py",
        "/static/..\\microsite\\__init__.py",
        "/static//etc/passwd",
        "/static/%2fetc/passwd",
        "/static/css",
        "/static/css/",
        "/static/css/site.css%00.txt",
        "/static//css//site.css",
        "/static/css/./site.css",
        "/static/" + "a/" * 3000 + "x.css",
        "/media/../instance/site_url",
        "/media/%2e%2e/" + good,
        "/media/" + good + "/",
        "/media/" + good + "%00",
        "/media/" + good.upper(),
        "/media/" + "c" * 32 + ".png",
        "/media/" + "d" * 32 + ".png",
        "/media//" + good,
    ]
    for path in paths:
        by_front = fetch(Fresh(app), path)
        by_flask = fetch(behind_flask(app), path)
        assert by_front.status_code == by_flask.status_code, path
        if by_front.status_code == 200:
            assert by_front.get_data() == by_flask.get_data(), path
        assert b"__future__" not in by_front.get_data(), path
    # A symlink planted in the upload folder is followed by Flask's route too (only the
    # app writes there, under random names); the front adds nothing Flask would not serve.
    planted = "/media/" + "b" * 32 + ".png"
    assert fetch(Fresh(app), planted).status_code == fetch(behind_flask(app), planted).status_code


def test_an_uploaded_file_is_never_sniffed_into_html(app):
    """A picture whose bytes look like HTML must go out as its picture type with nosniff, so
    no browser runs it as a page on the site's origin."""
    folder = app.config["UPLOAD_DIR"]
    os.makedirs(folder, exist_ok=True)
    name = "e" * 32 + ".webp"
    with open(os.path.join(folder, name), "wb") as handle:
        handle.write(b"<html><script>alert(1)</script></html>")
    for client in (Fresh(app), behind_flask(app)):
        response = fetch(client, f"/media/{name}")
        assert response.headers["Content-Type"] == "image/webp"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("query", ["nov=1", "v=", "%76=abc", "x=v=1", "v=abc", "v=1&v=2", ""])
def test_a_fake_version_query_gets_the_static_lifetime_flask_gives(app, query):
    """`?v=<hash>` makes a static file cacheable for a year. Flask reads the `v` parameter; a
    front that looks for the text `v=` anywhere would tell every proxy to keep `?nov=1` or
    `?v=` for a year where Flask says revalidate (and miss `?%76=` where Flask says a year)."""
    path = f"/static/css/site.css?{query}"
    by_front = fetch(Fresh(app), path)
    by_flask = fetch(behind_flask(app), path)
    assert by_front.status_code == by_flask.status_code == 200
    assert by_front.headers.get("Cache-Control") == by_flask.headers.get("Cache-Control"), query
    assert by_front.headers.get("Expires") == by_flask.headers.get("Expires"), query


# --- methods, htmx, conditionals ----------------------------------------------------------


def test_other_methods_on_a_stored_url_reach_flask(tmp_path):
    """A POST to a stored page's URL must meet CSRF and the method check, not get the stored
    200; HEAD and OPTIONS are Flask's too (a HEAD is no view)."""
    site = make_app(tmp_path / "site")
    with site.app_context():
        item = add_article("人力资源市场周报", "<p>本周招聘需求上升。</p>")
        path = f"/articles/{item.id}"
        db.session.remove()
    client = site.test_client()
    client.get(path)
    assert client.get(path).headers["X-Cache"] == "hit"
    entered = entered_flask(site)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = client.open(path, method=method, data={"x": "1"})
        assert response.status_code in (400, 405), method
        assert "X-Cache" not in response.headers, method
    assert client.open(path, method="OPTIONS").status_code == 200
    assert client.head(path).status_code == 200
    assert len(entered) == 6


@pytest.mark.parametrize("hx", ["true", "TRUE", "True", "false", "1", "", None])
def test_a_fragment_and_a_page_never_answer_for_each_other(app, story, hx):
    """The fragment and the full page share a URL: a fragment served for a plain request (or
    the page inside a fragment's slot) breaks every reader's page until the next change."""
    paths = ("/", f"/articles/{story.id}/related?page=2", "/categories/zhengce")
    headers = {} if hx is None else {"HX-Request": hx}
    for path in paths:
        for warm in ({}, HX):  # both stored first
            Fresh(app).get(path, headers=warm)
        by_front = Fresh(app).get(path, headers=headers)
        by_flask = behind_flask(app).get(path, headers=headers)
        assert by_front.status_code == by_flask.status_code == 200
        assert by_front.get_data() == by_flask.get_data(), (path, hx)
        assert "HX-Request" in by_front.headers["Vary"], path
        is_fragment = b"<html" not in by_front.get_data().lower()
        if hx in (None, "true"):
            assert is_fragment == (hx == "true"), (path, hx)


@pytest.mark.parametrize(
    "header, value",
    [
        ("If-None-Match", "*"),
        ("If-Modified-Since", "Thu, 01 Jan 2099 00:00:00 GMT"),
        ("Range", "bytes=0-9"),
        ("If-Match", '"nope"'),
        ("If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"),
    ],
)
def test_conditional_and_range_requests_get_flasks_answer(app, story, header, value):
    """A 200 from the store where werkzeug answers 304, 206 or 412 would break caches that
    trust the validators (or hand a range request the whole page)."""
    path = f"/articles/{story.id}"
    Fresh(app).get(path)
    by_front = Fresh(app).get(path, headers={header: value})
    by_flask = behind_flask(app).get(path, headers={header: value})
    assert by_front.status_code == by_flask.status_code, header
    assert by_front.get_data() == by_flask.get_data(), header


# --- query strings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=99999999999999999999",
        "page=2%00",
        "after=garbage",
        "after=",
        "page=",
        "%70age=2",
        "page=%32",
        "PAGE=2",
        "page=2&utm_source=x",
        "page=2&page=2",
        "page=2;x=1",
        "page=2&",
        "&page=2",
        "page=2#x",
        "page=%ff",
        "page=２",
    ],
)
def test_a_query_the_view_refuses_is_never_answered_from_the_store(app, story, query):
    """Flask answers a bad page number or cursor with 4xx (or a redirect); a stored 200 in its
    place would make every crawler index junk URLs as the home page, and a parameter the key
    ignores but the view reads would serve one page for another."""
    for path in ("/", "/categories/zhengce", f"/articles/{story.id}/related"):
        url = f"{path}?{query}"
        for _ in range(2):  # the second may come from the store
            by_front = Fresh(app).get(url)
        by_flask = behind_flask(app).get(url)
        assert by_front.status_code == by_flask.status_code, url
        assert by_front.get_data() == by_flask.get_data(), url
        assert by_front.headers.get("Location") == by_flask.headers.get("Location"), url


# --- cache poisoning and headers ----------------------------------------------------------


def test_an_error_page_is_never_stored_as_a_page(app, story):
    """A 404 (an unknown tag), a 410 (a cleared article) or a 400 must not be stored and later
    served as 200 for the real page, nor a broken render poison the key."""
    for path in ("/tags/不存在", "/categories/none", "/articles/999999", "/?page=0"):
        for _ in range(2):
            response = Fresh(app).get(path)
            assert response.status_code >= 300, path
            assert response.headers.get("X-Cache") != "hit", path
    assert not os.path.isdir(app.config["PAGE_CACHE_DIR"]) or not [
        name for _, _, names in os.walk(app.config["PAGE_CACHE_DIR"]) for name in names
    ]


def test_every_front_answer_carries_flasks_headers(app, story):
    """Every route the front answers (every stored view, fragment and page, over http and
    https, a static file, a picture) must carry the headers Flask sends: CSP, nosniff,
    Referrer-Policy, X-Frame-Options, HSTS on https, Cache-Control, Vary."""
    folder = app.config["UPLOAD_DIR"]
    os.makedirs(folder, exist_ok=True)
    name = "f" * 32 + ".png"
    with open(os.path.join(folder, name), "wb") as handle:
        handle.write(picture())
    for base in ("http://localhost", "https://localhost"):
        for path, headers in reader_pages(story):
            Fresh(app).get(path, headers=headers, base_url=base)
            entered = entered_flask(app)
            by_front = Fresh(app).get(path, headers=headers, base_url=base)
            app.before_request_funcs[None].pop()
            assert entered == [] and by_front.headers["X-Cache"] == "hit", (base, path)
            by_flask = behind_flask(app).get(path, headers=headers, base_url=base)
            assert headers_of(by_front) == headers_of(by_flask), (base, path)
        for path in ("/static/css/site.css", f"/media/{name}"):
            by_front = fetch(Fresh(app), path, base_url=base)
            by_flask = fetch(behind_flask(app), path, base_url=base)
            flask_headers = [h for h in headers_of(by_flask) if h != ("Vary", "Cookie")]
            assert headers_of(by_front) == flask_headers, (base, path)
    db.session.remove()


# --- the stamp connection -----------------------------------------------------------------


def test_a_dropped_stamp_connection_is_replaced_not_a_500(app, story):
    """A database restart drops the front's own connection: the next reader must get the page
    (one reconnect), not a 500, and never a page of an older stamp."""
    path = f"/articles/{story.id}"
    Fresh(app).get(path)
    assert Fresh(app).get(path).headers["X-Cache"] == "hit"
    held = app.extensions["page_stamp"]
    if db.engine.dialect.name == "postgresql":
        # The server ends the backend (a restart, an idle-session killer): the client's
        # connection looks open until it is used.
        kill = sa.text("SELECT pg_terminate_backend(:pid)")
        assert db.session.execute(kill, {"pid": held[1].info.backend_pid}).scalar()
        db.session.commit()
    else:
        held[1].close()  # as if the file had gone away
    after = Fresh(app).get(path)
    assert after.status_code == 200 and after.headers["X-Cache"] == "hit"
    assert app.extensions["page_stamp"][1] is not held[1]
    story.title = "改过的标题"
    db.session.commit()
    changed = Fresh(app).get(path)
    assert "改过的标题" in changed.get_data(as_text=True)


def test_a_stamp_connection_inherited_across_fork_is_never_used(app, story):
    """With gunicorn's preload, a connection opened in the master and used by a worker would
    interleave two processes' queries on one socket (wrong stamps, a dead connection for
    both); the worker must open its own and leave the parent's untouched."""
    path = f"/articles/{story.id}"
    Fresh(app).get(path)
    parent = app.extensions["page_stamp"]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a worker after fork
        try:
            response = Fresh(app).get(path)
            mine = app.extensions["page_stamp"]
            ok = response.status_code == 200 and mine[0] == os.getpid() and mine[1] is not parent[1]
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"1"
    # The parent's connection still works (the child neither used nor closed it).
    assert app.extensions["page_stamp"] is parent
    assert Fresh(app).get(path).headers["X-Cache"] == "hit"


def test_a_restored_database_is_never_answered_with_the_old_stamps_pages(app, story, tmp_path):
    """`flask restore` writes the backup into the live file while other workers run: their
    fronts' long-lived stamp connections must see the restored database (a new stamp), not
    keep answering with pages of the replaced one."""
    from microsite import create_app
    from microsite.content.transfer import backup

    if app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0] != "sqlite":
        pytest.skip("backup and restore handle SQLite (PostgreSQL: pg_dump)")
    path = f"/articles/{story.id}"
    saved = backup.take(tmp_path / "backups")
    story.title = "备份之后改的标题"
    db.session.commit()
    # Another worker of the same site: its own app, its own stamp connection, same files.
    other = create_app({k: v for k, v in app.config.items() if k.isupper()})
    Fresh(other).get(path)
    hit = Fresh(other).get(path)
    assert hit.headers["X-Cache"] == "hit" and "备份之后改的标题" in hit.get_data(as_text=True)
    backup.restore(saved)
    restored = Fresh(other).get(path)
    assert restored.status_code == 200
    assert "备份之后改的标题" not in restored.get_data(as_text=True)


# --- a real gunicorn ----------------------------------------------------------------------


def _raw_request(port: int, lines: list[str]) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin1").split("\r\n")
    headers = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def test_raw_requests_to_gunicorn_never_get_a_stored_page_they_should_not(tmp_path):
    """Through gunicorn with preload and two workers (the WSGI environ as deployed): an
    absolute-URI request line naming another host, an empty Host, a Host the site does not
    trust and a session cookie split over two Cookie headers; and every worker answers hits
    on its own stamp connection."""
    from bench import load

    # 127.0.0.1 trusted too: the start-up probe asks /healthz on it.
    env = {"MICROSITE_SITE_URL": "http://news.example.cn", "MICROSITE_TRUSTED_HOSTS": "127.0.0.1"}
    with load.serve(tmp_path, workers=2, extra_env=env) as served:
        port = served.port
        good = ["GET /articles/1 HTTP/1.1", "Host: news.example.cn", "Connection: close"]
        statuses = [_raw_request(port, good) for _ in range(12)]
        assert all(status == 200 for status, _, _ in statuses)
        assert sum(h.get("x-cache") == "hit" for _, h, _ in statuses) >= 10
        attacks = {
            "absolute URI, foreign Host": [
                "GET http://news.example.cn/articles/1 HTTP/1.1",
                "Host: evil.example.com",
                "Connection: close",
            ],
            "empty Host": ["GET /articles/1 HTTP/1.1", "Host: ", "Connection: close"],
            "untrusted Host": [
                "GET /articles/1 HTTP/1.1",
                "Host: evil.example.com",
                "Connection: close",
            ],
        }
        for name, lines in attacks.items():
            status, headers, body = _raw_request(port, lines)
            assert status == 400, name
            assert "x-cache" not in headers, name
            assert b"evil.example.com" not in body, name
        split = [
            "GET /articles/1 HTTP/1.1",
            "Host: news.example.cn",
            "Cookie: theme=dark",
            "Cookie: session =x.y.z",
            "Connection: close",
        ]
        status, headers, _ = _raw_request(port, split)
        assert status == 200


def test_a_stamp_computed_by_another_thread_meanwhile_is_never_taken(app):
    """stamp_of remembers the last (row, stamp): with gunicorn threads, another thread may
    replace it between this thread's check and its read. Taking that other thread's stamp
    files this request's page under another content's folder (a page of older content
    under a newer stamp stays served until the next change). The interleaving is forced
    here: comparing this thread's row runs the other thread's stamp_of."""
    from microsite.web import page_cache

    other_row = (7, "2026-01-01 00:00:00", "site-b", "articles-b")

    class Interleaved(tuple):
        def __eq__(self, other):
            page_cache.stamp_of(other_row)  # the other thread, right now
            return tuple.__eq__(self, other)

        __hash__ = tuple.__hash__

    row = (5, "2025-01-01 00:00:00", "site-a", "articles-a")
    mine = page_cache.stamp_of(row)
    theirs = page_cache.stamp_of(other_row)
    page_cache.stamp_of(row)  # remembered again: the next call compares against it
    assert page_cache.stamp_of(Interleaved(row)) == mine != theirs


@pytest.mark.parametrize("query", ["&", "&&"])
def test_an_empty_query_on_an_article_counts_the_view_as_flask_does(app, story, query):
    """`/articles/1?&` is the article's page for Flask (no parameter it reads) and counts a
    view; the front served it from the store without counting, so a link with a stray `&`
    (or a reader who wants to read unseen) drops views that Flask would count."""
    from microsite.web import counting

    path = f"/articles/{story.id}?{query}"
    counter = counting.view_counter(app)
    Fresh(app).get(path)
    for client in (Fresh(app), behind_flask(app)):
        counter._pending.clear()
        response = client.get(path)
        assert response.headers["X-Cache"] == "hit"
        assert [mark[1] for mark in counter._pending] == [story.id], client


def test_many_threads_on_one_stamp_connection_all_get_the_page(app, story):
    """With gunicorn threads the front's one stamp connection serves every thread of the
    worker; readers hammering it at once while it goes bad (the server ends it) must all get
    the page, never a 500. Before the stamp lock, the threads that met the failure each
    closed it (on SQLite under another thread's query: a segfault of the worker) and each
    opened another (all but one leaked, open, on PostgreSQL)."""
    import threading

    from microsite.web import page_cache

    path = f"/articles/{story.id}"
    Fresh(app).get(path)
    expected = Fresh(app).get(path).get_data()
    db.session.remove()
    failures: list[object] = []
    postgres = db.engine.dialect.name == "postgresql"

    def drop() -> None:
        held = app.extensions["page_stamp"]
        if postgres:  # from the server's side, as a restart does
            with app.app_context(), db.engine.connect() as admin:
                admin.execute(sa.text(f"SELECT pg_terminate_backend({held[1].info.backend_pid})"))
        else:  # between two queries: SQLite has no server to end it
            with page_cache._stamp_lock:
                held[1].close()

    def read(n: int) -> None:
        for i in range(40):
            if n == 0 and i in (10, 25):
                drop()
            response = Fresh(app).get(path)
            if response.status_code != 200 or response.get_data() != expected:
                failures.append((n, i, response.status_code))

    threads = [threading.Thread(target=read, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_junk_header_spellings_cannot_fill_the_page_store(tmp_path):
    """Every HX-Request value and every Host port was a stored page of its own, so a few
    thousand requests with `HX-Request: a1, a2, …` or `Host: site:1, :2, …` (ports are not
    compared by the trust check) filled the stamp's folder to PAGE_CACHE_MAX_ENTRIES and no
    reader page was stored again until the next change: every reader rendered (a cheap
    denial of the cache). Letter-case variants are here too (the trust check refuses them
    when an origin is set; in development it accepts any Host)."""
    site = make_app(tmp_path / "site", SITE_URL=SITE, PAGE_CACHE_MAX_ENTRIES=8)
    with site.app_context():
        for n in range(3):
            add_article(f"旧闻{n}", "<p>旧的正文。</p>")
        items = [add_article(f"周报{n}", "<p>正文。</p>").id for n in range(2)]
        db.session.remove()
    client = Fresh(site, use_cookies=False)
    first, second = (f"/articles/{item}" for item in items)
    client.get(first, base_url=SITE)
    for n in range(20):
        client.get(first, base_url=SITE, headers={"HX-Request": f"a{n}"})
        client.get(first, base_url=SITE, environ_overrides={"HTTP_HOST": f"news.example.cn:{n}"})
        cased = "".join(c.upper() if n >> i & 1 else c for i, c in enumerate("news.example"))
        client.get(first, base_url=SITE, environ_overrides={"HTTP_HOST": cased + ".cn"})
    client.get(second, base_url=SITE)
    assert client.get(second, base_url=SITE).headers["X-Cache"] == "hit"
    # The spellings are one page: the stored one answers them all.
    junk = {"HX-Request": "junk"}  # htmx-flask: not an htmx request, so the full page
    assert client.get(first, base_url=SITE, headers=junk).headers["X-Cache"] == "hit"
    spelled = {"HTTP_HOST": "news.example.cn:8443"}
    assert client.get(first, base_url=SITE, environ_overrides=spelled).headers["X-Cache"] == "hit"


@pytest.mark.parametrize("spelled", ["02", "002", "000002", "01"])
def test_a_page_number_with_leading_zeros_is_refused_not_stored(app, story, spelled):
    """`?page=02`, `?page=002`, … rendered page 2 and each was stored under its own name:
    six spellings of every listing page, a multiplier on what a crawler fills the store
    with. Only the spelling url_for writes is a page; the others are a 400, never stored."""
    for path in ("/", "/categories/zhengce", f"/articles/{story.id}/related"):
        for _ in range(2):
            response = Fresh(app).get(f"{path}?page={spelled}")
            assert response.status_code == 400, (path, spelled)
            assert "X-Cache" not in response.headers, (path, spelled)
