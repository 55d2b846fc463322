"""The related-headlines list in a real Chromium: click-to-load, Back, and no JavaScript."""

import re

import pytest
from playwright.sync_api import Page, expect

from microsite.content.models import Article
from tests.support.app import CLEARED_IN_SEED, SEED_TITLE
from tests.support.browser import watch_problems

pytestmark = pytest.mark.browser


@pytest.fixture
def article_url(live_server, live_app):
    with live_app.app_context():
        article = Article.query.filter_by(title=SEED_TITLE).one()
        return f"{live_server.url}/articles/{article.id}"


def numbers(page: Page) -> list[int]:
    return [
        int(v)
        for v in page.locator(".related li.headline").evaluate_all(
            "items => items.map(li => li.value)"
        )
    ]


def load_more(page: Page, times: int) -> None:
    for clicks in range(1, times + 1):
        page.locator(".related li.more a").click()
        expect(page.locator(".related li.headline")).to_have_count(10 * (clicks + 1))


def test_nine_clicks_load_all_100_in_order(page: Page, article_url):
    problems = watch_problems(page, ignore_failed_loads=False)
    page.goto(article_url)
    expect(page.locator(".related li.headline")).to_have_count(10)
    load_more(page, 9)
    assert numbers(page) == list(range(1, 101))
    expect(page.locator(".related li.more")).to_have_count(0)
    texts = page.locator(".related li.headline").all_inner_texts()
    assert len(set(texts)) == len(texts) - 1  # only the two identical cleared stamps repeat
    for number, stamp in CLEARED_IN_SEED.items():
        item = page.locator(f".related li.headline[value='{number}']")
        expect(item).to_have_text(f"标题和内容已经清空{stamp}")
        expect(item.locator("a")).to_have_count(0)
    assert page.url == article_url  # loading more never navigates
    assert problems == []  # no CSP violation, no script error


def test_back_after_following_a_headline_shows_the_full_page(page: Page, article_url):
    page.goto(article_url)
    load_more(page, 2)
    page.locator(".related li.headline[value='25'] a").click()
    expect(page).not_to_have_url(article_url)
    expect(page.locator(".article__body")).to_contain_text("本文正文暂不可用")
    page.go_back()
    expect(page).to_have_url(article_url)
    expect(page.locator("h1")).to_have_text(SEED_TITLE)
    expect(page.locator(".site-header .hotline")).to_be_visible()
    # Whether the browser restored the grown list or reloaded it, the list still works.
    count = page.locator(".related li.headline").count()
    assert count in (10, 30)
    assert numbers(page) == list(range(1, count + 1))
    page.locator(".related li.more a").click()
    expect(page.locator(".related li.headline")).to_have_count(count + 10)
    assert numbers(page) == list(range(1, count + 11))


def test_reload_of_a_related_url_is_a_full_page(page: Page, article_url):
    page.goto(article_url)
    load_more(page, 1)  # the fragment for page=2 is now in the browser's cache
    page.goto(f"{article_url}/related?page=2")
    expect(page.locator("h1")).to_have_text("相关头条 第2页")
    expect(page.locator(".site-footer")).to_be_visible()
    assert numbers_on_full_page(page) == list(range(11, 21))


def numbers_on_full_page(page: Page) -> list[int]:
    return [
        int(v)
        for v in page.locator("ol.headlines li.headline").evaluate_all(
            "items => items.map(li => li.value)"
        )
    ]


def test_without_javascript_the_row_is_a_plain_link(browser, article_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(article_url)
        page.get_by_role("link", name="加载更多").click()
        expect(page).to_have_url(re.compile(r"/related\?page=2$"))
        assert numbers_on_full_page(page) == list(range(11, 21))
        expect(page.locator("h1")).to_have_text("相关头条 第2页")
        expect(page.get_by_role("link", name=SEED_TITLE)).to_be_visible()
        page.get_by_role("link", name="← 返回文章").click()
        expect(page).to_have_url(article_url)
    finally:
        context.close()
