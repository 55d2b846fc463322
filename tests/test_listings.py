"""Headline lists: numbering, order, paging by cursor, fragments vs pages, bad page values."""

from datetime import datetime, timedelta

import pytest

from microsite.content import listings
from microsite.content.models import CLEARED, DRAFT, PUBLISHED, Article, Category, Tag
from microsite.extensions import db
from tests.support.app import POSTGRES, soup
from tests.support.sql import statements


@pytest.fixture
def many(app):
    """45 articles in one category, one minute apart, plus a draft that must never show."""
    news = Category(name="人力资讯", slug="hr")
    start = datetime(2024, 1, 1, 8, 0)
    rows = [
        Article(
            title=f"第{n}条",
            status=PUBLISHED,
            category=news,
            published_at=start + timedelta(minutes=n),
        )
        for n in range(1, 46)
    ]
    rows[9].status, rows[9].cleared_at = CLEARED, datetime(2024, 2, 1, 9, 30, 5)
    db.session.add_all(
        [*rows, Article(title="草稿", status=DRAFT, category=news, published_at=start)]
    )
    db.session.commit()
    return rows


def texts(response):
    return [li.get_text(strip=True) for li in soup(response).select("li.headline")]


def values(response):
    return [int(li["value"]) for li in soup(response).select("li.headline")]


def test_home_pages_continue_numbering_with_a_cursor(client, many):
    first = client.get("/")
    assert values(first) == list(range(1, 21))
    assert texts(first)[0] == "第45条"
    more = soup(first).select_one("li.more a")["href"]
    second = client.get(more)
    assert values(second) == list(range(21, 41))
    assert texts(second)[0] == "第25条"
    third = client.get(soup(second).select_one("li.more a")["href"])
    assert values(third) == list(range(41, 46))
    assert soup(third).select_one("li.more") is None
    all_texts = texts(first) + texts(second) + texts(third)
    assert "草稿" not in all_texts
    assert "标题和内容已经清空2024-02-01 09:30:05" in all_texts


def test_hand_typed_page_without_cursor_still_answers(client, many):
    assert values(client.get("/?page=2")) == list(range(21, 41))


def test_fragment_has_rows_only_and_varies_on_hx_request(client, many):
    url = soup(client.get("/")).select_one("li.more a")["href"]
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "HX-Request" in fragment.headers["Vary"]
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "<body" not in body
    assert values(fragment) == list(range(21, 41))
    full = client.get(url)
    assert "HX-Request" in full.headers["Vary"]
    assert soup(full).html["lang"] == "zh-CN"
    assert soup(full).select_one(".site-footer")


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "1.5", "２", "9999999", ""])
def test_bad_page_values_are_400(client, many, bad):
    response = client.get(f"/?page={bad}")
    assert response.status_code == 400
    assert "页码" in soup(response).select_one(".error-page").get_text()


@pytest.mark.parametrize("cursor", ["garbage", "20241301000000-1", "1-2-3", "x" * 500])
def test_bad_cursor_is_400(client, many, cursor):
    assert client.get(f"/?page=2&after={cursor}").status_code == 400


def test_page_beyond_the_end_is_404(client, many):
    assert client.get("/?page=4").status_code == 404


def test_category_and_tag_listings_use_the_same_pager(client, many):
    response = client.get("/categories/hr")
    assert values(response) == list(range(1, 21))
    assert soup(response).select_one("h1").get_text() == "人力资讯"
    assert client.get("/categories/none").status_code == 404
    assert client.get("/tags/none").status_code == 404


def test_related_numbering_order_and_bounds(client, many):
    article = many[44]  # 第45条
    page3 = client.get(f"/articles/{article.id}/related?page=3", headers={"HX-Request": "true"})
    assert values(page3) == list(range(21, 31))
    everything = []
    for n in range(1, 6):
        everything += texts(client.get(f"/articles/{article.id}/related?page={n}"))
    assert len(everything) == 44  # every other listed article, never itself
    assert "第45条" not in everything and "草稿" not in everything
    assert everything[0] == "第44条"  # same category, latest first
    assert client.get(f"/articles/{article.id}/related?page=6").status_code == 404
    assert client.get(f"/articles/{article.id}/related?page=x").status_code == 400


def test_related_list_stops_at_100(app, client):
    start = datetime(2024, 1, 1)
    db.session.add_all(
        Article(title=f"t{n}", status=PUBLISHED, published_at=start + timedelta(seconds=n))
        for n in range(130)
    )
    db.session.commit()
    article = db.session.scalars(db.select(Article).limit(1)).one()
    assert len(listings.related_ids(article, 100)) == 100
    assert values(client.get(f"/articles/{article.id}/related?page=10"))[-1] == 100
    assert client.get(f"/articles/{article.id}/related?page=11").status_code == 404


def test_later_pages_use_the_cursor_not_offset(app, client, many):
    app.config["PAGE_CACHE_DIR"] = ""  # compare what rendering runs, not a stored page
    url = soup(client.get("/")).select_one("li.more a")["href"]
    seen = statements(app, lambda: client.get(url))
    # The headline query; the category names beside it look into articles only in a subquery.
    listing = [(s, p) for s, p in seen if "FROM articles" in s and "ORDER BY articles." in s]
    assert listing
    for statement, parameters in listing:
        assert "(articles.published_at, articles.id) <" in statement
        # SQLite always renders "LIMIT ? OFFSET ?": the cursor page must skip nothing.
        assert "OFFSET" not in statement or parameters[-1] == 0
    assert len(statements(app, lambda: client.get("/"))) == len(seen)


# --- ties: many rows with the same sort key across page boundaries ---------------------------

SAME_MOMENT = datetime(2024, 3, 1, 9, 30)


@pytest.fixture
def same_moment(app):
    """45 articles published at the same second, in one category and with one keyword, with
    the same view count, plus a few older and more-read ones around them."""
    news = Category(name="同刻新闻", slug="same")
    tag = Tag(name="同一时刻")
    tied = [
        Article(
            title=f"同时发表{n}",
            status=PUBLISHED,
            category=news,
            tags=[tag],
            published_at=SAME_MOMENT,
            view_count=7,
        )
        for n in range(1, 46)
    ]
    others = [
        Article(
            title=f"更早{n}",
            status=PUBLISHED,
            category=news,
            tags=[tag],
            published_at=SAME_MOMENT - timedelta(minutes=n),
            view_count=100 + n,
        )
        for n in range(1, 4)
    ]
    db.session.add_all([*tied, *others])
    db.session.commit()
    return tied, others


def walk(client, url: str, htmx: bool) -> tuple[list[int], list[int]]:
    """Every page of a list through its "加载更多" links: (article ids, row numbers) in order."""
    ids: list[int] = []
    numbers: list[int] = []
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.get(url)
    for _ in range(20):  # a list of 48 rows has 3 pages; more means the walk is looping
        assert response.status_code == 200, url
        page = soup(response)
        for row in page.select("li.headline"):
            numbers.append(int(row["value"]))
            ids.append(int(row.select_one("a")["href"].rsplit("/", 1)[1]))
        more = page.select_one("li.more a")
        if more is None:
            return ids, numbers
        url = more["href"]
        response = client.get(url, headers=headers)
    raise AssertionError(f"still more pages after 20: {url}")


@pytest.mark.parametrize("htmx", [False, True], ids=["pages", "fragments"])
@pytest.mark.parametrize("url", ["/", "/tags/同一时刻", "/categories/same"])
def test_rows_with_the_same_time_are_listed_once_each_numbered_without_gaps(
    client, same_moment, url, htmx
):
    tied, others = same_moment
    ids, numbers = walk(client, url, htmx)
    assert numbers == list(range(1, len(tied) + len(others) + 1))
    assert len(ids) == len(set(ids))
    # Newest first; among the same second, the later written first; then the older ones.
    expected = sorted((a.id for a in tied), reverse=True) + [a.id for a in others]
    assert ids == expected


@pytest.mark.parametrize("htmx", [False, True], ids=["pages", "fragments"])
def test_top_with_equal_view_counts_is_listed_once_each_numbered_without_gaps(
    client, same_moment, htmx
):
    tied, others = same_moment
    ids, numbers = walk(client, "/top", htmx)
    assert numbers == list(range(1, len(tied) + len(others) + 1))
    assert len(ids) == len(set(ids))
    most_read = [a.id for a in sorted(others, key=lambda a: a.view_count, reverse=True)]
    assert ids == most_read + sorted((a.id for a in tied), reverse=True)


@pytest.mark.skipif(bool(POSTGRES), reason="reads SQLite's query plan")
def test_live_lists_use_article_is_live_and_walk_an_index_in_order(app, seeded):
    """The one definition of a live article still lets the planner read the newest (or most
    read) rows straight from an index: no sort of every live article."""
    for query, index in [
        (listings.live_query(), "ix_articles_status_published"),
        (listings.most_read_query(), "ix_articles_status_views"),
    ]:
        literal = {"literal_binds": True}
        sql = str(query.limit(20).compile(db.engine, compile_kwargs=literal))
        assert str(Article.is_live.expression.compile(db.engine, compile_kwargs=literal)) in sql
        connection = db.session.connection()
        plan = [row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
        assert any(index in step for step in plan), plan
        assert not any("TEMP B-TREE" in step or step.startswith("SCAN") for step in plan), plan
