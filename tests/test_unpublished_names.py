"""Category and keyword names are public only while a live article carries them (issue 14.7).

The attack: an editor files a draft and a scheduled article under a new category and keyword;
a reader crawls every public page, feed and sitemap looking for those names, and asks for
their list pages directly. Nothing may announce them before the articles go live.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import deque
from datetime import timedelta
from urllib.parse import quote, unquote, urlsplit

import pytest
from sqlalchemy import event

from microsite.content.models import CLEARED, DRAFT, PUBLISHED, SCHEDULED, Article, Category, Tag
from microsite.content.site import save_settings
from microsite.extensions import db
from microsite.text import local_now
from tests.support.app import POSTGRES, soup

SECRET_CATEGORY, SECRET_SLUG, SECRET_TAG = "并购预告", "merger-plans", "裁员名单"
CLEARED_CATEGORY, CLEARED_SLUG, CLEARED_TAG = "撤稿专题", "withdrawn", "撤稿关键词"
SECRETS = (SECRET_CATEGORY, SECRET_SLUG, SECRET_TAG, CLEARED_CATEGORY, CLEARED_SLUG, CLEARED_TAG)
CRAWL_LIMIT = 400
# Not followed: the desk, search (it echoes what is typed) and files; and related-headline pages,
# which only repeat headlines whose article pages are crawled anyway.
SKIPPED = re.compile(r"^/(admin|search|static|media)\b|^/articles/\d+/related")


def article_under(category: Category, tag: Tag, **fields) -> Article:
    article = Article(title="内部稿件", body="<p>尚未公开</p>", category=category, tags=[tag])
    for name, value in fields.items():
        setattr(article, name, value)
    db.session.add(article)
    return article


@pytest.fixture
def unpublished(app, seeded):
    """A draft and a scheduled article under a secret category and keyword, and a cleared
    article that is the only one left under another category and keyword."""
    secret = Category(name=SECRET_CATEGORY, slug=SECRET_SLUG)
    secret_tag = Tag(name=SECRET_TAG)
    article_under(secret, secret_tag, status=DRAFT)
    later = local_now() + timedelta(days=1)
    article_under(secret, secret_tag, status=SCHEDULED, scheduled_for=later)
    withdrawn = Category(name=CLEARED_CATEGORY, slug=CLEARED_SLUG)
    withdrawn_tag = Tag(name=CLEARED_TAG)
    article_under(
        withdrawn,
        withdrawn_tag,
        status=CLEARED,
        published_at=local_now() - timedelta(days=1),
        cleared_at=local_now(),
    )
    db.session.commit()
    return secret, secret_tag


def links_in(response) -> list[str]:
    """Same-site paths a reader (or crawler) can follow from this response."""
    if response.mimetype == "text/html":
        page = soup(response)
        found = [a["href"] for a in page.select("a[href]")]
        found += [a["hx-get"] for a in page.select("[hx-get]")]
    elif response.mimetype in {"application/xml", "application/atom+xml"}:
        tree = ET.fromstring(response.data)
        found = [el.text or "" for el in tree.iter() if el.tag.endswith("loc")]
        found += [el.get("href", "") for el in tree.iter() if el.tag.endswith("link")]
    else:
        found = [
            line.split(": ", 1)[1]
            for line in response.get_data(as_text=True).splitlines()
            if line.startswith("Sitemap: ")
        ]
    paths = []
    for link in found:
        parts = urlsplit(link)
        if parts.netloc in {"", "localhost"} and parts.path.startswith("/"):
            paths.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return paths


def crawl(client, *starts: str) -> dict[str, str]:
    """Every public page reachable from `starts` (not the desk, not search), with its text."""
    seen: dict[str, str] = {}
    queue = deque(starts)
    while queue and len(seen) < CRAWL_LIMIT:
        path = queue.popleft()
        if path in seen or SKIPPED.match(path):
            continue
        response = client.get(path)
        seen[path] = unquote(path) + "\n" + response.get_data(as_text=True)
        queue.extend(links_in(response))
    assert len(seen) < CRAWL_LIMIT, "crawl did not finish"
    return seen


def test_names_of_unpublished_articles_appear_on_no_public_page(client, unpublished):
    pages = crawl(client, "/", "/sitemap", "/top", "/robots.txt", "/sitemap.xml", "/feed.xml")
    assert {"/", "/sitemap", "/sitemap-pages.xml", "/feed.xml"} <= pages.keys()
    assert any(path.startswith("/categories/") for path in pages)
    assert any(path.startswith("/tags/") for path in pages)
    for path, text in pages.items():
        leaked = [name for name in SECRETS if name in text]
        assert not leaked, (path, leaked)


@pytest.mark.parametrize(
    "path",
    [
        f"/categories/{SECRET_SLUG}",
        f"/tags/{quote(SECRET_TAG)}",
        f"/categories/{CLEARED_SLUG}",
        f"/tags/{quote(CLEARED_TAG)}",
        f"/tags/{quote(SECRET_TAG)}?page=2",
    ],
)
def test_their_list_pages_are_404(client, unpublished, path):
    response = client.get(path)
    assert response.status_code == 404
    assert soup(response).select_one("h1").get_text() == "页面不存在"
    assert client.get(path, headers={"HX-Request": "true"}).status_code == 404


def test_a_name_becomes_public_with_its_first_live_article(client, unpublished):
    secret, secret_tag = unpublished
    draft = db.session.scalars(db.select(Article).filter_by(status=DRAFT)).one()
    draft.status, draft.published_at = PUBLISHED, local_now()
    db.session.commit()
    home = soup(client.get("/"))
    assert SECRET_CATEGORY in {a.get_text(strip=True) for a in home.select("a")}
    site_map = client.get("/sitemap").get_data(as_text=True)
    assert SECRET_CATEGORY in site_map and SECRET_TAG in site_map
    xml = client.get("/sitemap-pages.xml").get_data(as_text=True)
    assert f"/categories/{SECRET_SLUG}" in xml and f"/tags/{quote(SECRET_TAG)}" in xml
    for path in (f"/categories/{SECRET_SLUG}", f"/tags/{quote(SECRET_TAG)}"):
        listed = soup(client.get(path)).select("li.headline")
        assert [li.get_text(strip=True) for li in listed] == ["内部稿件"]


def test_a_name_shared_with_a_live_article_stays_public(client, seeded):
    shared = db.session.scalars(db.select(Tag).filter_by(name="劳务派遣")).one()
    category = db.session.scalars(db.select(Category).filter_by(name="人力资讯")).one()
    article_under(category, shared, status=DRAFT)
    db.session.commit()
    assert client.get(f"/tags/{quote('劳务派遣')}").status_code == 200
    assert client.get(f"/categories/{quote('人力资讯')}").status_code == 200
    assert "劳务派遣" in client.get("/sitemap").get_data(as_text=True)


def test_a_footer_category_without_articles_still_answers(client, seeded):
    # The seed's footer links 临时工招聘信息 to its own (empty) category: not a dead link.
    footer = soup(client.get("/")).select_one("footer")
    href = footer.find("a", string="临时工招聘信息")["href"]
    response = client.get(href)
    assert response.status_code == 200
    assert not soup(response).select("li.headline")
    assert "临时工招聘信息" not in soup(client.get("/")).select_one("main").get_text()


def test_a_footer_keyword_whose_articles_are_unpublished_still_answers(client, unpublished):
    save_settings(keyword_links=[SECRET_TAG])
    db.session.commit()
    footer = soup(client.get("/")).select_one("footer")
    response = client.get(footer.find("a", string=SECRET_TAG)["href"])
    assert response.status_code == 200
    assert not soup(response).select("li.headline")  # the draft and the scheduled one stay out
    assert client.get(f"/tags/{quote(CLEARED_TAG)}").status_code == 404


@pytest.mark.skipif(bool(POSTGRES), reason="SQLite's query planner")
def test_each_name_costs_one_index_seek_not_a_walk_over_live_articles(app, client, unpublished):
    app.config["PAGE_CACHE_DIR"] = ""  # what rendering runs, not a stored page
    seen: list[tuple[str, tuple]] = []

    def record(_conn, _cursor, statement, parameters, *_args) -> None:
        if "EXISTS" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for path in ("/", "/sitemap", "/sitemap-pages.xml", f"/tags/{quote('劳务派遣')}"):
            assert client.get(path).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(seen) >= 4
    connection = db.session.connection()
    for statement, parameters in seen:
        plan = [
            row[3]
            for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]
        probes = [step for step in plan if "articles" in step or "article_tags" in step]
        assert all(
            "ix_articles_category_published (category_id=?)" in step
            or "ix_article_tags_tag (tag_id=?)" in step
            or "INTEGER PRIMARY KEY" in step
            for step in probes
        ), (statement, plan)
