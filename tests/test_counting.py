"""Page views: counted once per reader and window on every host, never by crawlers, and a read
never changes what the site says was last modified."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from microsite import text
from microsite.counting import view_counter
from microsite.extensions import db
from microsite.models import Article

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(autouse=True)
def _pages_rendered_fresh(app):
    # A stored page keeps the Last-Modified it was rendered with: look at what the database says.
    app.config["PAGE_CACHE_DIR"] = ""


def fold_counts() -> int:
    """Add the recorded views to the articles' counts, as the background job does."""
    return view_counter().flush()


def reader(number: int) -> dict:
    return {"environ_base": {"REMOTE_ADDR": f"10.1.{number // 250}.{number % 250 + 1}"}}


def view_count(article_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Article, article_id).view_count


def modified_stamps(client, article_id: int) -> tuple[str, str, str]:
    """What the article page, the sitemap and the feed say about when the article last changed."""
    last_modified = client.get(f"/articles/{article_id}").headers["Last-Modified"]
    urlset = ET.fromstring(client.get("/sitemap-articles-1.xml").data)
    lastmod = next(
        entry.find(f"{SITEMAP}lastmod").text
        for entry in urlset.iter(f"{SITEMAP}url")
        if entry.find(f"{SITEMAP}loc").text.endswith(f"/articles/{article_id}")
    )
    feed = ET.fromstring(client.get("/feed.xml").data)
    updated = next(
        entry.find(f"{ATOM}updated").text
        for entry in feed.iter(f"{ATOM}entry")
        if entry.find(f"{ATOM}id").text.endswith(f"/articles/{article_id}")
    )
    return last_modified, lastmod, updated


def test_reading_never_moves_last_modified_but_an_edit_does(client, seeded, monkeypatch):
    before = modified_stamps(client, seeded.id)
    monkeypatch.setattr(text, "CLOCK_OFFSET", text.CLOCK_OFFSET + timedelta(days=3))
    for number in range(30):
        assert client.get(f"/articles/{seeded.id}", **reader(number)).status_code == 200
    assert fold_counts() > 0
    assert view_count(seeded.id) > 0
    assert modified_stamps(client, seeded.id) == before

    article = db.session.get(Article, seeded.id)
    article.title = "拉紧基层疫情防控警戒线（更新）"
    db.session.commit()
    after_edit = modified_stamps(client, seeded.id)
    assert all(old != new for old, new in zip(before, after_edit, strict=True))
