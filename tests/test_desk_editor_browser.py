"""The rich-text editor in a real Chromium: toolbar and keyboard, paste from Word, no JS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from microsite.content.models import Article, Image
from microsite.extensions import db
from microsite.text import local_now
from tests.support.browser import publish_from_editor, sign_in_page, watch_problems
from tests.support.factories import gradient_png, make_user

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).parent / "fixtures"
TITLE = "灵活用工新规出台"
LINK = "https://www.mohrss.gov.cn/"


def editor(page: Page):
    return page.locator(".desk-editor .ql-editor")


def toolbar_button(page: Page, label: str):
    return page.get_by_role("toolbar", name="正文格式").get_by_role("button", name=label)


def press_in_toolbar(page: Page, label: str) -> None:
    """Reach a toolbar button from the text with the keyboard only: Alt+F10, arrows, Enter."""
    page.keyboard.press("Alt+F10")
    for _ in range(20):
        if page.evaluate("document.activeElement.textContent") == label:
            break
        page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.textContent") == label
    page.keyboard.press("Enter")


def refused_by_csp_only(problems: list[str]) -> bool:
    """Parsing pasted HTML makes Chromium report each style attribute and event handler our
    CSP refuses (style-src and script-src 'self'); refused is what we want. Nothing else may
    appear."""
    refused = ("Applying inline style violates", "Executing inline event handler violates")
    return [p for p in problems if not p.startswith(refused)] == []


def paste(page: Page, html: str) -> None:
    """What the browser does when HTML on the clipboard is pasted into the editor."""
    editor(page).evaluate(
        """(node, html) => {
            const data = new DataTransfer();
            data.setData("text/html", html);
            data.setData("text/plain", "");
            const init = {clipboardData: data, bubbles: true, cancelable: true};
            node.dispatchEvent(new ClipboardEvent("paste", init));
        }""",
        html,
    )


def test_an_editor_writes_with_the_toolbar_and_keyboard_and_readers_see_that_structure(
    page: Page, editor_site, live_app
):
    problems = watch_problems(page)
    sign_in_page(page, editor_site, "writer")
    page.goto(f"{editor_site}/admin/articles/new")
    # The textarea is replaced by the editor; the label names the editor now.
    expect(page.locator("textarea#body")).to_be_hidden()
    body = page.get_by_role("textbox", name="正文", exact=True)
    expect(body).to_have_attribute("contenteditable", "true")

    page.get_by_role("textbox", name="标题", exact=True).fill(TITLE)
    body.click()
    keys = page.keyboard
    keys.type("外卖平台的骑手迎来新规。")
    keys.press("Enter")
    press_in_toolbar(page, "小标题")
    keys.type("新规要点")
    keys.press("Enter")
    keys.type("骑手")
    keys.press("Control+b")
    keys.type("工伤保障")
    keys.press("Control+b")
    keys.type("全覆盖，详见人社部通知")
    for _ in range(5):
        keys.press("Shift+ArrowLeft")
    page.once("dialog", lambda dialog: dialog.accept(LINK))
    toolbar_button(page, "链接").click()
    keys.press("End")
    keys.type("。")
    keys.press("Enter")
    press_in_toolbar(page, "项目列表")
    keys.type("平台缴纳保险")
    keys.press("Enter")
    keys.type("骑手自愿参加")
    keys.press("Enter")
    keys.press("Enter")  # an empty item ends the list
    keys.type("结尾段落。")
    expect(toolbar_button(page, "项目列表")).to_have_attribute("aria-pressed", "false")

    # The editor wrote only what the sanitizer keeps: no "markup removed" warning.
    publish_from_editor(page, "政策")

    with live_app.app_context():
        article = db.session.scalar(db.select(Article).filter_by(title=TITLE))
        article_id = article.id
    page.goto(f"{editor_site}/articles/{article_id}")
    shown = page.locator(".article__body")
    expect(shown.locator("> p").first).to_have_text("外卖平台的骑手迎来新规。")
    expect(shown.locator("h2")).to_have_text("新规要点")
    expect(shown.locator("strong")).to_have_text("工伤保障")
    expect(shown.locator("a")).to_have_text("人社部通知")
    expect(shown.locator("a")).to_have_attribute("href", LINK)
    expect(shown.locator("ul > li")).to_have_text(["平台缴纳保险", "骑手自愿参加"])
    expect(shown.locator("> p").last).to_have_text("结尾段落。")
    assert problems == []


def test_undo_and_redo_from_the_toolbar(page: Page, editor_site):
    problems = watch_problems(page)
    sign_in_page(page, editor_site, "writer")
    page.goto(f"{editor_site}/admin/articles/new")
    editor(page).click()
    page.keyboard.type("第一句。")
    toolbar_button(page, "小标题").click()
    expect(editor(page).locator("h2")).to_have_text("第一句。")
    toolbar_button(page, "撤销").click()
    expect(editor(page).locator("h2")).to_have_count(0)
    expect(editor(page).locator("p")).to_have_text("第一句。")
    toolbar_button(page, "重做").click()
    expect(editor(page).locator("h2")).to_have_text("第一句。")
    assert problems == []


def test_paste_from_word_keeps_headings_and_lists_and_drops_styles(page: Page, editor_site):
    problems = watch_problems(page)
    sign_in_page(page, editor_site, "writer")
    page.goto(f"{editor_site}/admin/articles/new")
    editor(page).click()
    paste(page, (FIXTURES / "word_paste.html").read_text(encoding="utf-8"))
    expect(editor(page).locator("h2")).to_have_text("一、基本情况")
    posted = page.locator("textarea#body")
    expect(posted).to_have_value(re.compile("<h2>一、基本情况</h2>"))
    value = posted.input_value()
    assert "<h3>（一）参保人数</h3>" in value
    assert "<ol><li>第一项：平台缴费</li><li>第二项：个人缴费</li></ol>" in value
    assert "<ul><li>城市：上海、杭州</li><li>时间：2022年09月02日起</li></ul>" in value
    assert "<strong>重点</strong>" in value
    for dropped in ("mso-", "style", "class", "font", "span", "<o:p", "<script", "alert"):
        assert dropped not in value, dropped
    page.get_by_role("textbox", name="标题", exact=True).fill("粘贴测试")
    page.get_by_role("combobox", name="栏目", exact=True).fill("政策")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".flash").first).to_contain_text("已保存")
    expect(page.locator(".flash--warning")).to_have_count(0)
    # The pasted <script> never ran.
    assert refused_by_csp_only(problems)
    assert page.evaluate("window.pastedScriptRan") is None


def test_an_imported_body_keeps_its_reporters_line_and_untouched_text_is_posted_as_is(
    page: Page, editor_site, live_app
):
    body = '<p>导语。</p>\n<p class="reporters">记者 张三 李四</p>'
    with live_app.app_context():
        article = Article(title="导入的文章", body=body, status="draft", updated_at=local_now())
        db.session.add(article)
        db.session.commit()
        article_id = article.id
    sign_in_page(page, editor_site, "writer")
    page.goto(f"{editor_site}/admin/articles/{article_id}/edit")
    expect(editor(page).locator("p.reporters")).to_have_text("记者 张三 李四")
    editor(page).locator("p").first.click()
    page.keyboard.press("End")
    page.keyboard.type("补充")
    expect(page.locator("textarea#body")).to_have_value(
        '<p>导语。补充</p>\n<p class="reporters">记者 张三 李四</p>'
    )


def test_without_javascript_the_form_is_the_plain_textarea(browser, editor_site, live_app):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in_page(page, editor_site, "writer")
        page.goto(f"{editor_site}/admin/articles/new")
        expect(page.locator(".desk-editor")).to_have_count(0)
        page.get_by_role("textbox", name="标题", exact=True).fill("无脚本文章")
        page.get_by_role("textbox", name="正文", exact=True).fill("<h2>小标题</h2>\n<p>正文。</p>")
        page.get_by_role("combobox", name="栏目", exact=True).fill("政策")
        page.get_by_role("button", name="保存", exact=True).click()
        expect(page.locator(".flash").first).to_contain_text("已保存")
    finally:
        context.close()
    with live_app.app_context():
        article = db.session.scalar(db.select(Article).filter_by(title="无脚本文章"))
        assert article.body == "<h2>小标题</h2>\n<p>正文。</p>"


def test_a_picture_uploaded_under_the_form_goes_into_the_editor(page: Page, editor_site, live_app):
    problems = watch_problems(page)
    sign_in_page(page, editor_site, "writer")
    page.goto(f"{editor_site}/admin/articles/new")
    editor(page).click()
    page.keyboard.type("图前一段。")
    page.set_input_files(
        "#image-file",
        files=[{"name": "a.png", "mimeType": "image/png", "buffer": gradient_png((400, 200))}],
    )
    page.get_by_label("图片说明（替代文字）").fill("骑手在送餐")
    page.get_by_role("button", name="上传图片").click()
    page.get_by_role("button", name="插入正文").click()
    picture = editor(page).locator("img")
    expect(picture).to_have_attribute("alt", "骑手在送餐")
    with live_app.app_context():
        name = db.session.scalar(db.select(Image.name))
    expect(page.locator("textarea#body")).to_have_value(
        f'<p>图前一段。<img src="/media/{name}" alt="骑手在送餐" width="400" height="200"></p>'
    )
    assert problems == []


def test_the_page_form_has_the_editor_too_with_h3_italic_and_quote(
    page: Page, editor_site, live_app
):
    with live_app.app_context():
        make_user(username="boss", display_name="主编", role="admin")
        db.session.remove()
    problems = watch_problems(page)
    sign_in_page(page, editor_site, "boss")
    page.goto(f"{editor_site}/admin/pages/about")
    body = page.get_by_role("textbox", name="内容", exact=True)
    expect(body).to_have_attribute("contenteditable", "true")
    body.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.press("Control+Alt+3")
    page.keyboard.type("联系方式")
    page.keyboard.press("Enter")
    toolbar_button(page, "引用").click()
    page.keyboard.type("服务每一位求职者")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # an empty quote line returns to a paragraph
    page.keyboard.press("Control+i")
    page.keyboard.type("欢迎来电")
    expect(toolbar_button(page, "斜体")).to_have_attribute("aria-pressed", "true")
    expect(toolbar_button(page, "引用")).to_have_attribute("aria-pressed", "false")
    page.get_by_role("button", name="保存页面").click()
    expect(page.locator(".flash").first).to_be_visible()
    page.goto(f"{editor_site}/pages/about")
    shown = page.locator(".article__body")
    expect(shown.locator("h3")).to_have_text("联系方式")
    expect(shown.locator("blockquote")).to_have_text("服务每一位求职者")
    expect(shown.locator("p em")).to_have_text("欢迎来电")
    assert problems == []


def test_paste_from_a_web_page_keeps_structure_and_drops_styles_trackers_and_scripts(
    page: Page, editor_site
):
    problems = watch_problems(page)
    sign_in_page(page, editor_site, "writer")
    page.goto(f"{editor_site}/admin/articles/new")
    editor(page).click()
    page.evaluate("() => { window.track = () => { window.tracked = true; }; }")
    paste(page, (FIXTURES / "web_paste.html").read_text(encoding="utf-8"))
    expect(editor(page).locator("h2").first).to_have_text("人社部发布新职业")
    value = page.locator("textarea#body").input_value()
    assert value.startswith("<h2>人社部发布新职业</h2>\n<p>近日，人力资源社会保障部发布了")
    assert '<a href="https://www.mohrss.gov.cn/a.html">新职业信息</a>' in value
    assert "<h3>新职业有哪些</h3>" in value
    assert "<ul><li><strong>网约配送员</strong></li><li><em>互联网营销师</em></li></ul>" in value
    # Only our own uploads stay; a tracking pixel from elsewhere is gone.
    assert '<img src="/media/0123456789abcdef0123456789abcdef.jpg" alt="本站图片"' in value
    assert "cdn.example.com" not in value
    for dropped in ("style", "class", "font", "span", "onclick", "target", "javascript", "track"):
        assert dropped not in value, dropped
    assert refused_by_csp_only(problems)
    assert page.evaluate("[window.pastedScriptRan, window.tracked]") == [None, None]
