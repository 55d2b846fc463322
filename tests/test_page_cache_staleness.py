"""How stale a reader's page can be, and that it is what README ("Speed") promises: a page is
never older than the database when its request asks for the stamp, whether it comes from the
stamp's folder (through microsite.web.front), from the pages kept by what they show, or is being
made while a change commits; browsers and proxies are told to revalidate every use (no
max-age, no stale-while-revalidate); a clear or an unpublish is never served stale."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from microsite.content import scheduling
from microsite.content.models import CLEARED, DRAFT, SCHEDULED, Article, Category, Tag
from microsite.extensions import db
from microsite.text import local_now
from microsite.views import public
from microsite.web import page_cache
from tests.support.factories import add_article

HX = {"HX-Request": "true"}
README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.fixture
def story(app):
    earlier = local_now() - timedelta(days=2)
    news = Category(name="政策解读", slug="zhengce")
    for n in range(14):
        add_article(f"旧闻{n}", "<p>旧的正文。</p>", published_at=earlier + timedelta(hours=n))
    article = add_article("人力资源市场周报", "<p>本周招聘需求上升。</p>", category=news)
    article.tags.append(Tag(name="招聘"))
    db.session.commit()
    return article


def reader_pages(story) -> list[tuple[str, dict]]:
    return [
        (f"/articles/{story.id}", {}),
        (f"/articles/{story.id}/related?page=2", HX),
        (f"/articles/{story.id}/related?page=2", {}),
        ("/", {}),
        ("/", HX),
        ("/tags/招聘", {}),
        ("/categories/zhengce", {}),
    ]


def test_no_browser_or_proxy_may_serve_a_reader_page_without_asking(client, story):
    """README promises revalidation on every use; a stale-while-revalidate or a max-age would
    let a cache serve an old page for that long, so neither is sent, stored or not."""
    assert "`Cache-Control: public, no-cache`" in README
    for path, headers in reader_pages(story):
        for where in ("miss", "hit"):
            response = client.get(path, headers=headers)
            assert response.status_code == 200, path
            assert response.headers["X-Cache"] == where, path
            assert response.headers["Cache-Control"] == "public, no-cache", path


def test_every_reader_page_shows_a_change_on_the_next_request(client, story):
    """Pages kept by what they show and pages of the stamp alike: no staleness at all."""
    for path, headers in reader_pages(story):
        client.get(path, headers=headers)
    for path, headers in reader_pages(story):
        assert client.get(path, headers=headers).headers["X-Cache"] == "hit"
    story.title = "人力资源市场周报（更正）"
    db.session.commit()
    for path, headers in reader_pages(story):
        response = client.get(path, headers=headers)
        if not (headers and "related" in path):  # the related fragment lists the others
            assert "人力资源市场周报（更正）" in response.get_data(as_text=True), path
        assert response.headers["X-Cache"] == "miss", path


def test_a_change_committed_while_a_page_is_made_shows_on_the_next_request(
    client, story, monkeypatch
):
    """The stamp is read before the page is made, so a page made from older rows is stored
    under the older stamp (and its older key) and never answers after the commit."""
    real = public._article_page

    def render_then_edit(article_id):
        made = real(article_id)
        with db.session.no_autoflush:
            edited = db.session.get(Article, article_id)
            edited.title = "改过的标题"
        db.session.commit()
        return made

    monkeypatch.setattr(public, "_article_page", render_then_edit)
    first = client.get(f"/articles/{story.id}")
    assert "改过的标题" not in first.get_data(as_text=True)
    monkeypatch.setattr(public, "_article_page", real)
    again = client.get(f"/articles/{story.id}")
    assert again.headers["X-Cache"] == "miss"
    assert "改过的标题" in again.get_data(as_text=True)


def test_a_publish_by_the_scheduler_reaches_stored_pages_at_once(app, client, story):
    """The scheduler's Core UPDATE writes no ORM flush, but its change-log row moves the stamp."""
    client.get("/")
    assert client.get("/").headers["X-Cache"] == "hit"
    due = add_article("定时发布的文章", "<p>正文。</p>", status=SCHEDULED)
    due.scheduled_for = local_now() - timedelta(minutes=1)
    db.session.commit()
    client.get("/")  # a scheduled article shows nowhere: a new stamp, nothing new
    assert scheduling.publish_due() == [due.id]
    home = client.get("/")
    assert home.headers["X-Cache"] == "miss" and "定时发布的文章" in home.get_data(as_text=True)


@pytest.mark.parametrize(
    "change, status",
    [
        (lambda a: (setattr(a, "status", CLEARED), setattr(a, "cleared_at", local_now())), 410),
        (lambda a: setattr(a, "status", DRAFT), 404),
    ],
    ids=["cleared", "unpublished"],
)
def test_a_clear_or_an_unpublish_is_never_served_stale(app, client, story, change, status):
    """Its stored pages stay on disk (under the older stamp and the older key) but answer no
    reader: the article page and every related page say 410 / 404 on the next request, from
    the front and the app alike, and the lists drop the headline or show its placeholder."""
    pages = [(f"/articles/{story.id}", {}), (f"/articles/{story.id}/related?page=2", HX)]
    for path, headers in pages:
        client.get(path, headers=headers)
        assert client.get(path, headers=headers).headers["X-Cache"] == "hit"
    stored = set(Path(app.config["PAGE_CACHE_DIR"]).rglob("*.page"))
    change(story)
    db.session.commit()
    for path, headers in pages:
        for _ in range(2):
            response = client.get(path, headers=headers)
            assert response.status_code == status, path
            assert "X-Cache" not in response.headers
    assert stored <= set(Path(app.config["PAGE_CACHE_DIR"]).rglob("*.page"))
    assert "人力资源市场周报" not in client.get("/").get_data(as_text=True)


def test_a_restored_article_comes_back_at_once(client, story):
    client.get(f"/articles/{story.id}")
    story.status, story.cleared_at = CLEARED, local_now()
    db.session.commit()
    assert client.get(f"/articles/{story.id}").status_code == 410
    story.status, story.cleared_at = "published", None
    db.session.commit()
    back = client.get(f"/articles/{story.id}")
    assert back.status_code == 200 and "人力资源市场周报" in back.get_data(as_text=True)


def test_pages_kept_by_content_are_only_found_through_the_current_rows(app, client, story):
    """A page kept by content names the versions it shows; after an edit the key moves, so
    the kept page of the older version is never copied into the new stamp's folder."""
    client.get(f"/articles/{story.id}")
    kept = set((Path(app.config["PAGE_CACHE_DIR"]) / page_cache.BY_CONTENT).rglob("*.page"))
    assert kept
    story.body = "<p>本周招聘需求明显上升。</p>"
    db.session.commit()
    fresh = client.get(f"/articles/{story.id}")
    assert fresh.headers["X-Cache"] == "miss" and "明显上升" in fresh.get_data(as_text=True)
