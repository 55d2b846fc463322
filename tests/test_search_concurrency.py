"""Two OS processes (like two gunicorn workers) writing to and reading from one index."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

from microsite import search
from microsite.models import Article

from .search_helpers import write_and_read

pytest_plugins = ["tests.search_fixtures"]
PER_PROCESS = 12


def test_two_processes_write_and_read_without_errors_or_lost_updates(app, indexed):
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SEARCH_INDEX_DIR")}
    config |= {"TESTING": True, "SECRET_KEY": "test", "INSTANCE_PATH": app.instance_path}
    # spawn, not fork: each worker starts clean, as gunicorn workers with their own searcher.
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 4  # after both children have started and warmed up
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = [
            pool.submit(write_and_read, config, tag, PER_PROCESS, start_at) for tag in ("ka", "kb")
        ]
        (first, a0, a1), (second, b0, b1) = [future.result(timeout=120) for future in futures]
    assert a0 < b1 and b0 < a1, "the two processes did not write at the same time"
    ids = set(first) | set(second)
    assert len(ids) == 2 * PER_PROCESS
    # Every commit of both processes reached the index: none lost to a lock.
    found = search.find("并发测试正文", size=100)
    assert found.total == 2 * PER_PROCESS
    assert {hit.article.id for hit in found.hits} == ids
    status = search.status()
    assert status["documents"] == Article.query.filter_by(status="published").count()
