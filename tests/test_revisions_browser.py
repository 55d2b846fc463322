"""Revisions in a real Chromium: an editor edits an imported article twice, reads the word-level
diff of the first version and restores it; readers then see the first version again."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from microsite.extensions import db
from microsite.models import Article
from tests.conftest import ADMIN_PASSWORD, SEED_TITLE
from tests.test_admin_helpers import make_user

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
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    page.goto(f"{base}/admin/login")
    page.get_by_role("textbox", name="用户名", exact=True).fill("writer")
    page.locator("input[name=password]").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".admin-nav__who")).to_have_text("记者 - writer")

    edit_url = f"{base}/admin/articles/{article_id}/edit"
    page.goto(edit_url)
    expect(page.locator("section.revisions")).to_contain_text("还没有修订记录")
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
