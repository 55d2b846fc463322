"""Web standards in a real Chromium: axe-core finds no violation, the Nu validator no error,
and a 360 px phone never scrolls sideways."""

import subprocess

import pytest
from playwright.sync_api import Page

from microsite.content.models import Article
from tests.support.app import SEED_TITLE
from tests.support.standards import (
    axe_violations,
    horizontal_overflow,
    nu_errors,
    nu_errors_in,
    nu_messages,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def urls(live_server, live_app):
    with live_app.app_context():
        article = Article.query.filter_by(title=SEED_TITLE).one()
    base = live_server.url
    return {
        "home": f"{base}/",
        "article": f"{base}/articles/{article.id}",
        "search": f"{base}/search?q=%E7%96%AB%E6%83%85",
        "top": f"{base}/top",
        "sitemap": f"{base}/sitemap",
        "login": f"{base}/admin/login",
        "not-found": f"{base}/articles/999999",
    }


def test_axe_finds_no_violations(browser, urls):
    # Our CSP rightly refuses the injected checker; bypass it for this context only.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    found = {}
    try:
        for name, url in urls.items():
            page.goto(url)
            violations = axe_violations(page)
            if violations:
                found[name] = violations
    finally:
        context.close()
    assert found == {}


def test_nu_errors_in_reports_errors_and_fails_when_the_validator_did_not_run(tmp_path):
    valid = tmp_path / "valid.html"
    valid.write_text("<!DOCTYPE html><html lang=zh-CN><title>好</title><p>正文", encoding="utf-8")
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html lang=zh-CN><p><div></p>", encoding="utf-8")
    assert nu_errors_in([str(valid)]) == []
    found = nu_errors_in([str(valid), str(broken)])
    assert found and {name for name, _ in found} == {"broken.html"}
    # A page that was never written: vnu itself would report nothing and exit 0.
    with pytest.raises(pytest.fail.Exception, match="no page"):
        nu_errors_in([str(tmp_path / "never-saved.html")])


@pytest.mark.parametrize(
    "returncode, stderr",
    [
        (1, ""),  # the JVM died before a word
        (1, "Error: Unable to access jarfile vnu.jar"),
        (137, '{"messages": []}'),  # killed after printing
        (0, '{"messages": [{"type": "error", "message": "Stray end tag."}]}'),
        (1, '{"messages": []}'),
        (0, '{"messages": [{"type": "non-document-error", "message": "IO error"}]}'),
    ],
    ids=["silent crash", "no jar", "killed", "errors exit 0", "exit 1 no errors", "io error"],
)
def test_nu_messages_fails_when_the_run_went_wrong(returncode, stderr):
    run = subprocess.CompletedProcess(["java"], returncode, stdout="", stderr=stderr)
    with pytest.raises(pytest.fail.Exception, match="Nu validator"):
        nu_messages(run)


def test_nu_validator_finds_no_errors(page: Page, urls, tmp_path):
    assert nu_errors(page, urls, tmp_path) == []


def test_article_fits_a_360px_phone(browser, urls):
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        for name in ("article", "home", "search"):
            page.goto(urls[name])
            assert horizontal_overflow(page) is None, name
    finally:
        context.close()


def test_keyboard_reaches_the_skip_link_first(page: Page, urls):
    page.goto(urls["article"])
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "跳到正文"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
