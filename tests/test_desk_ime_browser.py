"""Chinese input through an IME in a real Chromium, driven over the DevTools protocol.

A pinyin IME shows a composition (`Input.imeSetComposition`) and then commits the chosen
characters (`Input.insertText`). The keys that end a composition reach the page as keydowns
with keyCode 229 while composing; an editor that acts on them (a new paragraph on Enter, a
space on Space) duplicates or splits the text. A click in the toolbar ends the composition
too. Whatever the ending, the stored text must be exactly what was composed.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from microsite.content.models import Article
from microsite.extensions import db
from tests.support.browser import sign_in_page, watch_problems
from tests.support.standards import axe_violations

pytestmark = pytest.mark.browser

COMPOSED = "今天上海下雨，编辑部提醒骑手注意安全。"


class Ime:
    """A pinyin IME as Chromium's DevTools protocol lets a test play one."""

    def __init__(self, page: Page) -> None:
        self.cdp = page.context.new_cdp_session(page)

    def compose(self, *steps: str) -> None:
        for text in steps:
            self.cdp.send(
                "Input.imeSetComposition",
                {"text": text, "selectionStart": len(text), "selectionEnd": len(text)},
            )

    def key_while_composing(self, key: str, code: str) -> None:
        # What the page sees of the key that ends a composition: keyCode 229 ("Process").
        for kind in ("rawKeyDown", "keyUp"):
            self.cdp.send(
                "Input.dispatchKeyEvent",
                {"type": kind, "key": key, "code": code, "windowsVirtualKeyCode": 229},
            )

    def commit(self, text: str) -> None:
        self.cdp.send("Input.insertText", {"text": text})


def body_text(page: Page) -> str:
    return page.locator(".desk-editor .ql-editor").inner_text().strip()


def test_compositions_ending_every_way_store_exactly_what_was_composed(
    page: Page, editor_site, live_app
):
    problems = watch_problems(page)
    sign_in_page(page, editor_site, "writer")
    page.goto(f"{editor_site}/admin/articles/new")
    page.get_by_role("textbox", name="标题", exact=True).fill("输入法测试")
    page.locator(".desk-editor .ql-editor").click()
    ime = Ime(page)

    # Ended with Space: the candidate is chosen, no space is typed.
    ime.compose("j", "jin", "jin't", "jin'tian")
    ime.key_while_composing(" ", "Space")
    ime.commit("今天")
    # Ended with Enter: committed, and no new paragraph.
    ime.compose("s", "shang", "shang'hai")
    ime.key_while_composing("Enter", "Enter")
    ime.commit("上海")
    # Ended with punctuation: the candidate and the full-width comma arrive together.
    ime.compose("x", "xia", "xia'yu")
    ime.key_while_composing(",", "Comma")
    ime.commit("下雨，")
    # Ended by a click in the toolbar: the inline candidate is committed once, as shown,
    # and what is composed next is bold.
    ime.compose("b", "bian", "编辑部")
    bold = page.get_by_role("toolbar", name="正文格式").get_by_role("button", name="加粗")
    bold.click()
    expect(bold).to_have_attribute("aria-pressed", "true")
    ime.compose("t", "ti", "ti'xing")
    ime.key_while_composing(" ", "Space")
    ime.commit("提醒")
    bold.click()
    expect(bold).to_have_attribute("aria-pressed", "false")
    ime.compose("qi", "qi'shou", "骑手注意安全")
    ime.key_while_composing(" ", "Space")
    ime.commit("骑手注意安全")
    ime.compose("。")
    ime.commit("。")

    assert body_text(page) == COMPOSED
    expect(page.locator("textarea#body")).to_have_value(re.compile(r"^<p>[^\n]*</p>$"))
    page.get_by_role("combobox", name="栏目", exact=True).fill("政策")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".flash").first).to_contain_text("已保存")
    with live_app.app_context():
        article = db.session.scalar(db.select(Article).filter_by(title="输入法测试"))
        stored = article.body
    assert re.sub(r"<[^>]+>", "", stored) == COMPOSED
    assert "<strong>提醒</strong>" in stored
    assert problems == []


def test_the_editor_page_works_from_the_keyboard_alone_and_passes_axe(
    browser, editor_site, live_app
):
    context = browser.new_context(bypass_csp=True)  # axe is injected as a script
    page = context.new_page()
    try:
        sign_in_page(page, editor_site, "writer")
        page.goto(f"{editor_site}/admin/articles/new")
        page.get_by_role("textbox", name="标题", exact=True).focus()
        # Tab from the title reaches the toolbar, then the text, then leaves the editor.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "正文段落"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('role')") == "textbox"
        page.keyboard.type("第一段。")
        page.keyboard.press("Alt+F10")
        page.keyboard.press("End")
        assert page.evaluate("document.activeElement.textContent") == "重做"
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("Enter")  # 撤销
        page.keyboard.press("Escape")
        assert page.evaluate("document.activeElement.getAttribute('role')") == "textbox"
        assert body_text(page) == ""
        page.keyboard.type("留下的一段。")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "编辑 HTML 源码"
        assert body_text(page) == "留下的一段。"
        assert axe_violations(page) == []
    finally:
        context.close()
