"""The picture library in a real Chromium: picked from the editor's toolbar; axe and Nu clean."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from microsite.content import images
from microsite.content.models import Article
from microsite.extensions import db
from tests.support.browser import publish_from_editor, sign_in_page, watch_problems
from tests.support.factories import gradient_png, make_user
from tests.support.standards import axe_violations, nu_errors_in, save_page

pytestmark = pytest.mark.browser

ALT = "骑手在雨中送餐"
TITLE = "雨天送餐的骑手"


@pytest.fixture
def site(live_app, live_server):
    with live_app.app_context():
        writer = make_user("writer", display_name="记者", role="editor")
        images.store(gradient_png((640, 320)), "社区工作人员在核酸检测点", writer.id)
        picture = images.store(gradient_png((640, 320)), ALT, writer.id)
        name = picture.name
        db.session.remove()
    return live_server.url, name


def keyboard_to(page: Page, label: str) -> None:
    """From the text to a toolbar button with the keyboard: Alt+F10, then the arrow keys."""
    page.keyboard.press("Alt+F10")
    for _ in range(20):
        if page.evaluate("document.activeElement.textContent") == label:
            return
        page.keyboard.press("ArrowRight")
    raise AssertionError(f"no toolbar button {label}")


def test_an_article_written_with_toolbar_and_keyboard_shows_that_structure_to_readers(
    page: Page, site, live_app
):
    base, name = site
    problems = watch_problems(page)
    sign_in_page(page, base, "writer")
    page.goto(f"{base}/admin/articles/new")
    page.get_by_role("textbox", name="标题", exact=True).fill(TITLE)
    page.get_by_role("textbox", name="正文", exact=True).focus()
    keys = page.keyboard
    keys.type("暴雨中，骑手仍在送餐。")
    keys.press("Enter")
    keys.press("Control+Alt+2")
    keys.type("平台的做法")
    keys.press("Enter")
    keys.press("Control+b")
    keys.type("延长配送时间")
    keys.press("Control+b")
    keys.type("，详见通知")
    for _ in range(2):
        keys.press("Shift+ArrowLeft")
    page.once("dialog", lambda dialog: dialog.accept("/pages/about"))
    keys.press("Control+k")
    keys.press("End")
    keys.press("Enter")
    keyboard_to(page, "编号列表")
    keys.press("Enter")
    keys.press("Escape")
    keys.type("暂停超时罚款")
    keys.press("Enter")
    keys.type("发放雨天补贴")
    keys.press("Enter")
    keys.press("Enter")
    keyboard_to(page, "插入图片")
    keys.press("Enter")

    picker = page.get_by_role("dialog", name="从图片库插入图片")
    expect(picker).to_be_visible()
    picker.get_by_role("searchbox", name="按图片说明搜索").fill("骑手")
    keys.press("Enter")
    choice = picker.get_by_role("button", name=f"插入：{ALT}")
    expect(choice).to_have_count(1)
    expect(picker.get_by_role("button", name="插入：社区工作人员在核酸检测点")).to_have_count(0)
    choice.focus()
    keys.press("Enter")
    expect(picker).to_be_hidden()
    assert page.evaluate("document.activeElement.getAttribute('role')") == "textbox"

    publish_from_editor(page, "民生")

    with live_app.app_context():
        article_id = db.session.scalar(db.select(Article.id).filter_by(title=TITLE))
    page.goto(f"{base}/articles/{article_id}")
    shown = page.locator(".article__body")
    expect(shown.locator("h2")).to_have_text("平台的做法")
    expect(shown.locator("strong")).to_have_text("延长配送时间")
    expect(shown.locator("a")).to_have_text("通知")
    expect(shown.locator("a")).to_have_attribute("href", "/pages/about")
    expect(shown.locator("ol > li")).to_have_text(["暂停超时罚款", "发放雨天补贴"])
    picture = shown.locator("img")
    expect(picture).to_have_attribute("src", f"/media/{name}")
    expect(picture).to_have_attribute("alt", ALT)
    assert picture.evaluate("img => img.complete && img.naturalWidth") == 640

    # The library now names the article that uses the picture.
    page.goto(f"{base}/admin/images?q=骑手")
    expect(page.locator(".library__usage a")).to_have_text(TITLE)
    assert problems == []


def test_library_and_editor_pages_pass_axe_and_the_nu_validator(browser, site, tmp_path):
    base, _ = site
    context = browser.new_context(bypass_csp=True)  # axe is injected as a script
    page = context.new_page()
    try:
        sign_in_page(page, base, "writer")
        found, files = {}, []
        for name, path in {
            "library": "/admin/images",
            "library-search": "/admin/images?q=骑手",
            "editor": "/admin/articles/new",
        }.items():
            page.goto(base + path)
            # Saved before axe is injected: its inlined source is not our page.
            files.append(save_page(page, tmp_path, name))
            found[name] = axe_violations(page)
        page.goto(f"{base}/admin/articles/new")
        page.get_by_role("toolbar", name="正文格式").get_by_role("button", name="插入图片").click()
        expect(page.locator(".library__pick").first).to_be_visible()
        files.append(save_page(page, tmp_path, "picker"))
        found["picker"] = axe_violations(page)
        assert {name: v for name, v in found.items() if v} == {}
        assert nu_errors_in(files) == []
    finally:
        context.close()
