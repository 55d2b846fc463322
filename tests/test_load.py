"""A short run of bench/load.py: 16 connections for 5 s against gunicorn with 3 workers while an
admin publishes, edits, clears and restores. No 5xx, no connection error, nothing lost.

The full run (64 connections, 30 s) is `make load`.
"""

from __future__ import annotations

from bench import load


def test_short_load_run_loses_nothing(tmp_path):
    result = load.run(connections=16, seconds=5, workers=3, work=tmp_path)
    report = result.report()
    assert result.requests > 0, report
    assert result.server_errors == 0, report
    assert not result.errors, report
    assert not result.admin_failures, report
    assert result.saved, report
    assert not result.missing_in_db, report
    assert not result.missing_in_search, report
    assert result.ok, report
