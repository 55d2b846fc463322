"""Two OS processes (like two gunicorn workers) writing to and reading from one index."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from microsite import create_app, search
from microsite.content.models import Article
from tests.support.search import write_and_read

PER_PROCESS = 12


def warm_then_write_and_read(config: dict, tag: str, count: int, start_line) -> tuple:
    """In a child process: load the app, the searcher and the segmenter, wait at the barrier
    until the other child is as far, then write and read from the same moment."""
    with create_app(config).app_context():
        search.find("预热")
    start_line.wait(timeout=120)
    return write_and_read(config, tag, count, start_at=0.0)


def test_two_processes_write_and_read_without_errors_or_lost_updates(app, indexed):
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SEARCH_INDEX_DIR")}
    config |= {"TESTING": True, "SECRET_KEY": "test", "INSTANCE_PATH": app.instance_path}
    # spawn, not fork: each worker starts clean, as gunicorn workers with their own searcher.
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(2, mp_context=context) as pool:
        start_line = manager.Barrier(2)  # both children warmed up, however long that takes
        futures = [
            pool.submit(warm_then_write_and_read, config, tag, PER_PROCESS, start_line)
            for tag in ("ka", "kb")
        ]
        (first, a0, a1), (second, b0, b1) = [future.result(timeout=300) for future in futures]
    assert a0 < b1 and b0 < a1, "the two processes did not write at the same time"
    ids = set(first) | set(second)
    assert len(ids) == 2 * PER_PROCESS
    # Every commit of both processes reached the index: none lost to a lock.
    found = search.find("并发测试正文", size=100)
    assert found.total == 2 * PER_PROCESS
    assert {hit.article.id for hit in found.hits} == ids
    status = search.status()
    assert status["documents"] == Article.query.filter_by(status="published").count()
