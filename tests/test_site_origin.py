"""Host-header poisoning (issue 14.2): absolute URLs come from the site's origin, never from a
request's Host, and with MICROSITE_SITE_URL set any other Host is refused with a 400 page."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from microsite import create_app
from microsite.content.importer import parse_page, store_page
from microsite.content.models import Article
from microsite.extensions import db
from microsite.web.origin import parse_origin, trusted_hosts
from tests.support.app import SEED_TEXT, LiveServer, make_app, soup

EVIL = "http://evil.example"
SITE = "https://news.example.cn"


def reader_urls(article_id: int) -> list[str]:
    """Every page that names the site's own address, stored pages and machine-readable ones."""
    return [
        "/",
        f"/articles/{article_id}",
        f"/articles/{article_id}/related",
        "/feed.xml",
        "/robots.txt",
        "/sitemap.xml",
        "/sitemap-pages.xml",
        "/sitemap-articles-1.xml",
        "/top",
    ]


def addresses_named(body: str) -> set[str]:
    """The origins of every absolute URL in a page, feed or sitemap."""
    return set(re.findall(r"https?://[^/\"'<>\s]+", body)) - {
        "http://www.w3.org",
        "http://www.sitemaps.org",
        "https://schema.org",
    }


def meta_urls(response) -> dict[str, str]:
    page = soup(response)
    ld = json.loads(page.find("script", type="application/ld+json").string)
    return {
        "canonical": page.find("link", rel="canonical")["href"],
        "og:url": page.find("meta", property="og:url")["content"],
        "json-ld": ld["mainEntityOfPage"],
    }


@pytest.fixture
def article(app) -> Article:
    return store_page(parse_page(SEED_TEXT))


def test_a_forged_host_right_after_a_change_never_reaches_readers(app, client, article):
    """Nothing configured: the first host seen is the origin; a forged Host is not echoed."""
    assert client.get("/").status_code == 200  # the site's first visitor: http://localhost
    article.title = "拉紧基层疫情防控警戒线（更新）"
    db.session.commit()  # a change: every stored page is rendered afresh by its next reader
    for url in reader_urls(article.id):
        forged = client.get(url, base_url=EVIL)
        assert forged.status_code == 200, url
        assert "evil.example" not in forged.get_data(as_text=True), url
    for url in reader_urls(article.id):
        body = client.get(url).get_data(as_text=True)
        assert "evil.example" not in body, url
        assert addresses_named(body) <= {"http://localhost"}, url
    assert meta_urls(client.get(f"/articles/{article.id}")) == dict.fromkeys(
        ["canonical", "og:url", "json-ld"], f"http://localhost/articles/{article.id}"
    )
    feed = client.get("/feed.xml").get_data(as_text=True)
    assert 'xml:base="http://localhost/"' in feed
    assert f"<id>http://localhost/articles/{article.id}</id>" in feed
    robots = client.get("/robots.txt").get_data(as_text=True)
    assert "Sitemap: http://localhost/sitemap.xml" in robots


def test_every_worker_keeps_the_first_host_seen(app, client, article, tmp_path):
    """The development origin is written once into the instance folder; a second process
    (another gunicorn worker, or a restart) asked first with a forged Host still uses it."""
    client.get("/", base_url="http://127.0.0.1:5000")
    recorded = Path(app.instance_path) / "site_url"
    assert recorded.read_text().strip() == "http://127.0.0.1:5000"
    worker = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "INSTANCE_PATH": app.instance_path,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"],
        }
    )
    try:
        forged = worker.test_client().get(f"/articles/{article.id}", base_url=EVIL)
        assert meta_urls(forged)["canonical"] == f"http://127.0.0.1:5000/articles/{article.id}"
    finally:
        with worker.app_context():
            db.engine.dispose()


@pytest.fixture
def configured(tmp_path):
    app = make_app(tmp_path, SITE_URL=SITE, EXTRA_TRUSTED_HOSTS=["www.news.example.cn"])
    with app.app_context():
        article_id = store_page(parse_page(SEED_TEXT)).id
        db.session.remove()
    return app, article_id


def test_with_the_origin_configured_a_forged_host_gets_a_400_page(configured):
    app, article_id = configured
    client = app.test_client()
    for url in reader_urls(article_id):
        forged = client.get(url, base_url=EVIL)
        assert forged.status_code == 400, url
        page = soup(forged)
        assert "此网站不接受这个域名的请求" in page.select_one(".error-page").get_text()
        assert page.select_one(".site-footer")  # the site's own style, not a bare error
        assert "evil.example" not in forged.get_data(as_text=True)
    # A refused Host is refused before anything runs: it cannot plant a page for readers.
    assert not list(Path(app.config["PAGE_CACHE_DIR"]).glob("*/*.page"))


def test_with_the_origin_configured_every_url_names_it(configured):
    app, article_id = configured
    client = app.test_client()
    for base in (SITE, "http://www.news.example.cn"):  # the extra host is served, not named
        for url in reader_urls(article_id):
            response = client.get(url, base_url=base)
            assert response.status_code == 200, (base, url)
            assert addresses_named(response.get_data(as_text=True)) <= {SITE}, (base, url)
    assert meta_urls(client.get(f"/articles/{article_id}", base_url=SITE)) == dict.fromkeys(
        ["canonical", "og:url", "json-ld"], f"{SITE}/articles/{article_id}"
    )


@pytest.mark.parametrize(
    "value", ["news.example.cn", "ftp://news.example.cn", "https://news.example.cn/news", ""]
)
def test_a_site_url_that_is_not_an_origin_stops_the_start(value):
    with pytest.raises(ValueError, match="MICROSITE_SITE_URL"):
        parse_origin(value)


def test_trusted_hosts_come_from_the_origin_and_the_extra_list():
    assert trusted_hosts(SITE, ["www.news.example.cn", " "]) == [
        "news.example.cn",
        "www.news.example.cn",
    ]
    assert trusted_hosts(None, []) is None


def fetch(server: LiveServer, path: str, host: str | None = None) -> tuple[int, str]:
    """GET with exactly this Host header, as a client on the network can send it."""
    port = int(server.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": host or server.url[len("http://") :]})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def canonical_of(body: str) -> str:
    return BeautifulSoup(body, "html.parser").find("link", rel="canonical")["href"]


def test_two_ports_sharing_a_cache_each_show_their_own_origin(tmp_path):
    """Issue 14's done-when: two servers of one host, one database and one page-cache folder,
    each with its own configured origin, never show the other's origin or a forged Host."""
    cache = str(tmp_path / "cache")
    a = make_app(tmp_path / "a", PAGE_CACHE_DIR=cache)
    with a.app_context():
        article_id = store_page(parse_page(SEED_TEXT)).id
        db.session.remove()
    b = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "INSTANCE_PATH": str(tmp_path / "b" / "instance"),
            "SQLALCHEMY_DATABASE_URI": a.config["SQLALCHEMY_DATABASE_URI"],
            "SEARCH_INDEX_DIR": str(tmp_path / "b" / "index"),
            "PAGE_CACHE_DIR": cache,
        }
    )
    servers = [LiveServer(a), LiveServer(b)]
    for app, server in zip((a, b), servers, strict=True):
        # The port is known once the server has bound it; the origin is configured before
        # the first request, as MICROSITE_SITE_URL would be.
        app.config.update(SITE_URL=server.url, TRUSTED_HOSTS=trusted_hosts(server.url, []))
        server.start()
    try:
        one, other = servers
        pages = ["/", f"/articles/{article_id}", f"/articles/{article_id}/related?page=2"]
        # Both orders, twice: the second time every page comes from the shared folder.
        for first, second in [(one, other), (other, one), (one, other)]:
            for server in (first, second):
                for path in pages:
                    status, body = fetch(server, path)
                    assert status == 200, (server.url, path)
                    assert canonical_of(body).startswith(server.url + "/"), (server.url, path)
                    assert addresses_named(body) == {server.url}, (server.url, path)
        assert list(Path(cache).glob("*/*.page"))  # they did share the folder
        for server, neighbour in [(one, other), (other, one)]:
            for path in pages:
                assert fetch(server, path, host="evil.example")[0] == 400
                # The neighbour's Host has a trusted name (ports are not compared): still
                # this server's own origin, and not the neighbour's stored page.
                neighbours_host = neighbour.url[len("http://") :]
                status, body = fetch(server, path, host=neighbours_host)
                assert status == 200 and addresses_named(body) == {server.url}
                assert "evil.example" not in fetch(server, path)[1]
    finally:
        for server in servers:
            server.stop()
        with b.app_context():
            db.engine.dispose()


def test_trusted_hosts_alone_refuse_a_forged_first_request(tmp_path):
    """MICROSITE_TRUSTED_HOSTS without MICROSITE_SITE_URL: a forged Host, even as the very
    first request, gets the 400 page and does not become the origin."""
    app = make_app(tmp_path, EXTRA_TRUSTED_HOSTS=["news.example.cn"])
    client = app.test_client()
    forged = client.get("/", base_url=EVIL)
    assert forged.status_code == 400 and "evil.example" not in forged.get_data(as_text=True)
    assert not (Path(app.instance_path) / "site_url").exists()
    page = client.get("/", base_url="https://news.example.cn")
    assert page.status_code == 200
    assert canonical_of(page.get_data(as_text=True)) == "https://news.example.cn/"


def test_canonical_urls_of_chinese_paths_are_percent_encoded(client, article):
    tag = article.tags[0].name
    response = client.get(f"/tags/{tag}?junk=1")
    expected = "http://localhost/tags/" + "".join(f"%{b:02X}" for b in tag.encode())
    assert soup(response).find("link", rel="canonical")["href"] == expected
    sitemap = client.get("/sitemap-pages.xml").get_data(as_text=True)
    assert f"<loc>{expected}</loc>" in sitemap  # the same address everywhere
