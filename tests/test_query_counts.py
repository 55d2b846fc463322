"""The number of SQL statements a page runs stays the same as its list grows (no N+1).

Not timed: statements are counted through SQLAlchemy's before_cursor_execute event, for a
list shorter than a page, a full page, and several pages' worth of articles. A template that
loads a relationship per row (tags, category, author) would make the count grow with the
rows on the page; a listing that fetched rows one by one would too.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import event

from microsite.content.models import CLEARED, PUBLISHED, Article, Category, Tag, User
from microsite.extensions import db
from microsite.web import counting

# As before PostgreSQL search: related lists from the fallbacks alone (no Whoosh index is
# built here). With PostgreSQL search ranking them, which rows land on the related list's
# page 2 changes with the corpus (at 12 articles a cleared one, which renders no title and
# so needs no masked-words lookup): one statement fewer, not an N+1. (on_whoosh is asked for
# by the autouse fixture below, so it is set before the app is made.)
SIZES = (12, 25, 90)  # under a page, one full page, several pages (LIST_PAGE_SIZE is 20)
HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _no_view_count_flush(monkeypatch):
    # A flush that falls due mid-test would add an UPDATE to one request and not another.
    monkeypatch.setattr(counting, "FLUSH_SECONDS", 10**9)


@pytest.fixture(autouse=True)
def _no_page_cache(on_whoosh, app):
    # A stored page runs no listing query at all: count what rendering a page costs.
    app.config["PAGE_CACHE_DIR"] = ""


@contextmanager
def counted():
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


def grow_to(total: int) -> None:
    """Add articles until there are `total`: every 7th cleared, each with a category and tags."""
    author = db.session.query(User).first()
    if author is None:
        author = User(username="editor", display_name="编辑部")
        db.session.add(author)
    categories = db.session.query(Category).order_by(Category.id).all() or [
        Category(name="人力资讯", slug="renli"),
        Category(name="劳务派遣", slug="laowu"),
    ]
    tags = db.session.query(Tag).order_by(Tag.id).all() or [Tag(name="招聘"), Tag(name="社保")]
    start = datetime(2022, 9, 1, 8, 0, 0)
    for n in range(db.session.query(Article).count(), total):
        when = start + timedelta(hours=n)
        cleared = n % 7 == 3
        db.session.add(
            Article(
                title=f"第{n}篇 人力资源新闻",
                body=f"<p>第{n}篇文章的正文，关于劳务派遣和社保政策。</p>",
                category=categories[n % 2],
                author=author,
                tags=[tags[n % 2]] if n % 3 else list(tags),
                status=CLEARED if cleared else PUBLISHED,
                published_at=when,
                updated_at=when,
                cleared_at=when + timedelta(days=1) if cleared else None,
                view_count=n * 3 % 17,
            )
        )
    db.session.commit()
    db.session.remove()


def newest_live_id() -> int:
    query = db.session.query(Article.id).filter(Article.status == PUBLISHED)
    article_id = query.order_by(Article.published_at.desc()).limit(1).scalar()
    db.session.remove()
    return article_id


def _home_page_2(client) -> str:
    """The second page of /, by the "加载更多" link the first page carries (or page 1 alone)."""
    body = client.get("/", headers=HX).get_data(as_text=True)
    found = re.search(r'hx-get="([^"]+)"', body)
    return unescape(found.group(1)) if found else "/"


PAGES = {
    "home": lambda client: ("/", {}),
    "home fragment, next page": lambda client: (_home_page_2(client), HX),
    "article": lambda client: (f"/articles/{newest_live_id()}", {}),
    "related fragment": lambda client: (f"/articles/{newest_live_id()}/related?page=2", HX),
    "top": lambda client: ("/top", {}),
    "category": lambda client: ("/categories/renli", {}),
    "tag": lambda client: ("/tags/招聘", {}),
}


def statements_for(client, page: str) -> list[str]:
    url, headers = PAGES[page](client)
    assert client.get(url, headers=headers).status_code == 200, url  # warm: first-use caches
    with counted() as statements:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    return statements


@pytest.mark.parametrize("page", PAGES)
def test_statement_count_does_not_grow_with_the_list(app, client, page):
    counts = {}
    for size in SIZES:
        grow_to(size)
        counts[size] = len(statements_for(client, page))
    assert len(set(counts.values())) == 1, f"{page}: statements per list size {counts}"


@pytest.mark.parametrize("page", PAGES)
def test_a_full_page_needs_few_statements(app, client, page):
    grow_to(SIZES[1])
    statements = statements_for(client, page)
    # One per list and per lookup, not one per row: a page of 20 rows stays well under 20.
    assert len(statements) <= 12, "\n".join(statements)
