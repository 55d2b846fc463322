"""Active search in a real Chromium: results follow the typing without a page load, the URL
follows, Back brings the previous query's results back, and "加载更多结果" grows the list."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from microsite import search
from tests.support.browser import watch_problems

pytestmark = pytest.mark.browser


@pytest.fixture
def site(live_server, live_app):
    with live_app.app_context():
        search.rebuild()
    return live_server.url


def type_query(page: Page, text: str) -> None:
    box = page.locator("#site-search")
    box.fill("")
    box.press_sequentially(text, delay=40)


def test_typing_searches_without_a_page_load_and_back_restores(page: Page, site):
    problems = watch_problems(page, ignore_failed_loads=False)
    page.goto(f"{site}/")
    # A full page load would lose this flag; htmx swaps keep it.
    page.evaluate("window.stillTheSamePage = true")

    type_query(page, "网格员")
    expect(page).to_have_url(re.compile(re.escape(f"/search?q={quote('网格员')}") + "$"))
    first = page.locator(".search-hit").first
    expect(first.locator(".search-hit__snippet mark").first).to_have_text("网格员")
    expect(page).to_have_title(re.compile("^“网格员”的搜索结果"))

    type_query(page, "核酸检测")
    expect(page).to_have_url(re.compile(re.escape(f"q={quote('核酸检测')}") + "$"))
    expect(first.locator(".search-hit__snippet mark").first).to_have_text("核酸检测")
    assert page.evaluate("window.stillTheSamePage") is True

    page.go_back()
    expect(page).to_have_url(re.compile(re.escape(f"q={quote('网格员')}") + "$"))
    expect(page.locator("#site-search")).to_have_value("网格员")
    expect(
        page.locator(".search-hit").first.locator(".search-hit__snippet mark").first
    ).to_have_text("网格员")
    page.go_back()
    expect(page).to_have_url(f"{site}/")
    expect(page.locator("#site-search")).to_have_value("")
    assert problems == []


def test_results_page_opens_whole_and_loads_more_in_place(page: Page, site):
    problems = watch_problems(page, ignore_failed_loads=False)
    page.goto(f"{site}/search?q={quote('社区')}")
    expect(page.locator("h1")).to_have_text("搜索：社区")
    hits = page.locator("li.search-hit")
    expect(hits).to_have_count(10)
    page.locator("li.more a").click()
    expect(hits).to_have_count(20)
    values = hits.evaluate_all("items => items.map(li => li.value)")
    assert values == list(range(1, 21))
    assert page.url.endswith(f"q={quote('社区')}")  # loading more never navigates
    assert problems == []


def test_without_javascript_the_form_still_searches(browser, site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{site}/")
        page.locator("#site-search").fill("栗艳萍")
        page.locator("header button[type=submit]").click()
        expect(page).to_have_url(re.compile(re.escape(f"/search?q={quote('栗艳萍')}") + "$"))
        expect(page.locator(".search-hit__snippet mark").first).to_have_text("栗艳萍")
    finally:
        context.close()
