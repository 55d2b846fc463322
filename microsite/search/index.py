"""The Whoosh index on disk: schema, where the live copy is, writing with retries, rebuilding.

Layout of SEARCH_INDEX_DIR (the configured directory):

    current -> gen-20240102T030405-1a2b3c   a symlink, swapped atomically by a rebuild
    gen-.../                                 one complete Whoosh index per rebuild
    rebuild.lock                             held while a rebuild runs
    gen-.../outbox.applied                   last index_changes id this generation applied
    gen-.../outbox.lock                      held while a process applies the change log
    gen-.../schema.version                   the SCHEMA_VERSION the generation was built with

Every open resolves `current` once and then works on that generation's real directory, so a
rebuild swapping the link never pulls a directory out from under a writer half-way through;
what such a writer adds to the old generation is caught up from the database after the swap.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import multiprocessing
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.fields import DATETIME, ID, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC, LockError, clean_files
from whoosh.writing import IndexWriter

from .analyzer import ChineseAnalyzer, PairAnalyzer
from .bulk import BulkWriter, collection_paused
from .codec import InliningCodec

log = logging.getLogger(__name__)

CURRENT = "current"
GENERATION_PREFIX = "gen-"
REBUILD_LOCK = "rebuild.lock"
# Beside Whoosh's own files in a generation (Whoosh removes only files named like its own).
APPLIED = "outbox.applied"
FOLLOW_LOCK = "outbox.lock"
VERSION_FILE = "schema.version"
# Raised whenever make_schema() or what its analyzers emit changes: a generation built with
# another version would answer wrongly (version 1 had no pair fields, so every phrase would
# find nothing), so it is reported as needing `reindex` instead of being searched.
# 2: adjacent-pair fields for phrases; word fields without positions.
SCHEMA_VERSION = 2
# A writer waits up to WRITE_TIMEOUT for another worker's commit, and tries WRITE_TRIES times:
# the default writer fails at once, which lost most writes with two workers.
WRITE_TIMEOUT = 10.0
WRITE_DELAY = 0.05
WRITE_TRIES = 3
# Title words weigh most, then keywords; the body carries the bulk of the matches.
FIELD_BOOSTS = {"title": 2.0, "tags": 1.5, "category": 1.0, "body": 1.0}
TEXT_FIELDS = tuple(FIELD_BOOSTS)
PAIRS_SUFFIX = "_pairs"


def pairs_field(fieldname: str) -> str:
    """The field holding the adjacent-pair terms of a text field."""
    return f"{fieldname}{PAIRS_SUFFIX}"


# Documents per segment in a rebuild: the bulk writer keeps a segment's postings in memory
# (measured: ~145 MB per 1,000 bench articles, so ~1.4 GB per indexing process at this
# size); fewer, larger segments search faster.
BATCH_DOCS = 10_000


class SearchUnavailable(RuntimeError):
    """The index is missing or cannot be read; the message is for readers."""


class IndexOutdated(SearchUnavailable):
    """The live generation was built with another SCHEMA_VERSION: it needs `reindex`."""


class RebuildInProgress(RuntimeError):
    """Another rebuild holds the lock."""


def make_schema() -> Schema:
    """Each text field twice: its words, without positions (a word query needs none), and its
    adjacent pairs, with positions, for phrases (see query.Clause). Not stored: snippets are
    cut from the database text, which is the one truth."""
    analyzer, pair_analyzer = ChineseAnalyzer(), PairAnalyzer()
    fields = {"id": ID(unique=True, stored=True), "published_at": DATETIME(sortable=True)}
    for name in TEXT_FIELDS:
        fields[name] = TEXT(analyzer=analyzer, phrase=False)
        fields[pairs_field(name)] = TEXT(analyzer=pair_analyzer, phrase=True)
    return Schema(**fields)


def schema_version(where: Path) -> int:
    """The SCHEMA_VERSION recorded in a generation (0: none, built before versions existed)."""
    try:
        return int((where / VERSION_FILE).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def live_dir(home: Path) -> Path | None:
    """The real directory of the live index, or None when there is none yet."""
    link = home / CURRENT
    try:
        target = link.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        return None
    return target if target.is_dir() else None


def open_live(home: Path):
    """(real directory, Whoosh index) of the live generation; SearchUnavailable otherwise."""
    where = live_dir(home)
    if where is None:
        raise SearchUnavailable("搜索索引尚未建立。")
    ix = open_generation(where)
    if schema_version(where) != SCHEMA_VERSION:
        raise IndexOutdated("搜索索引需要重建（运行 reindex）。")
    return where, ix


def open_generation(where: Path):
    """The Whoosh index in one generation's directory; SearchUnavailable if unreadable."""
    with warnings.catch_warnings():
        # Whoosh leaves the TOC file open when it cannot parse it; the file is closed when the
        # error is dropped at the end of the except clause, quietly, since we report it here.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            # No mmap: Whoosh copies every part of a mapped compound segment it opens into a
            # BytesIO (400 MB per worker on 10,000 articles); through a file handle it reads
            # only what a query needs, as fast (see bench/RESULTS.md). Nor can a file cut
            # short under a running worker kill it with SIGBUS.
            storage = FileStorage(str(where), supports_mmap=False)
            return whoosh_index.FileIndex(storage)
        except Exception as exc:  # any damage at all: the index is unreadable, not the site
            reason = f"{type(exc).__name__}: {exc}"
    log.warning("search index %s is unreadable: %s", where, reason)
    raise SearchUnavailable("搜索索引无法读取。")


def open_searcher(ix):
    """ix.searcher(), or SearchUnavailable when a segment cannot be read.

    Whoosh leaves the files of a damaged segment open for the garbage collector; they are
    collected here, quietly, since the failure is reported.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            return ix.searcher()
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
        gc.collect()
    log.warning("search index segment is unreadable: %s", reason)
    raise SearchUnavailable("搜索索引无法读取。")


def _writer(ix) -> IndexWriter:
    return ix.writer(timeout=WRITE_TIMEOUT, delay=WRITE_DELAY)


def read_applied(where: Path) -> int:
    """The last outbox id applied to the generation in `where` (0: none recorded)."""
    try:
        return int((where / APPLIED).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def write_applied(where: Path, last: int) -> None:
    """Record `last` atomically: readers see the old number or the new one."""
    temporary = where / f".{APPLIED}-{uuid.uuid4().hex[:8]}"
    temporary.write_text(f"{last}\n")
    os.replace(temporary, where / APPLIED)


def take_follow_lock(where: Path, timeout: float = WRITE_TIMEOUT) -> int | None:
    """The lock one process of this host holds while it applies the change log to the
    generation in `where`, so the recorded id only moves forward: an open descriptor to give
    to release_follow_lock, or None when another holder kept it past `timeout` (0: no wait)."""
    fd = os.open(where / FOLLOW_LOCK, os.O_CREAT | os.O_WRONLY, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.01)


def release_follow_lock(fd: int) -> None:
    os.close(fd)  # closing the descriptor releases the flock


def _open(home: Path, where: Path | None):
    return open_live(home)[1] if where is None else open_generation(where)


def write(home: Path, change: Callable[[IndexWriter], None], where: Path | None = None) -> None:
    """Open the live index (or the generation in `where`), apply `change` and commit, retrying
    on lock contention and on a generation that vanished under a rebuild. Raises
    SearchUnavailable when there is no index.
    """
    for attempt in range(1, WRITE_TRIES + 1):
        try:
            ix = _open(home, where)
            writer = _writer(ix)
        except (LockError, SearchUnavailable):
            if attempt == WRITE_TRIES:
                raise
            time.sleep(WRITE_DELAY * attempt)
            continue
        try:
            change(writer)
            writer.commit()
            return
        except FileNotFoundError:
            # A rebuild removed this (old) generation; the next try opens the new one.
            _cancel(writer)
            if attempt == WRITE_TRIES:
                raise
        except BaseException:
            _cancel(writer)
            raise


def _cancel(writer: IndexWriter) -> None:
    try:
        writer.cancel()
    except OSError:
        log.warning("could not cancel an index writer cleanly", exc_info=True)


def document(article) -> dict:
    """The index document for a published article: each text goes to its word field and its
    pair field (the same string, segmented once by the bulk writer)."""
    from ..text import plain_text

    texts = {
        "title": article.title or "",
        "body": plain_text(article.body),
        "tags": " ".join(tag.name for tag in article.tags),
        "category": article.category.name if article.category else "",
    }
    doc = {"id": str(article.id), "published_at": article.published_at}
    for name, text in texts.items():
        doc[name] = doc[pairs_field(name)] = text
    return doc


def apply(
    home: Path, load: Callable[[], tuple[list[dict], set[int]]], where: Path | None = None
) -> None:
    """Write what load() returns — documents to add or replace, ids to delete — to the index.

    load() runs while the write lock is held, so it reads the database after every earlier
    writer finished: of two workers saving the same article, the later index write carries
    the later database state, whatever order their commits and writes came in.
    """

    def change(writer: IndexWriter) -> None:
        docs, gone = load()
        for article_id in gone:
            writer.delete_by_term("id", str(article_id))
        for doc in docs:
            writer.update_document(**doc)

    write(home, change, where)


@contextmanager
def _rebuild_lock(home: Path):
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / REBUILD_LOCK, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RebuildInProgress("另一个索引重建正在进行。") from None
        yield
    finally:
        os.close(fd)


def rebuild_running(home: Path) -> bool:
    """True while a rebuild of this index holds its lock (build). A shared lock for an
    instant: a rebuild starting in that instant is refused (RebuildInProgress) and can be
    started again."""
    lock = home / REBUILD_LOCK
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _swap_in(home: Path, fresh: Path) -> None:
    # A symlink renamed over another is replaced atomically: readers see the old generation
    # or the new one, never neither.
    link = home / f".{CURRENT}-{uuid.uuid4().hex[:8]}"
    link.symlink_to(fresh.name)
    os.replace(link, home / CURRENT)


def _prune(home: Path, keep: set[str]) -> None:
    # The previous generation stays one more round: a worker that resolved the link just
    # before the swap may still be opening its files.
    generations = sorted(
        (p for p in home.glob(f"{GENERATION_PREFIX}*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime_ns,
    )
    for old in generations[:-2]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def _write_all(ix, articles: Iterable, total: int, progress) -> int:
    """Every article into `ix`, a new segment every BATCH_DOCS (the bulk writer holds a
    segment's postings in memory); returns the number written."""
    done = 0
    writer = BulkWriter(ix, codec=InliningCodec())
    try:
        for article in articles:
            writer.add_document(**document(article))
            done += 1
            if progress and (done % 50 == 0 or done == total):
                progress(done, total)
            if writer.doc_count() >= BATCH_DOCS:
                # merge=False: Whoosh's merge would rewrite the segments in pure Python.
                writer.commit(merge=False)
                gc.collect()  # see _write_segments
                writer = BulkWriter(ix, codec=InliningCodec())
        writer.commit(merge=False)
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        raise
    return done


# Documents sent to an indexing process at a time.
SEND_DOCS = 100


class _OwnTempStorage(FileStorage):
    """FileStorage whose scratch directories are this process's own: Whoosh names them
    after the index (MAIN.tmp), so two indexing processes removed each other's."""

    def temp_storage(self, name=None):
        return super().temp_storage(f"{name or 'scratch'}-{os.getpid()}.tmp")


def _write_segments(where: str, inbox) -> None:
    """An indexing process: documents from `inbox` into segments of the index in `where`
    (no TOC: the parent writes one naming every process's segments); sends back the
    segments, or the error that stopped it."""
    try:
        with collection_paused():
            ix = whoosh_index.FileIndex(_OwnTempStorage(where, supports_mmap=False))
            segments = []
            writer = BulkWriter(ix, _lk=False, codec=InliningCodec())
            while (docs := inbox.recv()) is not None:
                for doc in docs:
                    writer.add_document(**doc)
                if writer.doc_count() >= BATCH_DOCS:
                    segments.append(writer._finalize_segment())
                    writer._finish()
                    # The finished segment's postings are garbage now, some of it in cycles
                    # that only the paused collector frees: without this an indexing
                    # process grew to 6 GB at 100k articles instead of one segment's worth.
                    gc.collect()
                    writer = BulkWriter(ix, _lk=False, codec=InliningCodec())
            if writer._added:
                segments.append(writer._finalize_segment())
            else:
                writer._close_segment()
            writer._finish()
        inbox.send(("ok", segments))
    except BaseException as exc:
        inbox.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


def _write_parallel(ix, articles: Iterable, total: int, progress, procs: int) -> int:
    """_write_all split over `procs` forked processes, each writing its own segments from
    the documents this process reads and sends them in turn; the segments are then made
    the index in one TOC. The database and the HTML-to-text step stay here."""
    context = multiprocessing.get_context("fork")
    workers = []
    done = 0
    try:
        for _ in range(procs):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_write_segments, args=(ix.storage.folder, theirs), daemon=True
            )
            process.start()
            workers.append((process, ours))
        batch: list[dict] = []
        turn = 0
        for article in articles:
            batch.append(document(article))
            done += 1
            if progress and (done % 50 == 0 or done == total):
                progress(done, total)
            if len(batch) >= SEND_DOCS:
                workers[turn % procs][1].send(batch)
                turn += 1
                batch = []
        if batch:
            workers[turn % procs][1].send(batch)
        for _, pipe in workers:
            pipe.send(None)
        segments = []
        for process, pipe in workers:
            status, found = pipe.recv()
            process.join()
            if status != "ok":
                raise RuntimeError(f"an indexing process failed: {found}")
            segments += found
    finally:
        for process, pipe in workers:
            if process.is_alive():
                process.terminate()
                process.join()
            pipe.close()
    generation = ix.latest_generation() + 1
    TOC(ix.schema, segments, generation).write(ix.storage, ix.indexname)
    # As a commit does: the empty index's TOC (and anything else not of this one) goes.
    clean_files(ix.storage, ix.indexname, generation, segments)
    return done


def build(
    home: Path,
    articles: Iterable,
    total: int,
    progress: Callable[[int, int], None] | None = None,
    procs: int = 1,
    applied: int | None = None,
) -> int:
    """Index `articles` into a fresh generation and swap it in when complete; returns the
    number of documents written. Raises RebuildInProgress if another rebuild is running.
    applied: the last outbox id the articles are known to include (read before them)."""
    with _rebuild_lock(home):
        stamp = time.strftime("%Y%m%dT%H%M%S")
        fresh = home / f"{GENERATION_PREFIX}{stamp}-{uuid.uuid4().hex[:6]}"
        fresh.mkdir()
        try:
            ix = whoosh_index.create_in(str(fresh), make_schema())
            with collection_paused():
                if procs > 1:
                    done = _write_parallel(ix, articles, total, progress, procs)
                else:
                    done = _write_all(ix, articles, total, progress)
            if progress:
                progress(done, max(total, done))
            if applied is not None:
                write_applied(fresh, applied)
            (fresh / VERSION_FILE).write_text(f"{SCHEMA_VERSION}\n")
            _swap_in(home, fresh)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        _prune(home, keep={fresh.name})
    return done


def status(home: Path) -> dict:
    """What /healthz reports about the index: state, generation and document count."""
    try:
        where, ix = open_live(home)
        with ix.reader() as reader:
            return {
                "status": "ok",
                "generation": f"{where.name}/{reader.generation()}",
                "documents": reader.doc_count(),
            }
    except IndexOutdated as exc:
        return {"status": "outdated", "message": str(exc)}
    except SearchUnavailable as exc:
        missing = live_dir(home) is None
        return {"status": "missing" if missing else "unreadable", "message": str(exc)}
