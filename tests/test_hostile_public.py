"""Hostile input on the public pages: always an escaped page or a clear 4xx, never a 500."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microsite.content.models import PUBLISHED, Article, Tag
from microsite.extensions import db
from tests.support.app import soup
from tests.support.forms import sign_in

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'><svg/onload=alert(3)>"


@pytest.mark.parametrize(
    "url",
    [
        "/articles/../../etc/passwd",
        "/articles/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/static/../microsite/config.py",
        "/static/%2e%2e/microsite/config.py",
        "/articles/" + "9" * 400,
        "/articles/1" + "0" * 30 + "/related",
        "/articles/1/related?page=" + "9" * 50,
        "/?page=%ff%fe",
        "/?page=1&after=%00%01",
        "/?after=20240101000000-1%27%20OR%201=1--",
        "/tags/%ff%fe%fd",
        "/tags/" + "标" * 3000,
        "/categories/%00",
        "/pages/..%2f..%2fetc%2fpasswd",
        "/sitemap-articles-99999999999999999999.xml",
    ],
)
def test_hostile_urls_get_a_clear_4xx(client, seeded, url):
    response = client.get(url)
    assert 400 <= response.status_code < 500, (url, response.status_code)
    assert "Traceback" not in response.get_data(as_text=True)


def test_stored_markup_in_titles_and_tags_is_escaped(client, app):
    tag = Tag(name=XSS[:60])
    article = Article(title=XSS[:200], status=PUBLISHED, published_at=db.func.now(), tags=[tag])
    db.session.add(article)
    db.session.commit()
    for url in ("/", f"/articles/{article.id}", "/sitemap", "/feed.xml"):
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in body, url
        assert "<img src=x" not in body, url
    page = soup(client.get(f"/articles/{article.id}"))
    assert page.select_one("h1").get_text() == XSS[:200]
    assert not page.select("main script, main img, main svg")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(page=st.text(max_size=30), after=st.text(max_size=60))
def test_any_paging_parameters_never_500(client, seeded, page, after):
    response = client.get("/", query_string={"page": page, "after": after})
    assert response.status_code in (200, 400, 404)


def test_security_headers_on_every_page(client, seeded):
    for url in ("/", f"/articles/{seeded.id}", "/nowhere", "/feed.xml"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in headers  # plain HTTP here


def test_hsts_when_served_over_https(client, seeded):
    headers = client.get("/", base_url="https://localhost").headers
    assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_public_pages_set_no_session_cookie(client, seeded):
    for url in ("/", f"/articles/{seeded.id}", f"/articles/{seeded.id}/related?page=2"):
        assert "Set-Cookie" not in client.get(url).headers, url


def test_pages_for_a_signed_in_admin_are_never_cached(app, client, seeded, admin_user):
    assert sign_in(client).status_code == 302
    response = client.get(f"/articles/{seeded.id}")
    assert response.status_code == 200
    assert response.cache_control.no_store and response.cache_control.private
    reader = app.test_client()
    assert not reader.get(f"/articles/{seeded.id}").cache_control.no_store
