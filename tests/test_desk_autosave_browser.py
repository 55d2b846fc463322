"""Autosave and presence in a real Chromium: a closed browser loses nothing, two editors meet."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from microsite.content.models import Article, Presence, User
from microsite.extensions import db
from tests.support.app import SEED_TITLE
from tests.support.browser import sign_in_page, watch_problems
from tests.support.factories import make_user
from tests.support.waiting import wait_until

pytestmark = pytest.mark.browser

TYPED = "骑手工伤保障新规今日起施行。"


@pytest.fixture
def site(live_app, live_server):
    with live_app.app_context():
        make_user("jia", display_name="编辑甲", role="editor")
        make_user("yi", display_name="编辑乙", role="editor")
        article = db.session.scalar(db.select(Article).filter_by(title=SEED_TITLE))
        facts = (live_server.url, article.id, article.body, article.version)
        db.session.remove()
    return facts


def editor_page(browser: Browser, base: str, username: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context()
    page = context.new_page()
    sign_in_page(page, base, username)
    return context, page


def present(app, article_id: int) -> list[str]:
    """Who has a presence row on the article, whatever its age."""
    with app.app_context():
        query = (
            db.select(User.username)
            .join(Presence, Presence.user_id == User.id)
            .where(Presence.article_id == article_id)
            .order_by(User.username)
        )
        names = list(db.session.scalars(query))
        db.session.remove()
    return names


def hide(page: Page) -> None:
    """What the browser tells a page when its tab is switched away or its window closes."""
    page.evaluate(
        """() => {
            const hidden = {value: "hidden", configurable: true};
            Object.defineProperty(document, "visibilityState", hidden);
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )


def test_text_typed_before_the_browser_closed_is_offered_again_and_restored(
    browser, site, live_app
):
    base, article_id, published_body, version = site
    edit_url = f"{base}/admin/articles/{article_id}/edit"
    context, page = editor_page(browser, base, "jia")
    problems = watch_problems(page)
    page.goto(edit_url)
    body = page.locator(".desk-editor .ql-editor")
    body.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type(TYPED)
    page.keyboard.press("Enter")
    with page.expect_response(lambda r: r.url.endswith("/autosave")) as answer:
        hide(page)
    assert answer.value.status == 200
    assert answer.value.json()["message"].startswith("已自动保存（")
    assert problems == []
    context.close()  # closed without saving

    with live_app.app_context():
        article = db.session.get(Article, article_id)
        assert (article.body, article.version) == (published_body, version)

    context, page = editor_page(browser, base, "jia")
    try:
        page.goto(edit_url)
        expect(page.locator(".desk-editor .ql-editor p").first).not_to_have_text(TYPED)
        page.get_by_role("link", name="恢复自动保存的内容（").click()
        expect(page.locator("#autosave-restored")).to_contain_text("尚未保存")
        expect(page.locator(".desk-editor .ql-editor p").first).to_have_text(TYPED)
        page.get_by_role("button", name="保存", exact=True).click()
        expect(page.locator(".flash").first).to_contain_text("已保存")
        expect(page.get_by_role("link", name="恢复自动保存的内容（")).to_have_count(0)
        page.goto(f"{base}/articles/{article_id}")
        expect(page.locator(".article__body p").first).to_have_text(TYPED)
    finally:
        context.close()


def test_two_editors_on_one_article_each_see_the_other(browser, site, live_app):
    base, article_id, _, _ = site
    live_app.config["PRESENCE_SECONDS"] = 1  # the heartbeat, shortened for the test
    edit_url = f"{base}/admin/articles/{article_id}/edit"
    jia_context, jia = editor_page(browser, base, "jia")
    yi_context, yi = editor_page(browser, base, "yi")
    try:
        problems = {"jia": watch_problems(jia), "yi": watch_problems(yi)}
        jia.goto(edit_url)
        expect(jia.locator("#presence")).not_to_contain_text("正在编辑")
        yi.goto(edit_url)
        expect(yi.locator("#presence")).to_contain_text("编辑甲 正在编辑这篇文章")
        # 编辑甲's page learns of 编辑乙 at its next heartbeat.
        expect(jia.locator("#presence")).to_contain_text("编辑乙 正在编辑这篇文章")
        # Nothing is locked: both can type.
        for page in (jia, yi):
            expect(page.locator(".desk-editor .ql-editor")).to_have_attribute(
                "contenteditable", "true"
            )
        assert problems == {"jia": [], "yi": []}
        # 编辑乙 closes the page: its beacon ends the presence at once (not only when the
        # heartbeats stop), and 编辑甲 stops seeing them at the next heartbeat.
        yi.close()
        wait_until(lambda: present(live_app, article_id) == ["jia"], 10.0, "the autosave arrives")
        expect(jia.locator("#presence")).not_to_contain_text("编辑乙")
    finally:
        jia_context.close()
        yi_context.close()
