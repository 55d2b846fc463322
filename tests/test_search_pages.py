"""Stored search pages (microsite.web.search_pages), as README ("Speed") promises them: a
repeated query is answered from the store without running the engine, and a change shows on
the next search once the index has it (with Whoosh: as soon as the worker applied it, even
when a page of the same stamp was stored before); a fragment never answers for a full page
nor the reverse; refused input keeps its 4xx; signed-in users always get fresh results.
Runs on both backends (scripts/with-postgres: PostgreSQL search)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from microsite import search
from microsite.content.models import CLEARED, MaskedWord
from microsite.content.site import save_settings
from microsite.extensions import db
from microsite.search import backends, sync
from microsite.web import page_cache, search_pages
from tests.support.app import FreshContextClient, make_app
from tests.support.factories import add_article
from tests.support.search import BACKEND, hit_ids, whoosh_only

HX = {"HX-Request": "true"}
README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.fixture
def story(indexed):
    return add_article("人力资源市场周报", "<p>本周招聘需求上升，派遣岗位增加。</p>")


@pytest.fixture
def engine_calls(app, monkeypatch) -> list:
    """Every search the engine runs, recorded (the backend's own search, spied on)."""
    backend = app.extensions[backends.EXTENSION]
    calls, real = [], backend.search
    monkeypatch.setattr(backend, "search", lambda *a, **k: calls.append(a) or real(*a, **k))
    return calls


def get(client, q: str, headers=None, **params):
    return client.get("/search", query_string={"q": q, **params}, headers=headers or {})


def ids_of(response) -> list[int]:
    return hit_ids(BeautifulSoup(response.get_data(as_text=True), "html.parser"))


def titles(response) -> list[str]:
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    return [title.get_text() for title in page.select(".search-hit__title")]


def test_a_repeat_is_a_file_read_not_a_search(app, client, story, engine_calls):
    first = get(client, "周报")
    assert first.headers["X-Cache"] == "miss" and ids_of(first) == [story.id]
    entered = []
    app.before_request_funcs.setdefault(None, []).append(lambda: entered.append(1))
    again = get(client, "周报")
    # Answered by the front (no Flask hook ran), and the engine ran once in all.
    assert again.headers["X-Cache"] == "hit" and entered == []
    assert again.get_data() == first.get_data() and len(engine_calls) == 1
    assert again.headers["Cache-Control"] == "public, no-cache"
    assert "HX-Request" in again.headers["Vary"]


def test_inputs_that_make_the_same_page_share_it(app, client, story):
    """Only what provably renders the same page: the cleaned query, the sort and the page
    number as the view reads them (each pair rendered with nothing stored, then stored)."""
    same = [
        ({"q": "周报"}, {"q": "  周报 \t"}),
        ({"q": "周报", "sort": "relevance"}, {"q": "周报", "sort": "whatever"}),
    ]
    for one, other in same:
        root, app.config["PAGE_CACHE_DIR"] = app.config["PAGE_CACHE_DIR"], ""
        made = [client.get("/search", query_string=params) for params in (one, other)]
        app.config["PAGE_CACHE_DIR"] = root
        assert made[0].get_data() == made[1].get_data(), (one, other)
        first = client.get("/search", query_string=one)
        second = client.get("/search", query_string=other)
        assert second.headers["X-Cache"] == "hit", (one, other)
        assert first.get_data() == second.get_data() == made[0].get_data()
    # Folding is the analyzer's business, not the page's: the heading shows what was typed.
    assert get(client, "周報").headers["X-Cache"] == "miss"
    assert get(client, "周报", sort="date").headers["X-Cache"] == "miss"


def test_a_fragment_never_answers_for_a_full_page_nor_the_reverse(client, story):
    for q, order in (("周报", (HX, {})), ("招聘", ({}, HX))):
        for headers in (*order, *order):
            response = get(client, q, headers)
            body = response.get_data(as_text=True)
            assert ("<html" in body) is (headers != HX), (q, headers)
            assert "HX-Request" in response.headers["Vary"]
        assert response.headers["X-Cache"] == "hit"


@pytest.mark.parametrize(
    "params, status",
    [
        ({"page": "abc"}, 400),
        ({"page": "0"}, 400),
        ({"page": "01"}, 400),
        ({"page": "101"}, 404),
        ({"page": "9"}, 404),
    ],
)
def test_refused_input_keeps_its_error(client, story, params, status):
    for _ in range(3):
        response = get(client, "周报", **params)
        assert response.status_code == status
        assert response.headers.get("X-Cache") != "hit"


def test_a_leading_zero_is_refused_even_with_page_one_stored(client, story):
    """The view refuses `page=01` (each spelling would be a stored page of its own): the
    front must not answer it from page 1's stored copy either."""
    assert get(client, "周报", page="1").status_code == 200
    assert get(client, "周报", page="1").headers["X-Cache"] == "hit"
    refused = get(client, "周报", page="01")
    assert refused.status_code == 400 and refused.headers.get("X-Cache") != "hit"


def test_every_change_shows_on_the_next_search(client, story, engine_calls):
    """Publish, edit, clear, a masked word, a setting: the stored page is never shown again."""
    assert ids_of(get(client, "派遣岗位")) == [story.id]
    assert get(client, "派遣岗位").headers["X-Cache"] == "hit"
    other = add_article("派遣岗位新规", "<p>派遣岗位的新规定。</p>")
    assert set(ids_of(get(client, "派遣岗位"))) == {story.id, other.id}
    story.title = "人力资源市场周报（更正）"
    db.session.commit()
    assert "（更正）" in get(client, "派遣岗位").get_data(as_text=True)
    story.status = CLEARED
    db.session.commit()
    assert ids_of(get(client, "派遣岗位")) == [other.id]
    assert titles(get(client, "派遣岗位")) == ["派遣岗位新规"]
    db.session.add(MaskedWord(word="新规"))
    db.session.commit()
    assert titles(get(client, "派遣岗位")) == ["派遣岗位***"]
    save_settings(site_name="新人力资讯")
    db.session.commit()
    assert "新人力资讯" in get(client, "派遣岗位").get_data(as_text=True)
    assert get(client, "派遣岗位").headers["X-Cache"] == "hit"


@whoosh_only
def test_a_page_stored_before_the_worker_applied_a_change_does_not_hide_it(
    app, client, story, monkeypatch
):
    """The worker applies the change log a moment after the commit. A page made in that
    moment (even if stored, as when the worker lands between the render and the store) is
    named by the index state it read: once the worker has applied the change, the next
    search finds it, from the front as from Flask."""
    monkeypatch.setitem(app.extensions, sync.ON_LOGGED, lambda: None)  # the worker waits
    monkeypatch.setattr(page_cache, "_index_caught_up", lambda: True)  # and lands late
    fresh = add_article("灵活用工指引", "<p>灵活用工的新指引发布。</p>")
    for _ in range(2):
        lagging = get(client, "灵活用工")
        assert ids_of(lagging) == []
    assert lagging.headers["X-Cache"] == "hit"  # stored under the publish's stamp
    assert search.apply_pending(app) >= 1
    found = get(client, "灵活用工")
    assert found.headers["X-Cache"] == "miss" and ids_of(found) == [fresh.id]


def test_the_index_state_is_read_before_the_search(app, client, story, monkeypatch):
    """A page holds an index at least as new as its name: the state it is stored under is
    read before the engine runs (a commit in between only makes the page newer)."""
    order = []
    backend = app.extensions[backends.EXTENSION]
    real_state, real_search = search_pages.index_state, backend.search
    monkeypatch.setattr(
        search_pages, "index_state", lambda a: order.append("state") or real_state(a)
    )
    monkeypatch.setattr(
        backend, "search", lambda *a, **k: order.append("search") or real_search(*a, **k)
    )
    assert get(client, "招聘需求").headers["X-Cache"] == "miss"
    assert order[0] == "state" and "search" in order
    assert order.index("search") > max(i for i, x in enumerate(order) if x == "state")


@whoosh_only
def test_no_stored_page_without_an_index(seeded, client, engine_calls):
    for headers in (HX, HX, {}, {}):
        response = get(client, "疫情", headers)
        assert "搜索暂不可用" in response.get_data(as_text=True)
        assert response.headers.get("X-Cache") != "hit"
        assert response.headers["Cache-Control"] == "no-store"
    search.rebuild()
    assert ids_of(get(client, "疫情"))


def test_an_empty_index_is_asked_again(app, client):
    """An index with no documents (being filled) answers "nothing found": not kept."""
    search.rebuild()
    assert get(client, "周报").headers["X-Cache"] == "miss"
    assert get(client, "周报").headers["X-Cache"] == "miss"


def test_a_signed_in_editor_gets_fresh_results(client, story, engine_calls, sign_in_as):
    get(client, "周报")
    assert get(client, "周报").headers["X-Cache"] == "hit"
    editor = sign_in_as("editor")
    for _ in range(2):
        response = get(editor, "周报")
        assert response.headers.get("X-Cache") != "hit" and ids_of(response) == [story.id]
        assert "no-store" in response.headers["Cache-Control"]
    assert len(engine_calls) == 3


def test_stored_search_pages_are_bounded(tmp_path):
    app = make_app(tmp_path, PAGE_CACHE_MAX_ENTRIES=3)
    app.test_client_class = FreshContextClient
    with app.app_context():
        search.rebuild()
        add_article("人力资源市场周报", "<p>本周招聘需求上升。</p>")
        stamp_folders = Path(app.config["PAGE_CACHE_DIR"])
        client = app.test_client()
        for q in ("周报", "招聘", "需求", "人力", "资源"):
            assert get(client, q).status_code == 200
        stamp = page_cache.content_stamp()
    assert len(list((stamp_folders / stamp).glob("*.page"))) == 3


def test_the_front_answers_as_the_flask_app_does(app, client, story):
    from werkzeug.test import Client

    for headers in ({}, HX):
        first = get(client, "周报", headers)
        from_flask = Client(app.wsgi_app.flask_wsgi).get(
            "/search", query_string={"q": "周报"}, headers=headers
        )
        from_front = get(client, "周报", headers)
        assert from_front.headers["X-Cache"] == from_flask.headers["X-Cache"] == "hit"
        assert from_front.get_data() == from_flask.get_data() == first.get_data()
        drop = {"Date"}
        assert sorted((k, v) for k, v in from_front.headers.items() if k not in drop) == sorted(
            (k, v) for k, v in from_flask.headers.items() if k not in drop
        )


@pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL search's own reindex")
def test_a_postgresql_reindex_shows_on_the_next_search(client, story):
    """A reindex writes the vectors with raw SQL: it moves the stamp itself."""
    from sqlalchemy import text

    db.session.execute(text("UPDATE articles SET search_vector = NULL WHERE id = :i"),
                       {"i": story.id})  # fmt: skip
    db.session.commit()
    assert ids_of(get(client, "周报")) == []
    assert get(client, "周报").headers["X-Cache"] == "hit"
    search.rebuild()
    assert ids_of(get(client, "周报")) == [story.id]


def test_readme_states_how_stale_a_search_page_can_be():
    text = " ".join(README.split())
    assert "Search pages are stored too" in text
    assert "once the worker has applied it" in text
    assert search_pages.PATH == "/search"
