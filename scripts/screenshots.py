"""Take the README's screenshots: the demo article and a search, in Debian's Chromium.

python scripts/screenshots.py     # writes docs/screenshots/article.png and search.png
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from demo_server import ROOT, demo_server
from playwright.sync_api import sync_playwright

OUT = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"]
CHROMIUM_ARGS += ["--no-first-run", "--disable-background-networking", "--disable-sync"]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="microsite-shots."))
    with demo_server(work, workers=1) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1000, "height": 1100})
        page.goto(base)
        page.locator("ol.headlines li.headline a").first.click()
        page.screenshot(path=OUT / "article.png")
        page.goto(base + "search?q=%E7%BD%91%E6%A0%BC%E5%91%98")
        page.screenshot(path=OUT / "search.png")
        browser.close()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
