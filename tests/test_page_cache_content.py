"""Stored article pages and related fragments kept by what they show (page_cache.content_key):
a publish elsewhere leaves them stored, while every change they show is on the next request."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from microsite import jobs
from microsite.content.models import CLEARED, Article, MaskedWord, RelatedList, Tag
from microsite.content.related import encode
from microsite.content.site import save_settings
from microsite.extensions import db
from microsite.text import local_now
from microsite.views import public
from microsite.web import page_cache
from tests.support.factories import add_article

HX = {"HX-Request": "true"}


@pytest.fixture
def site(app):
    """A story with a stored related list of 22 older articles (two full pages), and a newer
    neighbour."""
    start = local_now() - timedelta(days=20)
    others = [
        add_article(
            f"劳务派遣专题第{n}期", f"<p>第{n}期正文。</p>", published_at=start + timedelta(hours=n)
        )
        for n in range(22)
    ]
    story = add_article(
        "人力资源市场周报", "<p>本周招聘需求上升。</p>", published_at=start + timedelta(days=5)
    )
    add_article("后一篇文章", "<p>更新的文章。</p>", published_at=start + timedelta(days=6))
    ids = [other.id for other in reversed(others)]
    db.session.add(RelatedList(article_id=story.id, version=story.version, ids=encode(ids)))
    db.session.commit()
    return story, others


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """Each article page and related page actually rendered (not served from the store)."""
    made: list[str] = []
    for name in ("_article_page", "_related_page"):
        real = getattr(public, name)

        def counted(*args, _real=real, _name=name):
            made.append(_name)
            return _real(*args)

        monkeypatch.setattr(public, name, counted)
    return made


def page(client, article) -> str:
    response = client.get(f"/articles/{article.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_publish_elsewhere_leaves_the_article_page_stored(client, site, renders):
    story, _ = site
    before = page(client, story)
    add_article("突发：新规发布", "<p>新的文章。</p>")  # a new stamp for every list
    assert "突发：新规发布" in client.get("/").get_data(as_text=True)
    renders.clear()
    assert page(client, story) == before
    assert page(client, story) == before  # now from the stamp's folder again
    assert renders == []


def test_a_publish_elsewhere_leaves_related_fragments_stored(client, site, renders):
    story, _ = site
    url = f"/articles/{story.id}/related?page=2"
    before = client.get(url, headers=HX).get_data(as_text=True)
    add_article("突发：新规发布", "<p>新的文章。</p>")
    renders.clear()
    assert client.get(url, headers=HX).get_data(as_text=True) == before
    assert renders == []


def test_a_stored_page_still_counts_its_view(app, client, site):
    from microsite.web.counting import view_counter

    story, _ = site
    page(client, story)
    add_article("突发：新规发布", "<p>新的文章。</p>")
    recorded = []
    counter = view_counter()
    real = counter.record
    counter.record = lambda article_id: recorded.append(article_id) or real(article_id)
    try:
        page(client, story)
    finally:
        counter.record = real
    assert recorded == [story.id]


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda s, o: setattr(s, "title", "人力资源市场周报（更正）"), "人力资源市场周报（更正）"),
        (lambda s, o: setattr(o[-1], "title", "劳务派遣专题（更正）"), "劳务派遣专题（更正）"),
        (lambda s, o: s.tags.append(Tag(name="招聘会")), "招聘会"),
        (lambda s, o: save_settings(site_name="新人力资讯"), "新人力资讯"),
        (lambda s, o: db.session.add(MaskedWord(word="招聘")), "本周***需求"),
    ],
    ids=["its title", "a related headline's title", "a keyword", "a setting", "a masked word"],
)
def test_what_the_page_shows_changes_on_the_next_request(client, site, change, expected):
    story, others = site
    assert expected not in page(client, story)
    add_article("突发：新规发布", "<p>新的文章。</p>")
    page(client, story)  # kept by content across the publish
    change(story, others)
    db.session.commit()
    assert expected in page(client, story)


def test_a_related_headline_cleared_shows_its_placeholder_at_once(client, site):
    story, others = site
    assert others[-1].title in page(client, story)
    others[-1].status, others[-1].cleared_at = CLEARED, local_now()
    db.session.commit()
    shown = page(client, story)
    assert others[-1].title not in shown and "标题和内容已经清空" in shown


def test_a_cleared_article_answers_410_at_once(client, site):
    story, _ = site
    page(client, story)
    client.get(f"/articles/{story.id}/related?page=2")
    story.status, story.cleared_at = CLEARED, local_now()
    db.session.commit()
    assert client.get(f"/articles/{story.id}").status_code == 410
    assert client.get(f"/articles/{story.id}/related?page=2").status_code == 410


def test_an_unpublished_article_is_gone_at_once(client, site):
    story, _ = site
    page(client, story)
    story.status = "draft"
    db.session.commit()
    assert client.get(f"/articles/{story.id}").status_code == 404


def test_a_new_stamp_folder_and_the_hourly_clean_keep_pages_by_content(
    app, client, site, renders, monkeypatch
):
    story, _ = site
    monkeypatch.setattr(page_cache, "GRACE", 0)  # a new stamp removes older folders at once
    page(client, story)
    add_article("突发：新规发布", "<p>新的文章。</p>")
    client.get("/")  # the new stamp's first page: older stamps' folders go
    later = Path(app.config["PAGE_CACHE_DIR"]).stat().st_mtime + jobs.PAGE_CACHE_KEEP_SECONDS + 1
    jobs.clean_page_cache(app, now=later)
    renders.clear()
    page(client, story)
    assert renders == []


def test_a_new_neighbour_shows_on_the_newest_articles_page(client, site):
    newest = db.session.scalars(db.select(Article).order_by(Article.published_at.desc())).first()
    assert 'rel="next"' not in page(client, newest)
    newer = add_article("更新的一篇", "<p>正文。</p>")
    assert f"/articles/{newer.id}" in page(client, newest)


def test_a_proxy_may_keep_a_page_but_revalidates_it(client, site):
    story, others = site
    an_hour_ago = local_now() - timedelta(hours=1)  # so an edit now is a later second
    db.session.execute(db.update(Article).values(updated_at=an_hour_ago))
    db.session.commit()
    db.session.expire_all()
    first = client.get(f"/articles/{story.id}")
    assert first.headers["Cache-Control"] == "public, no-cache"
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = client.get(f"/articles/{story.id}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["Cache-Control"] == "public, no-cache"
    others[-1].title = "劳务派遣专题（更正）"  # shown on the page, not the article itself
    db.session.commit()
    by_etag = client.get(f"/articles/{story.id}", headers={"If-None-Match": etag})
    assert by_etag.status_code == 200 and "劳务派遣专题（更正）" in by_etag.get_data(as_text=True)
    # A cache that only sends If-Modified-Since must see the change too: Last-Modified is the
    # newest change of anything the page shows.
    by_date = client.get(f"/articles/{story.id}", headers={"If-Modified-Since": modified})
    assert by_date.status_code == 200 and by_date.headers["Last-Modified"] != modified
