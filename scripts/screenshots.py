"""Take the README's screenshots: the demo article and a search, in Debian's Chromium.

    python scripts/screenshots.py     # writes docs/screenshots/article.png and search.png
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from scan import spare_port, wait_for  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"]
CHROMIUM_ARGS += ["--no-first-run", "--disable-background-networking", "--disable-sync"]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="microsite-shots."))
    port = spare_port()
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_hex(16),
        "DATABASE_URL": f"sqlite:///{work / 'site.sqlite3'}",
        "MICROSITE_SEARCH_INDEX_DIR": str(work / "index"),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_ACCESSLOG": str(work / "access.log"),
        "FLASK_APP": "wsgi",
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "flask", "demo"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [bin_dir / "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        wait_for(base + "/")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1000, "height": 1100})
            page.goto(base + "/")
            page.locator("ol.headlines li.headline a").first.click()
            page.screenshot(path=OUT / "article.png")
            page.goto(base + "/search?q=%E7%BD%91%E6%A0%BC%E5%91%98")
            page.screenshot(path=OUT / "search.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
