"""Benchmarks for microsite: a synthetic corpus and measurements printed as ratios.

Run everything with `make bench` (or `python -m bench`); see bench/RESULTS.md for the latest table.
Never run by the test suite: these take minutes and depend on a quiet machine.
"""

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
# Corpora, indexes and peer databases: big, rebuilt when missing, git-ignored.
CACHE_DIR = BENCH_DIR / ".cache"
