"""One Whoosh searcher per process, reopened when the index changes.

whoosh-reloaded's `Searcher.refresh()` returns duplicate hits after segment merges, so a stale
searcher is closed and a new one opened instead. A lock serialises use of the searcher: its
readers share file handles, and a request must not have it closed under it by another thread.
"""

from __future__ import annotations

import os
import struct
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from whoosh.index import IndexError as WhooshIndexError
from whoosh.searching import Searcher

from .index import SearchUnavailable, live_dir, open_live, open_searcher

# Errors a searcher raises when its files changed or vanished under it (a rebuild pruned
# an old generation, a half-copied index): reopen once, then report the index unavailable.
READ_ERRORS = (OSError, EOFError, ValueError, KeyError, struct.error, WhooshIndexError)
CACHE_SIZE = 2048


class LiveSearcher:
    def __init__(self, home: Path, before: Callable[[], None] | None = None) -> None:
        self.home = home
        # Called (outside the lock) before a search runs: brings the index up to the log.
        self._before = before
        self._lock = threading.RLock()
        # The open searcher, in a list a finalizer can reach without keeping self alive:
        # segment files stay open while it lives (no mmap), and an app dropped without
        # close() must not leave them to the garbage collector.
        self._held: list[Searcher] = []
        weakref.finalize(self, _close_all, self._held)
        self._where: Path | None = None
        self._pid = os.getpid()
        self._cache: OrderedDict[Any, tuple[tuple, Any]] = OrderedDict()

    @property
    def _searcher(self) -> Searcher | None:
        return self._held[0] if self._held else None

    @_searcher.setter
    def _searcher(self, searcher: Searcher | None) -> None:
        self._held[:] = [] if searcher is None else [searcher]

    def _close(self) -> None:
        if self._searcher is not None:
            with suppress(READ_ERRORS):
                self._searcher.close()
        self._searcher, self._where = None, None

    def _fresh(self) -> Searcher:
        if self._pid != os.getpid():
            # A forked worker must not share the parent's file handles: start over.
            self._searcher, self._where, self._pid = None, None, os.getpid()
            self._cache.clear()
        where = live_dir(self.home)
        if where is None:
            self._close()
            raise SearchUnavailable("搜索索引尚未建立。")
        searcher = self._searcher
        try:
            if searcher is not None and where == self._where and searcher.up_to_date():
                return searcher
        except READ_ERRORS:
            pass
        self._close()
        self._where, ix = open_live(self.home)
        self._searcher = open_searcher(ix)
        return self._searcher

    @contextmanager
    def use(self) -> Iterator[Searcher]:
        """The up-to-date searcher, held for the duration of the block."""
        with self._lock:
            yield self._fresh()

    def run(self, work: Callable[[Searcher], Any], follow: bool = True) -> Any:
        """work(searcher), retried once on a fresh searcher if the files changed under it.
        follow: first apply change-log entries this index has not seen (a reader's search)."""
        if follow and self._before is not None:
            self._before()
        with self._lock:
            try:
                return work(self._fresh())
            except READ_ERRORS:
                self._close()
            try:
                return work(self._fresh())
            except READ_ERRORS as exc:
                self._close()
                raise SearchUnavailable("搜索索引无法读取。") from exc

    def generation(self) -> tuple:
        """Identifies the index version: changes with every commit and every rebuild."""
        with self._lock:
            searcher = self._fresh()
            return (self._where.name if self._where else "", searcher.reader().generation())

    def cached(self, key: Any, compute: Callable[[Searcher], Any]) -> Any:
        """compute(searcher), remembered until the index changes (LRU, CACHE_SIZE entries)."""
        with self._lock:
            generation = self.generation()
            hit = self._cache.get(key)
            if hit is not None and hit[0] == generation:
                self._cache.move_to_end(key)
                return hit[1]
            value = self.run(compute, follow=False)
            # Stored under the generation read before computing: should a commit have landed
            # meanwhile, the next call sees a newer generation and computes again.
            self._cache[key] = (generation, value)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            return value

    def close(self) -> None:
        with self._lock:
            self._close()


def _close_all(held: list[Searcher]) -> None:
    for searcher in held:
        with suppress(*READ_ERRORS):
            searcher.close()
    held.clear()
