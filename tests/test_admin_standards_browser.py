"""The signed-in admin pages meet the public pages' bar: axe, the Nu validator, a 360 px phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from microsite.content.models import Article
from microsite.extensions import db
from tests.support.app import ADMIN_PASSWORD, SEED_TITLE
from tests.support.factories import make_user
from tests.support.standards import axe_violations, horizontal_overflow, nu_errors

pytestmark = pytest.mark.browser
PAGES = {
    "dashboard": "/admin/",
    "new": "/admin/articles/new",
    "words": "/admin/words",
    "settings": "/admin/settings",
    "page": "/admin/pages/about",
    "reindex": "/admin/reindex",
    "password": "/admin/password",
    "sessions": "/admin/account/sessions",
}


@pytest.fixture
def urls(live_app, live_server) -> dict[str, str]:
    with live_app.app_context():
        make_user()
        article = db.session.scalar(db.select(Article).filter_by(title=SEED_TITLE))
        urls = {name: live_server.url + path for name, path in PAGES.items()}
        urls["edit"] = f"{live_server.url}/admin/articles/{article.id}/edit"
        db.session.remove()
    return urls


def signed_in_page(browser: Browser, base: str, **options) -> Page:
    page = browser.new_context(**options).new_page()
    page.goto(f"{base}/admin/login")
    page.locator("input[name=username]").fill("editor")
    page.locator("input[name=password]").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/admin/")
    return page


def with_errors(page: Page, url: str) -> None:
    """The article form after a refused save: errors next to their fields."""
    page.goto(url)
    page.locator("input[name=title]").fill("")
    page.locator("input[name=title]").evaluate("input => input.removeAttribute('required')")
    page.locator("input[name=category]").evaluate("input => input.removeAttribute('required')")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector(".field__error")


def test_axe_finds_no_violations_on_admin_pages(browser, urls):
    base = urls["dashboard"].removesuffix("/admin/")
    # Our CSP rightly refuses the injected checker; bypass it for this context only.
    page = signed_in_page(browser, base, bypass_csp=True)
    found = {}
    try:
        for name, url in urls.items():
            page.goto(url)
            found[name] = axe_violations(page)
        with_errors(page, urls["new"])
        found["errors"] = axe_violations(page)
    finally:
        page.context.close()
    assert {name: v for name, v in found.items() if v} == {}


def test_nu_validator_finds_no_errors_on_admin_pages(browser, urls, tmp_path):
    base = urls["dashboard"].removesuffix("/admin/")
    page = signed_in_page(browser, base)
    try:
        assert nu_errors(page, urls, tmp_path) == []
    finally:
        page.context.close()


def test_admin_pages_fit_a_360px_phone(browser, urls):
    base = urls["dashboard"].removesuffix("/admin/")
    page = signed_in_page(browser, base, viewport={"width": 360, "height": 740})
    try:
        for name in ("dashboard", "edit", "words", "settings", "sessions"):
            page.goto(urls[name])
            assert horizontal_overflow(page) is None, name
    finally:
        page.context.close()
