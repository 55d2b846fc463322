"""Reader pages stored on disk (microsite.web.page_cache): a second reader gets the stored page,
and no change an admin can make is ever hidden behind it."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from microsite.content.models import CLEARED, Article, MaskedWord, User
from microsite.content.site import save_settings
from microsite.extensions import db
from microsite.text import local_now
from microsite.views import public
from microsite.web import counting, page_cache
from tests.support.app import soup
from tests.support.factories import add_article, make_user
from tests.support.forms import sign_in
from tests.support.sql import statements

HX = {"HX-Request": "true"}


@pytest.fixture
def author(app) -> User:
    user = User(username="reporter", display_name="本网记者")
    db.session.add(user)
    db.session.commit()
    return user


@pytest.fixture
def story(app, author) -> Article:
    earlier = local_now() - timedelta(days=1)
    add_article("劳务派遣新规解读", "<p>用工单位不得退回派遣员工。</p>", published_at=earlier)
    return add_article(
        "人力资源市场周报", "<p>本周招聘需求上升。</p>", author=author, source_note="来源：人社局"
    )


def stored_pages(app) -> list[Path]:
    return list(Path(app.config["PAGE_CACHE_DIR"]).glob("*/*.page"))


def test_a_second_reader_gets_the_stored_page_without_rendering(app, client, story, monkeypatch):
    first = client.get(f"/articles/{story.id}")
    assert first.status_code == 200 and len(stored_pages(app)) == 1
    assert first.headers["X-Cache"] == "miss"
    stamps = []
    stamp_row = page_cache.stamp_row
    monkeypatch.setattr(page_cache, "stamp_row", lambda a: stamps.append(1) or stamp_row(a))
    seen = [s for s, _ in statements(app, lambda: client.get(f"/articles/{story.id}"))]
    again = client.get(f"/articles/{story.id}")
    assert again.get_data() == first.get_data()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["X-Cache"] == "hit"
    # A stored page is a reader's 200 for the content the stamp names: no article is read,
    # nothing goes through the ORM (nor the scheduler's TESTING check, a before_request hook:
    # microsite.web.front answers before Flask). The stamp is one query on its own connection.
    assert seen == [] and stamps == [1, 1]


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda a: setattr(a, "title", "人力资源市场周报（更正）"), "人力资源市场周报（更正）"),
        (lambda a: setattr(a, "body", "<p>本周招聘需求明显上升。</p>"), "明显上升"),
        (lambda a: setattr(a, "source_note", "来源：市统计局"), "来源：市统计局"),
        (lambda a: setattr(a.author, "display_name", "特约记者"), "特约记者 - reporter"),
        (lambda a: save_settings(site_name="新人力资讯"), "新人力资讯"),
        (lambda a: db.session.add(MaskedWord(word="招聘")), "本周***需求"),
    ],
    ids=["title", "body", "source", "byline", "setting", "masked word"],
)
def test_every_change_shows_on_the_next_request(client, story, change, expected):
    assert expected not in client.get(f"/articles/{story.id}").get_data(as_text=True)
    change(story)
    db.session.commit()
    assert expected in client.get(f"/articles/{story.id}").get_data(as_text=True)


def test_removing_a_masked_word_shows_the_word_again(client, story):
    word = MaskedWord(word="招聘")
    db.session.add(word)
    db.session.commit()
    assert "本周***需求" in client.get(f"/articles/{story.id}").get_data(as_text=True)
    db.session.delete(word)
    db.session.commit()
    assert "本周招聘需求" in client.get(f"/articles/{story.id}").get_data(as_text=True)


def test_a_deploy_with_other_templates_or_code_renders_afresh(client, story, monkeypatch):
    before = client.get(f"/articles/{story.id}")
    client.get(f"/articles/{story.id}")  # stored
    monkeypatch.setattr(page_cache, "_code_version", ["another deploy"])
    rendered = []
    real = public._article_page
    monkeypatch.setattr(public, "_article_page", lambda *a: rendered.append(1) or real(*a))
    after = client.get(f"/articles/{story.id}")
    assert rendered == [1] and after.get_data() == before.get_data()


def test_a_new_article_reaches_the_home_page_and_its_neighbour(client, story):
    client.get("/")
    client.get(f"/articles/{story.id}")
    newer = add_article("三季度就业形势分析", "<p>就业形势总体稳定。</p>")
    home = soup(client.get("/"))
    assert home.select("ol.headlines a, .headlines a")[0].get_text(strip=True) == newer.title
    page = client.get(f"/articles/{story.id}").get_data(as_text=True)
    assert f"/articles/{newer.id}" in page


def test_clearing_an_article_shows_its_placeholder_in_lists_at_once(client, story):
    assert story.title in client.get("/").get_data(as_text=True)
    story.status, story.cleared_at = CLEARED, local_now()
    db.session.commit()
    page = client.get("/").get_data(as_text=True)
    assert story.title not in page and "标题和内容已经清空" in page
    assert client.get(f"/articles/{story.id}").status_code == 410


def test_fragment_and_full_page_are_stored_apart(client, story):
    fragment = client.get("/", headers=HX).get_data(as_text=True)
    page = client.get("/").get_data(as_text=True)
    assert "<html" not in fragment and "<html" in page
    assert "<html" not in client.get("/", headers=HX).get_data(as_text=True)
    assert "HX-Request" in client.get("/").headers["Vary"]


def test_a_stored_page_answers_if_none_match_with_304(client, story):
    etag = client.get(f"/articles/{story.id}").headers["ETag"]
    client.get(f"/articles/{story.id}")  # stored now
    response = client.get(f"/articles/{story.id}", headers={"If-None-Match": etag})
    assert response.status_code == 304 and not response.get_data()


def test_views_are_counted_on_stored_pages(app, client, story, monkeypatch):
    monkeypatch.setattr(counting, "FLUSH_SECONDS", 0)
    for _ in range(3):
        # Each request as a different reader: one reader's reloads count once.
        client.get(f"/articles/{story.id}", environ_base={"REMOTE_ADDR": f"10.0.0.{_ + 1}"})
    counting.view_counter().flush()
    db.session.expire_all()
    assert db.session.get(Article, story.id).view_count == 3


def test_signed_in_staff_get_fresh_pages_and_none_are_stored(app, story):
    make_user("desk", role="editor")
    staff = app.test_client()
    sign_in(staff, "desk")
    before = len(stored_pages(app))
    page = staff.get(f"/articles/{story.id}")
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    assert len(stored_pages(app)) == before


def test_a_broken_cache_folder_costs_time_not_pages(app, client, story, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    app.config["PAGE_CACHE_DIR"] = str(blocker)
    for _ in range(2):
        response = client.get(f"/articles/{story.id}")
        assert response.status_code == 200 and story.title in response.get_data(as_text=True)


def test_a_damaged_stored_page_is_rendered_again(app, client, story):
    client.get(f"/articles/{story.id}")
    (entry,) = stored_pages(app)
    entry.write_bytes(b"{not json")
    response = client.get(f"/articles/{story.id}")
    assert response.status_code == 200 and story.title in response.get_data(as_text=True)


def test_older_stamps_are_removed_after_their_grace_period(app, client, story):
    client.get("/")
    (old,) = {path.parent for path in stored_pages(app)}
    past = time.time() - page_cache.GRACE - 1
    os.utime(old, (past, past))
    add_article("新的一篇", "<p>新内容</p>")  # a new stamp
    client.get("/")
    folders = {path.parent for path in stored_pages(app)}
    assert old not in folders and not old.exists() and len(folders) == 1


def test_the_cache_can_be_turned_off(app, client, story):
    app.config["PAGE_CACHE_DIR"] = ""
    client.get("/")
    client.get("/")
    cache = Path(app.instance_path) / "cache"
    assert cache.parent.is_dir() and not any(cache.glob("*/*.page"))


def meta_urls(response) -> tuple[str, str]:
    page = soup(response)
    canonical = page.find("link", rel="canonical")["href"]
    return canonical, page.find("meta", property="og:url")["content"]


def test_junk_parameters_create_no_entries_and_are_not_echoed(app, client, story):
    """Issue 14.5: `?x=<8 KB>` once made a new 23 KB entry per request and showed up in
    canonical and og:url. Pages name the parameters they read; the rest count for nothing."""
    urls = [f"/articles/{story.id}", f"/articles/{story.id}/related", "/", "/?page=1"]
    clean = {url: client.get(url) for url in urls}
    stored = sorted(stored_pages(app))
    assert len(stored) == len(urls)
    for n in range(20):
        for url in urls:
            separator = "&" if "?" in url else "?"
            junk = [f"x{n}={'A' * 8000}"]
            if url == urls[0]:
                junk.append(f"page={n + 2}")  # the article page reads no page number
            for query in junk:
                response = client.get(f"{url}{separator}{query}")
                assert response.status_code == 200, url
                assert response.get_data() == clean[url].get_data(), url
                assert meta_urls(response) == meta_urls(clean[url])
                assert "AAAA" not in response.get_data(as_text=True)
    assert sorted(stored_pages(app)) == stored
    assert meta_urls(clean["/?page=1"]) == ("http://localhost/?page=1",) * 2
    assert meta_urls(clean[urls[0]]) == (f"http://localhost/articles/{story.id}",) * 2


def test_canonical_urls_keep_the_parameters_a_page_reads(client, story):
    response = client.get("/search?q=周报&sort=date&page=1&utm_source=x&x=" + "B" * 5000)
    assert meta_urls(response)[0] == (
        "http://localhost/search?q=%E5%91%A8%E6%8A%A5&sort=date&page=1"
    )
    response = client.get(f"/articles/{story.id}/related?page=1&ref=" + "C" * 5000)
    assert meta_urls(response)[0] == f"http://localhost/articles/{story.id}/related?page=1"
