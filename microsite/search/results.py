"""Running searches: a page of hits for the search page, similar articles for related lists."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache

from flask import current_app
from markupsafe import Markup
from sqlalchemy import select
from whoosh.classify import Bo1Model
from whoosh.query import Or, Term

from ..content.models import Article
from ..content.site import masked_words
from ..extensions import db
from ..text import mask, plain_text
from . import related_store
from .backends import current as backend
from .index import SearchUnavailable, live_dir
from .query import ReaderQuery, parse
from .snippets import highlight_all, snippet

log = logging.getLogger(__name__)

SORTS = ("relevance", "date")
LIVE = (Article.is_live,)
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

    @property
    def first_number(self) -> int:
        return (self.page - 1) * self.size + 1

    @property
    def has_next(self) -> bool:
        return self.page * self.size < self.total


def _state():
    from . import state

    return state()


def _wanted(query: ReaderQuery) -> Wanted:
    """Each clause's words: a run of text is marked when it holds all the words of one clause,
    so a clause the hit did not match (the other side of an OR) marks nothing. (Asking Whoosh
    for each hit's matched terms instead made common-word searches twice as slow.)"""
    return tuple(frozenset(c.words) for group in query.groups for c in group)


def _live_articles(ids: list[int]) -> list:
    """The articles with these ids, bodies included (one query), in the given order. The index
    may lag a moment behind a clear in another worker: only what the database calls live."""
    query = select(Article).where(Article.id.in_(ids), *LIVE)
    by_id = {article.id: article for article in db.session.scalars(query)}
    return [by_id[i] for i in ids if i in by_id]


@lru_cache(maxsize=2048)
def _plain_body(article_id: int, version: int, body: str) -> str:
    # Parsing the HTML of ten bodies was a third of a search's time; a saved article gets a
    # new version, so an entry never outlives the text it came from.
    return plain_text(body)


def _hits(result: SearchPage) -> list[Hit]:
    hidden, wanted = masked_words(), _wanted(result.query)
    hits = []
    for article in _live_articles(result.ids):
        title = highlight_all(mask(article.title, hidden), wanted)
        text = _plain_body(article.id, article.version, article.body)
        body = snippet(mask(text, hidden), wanted)
        hits.append(Hit(result.first_number + len(hits), article, title, body))
    return hits


def find(raw: str | None, page: int = 1, sort: str = "relevance", size: int = PAGE_SIZE):
    """A page of results for the reader's input, from the configured backend. Raises
    SearchUnavailable without an index."""
    query = parse(raw)
    sort = sort if sort in SORTS else SORTS[0]
    result = SearchPage(query, sort, page, size)
    if query.empty:
        return result
    # Every match is scored and counted (no pruning): the count shown is exact and the page
    # holds exactly the best matches, ties broken by date then id.
    ids, result.total = backend().search(query, page * size, by_date=sort == "date")
    result.ids = ids[(page - 1) * size : page * size]
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
    # Key terms of equal weight come back in no fixed order, and float sums depend on the
    # order: sorted, the same article ranks its neighbours the same way in every index built
    # from the same rows (found by tests/test_site_archive.py).
    terms.sort(key=lambda term: (term.fieldname, term.text))
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

    An unavailable index gives [] (the related list then falls back to the latest
    headlines), never an error on the article page.
    """
    try:
        return backend().similar(article, limit)
    except SearchUnavailable:
        return []
    except Exception:
        current_app.logger.exception("more-like-this failed for article %s", article.id)
        return []


def whoosh_similar(article, limit: int) -> list[int]:
    """more_like on Whoosh: kept per article version and index generation (related_store)."""
    state = _state()
    return state.searcher.cached(
        ("like", article.id, limit), lambda s: _stored_similar(state.home, s, article, limit)
    )


def _stored_similar(home, searcher, article, limit: int) -> list[int]:
    generation = live_dir(home)
    if generation is None:
        return _similar(searcher, article, limit)
    found = related_store.load(home, generation.name, article.id, article.version, limit)
    if found is None:
        found = _similar(searcher, article, limit)
        related_store.save(home, generation.name, article.id, article.version, limit, found)
    return found
