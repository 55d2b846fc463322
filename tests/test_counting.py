"""Page views: counted once per reader and window on every host, never by crawlers, and a read
never changes what the site says was last modified."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET

import pytest
from flask import current_app
from sqlalchemy import func, select

from microsite import create_app, jobs
from microsite.content.models import Article, ViewMark
from microsite.extensions import db
from microsite.web import counting
from microsite.web.counting import fold_views, view_counter

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(autouse=True)
def _pages_rendered_fresh(app):
    # A stored page keeps the Last-Modified it was rendered with: look at what the database says.
    app.config["PAGE_CACHE_DIR"] = ""


@pytest.fixture(autouse=True)
def _writes_only_when_asked(monkeypatch):
    # On a slow machine a run of requests can outlast FLUSH_SECONDS; each test says when.
    monkeypatch.setattr(counting, "FLUSH_SECONDS", 10**9)


def fold_counts() -> int:
    """Write this worker's buffered views, then add every recorded view to the articles'
    counts as the background job does; returns the views added."""
    view_counter().write_marks()
    return fold_views(current_app._get_current_object())


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


def test_reading_never_moves_last_modified_but_an_edit_does(client, seeded, site_clock):
    before = modified_stamps(client, seeded.id)
    site_clock.move(days=3)
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


# --- one view per reader, whatever it claims to be ------------------------------------------

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def test_a_hundred_user_agents_from_one_address_are_one_view(client, seeded):
    before = view_count(seeded.id)
    for number in range(100):
        headers = {"User-Agent": f"{BROWSER} reader/{number}"}
        response = client.get(f"/articles/{seeded.id}", headers=headers, **reader(7))
        assert response.status_code == 200
    assert fold_counts() == 1
    assert view_count(seeded.id) == before + 1


def test_other_addresses_count_and_an_ipv6_subscriber_is_one_reader(client, seeded):
    for number in range(5):
        client.get(f"/articles/{seeded.id}", **reader(number))
    for host in range(5):  # five addresses of one /64: one household, one reader
        client.get(f"/articles/{seeded.id}", environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{host}"})
    client.get(f"/articles/{seeded.id}", environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert fold_counts() == 7
    assert view_count(seeded.id) == 7


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
        "Mozilla/5.0 (compatible; 360Spider)",
        "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 YisouSpider/5.0 Safari/537.36",
        "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (compatible; Bytespider)",
        "Mozilla/5.0 (compatible; SomeNewCrawler/0.1)",
        "facebookexternalhit/1.1",
    ],
)
def test_crawlers_are_not_readers(client, seeded, user_agent):
    for number in range(3):
        headers = {"User-Agent": user_agent}
        assert client.get(f"/articles/{seeded.id}", headers=headers, **reader(number)).status_code
    assert fold_counts() == 0
    assert view_count(seeded.id) == 0


def test_browsers_that_look_a_little_like_robots_still_count(client, seeded):
    cubot = "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 Chrome/120.0"
    sogou = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 SE 2.X MetaSr 1.0 SogouMobileBrowser"
    client.get(f"/articles/{seeded.id}", headers={"User-Agent": cubot}, **reader(1))
    client.get(f"/articles/{seeded.id}", headers={"User-Agent": sogou}, **reader(2))
    assert fold_counts() == 2


def test_a_head_request_is_not_a_view(client, seeded):
    assert client.head(f"/articles/{seeded.id}", **reader(1)).status_code == 200
    assert fold_counts() == 0


def test_one_reader_on_two_hosts_is_one_view(app, client, seeded):
    """Two apps on one database stand for two hosts (or two gunicorn workers)."""
    other_host = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": app.config["SECRET_KEY"],
            "INSTANCE_PATH": app.instance_path + "-other",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"] + "-other",
            "PAGE_CACHE_DIR": "",
        }
    )
    try:
        for _ in range(3):
            assert client.get(f"/articles/{seeded.id}", **reader(1)).status_code == 200
            other = other_host.test_client().get(f"/articles/{seeded.id}", **reader(1))
            assert other.status_code == 200
        with other_host.app_context():
            view_counter().write_marks()
        assert fold_counts() == 1
        assert fold_counts() == 0  # folded once, never again
    finally:
        with other_host.app_context():
            db.engine.dispose()
    assert view_count(seeded.id) == 1


def test_the_next_window_counts_again_and_old_marks_are_forgotten(client, seeded, site_clock):
    start = counting.window_start()
    site_clock.set(start + 60)
    client.get(f"/articles/{seeded.id}", **reader(1))
    assert fold_counts() == 1
    site_clock.set(start + counting.REPEAT_WINDOW - 1)
    client.get(f"/articles/{seeded.id}", **reader(1))
    assert fold_counts() == 0
    site_clock.set(start + counting.REPEAT_WINDOW + 1)
    client.get(f"/articles/{seeded.id}", **reader(1))
    assert fold_counts() == 1
    assert view_count(seeded.id) == 2
    site_clock.set(start + 3 * counting.REPEAT_WINDOW)
    fold_counts()
    assert db.session.scalar(select(func.count()).select_from(ViewMark)) == 0


def test_marks_never_hold_the_address(client, seeded):
    client.get(f"/articles/{seeded.id}", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    view_counter().write_marks()
    (mark,) = db.session.execute(select(ViewMark)).scalars()
    assert "203.0.113.9" not in repr(vars(mark))
    assert mark.article_id == seeded.id and mark.fold is None


def test_a_reader_writes_its_mark_when_due_and_the_worker_counts_it(
    app, client, seeded, monkeypatch
):
    monkeypatch.setattr(counting, "FLUSH_SECONDS", 0)
    client.get(f"/articles/{seeded.id}", **reader(1))
    assert db.session.scalar(select(func.count()).select_from(ViewMark)) == 1
    assert view_count(seeded.id) == 0  # a reader's request never updates the counts
    assert jobs.fold_view_counts() == 1  # the worker's minute job
    client.get(f"/articles/{seeded.id}", **reader(1))
    assert jobs.fold_view_counts() == 0
    assert view_count(seeded.id) == 1


def test_folds_running_at_once_count_every_mark_once(app, client, seeded):
    counter = view_counter()
    for number in range(300):
        with app.test_request_context(
            f"/articles/{seeded.id}",
            environ_base={"REMOTE_ADDR": f"10.3.{number // 250}.{number % 250}"},
        ):
            counter.record(seeded.id)
    assert counter.write_marks() == 300
    start, added, failures = threading.Barrier(4), [], []

    def fold() -> None:
        try:
            start.wait(timeout=30)
            added.append(fold_views(app))
        except Exception as error:  # reported below, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=fold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures and len(added) == 4
    assert sum(added) == 300
    assert view_count(seeded.id) == 300
