"""Related headlines computed by the worker (microsite.content.related): a reader's first view of an
article never asks the search engine, and the worker's list shows once it is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest

from microsite import jobs, search
from microsite.content import related
from microsite.content.models import RelatedList
from microsite.extensions import db
from microsite.search import backends
from microsite.search.index import SearchUnavailable
from microsite.text import local_now
from tests.support.app import soup
from tests.support.factories import add_article


@pytest.fixture
def engine_calls(app, monkeypatch) -> list[int]:
    """Every more-like-this question put to the configured engine, by article id."""
    calls: list[int] = []
    engine = type(backends.current())
    real = engine.similar

    def similar(self, article, limit):
        calls.append(article.id)
        return real(self, article, limit)

    monkeypatch.setattr(engine, "similar", similar)
    return calls


@pytest.fixture
def story(app):
    """An article whose closest neighbour is old, so the fallback (newest first) differs."""
    long_ago = local_now() - timedelta(days=30)
    twin = add_article(
        "社区网格员走访独居老人", "<p>网格员上门走访独居老人。</p>", published_at=long_ago
    )
    add_article("三季度经济数据发布", "<p>国内生产总值增长。</p>")
    newest = add_article("秋季运动会开幕", "<p>运动员入场。</p>")
    target = add_article("网格员走访独居老人送温暖", "<p>社区网格员走访独居老人。</p>")
    search.rebuild()
    return target, twin, newest


def first_related(client, article) -> str:
    page = soup(client.get(f"/articles/{article.id}"))
    return page.select_one(".related li.headline a").get_text(strip=True)


def test_a_first_view_never_asks_the_search_engine(client, story, engine_calls):
    target, _, newest = story
    assert client.get(f"/articles/{target.id}").status_code == 200
    assert client.get(f"/articles/{target.id}/related?page=2").status_code in (200, 404)
    assert engine_calls == []
    # Nothing stored yet: the latest headlines stand in.
    assert first_related(client, target) == newest.title


def test_the_workers_list_shows_on_the_next_request(client, story, engine_calls):
    target, twin, newest = story
    assert first_related(client, target) == newest.title  # and that page is stored
    assert related.refresh() >= 1
    assert target.id in engine_calls
    assert first_related(client, target) == twin.title
    row = db.session.get(RelatedList, target.id)
    assert row.version == target.version and target.id not in related.decode(row.ids)


def test_an_edit_is_due_again_and_a_fresh_list_is_not(app, story, engine_calls):
    target, _, _ = story
    related.refresh()
    engine_calls.clear()
    assert related.refresh() == 0 and engine_calls == []
    target.body += "<p>志愿者一同前往。</p>"
    db.session.commit()
    assert related.due(10) == [target]
    related.refresh()
    assert engine_calls == [target.id]
    # A day later every list is asked again, so newer articles get their chance.
    later = local_now() + related.MAX_AGE + timedelta(minutes=1)
    assert len(related.due(100, now=later)) == len(related.due(100)) + 4


def test_an_unchanged_list_keeps_the_stored_pages(app, client, story, monkeypatch):
    target, _, _ = story
    related.refresh()
    client.get(f"/articles/{target.id}")  # stored
    rendered = []
    from microsite.views import public

    real = public._article_page
    monkeypatch.setattr(public, "_article_page", lambda *a: rendered.append(1) or real(*a))
    monkeypatch.setattr(related, "MAX_AGE", timedelta(days=-1))  # asked again, same answer
    assert related.refresh() >= 1
    client.get(f"/articles/{target.id}")
    assert rendered == []


def test_without_an_index_nothing_is_stored_and_the_fallback_stays(client, story, monkeypatch):
    target, _, newest = story

    def unavailable(self, article, limit):
        raise SearchUnavailable("no index")

    monkeypatch.setattr(type(backends.current()), "similar", unavailable)
    assert related.refresh() == 0
    assert db.session.get(RelatedList, target.id) is None
    assert first_related(client, target) == newest.title


def test_the_workers_loop_stores_the_lists(app, client, story):
    target, twin, _ = story
    loop = jobs.HostLoop(app)
    loop.stop.set()  # one turn
    loop.run()
    assert first_related(client, target) == twin.title
