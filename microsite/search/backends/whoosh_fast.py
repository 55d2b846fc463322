"""Exact Whoosh searches without Whoosh's per-match Python: posting blocks decoded whole.

Whoosh's matchers score one posting at a time through a tree of Python objects (next(),
id(), score() on every node for every match), and that was nearly all of a search's time:
a common word at 100,000 articles is ~50,000 matches. Here every term's postings in a
segment are read block by block into plain sequences (ids, term frequencies, and for
phrases the encoded positions), scored with BM25F in one comprehension per term using the
segment's field-length bytes read once, and combined with dict and set operations:

- the count is the exact number of live documents the query matches (deleted documents
  are dropped once per segment), no pruning and no estimate;
- the page is chosen from those scores (the same BM25F operations as Whoosh's, per term);
  only when two candidates for it are within a rounding error of each other, where a sum
  in another order could swap them, are the candidates scored again by Whoosh's own
  matcher (skip_to on each). Either way the order is Whoosh's, ties broken by date and
  then article id.

Query objects handled: Term, Or, And and Phrase (what query.Clause and ReaderQuery build);
anything else goes to the collector in whoosh_ranking (exact, slower).
"""

from __future__ import annotations

import struct
from heapq import nlargest
from itertools import accumulate
from pickle import loads

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.formats import Positions
from whoosh.matching import ListMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.query import And, NullQuery, Or, Phrase, Term
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25F
from whoosh.util.numeric import byte_to_length

DATE_FIELD = "published_at"
# Relative slack on the last kept score: candidates this close are scored again exactly.
SLACK = 1e-9
_NORM_CACHE: dict[tuple, list[float]] = {}


class Unsupported(Exception):
    """A query node this module does not evaluate (the caller falls back to the collector)."""


def supports(searcher) -> bool:
    return type(searcher.weighting) is BM25F


# --- reading one segment -----------------------------------------------------------------


def _segment_cache(reader) -> dict:
    # Lengths and dates of a segment never change while its reader is open (a reader sees
    # one generation); kept on the reader, so they go when the searcher is reopened.
    cache = reader.__dict__.get("_microsite_fast")
    if cache is None:
        cache = reader.__dict__["_microsite_fast"] = {}
    return cache


def _raw_column(col, doccount: int, default):
    """Every document's value in a fixed-width numeric column, read in one call."""
    if all(hasattr(col, a) for a in ("_dbfile", "_basepos", "_count", "_fixedlen", "_typecode")):
        count = min(col._count, doccount)
        raw = col._dbfile.get(col._basepos, count * col._fixedlen)
        values = list(struct.unpack(f"!{count}{col._typecode}", raw))
        return values + [col._default] * (doccount - count)
    return [col[d] if d < doccount else default for d in range(doccount)]


def _lengths(reader, fieldname: str):
    cache = _segment_cache(reader)
    key = ("len", fieldname)
    if key not in cache:
        perdoc = reader._perdoc
        col = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        if col is not None:
            cache[key] = _raw_column(col, reader.doc_count_all(), 0)
        else:
            cache[key] = [0] * reader.doc_count_all()
    return cache[key]


def _dates(reader):
    cache = _segment_cache(reader)
    if "dates" not in cache:
        if reader.has_column(DATE_FIELD):
            col = reader.column_reader(DATE_FIELD, translate=False)
            cache["dates"] = _raw_column(col, reader.doc_count_all(), 0)
        else:
            cache["dates"] = [0] * reader.doc_count_all()
    return cache["dates"]


def _postings(reader, fieldname: str, text, values: bool):
    """(ids, weights, encoded values or None) of one term in one segment, deleted documents
    included; None when the segment lacks the term."""
    field = reader.schema[fieldname]
    try:
        tbytes = field.to_bytes(text)
    except ValueError:
        return None
    try:
        m = reader.postings(fieldname, tbytes)
    except TermNotFound:
        return None
    if isinstance(m, FilterMatcher):
        m = m.child  # deleted documents are dropped once, at the end
    if isinstance(m, ListMatcher):
        ids = list(m._ids)
        weights = list(m._weights) if m._weights is not None else [1.0] * len(ids)
        return ids, weights, (list(m._values) if values and m._values is not None else None)
    if not isinstance(m, W3LeafMatcher):
        raise Unsupported(type(m).__name__)
    ids, weights, vals = [], [], [] if values else None
    while True:
        if m._data is None:
            m._read_data()
        # The block's ids are deltas: accumulate() is Whoosh's delta_decode, in C.
        ids.extend(accumulate(m._data[0]))
        m._read_weights()
        weights.extend(m._weights)
        if values:
            m._read_values()
            vals.extend(m._values)
        if m._lastblock:
            break
        m._goto(m._nextoffset)
    return ids, weights, vals


# --- scoring -----------------------------------------------------------------------------


def _norms(top, fieldname: str) -> list[float]:
    """K1 * ((1 - B) + B * length / average length) per length byte, as BM25F computes it."""
    weighting = top.weighting
    b = weighting._field_B.get(fieldname, weighting.B)
    avgfl = top.avg_field_length(fieldname) or 1
    key = (id(top), fieldname, b, weighting.K1, avgfl)
    found = _NORM_CACHE.get(key)
    if found is None:
        if len(_NORM_CACHE) > 256:
            _NORM_CACHE.clear()
        k1 = weighting.K1
        found = [k1 * ((1 - b) + b * byte_to_length(n) / avgfl) for n in range(256)]
        _NORM_CACHE[key] = found
    return found


def _term_scores(top, reader, fieldname, text, boost: float, within=None) -> dict[int, float]:
    posted = _postings(reader, fieldname, text, values=False)
    if posted is None:
        return {}
    ids, weights, _ = posted
    if within is not None:
        keep = [(d, w) for d, w in zip(ids, weights, strict=True) if d in within]
        ids, weights = [d for d, _ in keep], [w for _, w in keep]
    return _scored(top, reader, fieldname, text, ids, weights, boost)


def _scored(top, reader, fieldname, text, ids, weights, boost: float) -> dict[int, float]:
    idf = top.idf(fieldname, text)
    k1p1 = top.weighting.K1 + 1
    norms, lengths = _norms(top, fieldname), _lengths(reader, fieldname)
    # The same operations in the same order as whoosh.scoring.bm25, then the boost.
    return {
        d: idf * ((tf * k1p1) / (tf + norms[lengths[d]])) * boost
        for d, tf in zip(ids, weights, strict=True)
    }


def _phrase_scores(top, reader, q: Phrase, within=None) -> dict[int, float]:
    """Documents where the phrase's terms stand at consecutive positions; the score is the
    boosted sum of the terms' own scores (what Whoosh's SpanNear2 matcher returns)."""
    fieldname = q.fieldname
    field = reader.schema[fieldname]
    found = []
    for word in q.words:
        posted = _postings(reader, fieldname, word, values=True)
        if posted is None:
            return {}
        found.append((word, posted))
    common = set(found[0][1][0])
    if within is not None:
        common.intersection_update(within)
    for _, (ids, _, _) in found[1:]:
        common.intersection_update(ids)
        if not common:
            return {}
    decode = _positions if type(field.format) is Positions else field.format.decode_positions
    starts: dict[int, set[int]] | None = None
    for offset, (_, (ids, _, values)) in enumerate(found):
        here: dict[int, set[int]] = {}
        for d, value in zip(ids, values, strict=True):
            if d in common:
                here[d] = {p - offset for p in decode(value)} if offset else set(decode(value))
        if starts is None:
            starts = here
        else:
            starts = {d: s & here[d] for d, s in starts.items() if s & here.get(d, set())}
        common = set(starts)
        if not common:
            return {}
    total: dict[int, float] = dict.fromkeys(common, 0.0)
    for word, (ids, weights, _) in found:
        keep = [(d, w) for d, w in zip(ids, weights, strict=True) if d in common]
        ids, weights = [d for d, _ in keep], [w for _, w in keep]
        part = _scored(top, reader, fieldname, word, ids, weights, 1.0)
        for d, s in part.items():
            total[d] += s
    boost = q.boost
    return {d: s * boost for d, s in total.items()}


def _positions(value: bytes):
    """Positions.decode_positions without its Python loop: a count, then pickled deltas."""
    if not value.endswith(b"."):
        value += b"."
    return accumulate(loads(value[4:]))


def _merge(parts: list[dict[int, float]]) -> dict[int, float]:
    parts = sorted((p for p in parts if p), key=len, reverse=True)
    if not parts:
        return {}
    acc = dict(parts[0])
    get = acc.get
    for part in parts[1:]:
        for d, s in part.items():
            acc[d] = get(d, 0.0) + s
    return acc


def _intersect(parts: list[dict[int, float]]) -> dict[int, float]:
    parts = sorted(parts, key=len)
    acc = parts[0]
    for part in parts[1:]:
        if not acc:
            return {}
        acc = {d: s + part[d] for d, s in acc.items() if d in part}
    return acc


def _evaluate(top, reader, q, within=None) -> dict[int, float]:
    """{docnum: score} of the segment's documents matching q (within: only these)."""
    if isinstance(q, Term):
        return _term_scores(top, reader, q.fieldname, q.text, q.boost, within)
    if isinstance(q, Phrase):
        return _phrase_scores(top, reader, q, within)
    if isinstance(q, Or) and q.boost == 1.0:
        return _merge([_evaluate(top, reader, sub, within) for sub in q.subqueries])
    if isinstance(q, And) and q.boost == 1.0:
        # The rarest part first; the others are scored only where it matched.
        subs = sorted(q.subqueries, key=lambda sub: sub.estimate_size(reader))
        if not subs:
            return {}
        parts = [_evaluate(top, reader, subs[0], within)]
        for sub in subs[1:]:
            if not parts[-1]:
                return {}
            parts.append(_evaluate(top, reader, sub, parts[-1].keys()))
        return _intersect(parts)
    if q is NullQuery:
        return {}
    raise Unsupported(type(q).__name__)


# --- the page ----------------------------------------------------------------------------


def _segments(searcher):
    return searcher.subsearchers or [(searcher, 0)]


def matches(searcher, q) -> list[tuple]:
    """(subsearcher, offset, {segment docnum: approximate score}) per segment, live documents
    only."""
    found = []
    for sub, offset in _segments(searcher):
        reader = sub.reader()
        scores = _evaluate(searcher, reader, q)
        if scores and reader.has_deletions():
            for d in reader.deleted_docs_set:
                scores.pop(d, None)
        found.append((sub, offset, scores))
    return found


def search_page(searcher, q, limit: int, by_date: bool) -> tuple[list[int], int]:
    """(ids of the `limit` best matches in order, exact number of matches)."""
    segments = matches(searcher, q)
    total = sum(len(scores) for _, _, scores in segments)
    if not total or limit <= 0:
        return [], total
    chosen = _by_date(segments, limit) if by_date else _by_score(searcher, q, segments, limit)

    def stored_id(docnum: int) -> int:
        return int(searcher.stored_fields(docnum)["id"])

    ranked = sorted(((key, stored_id(docnum)) for key, docnum in chosen), reverse=True)
    return [ident for _, ident in ranked[:limit]], total


def _by_date(segments, limit: int) -> list[tuple[tuple, int]]:
    keyed = []
    for sub, offset, scores in segments:
        dates = _dates(sub.reader())
        best = nlargest(limit, scores, key=dates.__getitem__)
        keyed += [((dates[d],), offset + d) for d in best]
    keyed.sort(reverse=True)
    last = keyed[:limit][-1][0]
    # Every match dated like the last one kept: the article id decides among them.
    chosen = [item for item in keyed if item[0] > last]
    for sub, offset, scores in segments:
        dates = _dates(sub.reader())
        chosen += [((dates[d],), offset + d) for d in scores if (dates[d],) == last]
    return chosen


def _by_score(searcher, q, segments, limit: int) -> list[tuple[tuple, int]]:
    best = nlargest(limit, (s for _, _, scores in segments for s in scores.values()))
    floor = best[-1]
    floor -= abs(floor) * SLACK + 1e-12
    near = [
        (sub, offset, sorted((d, s) for d, s in scores.items() if s >= floor))
        for sub, offset, scores in segments
    ]
    if _apart([s for _, _, found in near for _, s in found]):
        # No two candidates within a rounding error of each other, and none of them at the
        # edge: the block scores order them exactly as Whoosh's own sums would.
        chosen = []
        for sub, offset, found in near:
            dates = _dates(sub.reader())
            chosen += [((s, dates[d]), offset + d) for d, s in found]
    else:
        chosen = _rescored(searcher, q, near)
    chosen.sort(reverse=True)
    if len(chosen) > limit:
        last = chosen[limit - 1][0]
        chosen = [item for item in chosen if item[0] >= last]
    return chosen


def _apart(scores: list[float]) -> bool:
    """True when every two scores are equal or clearly apart (more than SLACK)."""
    ordered = sorted(scores)
    return all(
        b == a or b - a > abs(b) * SLACK + 1e-12 for a, b in zip(ordered, ordered[1:], strict=False)
    )


def _rescored(searcher, q, near) -> list[tuple[tuple, int]]:
    """The candidates scored again by Whoosh's matcher tree, skipping to each."""
    context = searcher.context(needs_current=True)
    chosen = []
    for sub, offset, found in near:
        if not found:
            continue
        dates = _dates(sub.reader())
        matcher = q.matcher(sub, context)
        for d, _ in found:
            if not matcher.is_active():
                break
            matcher.skip_to(d)
            if matcher.is_active() and matcher.id() == d:
                chosen.append(((matcher.score(), dates[d]), offset + d))
    return chosen
