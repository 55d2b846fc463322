"""What the browser tests share: watching a page for errors, signing in through the form."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.support.app import ADMIN_PASSWORD


def watch_problems(page: Page, ignore_failed_loads: bool = True) -> list[str]:
    """Script errors and console errors (CSP violations among them) seen on the page from now.

    ignore_failed_loads: leave out "Failed to load resource" (a 4xx/5xx answer the test asked
    for on purpose shows up in the console too).
    """
    problems: list[str] = []

    def console(message) -> None:
        if message.type != "error":
            return
        if ignore_failed_loads and message.text.startswith("Failed to load resource"):
            return
        problems.append(message.text)

    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", console)
    return problems


def sign_in_page(page: Page, base: str, username: str, password: str = ADMIN_PASSWORD) -> Page:
    """Sign in through the login form as a person would; returns once the desk is shown."""
    page.goto(f"{base}/admin/login")
    page.get_by_role("textbox", name="用户名", exact=True).fill(username)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/admin/")
    return page


def publish_from_editor(page: Page, category: str) -> None:
    """On the article editor: choose the category, tick 发表 and save; the save must say it
    published and warn of no markup removed."""
    from playwright.sync_api import expect

    page.get_by_role("combobox", name="栏目", exact=True).fill(category)
    page.get_by_label("发表", exact=True).check()
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".flash").first).to_contain_text("已保存（已发表）")
    expect(page.locator(".flash--warning")).to_have_count(0)
