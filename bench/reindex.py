"""Full reindex time against the time the segmenter alone needs on the same text.

The segmenter baseline is rjieba in search mode (what the analyzer calls) over every published
article's title and plain body text, in one process. The analyzer pass (the same text through
the index's Whoosh analyzer, tokens and all) is shown too: the gap between the two is Python
per-token overhead, the gap to the rebuild is Whoosh's own indexing work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

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


def measure(app: Flask, rows: list[tuple[int, str, str]], procs: int | None = None) -> Reindex:
    segmenter = segmenter_seconds(rows)
    analyzer = analyzer_seconds(rows)
    count, rebuild_s = rebuild_seconds(app, procs)
    chars = sum(len(t) + len(b) for _, t, b in rows)
    label = "site default" if procs is None else f"--procs {procs}"
    return Reindex(count, chars, rebuild_s, segmenter, analyzer, label)
