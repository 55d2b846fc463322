"""The article page shows every element of the seed page; error pages are the site's own."""

import re

import pytest
from sqlalchemy import select

from microsite.content.models import CLEARED, Article, MaskedWord
from microsite.extensions import db
from tests.support.app import SEED_TITLE, soup


@pytest.fixture
def article_page(client, seeded):
    response = client.get(f"/articles/{seeded.id}")
    assert response.status_code == 200
    return soup(response)


def test_page_is_chinese_utf8_html(client, seeded):
    response = client.get(f"/articles/{seeded.id}")
    assert response.mimetype == "text/html"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert soup(response).html["lang"] == "zh-CN"


def test_header_shows_the_hotline(article_page):
    hotline = article_page.select_one(".site-header .hotline")
    assert hotline.get_text(strip=True) == "客服热线：0755-8882 8155"


def test_title_and_byline(article_page):
    assert article_page.select_one("h1").get_text() == SEED_TITLE
    assert article_page.title.get_text().startswith(SEED_TITLE)
    byline = article_page.select_one(".byline").get_text(" ", strip=True)
    assert re.sub(r"\s+", " ", byline) == "Admin - admin 于 2022年09月02日 发表"
    assert article_page.select_one(".byline time")["datetime"] == "2022-09-02T00:00:00"


def test_body_has_paragraphs_and_three_subheadings(article_page):
    body = article_page.select_one(".article__body")
    assert [h.get_text() for h in body.select("h2")] == [
        "严排严查 疫情防控有“术”",
        "群策群力 摸排宣传得力",
        "真心诚意 换来温暖回应",
    ]
    paragraphs = [p.get_text() for p in body.select("p")]
    assert paragraphs[0].startswith("连日来,全省各地城乡社区保持外防输入戒备状态")
    assert paragraphs[-1] == "(张谦 李家鸣 郑娜)"
    # 26 indented lines in the seed: 3 sub-headings, 23 paragraphs, plus the reporters line.
    assert len(paragraphs) == 24


def test_source_disclaimer(article_page):
    note = article_page.select_one(".source-note").get_text()
    assert note == "本文章内容来源于网络公开内容,仅供参考!不对文章内容时效、真实性负责"


def test_footer_and_keyword_links(article_page):
    footer = {a.get_text(): a["href"] for a in article_page.select(".footer-links a")}
    assert footer["关于我们"] == "/pages/about"
    assert footer["加入我们"] == "/pages/join"
    assert footer["人力资讯TOP500"] == "/top"
    assert footer["网站地图"] == "/sitemap"
    assert "临时工招聘信息" in footer and "兼职招聘信息" in footer
    keywords = [a.get_text() for a in article_page.select(".keyword-links a")]
    assert keywords == [
        "劳务派遣",
        "深圳劳务派遣公司",
        "劳务派遣公司",
        "深圳临时工派遣公司",
        "深圳临时工派遣中介",
    ]
    assert (
        article_page.select_one(".keyword-links a")["href"]
        == "/tags/%E5%8A%B3%E5%8A%A1%E6%B4%BE%E9%81%A3"
    )


def test_first_ten_related_headlines_numbered(article_page):
    items = article_page.select(".related li.headline")
    assert [int(li["value"]) for li in items] == list(range(1, 11))
    assert items[0].get_text(strip=True) == "中国少年先锋队烟台市芝罘区第五次代表大会召开图"
    assert items[0].a["href"].startswith("/articles/")
    assert article_page.select_one(".related li.more a").get_text() == "加载更多"


def test_cleared_headline_reads_as_in_seed_without_link(client, seeded):
    response = client.get(f"/articles/{seeded.id}/related?page=2")
    items = soup(response).select("li.headline")
    cleared = items[7]  # number 18
    assert cleared["value"] == "18"
    assert cleared.get_text(strip=True) == "标题和内容已经清空2022-09-09 11:48:22"
    assert cleared.a is None


def test_title_only_headline_says_body_is_missing(client, seeded):
    first = soup(client.get(f"/articles/{seeded.id}")).select_one(".related li.headline a")
    response = client.get(first["href"])
    assert response.status_code == 200
    assert "本文正文暂不可用" in soup(response).select_one(".article__body").get_text()


def test_masked_word_rendered_as_stars_but_stored_intact(client, seeded):
    db.session.add(MaskedWord(word="网格员"))
    db.session.commit()
    body = soup(client.get(f"/articles/{seeded.id}")).select_one(".article__body").get_text()
    assert "网格员" not in body
    assert "***孟晓娟回应道" in body
    db.session.refresh(seeded)
    assert "网格员孟晓娟" in seeded.body


def test_unknown_article_is_a_styled_404(client, seeded):
    response = client.get("/articles/999999")
    assert response.status_code == 404
    page = soup(response)
    assert page.select_one("h1").get_text() == "页面不存在"
    assert page.select_one(".site-header .hotline")  # the site's own frame
    assert page.select_one(".error-page a[href='/']")


def test_cleared_article_is_a_styled_410(client, seeded):
    article = db.session.scalars(select(Article).filter_by(status=CLEARED)).first()
    response = client.get(f"/articles/{article.id}")
    assert response.status_code == 410
    page = soup(response)
    assert page.select_one("h1").get_text() == "内容已经清空"
    assert "标题和内容已经清空" in page.select_one(".error-page").get_text()


@pytest.mark.parametrize("url", ["/articles/abc", "/articles/99999999999999999999", "/articles/-1"])
def test_bad_article_urls_are_404_not_500(client, seeded, url):
    assert client.get(url).status_code == 404


def test_slug_tail_redirects_to_canonical(client, seeded):
    response = client.get(f"/articles/{seeded.id}-la-jin-jing-jie-xian")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/articles/{seeded.id}"


def test_home_lists_latest_headlines_numbered(client, seeded):
    page = soup(client.get("/"))
    items = page.select("ol.headlines li.headline")
    assert len(items) == 20
    assert items[0]["value"] == "1"
    assert items[0].get_text(strip=True) == SEED_TITLE
    assert page.select_one("li.more a")["href"].startswith("/?page=2&after=")


def test_static_files_have_versioned_urls_cached_for_a_year(client, seeded):
    page = soup(client.get(f"/articles/{seeded.id}"))
    css = page.select_one("link[rel=stylesheet]")["href"]
    script = page.select_one("script[src]")["src"]
    assert "htmx-2.0.11" in script
    for url in (css, script):
        assert "?v=" in url
        with client.get(url) as response:
            assert response.status_code == 200
            assert response.cache_control.max_age == 365 * 24 * 3600
    with client.get("/static/css/site.css") as response:
        assert response.cache_control.max_age is None
