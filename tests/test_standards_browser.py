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


# vnu.jar's exit status when it ran to the end and found errors (0: it found none).
VNU_FOUND_ERRORS = 1


def nu_errors_in(files: list[str]) -> list[tuple[str, str]]:
    """The Nu validator's errors in saved pages, but for htmx's hx-* attributes.

    Fails the test when the validator did not do its job: a page missing or empty (vnu
    reports nothing for a file it cannot read), no JSON report (it crashed), an I/O error in
    the report, or an exit status that does not match what it reported.
    """
    unreadable = [f for f in files if not Path(f).is_file() or Path(f).stat().st_size == 0]
    if unreadable or not files:
        pytest.fail(f"no page to validate: {unreadable or files}")
    run = subprocess.run(
        ["java", "-jar", str(VNU), "--errors-only", "--format", "json", *files],
        capture_output=True,
        text=True,
        timeout=180,
    )
    messages = nu_messages(run)
    # htmx's hx-* attributes are not in the HTML spec; they are the only thing filtered.
    return [
        (Path(m.get("url", "")).name, m["message"])
        for m in messages
        if not (m["message"].startswith("Attribute “hx-") and "not allowed" in m["message"])
    ]


def nu_messages(run: subprocess.CompletedProcess) -> list[dict]:
    """The error messages of a finished vnu run; fails the test when the run went wrong."""
    said = f"exit {run.returncode}, stderr {run.stderr[-1500:]!r}, stdout {run.stdout[-500:]!r}"
    try:
        report = json.loads(run.stderr)
    except ValueError:
        report = None
    if not isinstance(report, dict) or not isinstance(report.get("messages"), list):
        pytest.fail(f"the Nu validator gave no report ({said})")
    messages = report["messages"]
    broken = [m for m in messages if m.get("type") == "non-document-error"]
    if broken:
        pytest.fail(f"the Nu validator could not read a page: {broken[:3]}")
    errors = [m for m in messages if m.get("type") == "error"]
    if run.returncode not in (0, VNU_FOUND_ERRORS) or bool(errors) != bool(run.returncode):
        pytest.fail(f"the Nu validator's exit does not match its {len(errors)} errors ({said})")
    return errors


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
