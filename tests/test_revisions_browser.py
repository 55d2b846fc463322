"""Revisions in a real Chromium: an editor edits an imported article twice, reads the word-level
diff of the first version and restores it; readers then see the first version again."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from microsite.content import revisions
from microsite.content.models import Article, Revision
from microsite.extensions import db
from tests.support.app import ADMIN_PASSWORD, SEED_TITLE
from tests.support.browser import sign_in_page, watch_problems
from tests.support.factories import make_user
from tests.support.standards import axe_violations, horizontal_overflow, nu_errors

pytestmark = pytest.mark.browser

OLD_WORDS, NEW_WORDS = "城乡社区", "城镇街道"
EDITED_TITLE = SEED_TITLE + "（更新）"


@pytest.fixture
def site(live_app, live_server):
    """The live server (CSRF on, seed imported) with an editor (articles only) who can sign in."""
    with live_app.app_context():
        make_user("writer", display_name="记者", role="editor")
        article_id = db.session.scalar(select(Article.id).where(Article.title == SEED_TITLE))
        db.session.remove()
    return live_server.url, article_id


def save(page: Page) -> None:
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash").first).to_contain_text("已保存")


def test_an_editor_edits_twice_reads_the_diff_and_restores_the_first_version(page: Page, site):
    base, article_id = site
    problems = watch_problems(page, ignore_failed_loads=False)
    sign_in_page(page, base, "writer")
    expect(page.locator(".admin-nav__who")).to_have_text("记者 - writer")

    edit_url = f"{base}/admin/articles/{article_id}/edit"
    page.goto(edit_url)
    expect(page.locator("section.revisions")).to_contain_text("还没有修订记录")
    page.get_by_role("button", name="编辑 HTML 源码").click()
    body = page.get_by_role("textbox", name="正文", exact=True)
    original_body = body.input_value()
    assert OLD_WORDS in original_body and NEW_WORDS not in original_body
    body.fill(original_body.replace(OLD_WORDS, NEW_WORDS, 1))
    save(page)
    page.get_by_role("textbox", name="标题", exact=True).fill(EDITED_TITLE)
    save(page)

    rows = page.locator("section.revisions tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator("th")).to_have_text("第 3 版 （当前）")
    expect(rows.nth(0)).to_contain_text("记者 - writer")
    expect(rows.nth(2)).to_contain_text("最初版本")
    rows.nth(2).get_by_role("link").click()

    expect(page.locator("h1")).to_have_text("第 1 版")
    title_diff = page.locator(".diff__title")
    expect(title_diff.locator("ins")).to_have_text("（更新）")
    changed = page.locator(".diff__body .diff__para--changed")
    expect(changed).to_have_count(1)
    expect(changed.locator("del")).to_have_text(OLD_WORDS)
    expect(changed.locator("ins")).to_have_text(NEW_WORDS)
    # Told apart without colour: struck through and underlined.
    style = "e => getComputedStyle(e).textDecorationLine"
    assert "line-through" in changed.locator("del").evaluate(style)
    assert "underline" in changed.locator("ins").evaluate(style)

    page.get_by_role("button", name="恢复这一版").click()
    expect(page).to_have_url(edit_url)
    expect(page.locator(".flash").first).to_have_text("已恢复第 1 版，保存为第 4 版。")
    expect(page.get_by_role("textbox", name="标题", exact=True)).to_have_value(SEED_TITLE)
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("恢复自第 1 版")

    page.goto(f"{base}/articles/{article_id}")
    expect(page.locator("h1.article__title")).to_have_text(SEED_TITLE)
    article_body = page.locator(".article__body")
    expect(article_body).to_contain_text(OLD_WORDS)
    expect(article_body).not_to_contain_text(NEW_WORDS)
    assert problems == []


@pytest.fixture
def revision_urls(live_app, live_server) -> dict[str, str]:
    """The edit page with three revisions listed, and an old and the current revision."""
    with live_app.app_context():
        writer = make_user("writer", display_name="记者", role="editor")
        article = db.session.scalar(select(Article).where(Article.title == SEED_TITLE))
        for title, words in ((EDITED_TITLE, NEW_WORDS), (SEED_TITLE + "（再改）", "城镇")):
            # Assigned without an autoflush in between, as the desk's views do.
            with db.session.no_autoflush:
                article.title = title
                article.body = article.body.replace(OLD_WORDS, words, 1)
            revisions.record(article, writer)
            db.session.commit()
        ids = db.session.scalars(
            select(Revision.id).where(Revision.article_id == article.id).order_by(Revision.id)
        ).all()
        base = f"{live_server.url}/admin/articles/{article.id}"
        db.session.remove()
    return {
        "edit": f"{base}/edit",
        "first": f"{base}/revisions/{ids[0]}",
        "current": f"{base}/revisions/{ids[-1]}",
        "history": f"{base}/revisions",
    }


def signed_in(browser: Browser, url: str, **options) -> Page:
    page = browser.new_context(**options).new_page()
    page.goto(url.split("/admin/")[0] + "/admin/login")
    page.locator("input[name=username]").fill("writer")
    page.locator("input[name=password]").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/admin/")
    return page


def test_revision_pages_meet_the_admin_pages_bar(browser: Browser, revision_urls, tmp_path):
    page = signed_in(browser, revision_urls["edit"], bypass_csp=True)
    try:
        page.goto(revision_urls["edit"])
        assert page.locator("section.revisions tbody tr").count() == 3
        found = {}
        for name, url in revision_urls.items():
            page.goto(url)
            found[name] = axe_violations(page)
        assert {name: v for name, v in found.items() if v} == {}
        page.goto(revision_urls["first"])
        assert page.locator(".diff__body del").count() >= 1
        assert nu_errors(page, revision_urls, tmp_path) == []
    finally:
        page.context.close()
    phone = signed_in(browser, revision_urls["edit"], viewport={"width": 360, "height": 740})
    try:
        for name, url in revision_urls.items():
            phone.goto(url)
            assert horizontal_overflow(phone) is None, name
    finally:
        phone.context.close()
