"""Server-side sessions in a real Chromium: a cookie copied out of a browser before sign-out
opens nothing after it, and the sessions page ends another browser's session."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import sign_in_page, watch_problems

pytestmark = pytest.mark.browser


def _replayed(browser: Browser, cookies: list, url: str):
    """A second browser profile that holds only the copied cookies, opening `url`."""
    context = browser.new_context()
    context.add_cookies(cookies)
    page = context.new_page()
    page.goto(url)
    return context, page


def test_a_cookie_copied_before_sign_out_opens_the_login_page(browser: Browser, admin_site):
    owner = browser.new_context()
    page = sign_in_page(owner.new_page(), admin_site, "editor")
    problems = watch_problems(page)
    copied = owner.cookies()
    assert any(cookie["name"] == "session" for cookie in copied)

    thief, stolen = _replayed(browser, copied, f"{admin_site}/admin/")
    expect(stolen.locator(".admin-nav")).to_be_visible()  # the copy works while signed in

    page.get_by_role("button", name="退出").click()
    expect(page.locator(".flash")).to_have_text("您已安全退出。")
    stolen.goto(f"{admin_site}/admin/")
    expect(stolen).to_have_url(f"{admin_site}/admin/login?next=/admin/")
    expect(stolen.get_by_role("button", name="登录")).to_be_visible()
    expect(stolen.locator(".admin-nav")).to_have_count(0)
    assert problems == []
    thief.close()
    owner.close()


def test_ending_another_browsers_session_from_the_sessions_page(browser: Browser, admin_site):
    laptop = browser.new_context()
    phone = browser.new_context()
    mine = sign_in_page(laptop.new_page(), admin_site, "editor")
    theirs = sign_in_page(phone.new_page(), admin_site, "editor")

    mine.get_by_role("link", name="登录设备").click()
    rows = mine.locator(".sessions-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="本机")).to_have_count(1)
    expect(rows.filter(has_text="本机")).to_contain_text("Chrome")
    mine.get_by_role("button", name="结束其他所有会话").click()
    expect(mine.locator(".flash")).to_have_text("已结束其他 1 个会话。")
    expect(rows).to_have_count(1)

    theirs.goto(f"{admin_site}/admin/")
    expect(theirs).to_have_url(f"{admin_site}/admin/login?next=/admin/")
    phone.close()
    laptop.close()
