"""Running searches: a page of hits for the search page, similar articles for related lists."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app
from markupsafe import Markup
from sqlalchemy import select
from whoosh.classify import Bo1Model
from whoosh.query import Or, Term

from ..extensions import db
from ..models import PUBLISHED, Article
from ..site import masked_words
from ..text import mask, plain_text
from .index import SearchUnavailable
from .query import ReaderQuery, parse
from .snippets import highlight_all, snippet

log = logging.getLogger(__name__)

SORTS = ("relevance", "date")
LIVE = (Article.status == PUBLISHED, Article.published_at.is_not(None))
PAGE_SIZE = 10
# Key terms taken from an article to find its neighbours: enough to characterise it,
# few enough that the query stays cheap on every uncached article view.
LIKE_BODY_TERMS = 12
LIKE_TITLE_TERMS = 6


Wanted = tuple[frozenset[str], ...]


@dataclass(frozen=True)
class Hit:
    number: int
    article: object
    title: Markup
    snippet: Markup


@dataclass
class SearchPage:
    query: ReaderQuery
    sort: str
    page: int
    size: int
    total: int = 0
    ids: list[int] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    matched: dict[int, frozenset[str]] = field(default_factory=dict)

    @property
    def first_number(self) -> int:
        return (self.page - 1) * self.size + 1

    @property
    def has_next(self) -> bool:
        return self.page * self.size < self.total


def _state():
    from . import state

    return state()


def _run(searcher, result: SearchPage) -> None:
    page, size = result.page, result.size
    result.ids, result.matched = [], {}
    options = {"limit": page * size, "terms": True}
    if result.sort == "date":
        options.update(sortedby="published_at", reverse=True)
    results = searcher.search(result.query.whoosh(), **options)
    for hit in results[(page - 1) * size : page * size]:
        article_id = int(hit["id"])
        result.ids.append(article_id)
        result.matched[article_id] = frozenset(t.decode() for _, t in hit.matched_terms())
    # Fewer hits than the limit means all were collected: no second pass to count them.
    scored = results.scored_length()
    result.total = scored if scored < page * size else len(results)


def _wanted(query: ReaderQuery, matched: frozenset[str]) -> Wanted:
    """The clauses' word sets this hit matched: what its title and snippet should mark."""
    clauses = (frozenset(c.words) for group in query.groups for c in group)
    return tuple(words for words in clauses if words <= matched)


def _live_articles(ids: list[int]) -> list:
    """The articles with these ids, bodies included (one query), in the given order. The index
    may lag a moment behind a clear in another worker: only what the database calls live."""
    query = select(Article).where(Article.id.in_(ids), *LIVE)
    by_id = {article.id: article for article in db.session.scalars(query)}
    return [by_id[i] for i in ids if i in by_id]


def _hits(result: SearchPage) -> list[Hit]:
    hidden = masked_words()
    hits = []
    for article in _live_articles(result.ids):
        wanted = _wanted(result.query, result.matched.get(article.id, frozenset()))
        title = highlight_all(mask(article.title, hidden), wanted)
        body = snippet(mask(plain_text(article.body), hidden), wanted)
        hits.append(Hit(result.first_number + len(hits), article, title, body))
    return hits


def find(raw: str | None, page: int = 1, sort: str = "relevance", size: int = PAGE_SIZE):
    """A page of results for the reader's input. Raises SearchUnavailable without an index."""
    query = parse(raw)
    sort = sort if sort in SORTS else SORTS[0]
    result = SearchPage(query, sort, page, size)
    if query.empty:
        return result
    _state().searcher.run(lambda searcher: _run(searcher, result))
    result.hits = _hits(result)
    return result


def _like_query(searcher, article) -> Or | None:
    terms = []
    texts = (
        ("body", plain_text(article.body), LIKE_BODY_TERMS),
        ("title", article.title, LIKE_TITLE_TERMS),
    )
    for fieldname, text, count in texts:
        if not text:
            continue
        for word, weight in searcher.key_terms_from_text(fieldname, text, count, Bo1Model):
            terms.append(Term(fieldname, word, boost=weight))
    return Or(terms) if terms else None


def _similar(searcher, article, limit: int) -> list[int]:
    query = _like_query(searcher, article)
    if query is None:
        return []
    own = Term("id", str(article.id))
    results = searcher.search(query, limit=limit, mask=own)
    return [int(hit["id"]) for hit in results]


def more_like(article, limit: int) -> list[int]:
    """Ids of the published articles most like this one, best first, never itself.

    Cached per article until the index changes. An unavailable index gives [] (the related
    list then falls back to the latest headlines), never an error on the article page.
    """
    try:
        searcher = _state().searcher
        return searcher.cached(("like", article.id, limit), lambda s: _similar(s, article, limit))
    except SearchUnavailable:
        return []
    except Exception:
        current_app.logger.exception("more-like-this failed for article %s", article.id)
        return []
