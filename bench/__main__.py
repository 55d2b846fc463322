"""`python -m bench`: build or reuse the corpora, run every benchmark, print one table.

    python -m bench                 everything (what `make bench` runs), table to bench/RESULTS.md
    python -m bench --quick         1,000 articles for search/HTTP, 10,000 for listings; no write
    python -m bench --only search   just some sections: reindex, search, search-scale, http,
                                    mixed, listing (search-scale: issue 16's budgets by kind,
                                    Whoosh and PostgreSQL; mixed: issue 17's readers and an
                                    editor at 100k)

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

from . import BENCH_DIR, CACHE_DIR, corpus, http, listing, mixed, queries, reindex, report, search
from .report import Row, ms, seconds

SECTIONS = ("reindex", "search", "search-scale", "http", "mixed", "listing")
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
            # Reindex was not asked for: the index cached for this corpus and schema (built
            # once, bench/reindex.py) serves the search and HTTP sections.
            self.index_dir, _ = reindex.cached_index(
                self.args.search_n, self.args.reindex_procs, log
            )
            self.app = corpus.bench_app(self.db_path, self.index_dir)
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
    """Issue 16's budgets, Whoosh on one host at 10k and 100k (1k with --quick): per query
    kind against FTS5 over segmented text (the floor), phrases against words, exactness, and
    a rebuild against the segmenter alone. Corpora, built indexes and FTS5 peers are cached in
    bench/.cache between runs (bench/search.py); then PostgreSQL (bench/search_pg.py)."""
    sizes = search.QUICK_SCALE_SIZES if run.args.quick else search.SCALE_SIZES
    for n in sizes:
        run.rows += search.scale_rows(search.scale(n, run.args.reindex_procs, log))
    # PostgreSQL search (bench/search_pg.py): 10k and 100k, RUM and GIN, its own cluster.
    from . import search_pg

    pg = search_pg.section((1_000,) if run.args.quick else search_pg.SIZES)
    run.rows += pg.rows
    run.notes += pg.notes


def run_http(run: Run) -> None:
    http.section(run, log, HTTP_ARTICLES)


def run_mixed(run: Run) -> None:
    mixed.section(run, log)


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
    big = {"listing", "mixed"} & set(args.sections)
    sizes = {1_000, args.search_n} | ({args.list_n} if big else set())
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
         "http": run_http, "mixed": run_mixed, "listing": run_listing}[section](run)  # fmt: skip
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
