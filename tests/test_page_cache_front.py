"""The WSGI front (microsite.web.front) answers stored pages, static files and pictures before
Flask's hooks: its answers must be the Flask app's, header for header, and it must step aside
for everything it cannot answer the same way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from werkzeug.test import Client

from microsite.extensions import db
from microsite.text import local_now
from microsite.web import counting, front
from tests.support.factories import add_article, make_user
from tests.support.forms import sign_in
from tests.support.responses import fetch, headers_of

HX = {"HX-Request": "true"}


@pytest.fixture
def story(app):
    earlier = local_now() - timedelta(days=1)
    for n in range(12):
        add_article(f"旧闻{n}", "<p>用工单位不得退回派遣员工。</p>", published_at=earlier)
    return add_article("人力资源市场周报", "<p>本周招聘需求上升。</p>")


def behind_flask(app) -> Client:
    """A client of the Flask app alone, without the front."""
    assert isinstance(app.wsgi_app, front.Front)
    return Client(app.wsgi_app.flask_wsgi)


@pytest.mark.parametrize(
    "path, headers",
    [
        ("/articles/{id}", {}),
        ("/articles/{id}/related?page=2", HX),
        ("/articles/{id}/related?page=2", {}),
        ("/", {}),
        ("/", HX),
    ],
)
def test_a_stored_page_from_the_front_is_the_flask_apps(app, client, story, path, headers):
    path = path.format(id=story.id)
    first = client.get(path, headers=headers)
    assert first.status_code == 200 and first.headers["X-Cache"] == "miss"
    from_flask = behind_flask(app).get(path, headers=headers)
    # The front answers without entering Flask: no app context, no hooks.
    entered = []
    app.before_request_funcs.setdefault(None, []).append(lambda: entered.append(1))
    from_front = client.get(path, headers=headers)
    assert entered == []
    assert from_front.headers["X-Cache"] == from_flask.headers["X-Cache"] == "hit"
    assert from_front.get_data() == from_flask.get_data() == first.get_data()
    assert headers_of(from_front) == headers_of(from_flask)


def test_the_front_counts_a_view_as_the_article_view_does(app, client, story):
    client.get(f"/articles/{story.id}")
    counter = counting.view_counter(app)
    counter._pending.clear()
    entered = []
    app.before_request_funcs.setdefault(None, []).append(lambda: entered.append(1))
    assert client.get(f"/articles/{story.id}").headers["X-Cache"] == "hit"
    assert entered == [] and [m[1] for m in counter._pending] == [story.id]
    client.get(f"/articles/{story.id}", headers={"User-Agent": "Googlebot/2.1"})
    assert len(counter._pending) == 1  # a crawler is no reader, from the front either


@pytest.mark.parametrize(
    "request_options",
    [
        {"query_string": "p=12"},  # the home page's old permalinks redirect
        {"query_string": "utm_source=x"},  # a parameter the view does not read
        {"query_string": "page=2&page=3"},
        {"headers": {"If-None-Match": '"x"'}},
        {"headers": {"Range": "bytes=0-10"}},
        {"method": "HEAD"},
    ],
)
def test_the_front_steps_aside_for_what_flask_answers_otherwise(
    app, client, story, request_options
):
    client.get("/")
    entered = []
    app.before_request_funcs.setdefault(None, []).append(lambda: entered.append(1))
    options = {"method": "GET", **request_options}
    client.open("/", **options)
    assert entered == [1]


def test_a_forged_host_gets_the_400_page_even_when_the_page_is_stored(tmp_path, story, app):
    from tests.support.app import make_app

    site = make_app(tmp_path / "site", SITE_URL="https://news.example.cn")
    with site.app_context():
        item = add_article("人力资源市场周报", "<p>本周招聘需求上升。</p>")
        path = f"/articles/{item.id}"
    client = site.test_client()
    stored = client.get(path, base_url="https://news.example.cn")
    assert stored.status_code == 200
    assert client.get(path, base_url="https://news.example.cn").headers["X-Cache"] == "hit"
    forged = client.get(path, base_url="https://evil.example.com")
    assert forged.status_code == 400 and "X-Cache" not in forged.headers
    assert "news.example.cn" in forged.get_data(as_text=True)
    assert "evil.example.com" not in forged.get_data(as_text=True)
    assert forged.headers["Content-Security-Policy"] == stored.headers["Content-Security-Policy"]
    # HTTPS: the front adds HSTS as the after-request hook does.
    hit = client.get(path, base_url="https://news.example.cn")
    assert hit.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_signed_in_editor_never_gets_a_stored_page(app, client, story):
    client.get(f"/articles/{story.id}")
    make_user("editor", role="admin")
    sign_in(client)
    page = client.get(f"/articles/{story.id}")
    assert page.status_code == 200 and "X-Cache" not in page.headers
    assert "no-store" in page.headers["Cache-Control"]


def test_static_files_skip_the_hooks_and_keep_their_headers(app, client):
    entered = []
    app.before_request_funcs.setdefault(None, []).append(lambda: entered.append(1))
    for query in ("", "?v=abc"):
        from_front = fetch(client, f"/static/css/site.css{query}")
        assert entered == []
        from_flask = fetch(behind_flask(app), f"/static/css/site.css{query}")
        entered.clear()
        assert from_front.status_code == from_flask.status_code == 200
        assert from_front.get_data() == from_flask.get_data()
        # The same headers but Vary: Cookie (Flask read the session for the after-request
        # hook; a static file is the same for everyone).
        flask_headers = [h for h in headers_of(from_flask) if h != ("Vary", "Cookie")]
        assert headers_of(from_front) == flask_headers
    assert "max-age=31536000" in fetch(client, "/static/css/site.css?v=1").headers["Cache-Control"]
    etag = fetch(client, "/static/css/site.css").headers["ETag"]
    assert fetch(client, "/static/css/site.css", headers={"If-None-Match": etag}).status_code == 304
    assert fetch(client, "/static/nothing-here.css").status_code == 404
    assert fetch(client, "/static/../microsite/__init__.py").status_code == 404


def test_pictures_skip_the_hooks_and_keep_their_headers(app, client):
    from microsite.content import images
    from tests.support.factories import picture

    name = "a" * 32 + ".png"
    if not images.NAME.fullmatch(name):
        pytest.skip("picture names changed shape")
    folder = app.config["UPLOAD_DIR"]
    import os

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as handle:
        handle.write(picture())
    entered = []
    app.before_request_funcs.setdefault(None, []).append(lambda: entered.append(1))
    from_front = fetch(client, f"/media/{name}")
    assert entered == [] and from_front.status_code == 200
    from_flask = fetch(behind_flask(app), f"/media/{name}")
    assert headers_of(from_front) == [h for h in headers_of(from_flask) if h != ("Vary", "Cookie")]
    assert fetch(client, "/media/" + "b" * 32 + ".png").status_code == 404
    db.session.remove()


def test_a_signed_in_editor_gets_static_files_as_everyone_does(app, client):
    """Files are the same for everyone: the front serves them before the session is read, so
    an editor's browser may cache them too (pages for editors stay private, no-store)."""
    make_user("editor", role="admin")
    sign_in(client)
    css = fetch(client, "/static/css/site.css?v=1")
    assert css.status_code == 200 and "no-store" not in css.headers["Cache-Control"]
    assert "Vary" not in css.headers
    assert "no-store" in client.get("/admin/").headers["Cache-Control"]
