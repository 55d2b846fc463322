"""Back to a URL that htmx fetched as a fragment, in a real Chromium, always shows a whole page
(README, "How the headline lists work": `historyRestoreAsHxRequest: false` and
`Vary: HX-Request`).

Two ways a fragment could end up as the whole page:
- htmx restores a pushed URL whose snapshot is not in its history cache by fetching it; sent
  as an htmx request (`HX-Request: true`), the answer would be the fragment alone;
- the browser's HTTP cache holds the fragment under the same URL, and a Back from another
  page could show it, unless the response varies on HX-Request.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from microsite import search

pytestmark = pytest.mark.browser

QUERY = "网格员"


@pytest.fixture
def site(live_server, live_app) -> str:
    with live_app.app_context():
        search.rebuild()
    return live_server.url


def no_history_cache(page: Page) -> None:
    """From now on htmx keeps no page snapshots, so every Back must ask the server."""
    page.wait_for_function("() => window.htmx !== undefined")
    page.evaluate(
        """() => {
            htmx.config.historyCacheSize = 0;  // htmx 2.0.11's name (sessionStorage)
            htmx.config.historySize = 0;  // the name in earlier 2.0 releases (localStorage)
            sessionStorage.removeItem("htmx-history-cache");
            localStorage.removeItem("htmx-history-cache");
        }"""
    )


def search_by_typing(page: Page, text: str) -> None:
    box = page.locator("#site-search")
    box.fill(text)
    expect(page).to_have_url(re.compile(re.escape(f"/search?q={quote(text)}") + "$"))
    expect(page.locator("li.search-hit").first).to_be_visible()


def expect_whole_search_page(page: Page) -> None:
    """One header, one footer, one <main> with the results: a page, not a fragment."""
    expect(page.locator(".site-header")).to_have_count(1)
    expect(page.locator(".site-footer")).to_have_count(1)
    expect(page.locator("main#main")).to_have_count(1)
    expect(page.locator(".site-header #site-search")).to_be_visible()
    expect(page.locator("li.search-hit").first).to_be_visible()
    expect(page).to_have_title(re.compile(f"^“{QUERY}”的搜索结果"))


def test_back_with_the_history_cache_missed_restores_a_whole_page(page: Page, site):
    restores: list[dict] = []

    def note_restore(request) -> None:
        headers = request.headers
        if headers.get("hx-history-restore-request") == "true":
            restores.append(headers)

    page.on("request", note_restore)
    page.goto(f"{site}/")
    no_history_cache(page)
    # The results arrive as a fragment for <main>, and htmx pushes their URL.
    search_by_typing(page, QUERY)
    assert page.locator(".site-footer").count() == 1
    # Elsewhere through htmx: the sort link is another fragment and another pushed URL.
    page.get_by_role("link", name="按发布时间").click()
    expect(page).to_have_url(re.compile(r"sort=date$"))
    expect(page.locator(".search-sort [aria-current]")).to_have_text("按发布时间")

    page.go_back()
    expect(page).to_have_url(re.compile(re.escape(f"/search?q={quote(QUERY)}") + "$"))
    expect(page.locator(".search-sort [aria-current]")).to_have_text("按相关度")
    expect_whole_search_page(page)
    # htmx asked the server for the page, as a history restore and not as an htmx request
    # (the server also answers a restore with the whole page: two layers).
    assert len(restores) == 1, restores
    assert "hx-request" not in restores[0], restores[0]


def test_back_from_another_page_to_a_url_fetched_as_a_fragment_shows_a_whole_page(page: Page, site):
    page.goto(f"{site}/")
    no_history_cache(page)
    search_by_typing(page, QUERY)  # the browser now holds the fragment for this URL
    page.locator("li.search-hit a").first.click()
    expect(page.locator(".article__body")).to_be_visible()

    page.go_back()
    expect(page).to_have_url(re.compile(re.escape(f"/search?q={quote(QUERY)}") + "$"))
    expect_whole_search_page(page)
    page.reload()
    expect_whole_search_page(page)
