"""Whoosh: the embedded engine, one index directory per host, fed from the change log."""

from __future__ import annotations

from ..query import ReaderQuery
from .whoosh_ranking import search_page


class WhooshBackend:
    name = "whoosh"

    def search(self, query: ReaderQuery, limit: int, by_date: bool) -> tuple[list[int], int]:
        from .. import state

        whoosh_query = query.whoosh()
        # Kept per index generation (LiveSearcher.cached): popular queries repeat, and an
        # answer holds until the next commit or rebuild changes what the index holds.
        key = ("find", query.groups, limit, by_date)
        return state().searcher.cached(key, lambda s: search_page(s, whoosh_query, limit, by_date))

    def similar(self, article, limit: int) -> list[int]:
        from ..results import whoosh_similar

        return whoosh_similar(article, limit)

    def rebuild(self, progress=None, procs: int | None = 1) -> int:
        from .. import whoosh_rebuild

        return whoosh_rebuild(progress, procs)

    def status(self) -> dict:
        from .. import index, state

        return index.status(state().home)
