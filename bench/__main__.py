"""`python -m bench`: build or reuse the corpora, run every benchmark, print one table.

    python -m bench                 everything (what `make bench` runs), table to bench/RESULTS.md
    python -m bench --quick         1,000 articles for search/HTTP, 10,000 for listings; no write
    python -m bench --only search   just some sections: reindex, search, search-scale, http,
                                    listing (search-scale: issue 16's budgets by kind, Whoosh
                                    and PostgreSQL)

Every figure is printed with a baseline measured in the same run on the same machine: these
machines are shared and noisy, so absolute numbers drift and ratios hold.

Environment: BENCH_LOADGEN=python uses the Python load generator even when wrk is installed;
BENCH_VOCAB=seed builds corpora from the seed page's words instead of rjieba's dictionary;
BENCH_KEEP=1 keeps the run's working directory (database copy, index, gunicorn.log);
BENCH_STRICT=1 exits 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import sys
import time
from pathlib import Path

from . import BENCH_DIR, CACHE_DIR, corpus, http, listing, queries, reindex, report, search
from .report import Row, ms, seconds

SECTIONS = ("reindex", "search", "search-scale", "http", "listing")
# Paths per HTTP target: enough distinct articles that no single row stays hot.
HTTP_ARTICLES = 500


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small corpora, short runs")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--seconds", type=float, default=None, help="HTTP load per target")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--reindex-procs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="indexing processes for the rebuild (`flask reindex --procs`); default: all cores",
    )
    parser.add_argument("--results", default=str(BENCH_DIR / "RESULTS.md"))
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    args.sections = [s for s in args.only.split(",") if s]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    args.search_n = 1_000 if args.quick else 10_000
    args.list_n = 10_000 if args.quick else 100_000
    args.seconds = args.seconds or (4.0 if args.quick else 8.0)
    if args.quick:
        args.no_write = True
    return args


class Run:
    """State shared by the sections of one run: the working copy, its index, the rows."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.work = corpus.run_directory("run")
        self.db_path = corpus.working_copy(args.search_n, self.work, log)
        self.index_dir = self.work / "index"
        self.app = corpus.bench_app(self.db_path, self.index_dir)
        self.texts = corpus.plain_texts(self.db_path)
        vocab, seed = corpus._materials()[:2]
        bodies = [t for _, _, t in self.texts]
        self.queries = queries.make_queries(vocab, bodies, seed.sentences)
        self.warm_up = queries.make_queries(vocab, bodies, seed.sentences, seed=99)[::10]
        self.indexed = False
        # Measured once per run, shared by the sections that report them.
        self.reindex_result: reindex.Reindex | None = None
        self.search_results: list[search.EngineResult] | None = None

    def ensure_index(self) -> None:
        if not self.indexed:
            log("  building the search index (untimed: reindex was not asked for)")
            reindex.rebuild_seconds(self.app, self.args.reindex_procs)
            self.indexed = True


def run_reindex(run: Run) -> None:
    n = run.args.search_n
    log(f"reindex: {n:,} articles")
    result = run.reindex_result = reindex.measure(run.app, run.texts, run.args.reindex_procs)
    run.indexed = True
    run.rows.append(
        Row(
            "reindex",
            f"full rebuild, {result.documents:,} docs ({result.procs})",
            seconds(result.rebuild_s),
            f"segmenter alone {seconds(result.segmenter_s)}",
            result.ratio,
            "≤ 4x",
            result.ratio <= 4,
        )
    )
    if result.analyzer_s is not None:
        run.rows.append(
            Row(
                "reindex",
                "analyzer pass alone (info)",
                seconds(result.analyzer_s),
                f"segmenter alone {seconds(result.segmenter_s)}",
                result.analyzer_s / result.segmenter_s,
            )
        )
    run.notes.append(
        f"reindex: {result.chars / 1e6:.1f} M characters; segmenter "
        f"{result.chars / result.segmenter_s / 1e6:.2f} M chars/s in one process"
    )


def _peers(run: Run) -> tuple[search.TrigramPeer, search.SegmentedPeer]:
    key = corpus.corpus_path(run.args.search_n).stem
    tri = search.TrigramPeer(CACHE_DIR / f"{key}.fts5-trigram.sqlite3")
    seg = search.SegmentedPeer(CACHE_DIR / f"{key}.fts5-segmented.sqlite3")
    for peer in (tri, seg):
        peer.build(run.texts)
    return tri, seg


def _search_results(run: Run) -> list[search.EngineResult]:
    """(whoosh, fts5-trigram, fts5-segmented) latencies over the run's queries, measured once."""
    if run.search_results is None:
        run.ensure_index()
        log(f"search: {len(run.queries)} queries on {run.args.search_n:,} articles")
        tri, seg = _peers(run)
        apps = [run.app] + [
            corpus.bench_app(run.db_path, run.index_dir) for _ in range(search.REPEATS - 1)
        ]
        engines = {"whoosh": search.whoosh_engine(apps), tri.name: tri.search, seg.name: seg.search}
        run.search_results = search.measure(engines, run.queries, run.warm_up, log)
        for peer in (tri, seg):
            if peer.build_s is not None:
                run.notes.append(f"{peer.name}: built in {peer.build_s:.1f} s this run")
    return run.search_results


def run_search(run: Run) -> None:
    whoosh, trigram, segmented = _search_results(run)
    p95, kinds = whoosh.p95, search.by_kind(run.queries, whoosh)
    n = f"{run.args.search_n // 1000}k"
    run.rows += [
        Row("search", f"whoosh p50 ({n})", ms(whoosh.p50), f"fts5-seg p50 {ms(segmented.p50)}",
            whoosh.p50 / segmented.p50),
        Row("search", f"whoosh p95 ({n})", ms(p95), f"fts5-seg p95 {ms(segmented.p95)}",
            p95 / segmented.p95, "≤ 2x", p95 <= 2 * segmented.p95),
        Row("search", "whoosh p95 vs trigram", ms(p95), f"fts5-trigram p95 {ms(trigram.p95)}",
            p95 / trigram.p95, "< 1x", p95 < trigram.p95),
        Row("search", "whoosh p95 absolute", ms(p95), "", None, "≤ 100 ms", p95 <= 100),
        Row("search", "whoosh p95 by kind (info)",
            ", ".join(f"{k} {ms(v)}" for k, v in kinds.items())),
    ]  # fmt: skip
    matches = sum(1 for a, b in zip(whoosh.totals, segmented.totals, strict=True) if a == b)
    run.notes.append(
        f"search: hit counts equal to fts5-segmented's for {matches}/{len(run.queries)} queries"
        f" (p50 fts5-trigram {ms(trigram.p50)})"
    )


def run_search_scale(run: Run) -> None:
    """Issue 16's budgets for Whoosh on one host: per query kind against FTS5 over segmented
    text (the floor), phrases against words, and a rebuild against the segmenter alone. The
    corpus is cached between runs (bench/.cache); only the 10k corpus is measured here."""
    n = f"{run.args.search_n // 1000}k"
    if run.reindex_result is None:
        log(f"search-scale: reindex of {run.args.search_n:,} articles")
        run.reindex_result = reindex.measure(run.app, run.texts, run.args.reindex_procs)
        run.indexed = True
    rebuilt = run.reindex_result
    whoosh, _, segmented = _search_results(run)
    ours = search.split_by_kind(run.queries, whoosh)
    floor = search.split_by_kind(run.queries, segmented)
    p95 = whoosh.p95
    run.rows.append(
        Row("search-scale", f"whoosh p95 all ({n})", ms(p95), f"fts5-seg p95 {ms(segmented.p95)}",
            p95 / segmented.p95, "≤ 3x", p95 <= 3 * segmented.p95)
    )  # fmt: skip
    for kind, part in ours.items():
        base = floor[kind]
        run.rows.append(
            Row("search-scale", f"whoosh {kind} p50 / p95 ({n})",
                f"{ms(part.p50)} / {ms(part.p95)}",
                f"fts5-seg {ms(base.p50)} / {ms(base.p95)}", part.p95 / base.p95)
        )  # fmt: skip
    if "phrase" in ours and "word" in ours:
        phrase, word = ours["phrase"].p95, ours["word"].p95
        run.rows.append(
            Row("search-scale", f"whoosh phrase p95 ({n})", ms(phrase), f"word p95 {ms(word)}",
                phrase / word, "≤ 2x", phrase <= 2 * word)
        )  # fmt: skip
    run.rows.append(
        Row("search-scale", f"whoosh rebuild ({n}, {rebuilt.procs})", seconds(rebuilt.rebuild_s),
            f"segmenter alone {seconds(rebuilt.segmenter_s)}", rebuilt.ratio, "≤ 8x",
            rebuilt.ratio <= 8)
    )  # fmt: skip
    # PostgreSQL search (bench/search_pg.py): 10k and 100k, RUM and GIN, its own cluster.
    from . import search_pg

    pg = search_pg.section((1_000,) if run.args.quick else search_pg.SIZES)
    run.rows += pg.rows
    run.notes += pg.notes


def run_http(run: Run) -> None:
    run.ensure_index()
    args = run.args
    ids = [i for i, _, _ in run.texts]
    sample = ids[:: max(1, len(ids) // HTTP_ARTICLES)][:HTTP_ARTICLES]
    from urllib.parse import quote

    targets = [
        http.Target("article page", [f"/articles/{i}" for i in sample]),
        http.Target("related fragment", [f"/articles/{i}/related?page=2" for i in sample], hx=True),
        http.Target("home /", ["/"]),
    ]
    if "search.search" in {r.endpoint for r in run.app.url_map.iter_rules()}:
        targets.append(
            http.Target("search page", [f"/search?q={quote(q.text)}" for q in run.queries])
        )
    log(f"http: gunicorn, {args.connections} connections, {args.seconds:g} s per target")
    server = http.Gunicorn(run.db_path, run.index_dir, run.work / "gunicorn.log")
    try:
        server.wait_ready()
        bare, pages, workers = http.measure(server, targets, args.seconds, args.connections, log)
    finally:
        server.stop()
    tool = bare.loads[0].tool
    budgets = {"article page": 0.5, "related fragment": 0.6}
    run.rows.append(
        Row("http", f"bare route ({len(workers)} workers, {tool})", f"{bare.rps:,.0f} req/s",
            f"p99 {ms(bare.p99_ms)}")
    )  # fmt: skip
    for t in pages:
        ratio = t.rps / bare.rps
        floor = budgets.get(t.name)
        run.rows.append(
            Row("http", f"{t.name} req/s", f"{t.rps:,.0f} req/s", f"bare {bare.rps:,.0f} req/s",
                ratio, f"≥ {floor}x" if floor else "", ratio >= floor if floor else None)
        )  # fmt: skip
        run.rows.append(
            Row("http", f"{t.name} p99 @{args.connections}", ms(t.p99_ms),
                f"bare p99 {ms(bare.p99_ms)}", t.p99_ms / bare.p99_ms,
                "< 50 ms" if floor else "", t.p99_ms < 50 if floor else None)
        )  # fmt: skip
        if t.first_view_ms is not None:
            run.rows.append(
                Row("http", f"{t.name} first view (info)", ms(t.first_view_ms),
                    "mean over every path, 4 at a time, nothing stored yet")
            )  # fmt: skip
        if t.failures:
            run.notes.append(f"http: {t.name} had {t.failures} failed requests")
    rss = max(w["rss"] for w in workers)
    pss = sum(w["pss"] for w in workers) / len(workers)
    run.rows.append(
        Row("memory", "RSS per worker after load (max)", f"{rss:.0f} MB",
            f"PSS mean {pss:.0f} MB", None, "≤ 250 MB", rss <= 250)
    )  # fmt: skip


def run_listing(run: Run) -> None:
    n = run.args.list_n
    log(f"listing: {n:,} articles")
    large = corpus.bench_app(corpus.ready_corpus(n, log), CACHE_DIR / "no-index")
    small = corpus.bench_app(corpus.ready_corpus(1_000, log), CACHE_DIR / "no-index")
    results, plans = listing.measure(large, small, log)
    for r in results:
        budget = "(info)" not in r.name and "vs page 1" in r.name
        run.rows.append(
            Row("listing", r.name, ms(r.other_ms), f"{ms(r.first_ms)}", r.ratio,
                "≤ 1.2x" if budget else "", r.ratio <= 1.2 if budget else None)
        )  # fmt: skip
    run.notes += [f"plan that sorts or scans every row: {line}" for line in plans]
    if n >= 100_000:
        run.notes.append("listing: no search index on the 100k corpus; related = category latest")


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    began = time.perf_counter()
    # The listing corpus (100k) is built only when the listing section runs: an hour's work.
    sizes = {1_000, args.search_n} | ({args.list_n} if "listing" in args.sections else set())
    log(f"corpora: {', '.join(f'{n:,}' for n in sorted(sizes))} articles")
    built = []
    for n in sorted(sizes):
        _, build_s = corpus.ensure_corpus(n, log)
        if build_s is not None:
            built.append(f"corpus {n:,} built in {build_s:.0f} s")
    run = Run(args)
    durations = []
    for section in args.sections:
        started = time.perf_counter()
        {"reindex": run_reindex, "search": run_search, "search-scale": run_search_scale,
         "http": run_http, "listing": run_listing}[section](run)  # fmt: skip
        durations.append(f"{section} {time.perf_counter() - started:.0f} s")
    run.notes.append("time per section: " + ", ".join(durations))
    vocab = corpus._materials()[0]
    elapsed = time.perf_counter() - began
    command = "make bench" if not argv and os.environ.get("MAKELEVEL") else "python -m bench"
    if argv or len(sys.argv) > 1:
        command = "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:])
    header = (
        f"`{command}` — {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, vocabulary {vocab.source} ({vocab.size:,} words), "
        f"{elapsed / 60:.1f} min"
    )
    text = "\n".join(
        [header, "", report.table(run.rows), "", *(f"- {n}" for n in built + run.notes)]
    )
    print(text)
    if not args.no_write:
        write_results(Path(args.results), text)
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(run.work, ignore_errors=True)  # kept after a failure, for gunicorn.log
    return 1 if any(r.ok is False for r in run.rows) and os.environ.get("BENCH_STRICT") else 0


def write_results(path: Path, text: str) -> None:
    """Replace the latest table in RESULTS.md, keeping whatever is written around it."""
    start, end = "<!-- bench:latest -->", "<!-- /bench:latest -->"
    old = (
        path.read_text(encoding="utf-8")
        if path.exists()
        else f"# Benchmark results\n\n{start}\n{end}\n"
    )
    if start not in old:
        old += f"\n{start}\n{end}\n"
    head, rest = old.split(start, 1)
    tail = rest.split(end, 1)[1] if end in rest else ""
    path.write_text(f"{head}{start}\n{text}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
