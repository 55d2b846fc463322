"""The page of a Whoosh search: every match counted, the best ones in a total order.

Whoosh's own TopCollector is not exact: even with block-quality skipping off it keeps
replacing the matcher tree with a "cheaper" one once its heap is full (a union becomes an
intersection when one side alone cannot reach the lowest score kept), and the replaced tree
skips matches. Its count then misses them (1,001 shown for 47,355 at 100,000 articles) or,
where a replacement yields a document again, counts one twice; and the tree's quality bounds
are not always safe (WrappingMatcher.replace hands a boosted child the threshold undivided by
the boost, so a title term whose boosted score could reach the page is dropped, and with it
true top hits). This collector never replaces and never skips: it scores every match, counts
it, and keeps the best by (score, date, id), so the order is the same on every run.
"""

from __future__ import annotations

from heapq import heappush, heapreplace

from whoosh.collectors import Collector

DATE_FIELD = "published_at"


class _NoDates:
    def __getitem__(self, docnum: int) -> int:
        return 0


class RankedCollector(Collector):
    """The `limit` best matches by (score, date) — or by date alone — plus every match tied
    with the last of them, so ties can be broken by id afterwards; and the exact count."""

    def __init__(self, limit: int, by_date: bool = False) -> None:
        self.limit = limit
        self.by_date = by_date

    def prepare(self, top_searcher, q, context) -> None:
        # The matcher must stay on the current document for score(); sorting by date does
        # not score, so it may step through ids in bulk.
        super().prepare(top_searcher, q, context.set(needs_current=not self.by_date))
        self.total = 0
        self._heap: list[tuple[tuple, int]] = []
        self._ties: list[tuple[tuple, int]] = []

    def set_subsearcher(self, subsearcher, offset) -> None:
        super().set_subsearcher(subsearcher, offset)
        reader = subsearcher.reader()
        # A segment where no document has a date (or an empty index) has no column at all.
        has_dates = reader.has_column(DATE_FIELD)
        self._dates = reader.column_reader(DATE_FIELD, translate=False) if has_dates else _NoDates()

    def matches(self):
        if self.by_date:
            return self.matcher.all_ids()
        return self._step_through_matches()

    def collect(self, sub_docnum: int) -> None:
        self.total += 1
        heap = self._heap
        full = len(heap) >= self.limit
        if self.by_date:
            key = (self._dates[sub_docnum],)
        else:
            score = self.matcher.score()
            if full and score < heap[0][0][0]:
                return  # most matches end here, without reading their date
            key = (score, self._dates[sub_docnum])
        item = (key, self.offset + sub_docnum)
        if not full:
            heappush(heap, item)
            return
        low = heap[0][0]
        if key < low:
            return
        if key == low:
            self._ties.append(item)
            return
        dropped = heapreplace(heap, item)
        low = heap[0][0]
        self._ties = [tie for tie in (*self._ties, dropped) if tie[0] == low]

    def sort_key(self, sub_docnum: int):
        return 0

    def count(self) -> int:
        return self.total

    def results(self):
        raise NotImplementedError("read ranked() instead")

    def ranked(self, stored_id) -> list[tuple[float, int]]:
        """(score, article id) of the `limit` best, best first; stored_id(docnum) -> id."""
        candidates = [(key, stored_id(docnum)) for key, docnum in (*self._heap, *self._ties)]
        candidates.sort(reverse=True)
        return [(0.0 if self.by_date else key[0], ident) for key, ident in candidates][: self.limit]


def search_page(searcher, query, limit: int, by_date: bool) -> tuple[list[int], int]:
    """(ids of the `limit` best matches in order, exact number of matches): by whole posting
    blocks (whoosh_fast) where it can, by this module's collector otherwise."""
    from . import whoosh_fast

    if whoosh_fast.supports(searcher):
        try:
            return whoosh_fast.search_page(searcher, query, limit, by_date)
        except whoosh_fast.Unsupported:
            pass
    return collected_page(searcher, query, limit, by_date)


def collected_page(searcher, query, limit: int, by_date: bool) -> tuple[list[int], int]:
    """search_page through RankedCollector: every match stepped through by Whoosh."""
    collector = RankedCollector(limit, by_date=by_date)
    searcher.search_with_collector(query, collector)
    ranked = collector.ranked(lambda docnum: int(searcher.stored_fields(docnum)["id"]))
    return [ident for _, ident in ranked], collector.total
