"""Headline lists: latest, related, by tag and category. Keyset paging, numbered items.

Items are numbered continuously across pages (page 3 of 10-item pages starts at 21), and a
page's query costs the same whatever its number: lists page with a (published_at, id) cursor,
and the related list is at most 100 ids computed once and sliced.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from flask import current_app
from sqlalchemy import Column, ColumnElement, Select, select, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import defer, lazyload
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import replacement_traverse
from werkzeug.exceptions import BadRequest, NotFound

from ..extensions import db
from . import related
from .models import CLEARED, DRAFT, PUBLISHED, Article, Category, RelatedLink, Tag, article_tags
from .site import site_settings

LISTED = (PUBLISHED, CLEARED)


@dataclass(frozen=True)
class Headline:
    number: int
    article: Article


@dataclass(frozen=True)
class HeadlinePage:
    items: list[Headline]
    page: int
    has_next: bool
    next_cursor: str | None = None

    @property
    def first_number(self) -> int:
        return self.items[0].number if self.items else 1


def page_number(raw: str | None) -> int:
    """The requested page: absent means 1; anything but a positive integer written as
    url_for writes it (no leading zero: `02`, `002`, … would each be a stored page of its
    own, tests/test_front_attacks.py) is a 400."""
    if raw is None:
        return 1
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6 or raw[0] == "0":
        raise BadRequest("页码必须是正整数。")
    return int(raw)


def _decode_time(raw: str) -> datetime:
    return datetime.strptime(raw, "%Y%m%d%H%M%S")


@dataclass(frozen=True)
class Ordering:
    """A descending list order on (column, id) and how its cursor is written and read."""

    column: Any
    encode: Callable[[Article], str]
    decode: Callable[[str], Any]
    pattern: re.Pattern

    def cursor(self, article: Article) -> str:
        return f"{self.encode(article)}-{article.id}"

    def parse(self, raw: str) -> tuple[Any, int]:
        match = self.pattern.match(raw)
        if not match:
            raise BadRequest("翻页参数无效。")
        try:
            return self.decode(match.group(1)), int(match.group(2))
        except ValueError:
            raise BadRequest("翻页参数无效。") from None


LATEST = Ordering(
    Article.published_at,
    lambda a: f"{a.published_at:%Y%m%d%H%M%S}",
    _decode_time,
    re.compile(r"^(\d{14})-(\d{1,18})$"),
)
MOST_READ = Ordering(
    Article.view_count, lambda a: str(a.view_count), int, re.compile(r"^(\d{1,18})-(\d{1,18})$")
)


# Headline rows show no body, category or author. Without the relationship joins SQLite reads
# the first rows of the (published_at, id) index instead of sorting every listed row.
_HEADLINE_ONLY = (defer(Article.body), lazyload(Article.category), lazyload(Article.author))


_NEWEST_FIRST = (Article.published_at.desc(), Article.id.desc())


def _listed(full: bool = False) -> Select:
    """Published and cleared headlines (cleared ones show as placeholders), newest first."""
    return (
        select(Article)
        .options(*(() if full else _HEADLINE_ONLY))
        # "not a draft" rather than "IN (published, cleared)": the same rows, but it lets the
        # planner walk the (published_at, id) index in order instead of sorting.
        .where(Article.status != DRAFT, Article.published_at.is_not(None))
        .order_by(*_NEWEST_FIRST)
    )


def live_query(full: bool = False) -> Select:
    """Live articles only (no cleared placeholders), newest first; full: whole rows.
    Article.is_live's `status = 'published'` lets the planner walk the (status,
    published_at, id) index in order: no sort, however many articles."""
    return (
        select(Article)
        .options(*(() if full else _HEADLINE_ONLY))
        .where(Article.is_live)
        .order_by(*_NEWEST_FIRST)
    )


def neighbours(article: Article) -> tuple[Article | None, Article | None]:
    """The published articles just older and just newer than this one."""
    if article.published_at is None:
        return None, None
    here = (article.published_at, article.id)
    key = tuple_(Article.published_at, Article.id)
    older = live_query().where(key < here).limit(1)
    newer = live_query().where(key > here).order_by(None)
    newer = newer.order_by(Article.published_at, Article.id).limit(1)
    return db.session.scalar(older), db.session.scalar(newer)


def most_read_query() -> Select:
    """Live articles, most read first."""
    return (
        select(Article)
        .options(*_HEADLINE_ONLY)
        .where(Article.is_live)
        .order_by(Article.view_count.desc(), Article.id.desc())
    )


def latest_query(category_id: int | None = None, tag_id: int | None = None) -> Select:
    query = _listed()
    if category_id is not None:
        query = query.where(Article.category_id == category_id)
    if tag_id is not None:
        query = query.where(
            Article.id.in_(select(article_tags.c.article_id).where(article_tags.c.tag_id == tag_id))
        )
    return query


def _seal(scope: str, page: int, position: str) -> str:
    """A MAC binding a cursor's position to one list and to the page it opens."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    message = f"{scope}\n{page}\n{position}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:9]
    return base64.urlsafe_b64encode(digest).decode()


def sealed_cursor(scope: str, page: int, position: str) -> str:
    return f"{position}.{_seal(scope, page, position)}"


def open_cursor(scope: str, page: int, cursor: str) -> str:
    """The position inside a cursor this list issued for this page; anything else is a 400.

    Numbering is counted from `page`, and the position only says where to continue: another
    list's cursor (or this one's with another page) would number rows wrongly, so it is refused.
    """
    position, _, seal = cursor.rpartition(".")
    # Compared as bytes: compare_digest refuses non-ASCII text with a TypeError (a 500).
    expected = _seal(scope, page, position).encode()
    if not position or not hmac.compare_digest(seal.encode(), expected):
        raise BadRequest("翻页参数无效。")
    return position


def keyset_page(
    query: Select,
    page: int,
    after: str | None,
    size: int,
    ordering: Ordering = LATEST,
    total: int | None = None,
    scope: str = "",
) -> HeadlinePage:
    """One page of a list ordered by `ordering`, continuing after a cursor; at most `total` rows.

    Links always carry the cursor, sealed for this list (`scope` names it) and the next page;
    a bare ?page=N (typed by hand) falls back to skipping rows in the index, so it still
    answers, just not in constant time.
    """
    first = (page - 1) * size + 1
    if total is not None:
        size = max(0, min(size, total - first + 1))
    if after:
        position = ordering.parse(open_cursor(scope, page, after))
        query = query.where(tuple_(ordering.column, Article.id) < position)
    elif page > 1:
        query = query.offset(first - 1)
    rows = list(db.session.scalars(query.limit(size + 1))) if size else []
    if not rows and page > 1:
        raise NotFound("没有这一页。")
    items = [Headline(first + i, row) for i, row in enumerate(rows[:size])]
    has_next = len(rows) > size and (total is None or first + size <= total)
    cursor = None
    if has_next:
        cursor = sealed_cursor(scope, page + 1, ordering.cursor(rows[size - 1]))
    return HeadlinePage(items, page, has_next, cursor)


def ranked_related_ids(article: Article, limit: int) -> list[int]:
    """Published articles most like this one (Whoosh more-like-this over title and body),
    never itself; cached per article until the index changes, [] without an index."""
    from .. import search

    return search.more_like(article, limit)


def _curated_ids(article: Article) -> list[int]:
    query = (
        select(RelatedLink.target_id)
        .join(Article, Article.id == RelatedLink.target_id)
        .where(RelatedLink.article_id == article.id, Article.status.in_(LISTED))
        .where(Article.published_at.is_not(None))
        .order_by(RelatedLink.position)
    )
    return list(db.session.scalars(query))


def _latest_ids(limit: int, category_id: int | None = None) -> list[int]:
    query = latest_query(category_id).with_only_columns(Article.id).limit(limit)
    return list(db.session.scalars(query))


def related_ids(article: Article, limit: int) -> list[int]:
    """Curated, then ranked (as the worker stored it: a reader never asks the engine), then
    same category, then site-wide: distinct, never itself."""
    sources: list[Callable[[], list[int]]] = [
        lambda: _curated_ids(article),
        lambda: related.stored_ids(article)[:limit],
        lambda: _latest_ids(limit + 1, article.category_id) if article.category_id else [],
        lambda: _latest_ids(limit + 1),
    ]
    ids: dict[int, None] = {}
    for source in sources:
        for candidate in source():
            if candidate != article.id:
                ids.setdefault(candidate, None)
        if len(ids) >= limit:
            break
    return list(ids)[:limit]


def fetch_in_order(ids: list[int]) -> list[Article]:
    """Listed articles with these ids, in the given order (drafts dropped)."""
    if not ids:
        return []
    query = _listed().where(Article.id.in_(ids)).order_by(None)
    by_id = {row.id: row for row in db.session.scalars(query)}
    return [by_id[i] for i in ids if i in by_id]


def related_page(article: Article, page: int, size: int, limit: int) -> HeadlinePage:
    """Page `page` of the article's related headlines, at most `limit` in all."""
    ids = related_ids(article, limit)
    start = (page - 1) * size
    if page > 1 and start >= len(ids):
        raise NotFound("没有这一页。")
    rows = fetch_in_order(ids[start : start + size])
    items = [Headline(start + 1 + i, row) for i, row in enumerate(rows)]
    return HeadlinePage(items, page, start + size < len(ids))


# --- category and keyword names ------------------------------------------------------------
#
# A name is public only while at least one live article carries it: a draft's or a scheduled
# article's category or keyword must not announce what is coming, and one left only on
# cleared articles (their titles are gone, shown as placeholders) must not keep the topic of a
# takedown on the home page and in the sitemaps. Such a name is a 404 everywhere; once it has
# a live article again its list shows the cleared placeholders among the live rows as usual.
# One exception: a category or keyword the site's own footer links to (the importer makes a
# category for each footer label it does not know; admins choose the footer's keywords)
# answers with its list even while empty, since the footer already shows its name on every
# page and a footer link must not be a 404.


class _unindexed(FunctionElement):
    """A column SQLite must not look up by index: `+column` there (its documented way to
    take a term out of index selection), the plain column elsewhere."""

    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(_unindexed)
def _plain_column(element: _unindexed, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_unindexed, "sqlite")
def _sqlite_unindexed_column(element: _unindexed, compiler, **kw) -> str:
    return "+" + compiler.process(element.clauses, **kw)


# Without statistics SQLite drives these EXISTS probes from the status or publish-time index,
# walking the live articles until one carries the name: every live article for a name that
# has none. Taking the status and time out of index selection leaves the name's own index
# (then the article's primary key), so each probe costs a seek.
def _live_article_looked_up_by_name() -> ColumnElement[bool]:
    """Article.is_live with each of its columns kept out of index selection, for those probes."""
    articles = Article.__table__

    def unindexed(element):
        if isinstance(element, Column) and element.table is articles:
            return _unindexed(element)
        return None

    return replacement_traverse(Article.is_live.expression, {}, unindexed)


def _category_in_use() -> ColumnElement[bool]:
    probe = select(Article.id).where(
        Article.category_id == Category.id, _live_article_looked_up_by_name()
    )
    return probe.exists()


def _tag_in_use() -> ColumnElement[bool]:
    probe = (
        select(article_tags.c.article_id)
        .join(Article, Article.id == article_tags.c.article_id)
        .where(article_tags.c.tag_id == Tag.id, _live_article_looked_up_by_name())
    )
    return probe.exists()


def public_categories(order_by: Any = Category.name) -> list[Category]:
    """Categories with at least one live article, by name (or `order_by`)."""
    query = select(Category).where(_category_in_use()).order_by(order_by)
    return list(db.session.scalars(query))


def public_tags(order_by: Any = Tag.name) -> list[Tag]:
    """Keywords with at least one live article, by name (or `order_by`)."""
    return list(db.session.scalars(select(Tag).where(_tag_in_use()).order_by(order_by)))


def _footer_category_slugs() -> set[str]:
    prefix = "/categories/"
    hrefs = (str(link.get("href") or "") for link in site_settings()["footer_links"])
    return {unquote(href.removeprefix(prefix)) for href in hrefs if href.startswith(prefix)}


def public_category(slug: str) -> Category | None:
    """The category with this slug if it has a live article or the footer links to it, else
    None (the page is a 404)."""
    query = select(Category).filter_by(slug=slug)
    if slug not in _footer_category_slugs():
        query = query.where(_category_in_use())
    return db.session.scalar(query)


def public_tag(name: str) -> Tag | None:
    """The keyword with this name if it has a live article or the footer links to it, else
    None (the page is a 404)."""
    query = select(Tag).filter_by(name=name)
    if name not in site_settings()["keyword_links"]:
        query = query.where(_tag_in_use())
    return db.session.scalar(query)
