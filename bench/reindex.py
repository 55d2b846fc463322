"""Full reindex time against the time the segmenter alone needs on the same text.

The segmenter baseline is rjieba in search mode (what the analyzer calls) over every published
article's title and plain body text, in one process. The analyzer pass (the same text through
the index's Whoosh analyzer, tokens and all) is shown too: the gap between the two is Python
per-token overhead, the gap to the rebuild is Whoosh's own indexing work.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import rjieba
from flask import Flask


@dataclass
class Reindex:
    documents: int
    chars: int
    rebuild_s: float
    segmenter_s: float
    analyzer_s: float | None
    procs: str

    @property
    def ratio(self) -> float:
        return self.rebuild_s / self.segmenter_s


def segmenter_seconds(rows: list[tuple[int, str, str]]) -> float:
    began = time.perf_counter()
    for _, title, body in rows:
        rjieba.tokenize(title, mode="search")
        rjieba.tokenize(body, mode="search")
    return time.perf_counter() - began


def analyzer_seconds(rows: list[tuple[int, str, str]]) -> float | None:
    try:
        from microsite.search.analyzer import ChineseAnalyzer
    except ImportError:
        return None
    analyzer = ChineseAnalyzer()
    began = time.perf_counter()
    for _, title, body in rows:
        for text in (title, body):
            for _token in analyzer(text, positions=True, chars=True):
                pass
    return time.perf_counter() - began


def rebuild_seconds(app: Flask, procs: int | None) -> tuple[int, float]:
    """One full rebuild as the site runs it (procs=None: the site's default)."""
    from microsite.search import rebuild

    with app.app_context():
        try:  # one-off per process: the folding table; not part of a rebuild's steady cost
            from microsite.search.analyzer import fold_table

            fold_table()
        except ImportError:
            pass
        began = time.perf_counter()
        count = rebuild() if procs is None else rebuild(procs=procs)
        return count, time.perf_counter() - began


def measure(
    app: Flask, rows: list[tuple[int, str, str]], procs: int | None = None, analyzer: bool = True
) -> Reindex:
    segmenter = segmenter_seconds(rows)
    analyzer_s = analyzer_seconds(rows) if analyzer else None
    count, rebuild_s = rebuild_seconds(app, procs)
    chars = sum(len(t) + len(b) for _, t, b in rows)
    label = "site default" if procs is None else f"--procs {procs}"
    return Reindex(count, chars, rebuild_s, segmenter, analyzer_s, label)


def index_key(n: int) -> str:
    """The cache name of a built Whoosh index: its corpus and the index's SCHEMA_VERSION."""
    from microsite.search.index import SCHEMA_VERSION

    from .corpus import corpus_path

    return f"whoosh-{corpus_path(n).stem}-s{SCHEMA_VERSION}"


def cached_index(
    n: int, procs: int | None, log: Callable[[str], None] = print
) -> tuple[Path, Reindex]:
    """The Whoosh index of the n-article corpus, built once (timed, against the segmenter
    on the same rows) and kept in bench/.cache under index_key(n) with its build figures; a
    later run reuses both (the figures then say which run measured them). A new
    SCHEMA_VERSION or corpus makes a new key, so a stale index is never measured."""
    from .corpus import CACHE_DIR, bench_app, plain_texts, working_copy

    home = CACHE_DIR / index_key(n)
    figures = home / "build.json"
    if figures.exists():
        saved = json.loads(figures.read_text())
        measured = saved.pop("measured", "an earlier run")
        result = Reindex(**saved)
        result.procs = f"{result.procs}, built {measured}"
        return home, result
    # A directory per building process (not "*.partial": corpus.run_directory unlinks those
    # as files); what a build that died left behind is removed here.
    for stale in CACHE_DIR.glob(f"{home.name}-building-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(stale, ignore_errors=True)
    work = CACHE_DIR / f"{home.name}-building-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    db_path = working_copy(n, work / "db", log)
    rows = plain_texts(db_path)
    log(f"  whoosh index of {n:,} articles: not cached, building ({procs or 'default'} procs)")
    app = bench_app(db_path, work / "index")
    result = measure(app, rows, procs, analyzer=n <= 10_000)
    with app.app_context():
        from microsite.extensions import db

        app.extensions["microsite.search"].searcher.close()
        db.engine.dispose()
    saved = {**asdict(result), "measured": time.strftime("%Y-%m-%d %H:%M")}
    (work / "index" / "build.json").write_text(json.dumps(saved))
    os.replace(work / "index", home)
    shutil.rmtree(work, ignore_errors=True)
    log(f"  built in {result.rebuild_s:.0f} s ({result.ratio:.1f}x the segmenter)")
    return home, result
