"""Masked words show as *** wherever text is rendered; what is stored never changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from microsite import search
from microsite.content.models import Article
from microsite.extensions import db
from microsite.text import mask, mask_html
from tests.support.app import soup
from tests.support.forms import sign_in


@pytest.mark.parametrize(
    "text, expected",
    [
        ("前方路口交通拥堵", "前方路口交通拥堵"),  # 路口 / 交通: no word 口交 here
        ("他说口交是违法的", "他说***是违法的"),
        ("口交", "***"),
        ("网上赌博网站很多", "网上***很多"),  # longer words match anywhere
        ("赌博网站赌博网站", "******"),
    ],
)
def test_short_words_respect_chinese_word_boundaries(text, expected):
    assert mask(text, ("口交", "赌博网站")) == expected


def test_mask_html_leaves_tags_and_attributes_alone():
    html = '<p><a href="/tags/赌博网站" title="赌博网站">赌博网站</a></p>'
    assert (
        mask_html(html, ("赌博网站",)) == '<p><a href="/tags/赌博网站" title="赌博网站">***</a></p>'
    )


@pytest.fixture
def masked_article(client, admin_user):
    """An article written through the admin with masked words in its title and body."""
    sign_in(client)
    for word in ("口交", "赌博网站"):
        client.post("/admin/words", data={"word": word})
    response = client.post(
        "/admin/articles/new",
        data={
            "title": "警方查处赌博网站",
            "body": "某地警方查处一家赌博网站。\n前方路口交通拥堵，请绕行。",
            "category": "人力资讯",
            "status": "published",
            "save": "保存",
        },
    )
    assert response.status_code == 302
    return db.session.scalar(select(Article).filter_by(title="警方查处赌博网站"))


def test_article_page_masks_title_body_and_description(client, masked_article):
    page = soup(client.get(f"/articles/{masked_article.id}"))
    assert page.select_one("h1").get_text() == "警方查处***"
    body = page.select_one(".article__body").get_text()
    assert "某地警方查处一家***。" in body
    assert "前方路口交通拥堵" in body
    assert "赌博网站" not in page.select_one("main").get_text()
    assert "赌博网站" not in page.select_one("title").get_text()
    assert "赌博网站" not in page.select_one("meta[name=description]")["content"]


def test_lists_and_feed_are_masked(client, masked_article):
    home = soup(client.get("/"))
    assert "警方查处***" in [a.get_text() for a in home.select("ol.headlines a")]
    feed = client.get("/feed.xml").get_data(as_text=True)
    assert "警方查处***" in feed and "赌博网站" not in feed


def test_stored_text_is_never_rewritten(client, masked_article):
    db.session.refresh(masked_article)
    assert masked_article.title == "警方查处赌博网站"
    assert "赌博网站" in masked_article.body
    edit = soup(client.get(f"/admin/articles/{masked_article.id}/edit"))
    assert edit.select_one("input[name=title]")["value"] == "警方查处赌博网站"


def test_search_titles_and_snippets_are_masked(client, masked_article):
    search.rebuild()
    page = soup(client.get("/search", query_string={"q": "警方查处"}))
    hit = page.select_one(".search-hit")
    assert hit is not None
    assert hit.select_one(".search-hit__title").get_text() == "警方查处***"
    assert "***" in hit.select_one(".search-hit__snippet").get_text()
    assert "赌博网站" not in page.select_one("main").get_text()
