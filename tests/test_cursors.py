"""Paging cursors are bound to their list and page (issue 14.10): numbering is counted from
`page`, so another list's cursor, or this list's with another page, would number rows wrongly
and is refused with a 400 page."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from microsite.content.models import PUBLISHED, Article, Category, Tag
from microsite.extensions import db
from tests.support.app import ADMIN_PASSWORD, soup


@pytest.fixture
def lists(app):
    """45 articles; the odd ones (23) also carry the keyword 派遣."""
    news, dispatch = Category(name="人力资讯", slug="hr"), Tag(name="派遣")
    start = datetime(2024, 1, 1, 8, 0)
    for n in range(1, 46):
        article = Article(
            title=f"第{n}条",
            status=PUBLISHED,
            category=news,
            published_at=start + timedelta(minutes=n),
        )
        if n % 2:
            article.tags.append(dispatch)
        db.session.add(article)
    db.session.commit()


def more_link(response) -> str:
    return soup(response).select_one("li.more a")["href"]


def cursor_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["after"][0]


def numbers(response) -> list[int]:
    return [int(li["value"]) for li in soup(response).select("li.headline")]


def refused(response) -> bool:
    error = soup(response).select_one(".error-page")
    return response.status_code == 400 and error is not None and "翻页参数无效" in error.text


def test_a_list_follows_its_own_cursors(client, lists):
    tag_page = client.get(more_link(client.get("/tags/派遣")))
    assert tag_page.status_code == 200 and numbers(tag_page) == [21, 22, 23]
    home_2 = client.get(more_link(client.get("/")))
    home_3 = client.get(more_link(home_2))
    assert numbers(home_3) == list(range(41, 46))


def test_another_lists_cursor_is_refused(client, lists):
    """Home's page-2 cursor on the keyword list once gave rows 21–40 of 23: wrong numbers."""
    home_cursor = cursor_of(more_link(client.get("/")))
    assert refused(client.get("/tags/派遣", query_string={"page": 2, "after": home_cursor}))
    assert refused(client.get("/categories/hr", query_string={"page": 2, "after": home_cursor}))
    assert refused(client.get("/sitemap", query_string={"page": 2, "after": home_cursor}))
    tag_cursor = cursor_of(more_link(client.get("/tags/派遣")))
    assert refused(client.get("/", query_string={"page": 2, "after": tag_cursor}))


def test_a_cursor_with_another_page_number_is_refused(client, lists):
    cursor = cursor_of(more_link(client.get("/")))  # where page 2 starts
    assert client.get("/", query_string={"page": 2, "after": cursor}).status_code == 200
    assert refused(client.get("/", query_string={"page": 5, "after": cursor}))
    assert refused(client.get("/", query_string={"page": 1, "after": cursor}))


def test_a_cursor_with_another_position_is_refused(client, lists):
    cursor = cursor_of(more_link(client.get("/")))
    position, seal = cursor.rsplit(".", 1)
    moved = position.rsplit("-", 1)[0] + "-1"
    assert refused(client.get("/", query_string={"page": 2, "after": f"{moved}.{seal}"}))
    assert refused(client.get("/", query_string={"page": 2, "after": position}))  # unsealed


def test_a_seal_with_characters_outside_ascii_is_refused_not_a_500(client, lists):
    # Found by wapiti: hmac.compare_digest raises TypeError on non-ASCII text.
    cursor = cursor_of(more_link(client.get("/")))
    for tampered in (cursor + "¿'\"(", cursor.rsplit(".", 1)[0] + ".签名", "社区.社区"):
        assert refused(client.get("/", query_string={"page": 2, "after": tampered}))


def test_the_dashboard_refuses_a_cursor_of_another_filter(client, lists, admin_user):
    form = {"username": "editor", "password": ADMIN_PASSWORD}
    assert client.post("/admin/login", data=form).status_code == 302
    everything = client.get("/admin/")
    cursor = cursor_of(more_link(everything))
    assert client.get("/admin/", query_string={"page": 2, "after": cursor}).status_code == 200
    filtered = {"page": 2, "after": cursor, "status": PUBLISHED, "q": "第1"}
    assert client.get("/admin/", query_string=filtered).status_code == 400
