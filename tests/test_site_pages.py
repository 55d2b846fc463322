"""The rest of the site: TOP500, pages, site map, sitemap.xml, robots, feed, metadata, errors."""

import json
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest
from sqlalchemy import func, select

from microsite.content.models import CLEARED, DRAFT, PUBLISHED, Article, MaskedWord, Page, ViewMark
from microsite.extensions import db
from microsite.web import counting
from microsite.web.counting import view_counter
from tests.support.app import SEED_TITLE, soup

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def draft(app, seeded):
    article = Article(title="未发表的草稿", body="<p>草稿正文</p>", status=DRAFT)
    db.session.add(article)
    db.session.commit()
    return article


def published_ids():
    query = select(Article.id).where(Article.status == PUBLISHED)
    return set(db.session.scalars(query))


def test_views_are_counted_in_batches_and_reloads_once(client, seeded, monkeypatch):
    monkeypatch.setattr(counting, "FLUSH_SECONDS", 10**9)  # however slow the machine, no write yet
    # One reader (one address) reloading, under two browsers, then a second reader.
    for user_agent in ("reader-a", "reader-a", "reader-b"):
        assert (
            client.get(f"/articles/{seeded.id}", headers={"User-Agent": user_agent}).status_code
            == 200
        )
    client.get(f"/articles/{seeded.id}", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    db.session.refresh(seeded)
    assert seeded.view_count == 0  # nothing written per view: not the count, not a mark
    assert db.session.scalar(select(func.count()).select_from(ViewMark)) == 0
    version = seeded.version
    assert view_counter().flush() == 2
    db.session.refresh(seeded)
    assert seeded.view_count == 2
    assert seeded.version == version  # counting never makes an admin's open edit stale


def test_top_lists_most_read_live_articles(client, seeded):
    live = db.session.scalars(select(Article).where(Article.status == PUBLISHED)).all()
    for rank, article in enumerate(live[:3]):
        article.view_count = 100 - rank
    cleared = db.session.scalars(select(Article).filter_by(status=CLEARED)).first()
    cleared.view_count = 1000
    db.session.commit()
    page = soup(client.get("/top"))
    items = page.select("li.headline")
    assert [li.get_text(strip=True) for li in items[:3]] == [a.title for a in live[:3]]
    assert items[0]["value"] == "1"
    assert not page.select(".headline--cleared")
    assert page.select_one("h1").get_text() == "人力资讯TOP500"


def test_top_stops_at_500(client, app):
    db.session.add_all(
        Article(title=f"t{n}", status=PUBLISHED, published_at=datetime(2024, 1, 1), view_count=n)
        for n in range(530)
    )
    db.session.commit()
    url, numbers = "/top", []
    while url:
        page = soup(client.get(url))
        numbers += [int(li["value"]) for li in page.select("li.headline")]
        more = page.select_one("li.more a")
        url = more["href"] if more else None
    assert numbers == list(range(1, 501))


def test_editable_pages(client, app):
    db.session.add(Page(slug="about", title="关于我们", body="<p>我们是一家人力资源公司。</p>"))
    db.session.commit()
    page = soup(client.get("/pages/about"))
    assert page.select_one("h1").get_text() == "关于我们"
    assert "人力资源公司" in page.select_one(".article__body").get_text()
    assert client.get("/pages/missing").status_code == 404


def test_html_sitemap_lists_categories_tags_and_articles(client, seeded, draft):
    page = soup(client.get("/sitemap"))
    links = {a.get_text() for a in page.select("main a")}
    assert "人力资讯" in links and "劳务派遣" in links and SEED_TITLE in links
    assert "未发表的草稿" not in links
    assert not page.select(".headline--cleared")


def test_sitemap_xml_lists_exactly_the_published_articles(client, seeded, draft):
    index = ET.fromstring(client.get("/sitemap.xml").data)
    files = [loc.text for loc in index.iter(f"{SITEMAP}loc")]
    assert any(f.endswith("/sitemap-pages.xml") for f in files)
    listed = set()
    for url in files:
        response = client.get(url.removeprefix("http://localhost"))
        assert response.status_code == 200
        urlset = ET.fromstring(response.data)
        for entry in urlset.iter(f"{SITEMAP}url"):
            loc = entry.find(f"{SITEMAP}loc").text
            if "/articles/" in loc:
                listed.add(int(loc.rsplit("/", 1)[1]))
                assert entry.find(f"{SITEMAP}lastmod").text.endswith("+08:00")
    assert listed == published_ids()


def test_robots_points_to_the_sitemap(client, app):
    text = client.get("/robots.txt").get_data(as_text=True)
    assert "Sitemap: http://localhost/sitemap.xml" in text
    assert "Disallow: /admin/" in text


def test_feed_is_atom_with_latest_published_masked(client, seeded, draft):
    db.session.add(MaskedWord(word="疫情防控"))
    db.session.commit()
    response = client.get("/feed.xml")
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)
    # Bodies link pictures and pages by path (/media/…): the feed says what they are relative to.
    assert feed.get("{http://www.w3.org/XML/1998/namespace}base") == "http://localhost/"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 20
    ids = {int(e.find(f"{ATOM}id").text.rsplit("/", 1)[1]) for e in entries}
    assert ids <= published_ids()
    first = entries[0]
    assert first.find(f"{ATOM}title").text == SEED_TITLE.replace("疫情防控", "***")
    content = first.find(f"{ATOM}content").text
    assert "<h2>" in content and "疫情防控" not in content


def test_article_metadata(client, seeded):
    page = soup(client.get(f"/articles/{seeded.id}"))
    assert (
        page.select_one("link[rel=canonical]")["href"] == f"http://localhost/articles/{seeded.id}"
    )
    assert page.select_one("meta[property='og:type']")["content"] == "article"
    assert page.select_one("meta[property='og:title']")["content"].startswith(SEED_TITLE)
    assert page.select_one("meta[name=description]")["content"].startswith("连日来")
    data = json.loads(page.select_one("script[type='application/ld+json']").string)
    assert data["@type"] == "NewsArticle"
    assert data["headline"] == SEED_TITLE
    assert data["datePublished"] == "2022-09-02T00:00:00+08:00"
    assert page.select_one("link[rel=icon]")["href"].startswith("/static/favicon.svg?v=")


def test_titles_are_unique_across_pages(client, seeded):
    urls = [
        "/",
        "/top",
        "/sitemap",
        f"/articles/{seeded.id}",
        "/tags/劳务派遣",
        "/categories/人力资讯",
    ]
    titles = [soup(client.get(url)).title.get_text() for url in urls]
    assert len(set(titles)) == len(titles)


def test_prev_next_links(client, seeded):
    older = soup(client.get(f"/articles/{seeded.id}")).select_one("a[rel=prev]")
    assert older is not None
    newer = soup(client.get(older["href"])).select_one("a[rel=next]")
    assert newer["href"] == f"/articles/{seeded.id}"


def test_repeat_visit_gets_304(client, seeded):
    first = client.get(f"/articles/{seeded.id}")
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    again = client.get(f"/articles/{seeded.id}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""


@pytest.mark.parametrize(
    ("method", "url", "code", "title"),
    [
        ("get", "/?page=zero", 400, "请求有误"),
        ("get", "/nowhere", 404, "页面不存在"),
        ("post", "/", 405, "不支持的请求方式"),
        ("get", "/pages/none", 404, "页面不存在"),
    ],
)
def test_error_pages_have_a_way_home_and_search(client, seeded, method, url, code, title):
    response = getattr(client, method)(url)
    assert response.status_code == code
    page = soup(response)
    assert page.select_one("h1").get_text() == title
    assert page.select_one(".error-page a[href='/']")
    assert page.select_one(".error-page form[role=search] input[name=q]")


@pytest.mark.parametrize("code", [403, 410, 413, 429, 500])
def test_every_error_status_renders_the_site_page(app, code):
    from werkzeug.exceptions import default_exceptions

    from microsite.errors import TITLES, render_error

    with app.test_request_context("/"):
        response = render_error(default_exceptions[code]())
    assert response.status_code == code
    page = soup(response)
    assert page.select_one("h1").get_text() == TITLES[code]
    assert page.select_one(".error-page form[role=search]")


def test_unexpected_exception_is_a_styled_500(app, client, monkeypatch):
    from microsite.content import listings

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(listings, "keyset_page", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production
    response = client.get("/")
    assert response.status_code == 500
    assert soup(response).select_one("h1").get_text() == "服务器出错了"
    assert "boom" not in response.get_data(as_text=True)


def test_sitemap_index_names_only_chunks_that_hold_articles(client, app):
    start = datetime(2024, 1, 1)
    for article_id in (50_000, 120_001):
        db.session.add(
            Article(id=article_id, title=f"t{article_id}", status=PUBLISHED, published_at=start)
        )
    db.session.commit()
    index = ET.fromstring(client.get("/sitemap.xml").data)
    files = [loc.text.rsplit("/", 1)[1] for loc in index.iter(f"{SITEMAP}loc")]
    assert files == ["sitemap-pages.xml", "sitemap-articles-1.xml", "sitemap-articles-3.xml"]
    for name in files:
        assert client.get(f"/{name}").status_code == 200
    assert client.get("/sitemap-articles-2.xml").status_code == 404
