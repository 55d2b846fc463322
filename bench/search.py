"""Search latency: the site's Whoosh search against two SQLite FTS5 peers, same corpus and queries.

Each engine answers every query with its top 10 (by relevance), the total number of hits and
highlighted title and snippet for the 10:

- whoosh: `microsite.search.find(q)`, exactly what /search runs (Whoosh query, hit count,
  articles re-read from the database, snippets cut by the index's analyzer), in a request
  context of the real app;
- fts5-trigram: FTS5 with the trigram tokenizer over the plain text; words shorter than three
  characters cannot use a trigram index, so they become LIKE filters (a scan);
- fts5-segmented: FTS5 (unicode61) over text pre-cut by rjieba in search mode, queried with
  precise-mode words as phrases, so 核酸检测 finds 核酸检测 and 核酸 alone.

The peers highlight with one regular expression over the stored text: the cheap way a
hand-written FTS5 search would, and the floor the site's analyzer-based snippets compete with.
Every engine first warms up on 20 other queries; then each query runs REPEATS times per engine,
interleaved, and its latency is the median of those (the site's search on a fresh app instance
each time, so no result cache can answer); p50/p95 are taken over the 200 queries.
"""

from __future__ import annotations

import os
import re
import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import rjieba
from markupsafe import escape

from .queries import Query

REPEATS = 3
TOP = 10
_WORD = re.compile(r"\w")


@dataclass
class Answer:
    total: int
    ids: list[int]
    marked: list[str]


@dataclass
class EngineResult:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)
    build_s: float | None = None

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95(self) -> float:
        return self.pct(0.95)


def _mark(text: str, needles: tuple[str, ...], width: int = 64) -> str:
    """A window of text around the first needle, every needle in <mark>."""
    pattern = re.compile("|".join(map(re.escape, sorted(needles, key=len, reverse=True))))
    first = pattern.search(text)
    start = max(0, first.start() - 14) if first else 0
    window = text[start : start + width]
    return pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", str(escape(window)))


class Fts5Peer:
    """An FTS5 table in its own SQLite file, built once per corpus and cached."""

    name = "fts5"
    columns = "title, body"
    options = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.build_s: float | None = None

    def prepare(self, title: str, body: str) -> tuple:
        return (title, body)

    def build(self, rows: list[tuple[int, str, str]]) -> None:
        if self.path.exists():
            self.db = sqlite3.connect(self.path)
            return
        partial = self.path.with_suffix(f".{os.getpid()}.partial")
        began = time.perf_counter()
        db = sqlite3.connect(partial)
        db.execute(f"CREATE VIRTUAL TABLE doc USING fts5({self.columns}{self.options})")
        names = ", ".join(c.split()[0] for c in self.columns.split(","))
        marks = ", ".join("?" * (1 + len(self.columns.split(","))))
        db.executemany(
            f"INSERT INTO doc(rowid, {names}) VALUES ({marks})",
            ((i, *self.prepare(t, b)) for i, t, b in rows),
        )
        db.commit()
        db.close()
        partial.rename(self.path)
        self.build_s = time.perf_counter() - began
        self.db = sqlite3.connect(self.path)

    def texts(self, ids: list[int]) -> list[tuple[str, str]]:
        return [
            self.db.execute("SELECT title, body FROM doc WHERE rowid = ?", (i,)).fetchone()
            for i in ids
        ]

    def answer(self, where: str, params: list, ranked: bool, query: Query) -> Answer:
        order = "rank" if ranked else "rowid DESC"
        ids = [
            r[0]
            for r in self.db.execute(
                f"SELECT rowid FROM doc WHERE {where} ORDER BY {order} LIMIT {TOP}", params
            )
        ]
        total = self.db.execute(f"SELECT count(*) FROM doc WHERE {where}", params).fetchone()[0]
        marked = []
        for title, body in self.texts(ids):
            marked += [_mark(title, query.needles), _mark(body, query.needles)]
        return Answer(total, ids, marked)


class TrigramPeer(Fts5Peer):
    name = "fts5-trigram"
    options = ", tokenize='trigram'"

    def search(self, query: Query) -> Answer:
        long = [n for n in query.needles if len(n) >= 3]
        short = [n for n in query.needles if len(n) < 3]
        where, params = [], []
        if long:
            where.append("doc MATCH ?")
            params.append(" AND ".join(f'"{n}"' for n in long))
        for needle in short:
            where.append("(title LIKE ? OR body LIKE ?)")
            params += [f"%{needle}%"] * 2
        return self.answer(" AND ".join(where), params, bool(long), query)


class SegmentedPeer(Fts5Peer):
    name = "fts5-segmented"
    columns = "title, body, title_raw UNINDEXED, body_raw UNINDEXED"

    def prepare(self, title: str, body: str) -> tuple:
        def cut(text: str) -> str:
            return " ".join(w for w in rjieba.cut_for_search(text) if _WORD.search(w))

        return (cut(title), cut(body), title, body)

    def texts(self, ids: list[int]) -> list[tuple[str, str]]:
        return [
            self.db.execute("SELECT title_raw, body_raw FROM doc WHERE rowid = ?", (i,)).fetchone()
            for i in ids
        ]

    def search(self, query: Query) -> Answer:
        phrases = []
        for needle in query.needles:
            words = [w for w in rjieba.cut(needle) if _WORD.search(w)]
            phrases.append('"' + " ".join(words) + '"')
        return self.answer("doc MATCH ?", [" AND ".join(phrases)], True, query)


def whoosh_engine(apps: list) -> Callable[[Query], Answer]:
    """The site's own search, as /search runs it.

    Each repeat of a query goes to another app instance (each with its own searcher and
    caches), so a cache of results inside microsite.search, keyed by query, cannot turn the
    repeats into cache hits: every figure is a first execution in its process state.
    """
    from microsite import search
    from microsite.extensions import db

    seen: dict[str, int] = {}

    def run(query: Query) -> Answer:
        app = apps[seen.get(query.text, 0) % len(apps)]
        seen[query.text] = seen.get(query.text, 0) + 1
        with app.test_request_context("/search"):
            page = search.find(query.text)
            marked = [str(h.title) + str(h.snippet) for h in page.hits]
            db.session.remove()
        return Answer(page.total, page.ids, marked)

    return run


def measure(
    engines: dict[str, Callable[[Query], Answer]],
    queries: list[Query],
    warm_up: list[Query],
    log: Callable[[str], None] = print,
) -> list[EngineResult]:
    """Median of REPEATS runs per query and engine, engines interleaved, after warming every
    engine (and every app instance) on other queries."""
    for query in warm_up:
        for engine in engines.values():
            for _ in range(REPEATS):
                engine(query)
    results = {name: EngineResult(name) for name in engines}
    for query in queries:
        samples: dict[str, list[float]] = {name: [] for name in engines}
        for _ in range(REPEATS):
            for name, engine in engines.items():
                began = time.perf_counter()
                answer = engine(query)
                samples[name].append(time.perf_counter() - began)
                if len(samples[name]) == 1:
                    results[name].totals.append(answer.total)
        for name, times in samples.items():
            results[name].latencies_ms.append(statistics.median(times) * 1e3)
    for r in results.values():
        log(f"  search {r.name}: p50 {r.p50:.1f} ms, p95 {r.p95:.1f} ms")
    return list(results.values())


def split_by_kind(queries: list[Query], result: EngineResult) -> dict[str, EngineResult]:
    """The result's latencies per kind of query (word, and, phrase), each as an EngineResult."""
    kinds: dict[str, EngineResult] = {}
    for query, ms in zip(queries, result.latencies_ms, strict=True):
        kinds.setdefault(query.kind, EngineResult(f"{result.name} {query.kind}"))
        kinds[query.kind].latencies_ms.append(ms)
    return kinds


def by_kind(queries: list[Query], result: EngineResult) -> dict[str, float]:
    """p95 per kind of query (word, and, phrase), to show where the time goes."""
    return {kind: part.p95 for kind, part in split_by_kind(queries, result).items()}


# --- search-scale: issue 16's Whoosh budgets at 10k and 100k -----------------------------

SCALE_SIZES = (10_000, 100_000)
QUICK_SCALE_SIZES = (1_000,)


@dataclass
class Scale:
    """One corpus size: the queries, Whoosh through search.find, the FTS5 floor, the
    rebuild (from the cached index's build, or this run's), and the exactness check."""

    n: int
    queries: list[Query]
    whoosh: EngineResult
    floor: EngineResult
    rebuild: object  # bench.reindex.Reindex
    exact: tuple[int, int] | None = None  # (queries equal to the exhaustive collector, all)
    timed: dict[str, EngineResult] | None = None  # search only: block path, collector


def scale(n: int, procs: int | None, log: Callable[[str], None] = print) -> Scale:
    """Measure one corpus size against a Whoosh index cached per corpus and SCHEMA_VERSION
    (built and timed the first time) and an FTS5 peer cached per corpus."""
    from . import CACHE_DIR, corpus, queries, reindex

    home, rebuilt = reindex.cached_index(n, procs, log)
    work = corpus.run_directory(f"scale{n}")
    db_path = corpus.working_copy(n, work, log)
    texts = corpus.plain_texts(db_path)
    vocab, seed = corpus._materials()[:2]
    bodies = [t for _, _, t in texts]
    found = queries.make_queries(vocab, bodies, seed.sentences)
    warm_up = queries.make_queries(vocab, bodies, seed.sentences, seed=99)[::10]
    peer = SegmentedPeer(CACHE_DIR / f"{corpus.corpus_path(n).stem}.fts5-segmented.sqlite3")
    peer.build(texts)
    del texts, bodies
    apps = [corpus.bench_app(db_path, home) for _ in range(REPEATS)]
    log(f"search-scale: {len(found)} queries on {n:,} articles")
    whoosh, floor = measure({"whoosh": whoosh_engine(apps), peer.name: peer.search}, found,
                            warm_up, log)  # fmt: skip
    result = Scale(n, found, whoosh, floor, rebuilt)
    same, every, result.timed = exactness(apps[0], found)
    result.exact = (same, every)
    log(f"  exact: {result.exact[0]}/{result.exact[1]} equal to the exhaustive collector")
    return result


def exactness(app, found: list[Query]) -> tuple[int, int, dict[str, EngineResult]]:
    """Queries whose count and top 10 (both sorts) from the block path equal those of the
    exhaustive collector (every match stepped through and scored by Whoosh's matchers), of
    all; and both paths' search-only latencies (relevance, no snippets): the speed-up over
    the previous engine, in the same run."""
    from microsite import search
    from microsite.search.backends import whoosh_fast, whoosh_ranking
    from microsite.search.query import parse

    same = 0
    timed = {"block path": EngineResult("block path"), "collector": EngineResult("collector")}

    def clocked(name, page, s, q, by_date):
        began = time.perf_counter()
        answer = page(s, q, TOP, by_date)
        if not by_date:
            timed[name].latencies_ms.append((time.perf_counter() - began) * 1e3)
        return answer

    with app.app_context():
        state = search.state()
        for query in found:
            q = parse(query.text).whoosh()

            def both(s, q=q):
                return all(
                    clocked("block path", whoosh_fast.search_page, s, q, by_date)
                    == clocked("collector", whoosh_ranking.collected_page, s, q, by_date)
                    for by_date in (False, True)
                )

            same += state.searcher.run(both)
    return same, len(found), timed


def scale_rows(result: Scale) -> list:
    """The section's rows for one size: budgets where issue 16 sets them."""
    from .report import Row, ms, seconds

    n = f"{result.n // 1000}k"
    whoosh, floor = result.whoosh, result.floor
    ours, base = split_by_kind(result.queries, whoosh), split_by_kind(result.queries, floor)
    small = result.n <= 10_000
    rows = [
        Row("search-scale", f"whoosh p95 all ({n})", ms(whoosh.p95),
            f"fts5-seg p95 {ms(floor.p95)}", whoosh.p95 / floor.p95,
            "≤ 3x" if small else "", whoosh.p95 <= 3 * floor.p95 if small else None),
    ]  # fmt: skip
    if not small:
        rows.append(
            Row("search-scale", f"whoosh p95 all ({n}), search.find with snippets",
                ms(whoosh.p95), "", None, "≤ 100 ms", whoosh.p95 <= 100)
        )  # fmt: skip
    for kind, part in ours.items():
        rows.append(
            Row("search-scale", f"whoosh {kind} p50 / p95 ({n})",
                f"{ms(part.p50)} / {ms(part.p95)}",
                f"fts5-seg {ms(base[kind].p50)} / {ms(base[kind].p95)}",
                part.p95 / base[kind].p95)
        )  # fmt: skip
    if "phrase" in ours and "word" in ours:
        phrase, word = ours["phrase"].p95, ours["word"].p95
        rows.append(
            Row("search-scale", f"whoosh phrase p95 ({n})", ms(phrase), f"word p95 {ms(word)}",
                phrase / word, "≤ 2x", phrase <= 2 * word)
        )  # fmt: skip
    if result.exact is not None:
        same, every = result.exact
        rows.append(
            Row("search-scale", f"whoosh exact ({n}): count + top 10, both sorts",
                f"{same}/{every} queries", "exhaustive collector", None, "all", same == every)
        )  # fmt: skip
    timed = result.timed
    if timed:
        fast, slow = timed["block path"], timed["collector"]
        rows.append(
            Row("search-scale", f"whoosh search only, block path p50 / p95 ({n})",
                f"{ms(fast.p50)} / {ms(fast.p95)}",
                f"collector {ms(slow.p50)} / {ms(slow.p95)}", fast.p95 / slow.p95)
        )  # fmt: skip
    rebuilt = result.rebuild
    rows.append(
        Row("search-scale", f"whoosh rebuild ({n}, {rebuilt.procs})", seconds(rebuilt.rebuild_s),
            f"segmenter alone {seconds(rebuilt.segmenter_s)}", rebuilt.ratio,
            "≤ 8x" if small else "", rebuilt.ratio <= 8 if small else None)
    )  # fmt: skip
    return rows
