"""Web standards in a real Chromium: axe-core finds no violation, the Nu validator no error,
and a 360 px phone never scrolls sideways."""

import json
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page

from microsite.models import Article

from .conftest import SEED_TITLE

pytestmark = pytest.mark.browser
TOOLS = Path(__file__).parent / "tools" / "node_modules"
AXE = TOOLS / "axe-core" / "axe.min.js"
VNU = TOOLS / "vnu-jar" / "build" / "dist" / "vnu.jar"


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


def axe_violations(page: Page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in result]


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


def nu_errors(page: Page, urls: dict[str, str], folder: Path) -> list[tuple[str, str]]:
    """Save each page as the browser has it and run the Nu validator over all of them at once."""
    files = []
    for name, url in urls.items():
        page.goto(url)
        files.append(save_page(page, folder, name))
    return nu_errors_in(files)


def save_page(page: Page, folder: Path, name: str) -> str:
    """The page as the browser has it now, written to folder/name.html; returns the path."""
    path = folder / f"{name}.html"
    path.write_text(page.content(), encoding="utf-8")
    return str(path)


def nu_errors_in(files: list[str]) -> list[tuple[str, str]]:
    """The Nu validator's errors in saved pages, but for htmx's hx-* attributes."""
    run = subprocess.run(
        ["java", "-jar", str(VNU), "--errors-only", "--format", "json", *files],
        capture_output=True,
        text=True,
        timeout=180,
    )
    messages = json.loads(run.stderr or "{}").get("messages", [])
    # htmx's hx-* attributes are not in the HTML spec; they are the only thing filtered.
    return [
        (Path(m.get("url", "")).name, m["message"])
        for m in messages
        if not (m["message"].startswith("Attribute “hx-") and "not allowed" in m["message"])
    ]


def horizontal_overflow(page: Page) -> tuple[int, int] | None:
    """(scrollWidth, clientWidth) when the page scrolls sideways, else None."""
    scroll, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return (scroll, client) if scroll > client else None


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
