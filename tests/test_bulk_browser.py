"""Bulk actions and user pages in a real Chromium: an editor clears three articles at once and
undoes it; "全选本页" follows rows loaded by htmx; the new pages pass axe and the Nu validator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from microsite.content.models import PUBLISHED, Article
from microsite.extensions import db
from microsite.text import local_now
from tests.support.browser import sign_in_page, watch_problems
from tests.support.factories import make_user
from tests.support.standards import axe_violations, horizontal_overflow, nu_errors_in, save_page

pytestmark = pytest.mark.browser
PREFIX = "骑手新规批量"


@pytest.fixture
def site(live_app, live_server):
    """The live server (seed imported, CSRF on), an editor, an admin, three new articles."""
    with live_app.app_context():
        make_user("writer", display_name="记者", role="editor")
        make_user("boss", display_name="总编")
        ids = []
        for n in (1, 2, 3):
            article = Article(
                title=f"{PREFIX}第{n}篇",
                body=f"<p>外卖骑手灵活用工第{n}条。</p>",
                status=PUBLISHED,
                published_at=local_now() - timedelta(hours=n),
            )
            db.session.add(article)
            db.session.commit()
            ids.append(article.id)
        db.session.remove()
    return live_server.url, ids


def test_an_editor_clears_three_articles_at_once_and_undoes_it(page: Page, site):
    base, ids = site
    problems = watch_problems(page)
    sign_in_page(page, base, "writer")
    page.goto(f"{base}/admin/?status=published&q={PREFIX}")
    expect(page.locator("li.admin-row")).to_have_count(3)
    for article_id in ids:
        page.locator(f"#select-{article_id}").check()
    expect(page.locator("#bulk-count")).to_have_text("已选 3 篇")
    expect(page.get_by_label("全选本页")).to_be_checked()
    page.get_by_label("对勾选的文章").select_option("clear")
    page.get_by_role("button", name="执行").click()

    # Back on the same filtered view, which now holds none of them, with the summary.
    expect(page).to_have_url(f"{base}/admin/?status=published&q={quote(PREFIX)}")
    expect(page.locator(".flash--bulk")).to_have_text("已清空 3 篇。")
    expect(page.locator("li.admin-row")).to_have_count(0)
    for article_id in ids:
        assert page.request.get(f"{base}/articles/{article_id}").status == 410

    page.get_by_role("button", name="撤销这次批量操作").click()
    expect(page.locator(".flash--bulk")).to_have_text("已撤销 3 篇。")
    expect(page.locator("li.admin-row .status", has_text="已发表")).to_have_count(3)
    expect(page.get_by_role("button", name="撤销这次批量操作")).to_have_count(0)
    for n, article_id in enumerate(ids, 1):
        assert page.goto(f"{base}/articles/{article_id}").status == 200
        expect(page.locator("h1")).to_have_text(f"{PREFIX}第{n}篇")
    page.goto(f"{base}/")
    expect(page.locator("ol.headlines a", has_text=PREFIX)).to_have_count(3)
    assert problems == []


def test_select_all_follows_rows_loaded_by_htmx(page: Page, site):
    base, _ids = site
    problems = watch_problems(page)
    sign_in_page(page, base, "writer")
    rows = page.locator("input[name=ids]")
    expect(rows).to_have_count(20)
    select_all = page.get_by_label("全选本页")
    select_all.check()
    expect(page.locator("#bulk-count")).to_have_text("已选 20 篇")
    page.locator("li.more a").click()
    expect(rows).to_have_count(40)
    # New rows arrive unticked: the page is now partly selected.
    expect(select_all).not_to_be_checked()
    assert select_all.evaluate("box => box.indeterminate")
    select_all.check()
    expect(page.locator("#bulk-count")).to_have_text("已选 40 篇")
    assert page.locator("input[name=ids]:checked").count() == 40
    select_all.uncheck()
    expect(page.locator("#bulk-count")).to_have_text("")
    assert problems == []


def test_without_javascript_the_form_still_works(browser: Browser, site):
    base, ids = site
    context = browser.new_context(java_script_enabled=False)
    page = sign_in_page(context.new_page(), base, "writer")
    try:
        expect(page.get_by_label("全选本页")).to_be_hidden()
        page.goto(f"{base}/admin/?q={PREFIX}")
        for article_id in ids[:2]:
            page.locator(f"#select-{article_id}").check()
        page.get_by_label("对勾选的文章").select_option("unpublish")
        page.get_by_role("button", name="执行").click()
        expect(page.locator(".flash--bulk")).to_have_text("已撤回为草稿 2 篇。")
        page.get_by_role("button", name="撤销这次批量操作").click()
        expect(page.locator(".flash--bulk")).to_have_text("已撤销 2 篇。")
        expect(page.locator(".status", has_text="已发表")).to_have_count(3)
    finally:
        context.close()


# --- standards -----------------------------------------------------------------------------


def _pages_to_check(page: Page, base: str, ids: list[int]) -> Iterator[str]:
    """Open each new admin page in turn and yield its name while the browser shows it."""
    page.goto(f"{base}/admin/?q={PREFIX}")
    page.get_by_label("全选本页").check()
    page.get_by_label("对勾选的文章").select_option("clear")
    page.get_by_role("button", name="执行").click()
    page.wait_for_selector("form.flash-undo")
    yield "dashboard-summary"
    for name, path in (("users", "/admin/users"), ("new-user", "/admin/users/new")):
        page.goto(base + path)
        yield name
    page.goto(f"{base}/admin/users/new")
    page.locator("input[name=username]").fill("two words")
    page.get_by_role("button", name="创建用户").click()
    page.wait_for_selector(".field__error")
    yield "new-user-errors"
    page.goto(f"{base}/admin/users/1/password")
    yield "reset-password"


def test_new_admin_pages_pass_axe_and_fit_a_phone(browser: Browser, site):
    base, ids = site
    context = browser.new_context(bypass_csp=True, viewport={"width": 360, "height": 740})
    page = sign_in_page(context.new_page(), base, "boss")
    found, overflow = {}, {}
    try:
        for name in _pages_to_check(page, base, ids):
            found[name] = axe_violations(page)
            overflow[name] = horizontal_overflow(page)
    finally:
        context.close()
    assert {name: v for name, v in found.items() if v} == {}
    assert {name: v for name, v in overflow.items() if v} == {}


def test_new_admin_pages_pass_the_nu_validator(browser: Browser, site, tmp_path):
    base, ids = site
    context = browser.new_context()
    page = sign_in_page(context.new_page(), base, "boss")
    try:
        files = [save_page(page, tmp_path, name) for name in _pages_to_check(page, base, ids)]
    finally:
        context.close()
    assert nu_errors_in(files) == []
