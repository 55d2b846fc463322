"""Web standards checks for pages in a real Chromium: axe-core's violations, the Nu HTML
validator's errors (pages saved as the browser has them), sideways scrolling on a phone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page

TOOLS = Path(__file__).parent.parent / "tools" / "node_modules"
AXE = TOOLS / "axe-core" / "axe.min.js"
VNU = TOOLS / "vnu-jar" / "build" / "dist" / "vnu.jar"


def axe_violations(page: Page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in result]


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


def horizontal_overflow(page: Page) -> tuple[int, int] | None:
    """(scrollWidth, clientWidth) when the page scrolls sideways, else None."""
    scroll, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return (scroll, client) if scroll > client else None
