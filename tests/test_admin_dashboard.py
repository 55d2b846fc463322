"""The dashboard: every article, counts per status, filters, click-to-load pages."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from microsite.content.models import CLEARED, DRAFT, PUBLISHED, SCHEDULED, Article, Category
from microsite.extensions import db
from tests.support.app import soup


@pytest.fixture
def desk(desk, seeded):
    """A signed-in client, the seed page imported, plus one draft in a category of its own."""
    category = Category(name="政策解读", slug="政策解读")
    db.session.add(Article(title="草稿：社保新政解读", status=DRAFT, category=category))
    db.session.commit()
    return desk


def row_ids(page) -> list[int]:
    return [int(row["id"].removeprefix("article-")) for row in page.select("li.admin-row")]


def all_ids(client, url: str) -> list[int]:
    """Every row of a dashboard listing, following its "加载更多" rows through htmx."""
    page = soup(client.get(url))
    ids = row_ids(page)
    more = page.select_one("li.more a")
    while more is not None:
        fragment = client.get(more["hx-get"], headers={"HX-Request": "true"})
        assert "HX-Request" in fragment.headers["Vary"]
        part = soup(fragment)
        assert part.select_one("html, ol, h1") is None
        ids += row_ids(part)
        more = part.select_one("li.more a")
    return ids


def test_counts_per_status(desk):
    query = select(Article.status, func.count()).group_by(Article.status)
    expected = dict(db.session.execute(query).all())
    tabs = soup(desk.get("/admin/")).select(".status-tabs a")
    counts = {
        a.get_text(" ", strip=True).split()[0]: int(a.select_one(".count").text) for a in tabs
    }
    assert counts == {
        "全部": sum(expected.values()),
        "草稿": expected[DRAFT],
        "定时发表": expected.get(SCHEDULED, 0),
        "已发表": expected[PUBLISHED],
        "已清空": expected[CLEARED],
    }
    assert tabs[0]["aria-current"] == "page"


def test_click_to_load_walks_every_article_once_newest_first(desk):
    first = soup(desk.get("/admin/"))
    assert len(row_ids(first)) == 20
    more = first.select_one("li.more a")
    assert more["href"] == more["hx-get"] and more["hx-swap"] == "outerHTML"
    ids = all_ids(desk, "/admin/")
    assert ids == sorted(db.session.scalars(select(Article.id)), reverse=True)


def test_next_page_without_htmx_is_a_full_page(desk):
    more = soup(desk.get("/admin/")).select_one("li.more a")["href"]
    page = soup(desk.get(more))
    assert page.select_one("h1").get_text() == "文章管理" and len(row_ids(page)) == 20


def test_status_filter(desk):
    ids = all_ids(desk, "/admin/?status=cleared")
    cleared = select(Article.id).where(Article.status == CLEARED).order_by(Article.id.desc())
    assert ids == list(db.session.scalars(cleared))
    page = soup(desk.get("/admin/?status=cleared"))
    assert "标题和内容已经清空" in page.select_one("li.admin-row").get_text()
    assert page.select_one(".status-tabs a[aria-current]").get_text().startswith("已清空")


def test_category_filter_and_drafts_are_listed(desk):
    category = db.session.scalar(select(Category).filter_by(name="政策解读"))
    page = soup(desk.get(f"/admin/?category={category.id}"))
    rows = page.select("li.admin-row")
    assert len(rows) == 1 and "草稿：社保新政解读" in rows[0].get_text()
    assert "草稿" in rows[0].select_one(".status").get_text()
    assert page.select_one(f"#filter-category option[value='{category.id}']").has_attr("selected")


def test_title_search(desk, seeded):
    page = soup(desk.get("/admin/", query_string={"q": "社保新政"}))
    assert [row.select_one("a").get_text() for row in page.select("li.admin-row")] == [
        "草稿：社保新政解读"
    ]
    assert page.select_one("#filter-q")["value"] == "社保新政"
    # LIKE wildcards are searched for literally.
    assert soup(desk.get("/admin/?q=%25")).select("li.admin-row") == []


def test_filters_travel_with_the_next_page(desk, seeded):
    url = f"/admin/?status=published&category={seeded.category_id}"
    more = soup(desk.get(url)).select_one("li.more a")["href"]
    assert "status=published" in more and f"category={seeded.category_id}" in more
    ids = all_ids(desk, url)
    published = select(Article.id).where(
        Article.status == PUBLISHED, Article.category_id == seeded.category_id
    )
    assert sorted(ids, reverse=True) == ids and set(ids) == set(db.session.scalars(published))


@pytest.mark.parametrize(
    "query", ["status=deleted", "category=abc", "after=zzz", "page=0", "page=-1"]
)
def test_bad_filter_values_are_400(desk, query):
    assert desk.get(f"/admin/?{query}").status_code == 400
