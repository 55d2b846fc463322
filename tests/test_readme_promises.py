"""Promises README makes that no other test held the code to, each tried by behaviour with the
number README states (not the constant the code uses, so changing one without the other fails):

- search input is cut at 200 characters;
- 『…』 quotes a phrase like "…", “…” and 「…」;
- title matches weigh most;
- the page cache stores at most MICROSITE_PAGE_CACHE_MAX_ENTRIES pages per content version;
- SQLite runs in WAL mode (readers go on while another connection writes) with a 15 s busy
  timeout (a briefly locked database makes a save wait instead of fail).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

import pytest

from microsite import search
from microsite.content.models import Article, Tag
from microsite.extensions import db
from tests.support.app import POSTGRES, make_app, soup
from tests.support.factories import add_article, make_user
from tests.support.forms import post_form, sign_in
from tests.support.search import hit_ids, results
from tests.support.sql import write_lock_held

README = Path(__file__).resolve().parent.parent / "README.md"
sqlite_only = pytest.mark.skipif(bool(POSTGRES), reason="SQLite's journal and locking")


def readme_number(pattern: str) -> int:
    """A number README states, found by the sentence around it."""
    text = " ".join(README.read_text(encoding="utf-8").split())
    found = re.search(pattern, text)
    assert found, f"README no longer says {pattern!r}"
    return int(found.group(1))


@pytest.fixture
def index(app):
    """An empty search index that follows the database's commits."""
    search.rebuild()
    return app


# --- search input cut at 200 characters ------------------------------------------------------

QUERY_CUT = readme_number(r"Input is cut at (\d+) characters")
FILLER = "，"  # punctuation: it counts as typed input but is ignored as a search word
WORD = "鲸落"
ABSENT = "查无此词"  # in no article: if it reaches the query, nothing can match


def query_with_word_ending_at(last: int, length: int = 250) -> str:
    """`length` characters of input whose search word ends at character `last` (1-based),
    with punctuation before it and, from two characters after it, a word no article has."""
    head = FILLER * (last - len(WORD) - 1) + " " + WORD
    assert len(head) == last
    tail = " " + ABSENT
    text = head + tail
    return text + FILLER * (length - len(text))


def test_the_search_box_reads_200_characters_and_no_more(client, index):
    assert QUERY_CUT == 200
    article = add_article("深海生态", f"<p>一头巨鲸沉入海底，形成{WORD}。</p>")
    assert hit_ids(results(client, WORD)) == [article.id]
    # The word's last character is the 200th: it is read, and ABSENT (202nd on) is cut off.
    within = query_with_word_ending_at(QUERY_CUT)
    assert len(within) == 250
    assert hit_ids(results(client, within)) == [article.id]
    # One character later, the word's last character is the 201st: the word is cut in two,
    # and what is left of it cannot find the article.
    beyond = query_with_word_ending_at(QUERY_CUT + 1)
    assert hit_ids(results(client, beyond)) == []
    # The box shows what was searched for: the first 200 characters.
    shown = results(client, within).select_one("#site-search")["value"]
    assert shown == within[:QUERY_CUT].strip()


# --- 『…』 quoting ---------------------------------------------------------------------------


def test_corner_bracket_quotes_find_the_exact_phrase(client, index):
    together = add_article("检测通知", "<p>本周核酸检测结果全部为阴性。</p>")
    apart = add_article("检测安排", "<p>核酸检测安排在周三，结果周五公布。</p>")
    assert sorted(hit_ids(results(client, "核酸检测 结果"))) == sorted([together.id, apart.id])
    for quoted in ("『核酸检测 结果』", "「核酸检测 结果」", '"核酸检测 结果"', "“核酸检测 结果”"):
        assert hit_ids(results(client, quoted)) == [together.id], quoted


# --- title matches weigh most ----------------------------------------------------------------


def test_a_title_match_outranks_the_same_word_in_a_body_or_keyword(client, index):
    # A long title with the word once against a short body and a one-word keyword with it
    # once: shorter fields score higher for the same word, so only the title's weight (the
    # most of any field) puts it first. The title match is the oldest: date order puts it last.
    padding = "本地海洋生态保护工作的若干思考与建议以及对未来发展方向展望" * 3
    long_title = f"关于{WORD}{padding}的观察"
    assert 90 < len(long_title) < 200
    in_title = add_article(long_title, "<p>另见附件。</p>", published_at=datetime(2020, 1, 1))
    in_body = add_article("每周通报", f"<p>关于{WORD}的观察</p>")
    in_keyword = add_article("每周简报", "<p>另见附件。</p>", tags=[Tag(name=WORD)])
    ranked = hit_ids(results(client, WORD))
    assert ranked[0] == in_title.id
    assert set(ranked) == {in_title.id, in_body.id, in_keyword.id}
    assert hit_ids(results(client, WORD, sort="date"))[-1] == in_title.id


# --- the page cache's entry cap --------------------------------------------------------------


def stored_pages(app) -> list[Path]:
    return list(Path(app.config["PAGE_CACHE_DIR"]).glob("*/*.page"))


def test_the_page_cache_stores_at_most_the_configured_number_of_pages(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROSITE_PAGE_CACHE_MAX_ENTRIES", "3")
    app = make_app(tmp_path, WTF_CSRF_ENABLED=False)
    with app.app_context():
        ids = [add_article(f"第{n}篇报道", f"<p>第{n}篇的正文。</p>").id for n in range(1, 7)]
        db.session.remove()
    client = app.test_client()
    for n, article_id in enumerate(ids, start=1):
        page = client.get(f"/articles/{article_id}")
        assert page.status_code == 200
        assert soup(page).select_one("h1").get_text(strip=True) == f"第{n}篇报道"
    assert len(stored_pages(app)) == 3
    # Pages past the cap are still served, rendered each time, and right.
    for n, article_id in enumerate(ids, start=1):
        page = client.get(f"/articles/{article_id}")
        assert soup(page).select_one("h1").get_text(strip=True) == f"第{n}篇报道"
    assert len(stored_pages(app)) == 3
    # The cap is per content version: after a change, new pages are stored again.
    with app.app_context():
        add_article("第7篇报道", "<p>新的内容版本。</p>")
        db.session.remove()
    for article_id in ids:
        client.get(f"/articles/{article_id}")
    newest = max(Path(app.config["PAGE_CACHE_DIR"]).iterdir(), key=lambda p: p.stat().st_mtime)
    assert len(list(newest.glob("*.page"))) == 3


def test_the_page_cache_cap_defaults_to_the_readme_number(tmp_path, monkeypatch):
    monkeypatch.delenv("MICROSITE_PAGE_CACHE_MAX_ENTRIES", raising=False)
    stated = readme_number(r"`MICROSITE_PAGE_CACHE_MAX_ENTRIES` \| `(\d+)`")
    assert make_app(tmp_path).config["PAGE_CACHE_MAX_ENTRIES"] == stated


# --- SQLite: WAL mode and the busy timeout ---------------------------------------------------

BUSY_TIMEOUT_SECONDS = readme_number(r"WAL mode with a (\d+) s busy timeout")


@pytest.fixture
def site(tmp_path):
    """A production-like app (CSRF on) with an admin and one published article."""
    app = make_app(tmp_path)
    with app.app_context():
        make_user()
        article_id = add_article("锁测试文章", "<p>数据库加锁时的读者页面。</p>").id
        db.session.remove()
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    return app, article_id, path


@sqlite_only
def test_readers_are_served_while_another_connection_holds_an_exclusive_lock(site):
    """In WAL mode an EXCLUSIVE transaction still lets readers read; in the default rollback
    journal it locks them out (they would wait out the busy timeout and fail)."""
    app, article_id, path = site
    app.config["PAGE_CACHE_DIR"] = ""  # every view reads the database
    blocker = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        blocker.execute("UPDATE articles SET title = '未提交的标题' WHERE id = ?", (article_id,))
        page = app.test_client().get(f"/articles/{article_id}")
        assert page.status_code == 200
        # The reader sees the last committed text, never the uncommitted one.
        assert soup(page).select_one("h1").get_text(strip=True) == "锁测试文章"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@sqlite_only
def test_a_save_waits_for_a_locked_database_and_then_succeeds(site):
    """Another connection holds the write lock until the admin's save has begun writing: the
    save waits for it (busy timeout) and is stored once the lock goes, instead of failing
    with "database is locked"."""
    app, _, _ = site
    desk = app.test_client()
    assert sign_in(desk).status_code == 302
    order: list[str] = []

    def save() -> None:
        response = post_form(
            desk, "/admin/articles/new", title="锁等待 busytoken", body="正文。",
            category="栏目", tags="", source_note="", status="published", published_at="",
            save="保存",
        )  # fmt: skip
        order.append(f"saved {response.status_code}")

    thread = threading.Thread(target=save, name="save")
    with write_lock_held(app, thread) as writing:
        thread.start()
        assert writing.wait(timeout=60), "the save never began writing"
        # The lock is still held here; a save without a busy timeout has failed by now or
        # fails on its first write, before the lock goes.
        order.append("released")
    assert order == ["released", "saved 302"]
    with app.app_context():
        saved = db.session.scalar(db.select(Article).filter_by(title="锁等待 busytoken"))
        assert saved is not None
        db.session.remove()


@sqlite_only
def test_the_busy_timeout_is_the_readme_number(site):
    app, _, _ = site
    assert BUSY_TIMEOUT_SECONDS == 15
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            timeout_ms = raw.cursor().execute("PRAGMA busy_timeout").fetchone()[0]
        finally:
            raw.close()
    assert timeout_ms == BUSY_TIMEOUT_SECONDS * 1000
