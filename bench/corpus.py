"""A deterministic synthetic corpus of Chinese articles, loaded into a microsite database.

Article i is generated from its own seeded random generator, so a corpus of 1,000 is the first
1,000 articles of the 10,000 one, and generation splits across processes. Each article has
~1,500 characters of body: sentences of words drawn by frequency from the segmenter's
dictionary (bench.vocab), mixed with sentences and sub-headings of the seed page, so phrases
recur across articles the way stock phrases do in real news. Titles, categories, tags, dates,
view counts and a few cleared articles complete the rows.

Loading uses Core bulk inserts (executemany) into a schema made by the app's own migrations,
in batches: 100,000 articles take a couple of minutes, most of it generating text. The ORM is
bypassed on purpose, so no per-object session events (index sync) fire: the benchmarks build
the search index separately, and time it.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import random
import re
import shutil
import time
from bisect import bisect
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import cache
from itertools import accumulate
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import event, func, insert, select

from microsite import create_app
from microsite.cli import DEMO_PAGE
from microsite.content.importer import body_html, parse_page
from microsite.content.models import (
    CLEARED,
    DRAFT,
    PUBLISHED,
    Article,
    Category,
    Tag,
    User,
    article_tags,
)
from microsite.content.site import save_settings
from microsite.extensions import db

from . import CACHE_DIR
from .vocab import NOUNISH, Vocabulary, load_vocabulary

# Bump when generation changes, so cached corpora are rebuilt.
CORPUS_VERSION = 2
BODY_CHARS = 1500
START = datetime(2016, 1, 1, 8, 0, 0)
CATEGORIES = [
    ("人力资讯", "renli-zixun"),
    ("劳务派遣", "laowu-paiqian"),
    ("临时工招聘信息", "linshigong"),
    ("兼职招聘信息", "jianzhi"),
    ("社保政策", "shebao"),
    ("就业创业", "jiuye-chuangye"),
    ("职场观察", "zhichang"),
    ("薪酬福利", "xinchou"),
    ("劳动法规", "laodong-fagui"),
    ("人才服务", "rencai"),
    ("招聘会", "zhaopinhui"),
    ("地方动态", "difang"),
]
TAG_COUNT = 400
BATCH = 2000
_SENTENCE_END = re.compile(r"(?<=[。！？；])")


class SeedText:
    """Sentences, sub-headings, titles and keywords of the seed page."""

    def __init__(self) -> None:
        page = parse_page(DEMO_PAGE.read_text(encoding="utf-8"))
        self.page = page
        headings = [p for p in page.paragraphs if len(p) <= 20 and "," not in p]
        self.headings = headings or ["严排严查 疫情防控有“术”"]
        self.sentences = [
            s.strip()
            for p in page.paragraphs
            if p not in headings
            for s in _SENTENCE_END.split(p)
            if len(s.strip()) >= 8
        ]
        self.titles = [h.title for h in page.headlines if h.title] + [page.title]
        self.keywords = page.keywords


@cache
def _materials() -> tuple[Vocabulary, SeedText, list[str], list[int], list[str]]:
    vocab = load_vocabulary(os.environ.get("BENCH_VOCAB", "dict") != "seed")
    seed = SeedText()
    # Headline words: nouns and the like of two to four characters, by frequency.
    pairs = [
        (w, f)
        for w, t, f in zip(vocab.words, vocab.tags, _freqs(vocab.cum_weights), strict=True)
        if t in NOUNISH and 2 <= len(w) <= 4
    ] or [(w, 1) for w in vocab.words if len(w) >= 2]
    title_words = [w for w, _ in pairs]
    title_cum = list(accumulate(f for _, f in pairs))
    # Tags: the seed's keywords, then common nouns (skipping the very commonest).
    common = sorted(pairs, key=lambda p: (-p[1], p[0]))[50 : 50 + TAG_COUNT]
    tags = list(dict.fromkeys([*seed.keywords, *(w for w, _ in common)]))[:TAG_COUNT]
    return vocab, seed, title_words, title_cum, tags


def _freqs(cum: list[int]) -> list[int]:
    return [b - a for a, b in zip([0, *cum[:-1]], cum, strict=True)]


class WordSampler:
    """random.choices(words, cum_weights=...) with the same draws, five times faster.

    choices() bisects the whole cumulative table (349k entries) for every word; here a bucket
    table narrows each bisection to a few entries. The random numbers consumed and the
    formula are choices' own, so the corpus is identical to the plain call's.
    """

    BUCKETS = 1 << 16

    def __init__(self, vocab: Vocabulary) -> None:
        self.words, self.cum = vocab.words, vocab.cum_weights
        self.total = self.cum[-1] + 0.0
        self.last = len(self.cum) - 1
        self.scale = self.BUCKETS / self.total
        width = self.total / self.BUCKETS
        edges = [bisect(self.cum, b * width, 0, self.last) for b in range(self.BUCKETS + 2)]
        # One entry of slack each side covers float rounding at bucket edges.
        self.low = [max(0, e - 1) for e in edges]
        self.high = [min(self.last, e + 1) for e in edges[1:]]

    def draw(self, r: random.Random, k: int) -> list[str]:
        words, cum, total, scale = self.words, self.cum, self.total, self.scale
        low, high, rand = self.low, self.high, r.random
        out = []
        for _ in range(k):
            x = rand() * total
            b = int(x * scale)
            out.append(words[bisect(cum, x, low[b], high[b])])
        return out


@cache
def _sampler() -> WordSampler:
    return WordSampler(_materials()[0])


def _sentence(r: random.Random, vocab: Vocabulary) -> str:
    words = _sampler().draw(r, r.randint(6, 22))
    # Commas inside long sentences; the seed's own text uses ASCII commas (NFKC damage).
    if len(words) > 10:
        words.insert(r.randint(4, len(words) - 4), r.choice(",,、"))
    return "".join(words) + r.choice("。。。。！？；")


def _paragraphs(r: random.Random, vocab: Vocabulary, seed: SeedText) -> list[str]:
    paragraphs: list[str] = []
    size = 0
    while size < BODY_CHARS:
        if paragraphs and r.random() < 0.08:
            paragraph = r.choice(seed.headings)  # a sub-heading: becomes <h2>
        else:
            parts = [
                r.choice(seed.sentences) if r.random() < 0.06 else _sentence(r, vocab)
                for _ in range(r.randint(2, 6))
            ]
            paragraph = "".join(parts)
        paragraphs.append(paragraph)
        size += len(paragraph)
    return paragraphs


def article_row(i: int) -> dict:
    """Article i of the corpus (0-based), as column values plus a "tag_ids" list."""
    vocab, seed, title_words, title_cum, tags = _materials()
    r = random.Random(f"microsite-bench:{CORPUS_VERSION}:{i}")
    if r.random() < 0.08:
        title = r.choice(seed.titles)
    else:
        title = "".join(r.choices(title_words, cum_weights=title_cum, k=r.randint(3, 6)))
    # About 45 minutes apart, so 100,000 articles span about eight and a half years.
    published = START + timedelta(minutes=45 * i + r.randint(0, 40), seconds=r.randint(0, 59))
    roll = r.random()
    status = CLEARED if roll < 0.02 else DRAFT if roll < 0.025 else PUBLISHED
    return {
        "id": i + 1,
        "title": title[:200],
        "body": body_html(_paragraphs(r, vocab, seed)),
        "source_note": "",
        # Skewed: the first categories are the busiest, as on a real site.
        "category_id": min(int(r.expovariate(0.35)), len(CATEGORIES) - 1) + 1,
        "author_id": 1,
        "status": status,
        "published_at": None if status == DRAFT else published,
        "updated_at": published,
        "cleared_at": published + timedelta(days=r.randint(1, 90)) if status == CLEARED else None,
        "view_count": int(r.paretovariate(1.2) * 10),
        "version": 1,
        "import_key": None,
        "tag_ids": sorted({min(int(r.expovariate(0.02)), len(tags) - 1) + 1 for _ in range(3)}),
    }


def _batch(start_stop: tuple[int, int]) -> list[dict]:
    return [article_row(i) for i in range(*start_stop)]


def generate(n: int, processes: int | None = None) -> Iterator[list[dict]]:
    """Rows of articles 0..n-1 in order, in batches, generated on all cores."""
    ranges = [(s, min(s + BATCH, n)) for s in range(0, n, BATCH)]
    processes = processes or os.cpu_count() or 1
    _sampler()  # built once in the parent; forked workers inherit it
    if processes == 1 or n <= BATCH:
        yield from map(_batch, ranges)
        return
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        yield from pool.imap(_batch, ranges)


def quiet_upgrade() -> None:
    """The app's migrations to head, without alembic's INFO lines in the benchmark output."""
    with contextlib.redirect_stderr(io.StringIO()):
        upgrade()


def bench_app(db_path: Path, index_dir: Path, **overrides) -> Flask:
    """The real app on a given database file and index directory."""
    config = {
        "SECRET_KEY": "bench-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
        "SEARCH_INDEX_DIR": str(index_dir),
        "MICROSITE_SEARCH_INDEX_DIR": str(index_dir),
        "RATELIMIT_STORAGE_URI": "memory://",
        "INSTANCE_PATH": str(CACHE_DIR / "instance"),
        # In-process figures are what rendering costs; the HTTP section runs gunicorn with the
        # page cache on, as deployed.
        "PAGE_CACHE_DIR": "",
    }
    config.update(overrides)
    return create_app(config)


def _fast_sqlite(dbapi_connection, _record) -> None:
    # Loading only: a crash mid-build leaves a partial file that is never renamed into place.
    dbapi_connection.execute("PRAGMA synchronous=OFF")
    dbapi_connection.execute("PRAGMA journal_mode=MEMORY")


def load(db_path: Path, n: int, progress: Callable[[int], None] | None = None) -> None:
    """Create the schema with the app's migrations and bulk-insert n articles."""
    _, seed, _, _, tags = _materials()
    app = bench_app(db_path, CACHE_DIR / "unused-index")
    with app.app_context():
        quiet_upgrade()
        event.listen(db.engine, "connect", _fast_sqlite)
        db.engine.dispose()
        db.session.execute(insert(User), [{"username": "admin", "display_name": "Admin"}])
        db.session.execute(insert(Category), [{"name": a, "slug": b} for a, b in CATEGORIES])
        db.session.execute(insert(Tag), [{"name": t} for t in tags])
        footer = [{"label": name, "href": f"/categories/{slug}"} for name, slug in CATEGORIES[:4]]
        save_settings(
            hotline="0755-8882 8155",
            disclaimer=seed.page.disclaimer,
            footer_links=footer,
            keyword_links=seed.keywords,
        )
        db.session.commit()
        connection = db.session.connection()
        done = 0
        for rows in generate(n):
            links = [{"article_id": row["id"], "tag_id": t} for row in rows for t in row["tag_ids"]]
            connection.execute(Article.__table__.insert(), [_columns(row) for row in rows])
            connection.execute(article_tags.insert(), links)
            done += len(rows)
            if progress:
                progress(done)
        db.session.commit()
        count = db.session.scalar(select(func.count(Article.id)))
        db.session.remove()
        db.engine.dispose()
    if count != n:
        raise RuntimeError(f"expected {n} articles, found {count}")


def _columns(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "tag_ids"}


def corpus_path(n: int) -> Path:
    vocab, *_ = _materials()
    return CACHE_DIR / f"corpus-{n}-v{CORPUS_VERSION}-{vocab.source}-{vocab.digest}.sqlite3"


def ensure_corpus(n: int, log: Callable[[str], None] = print) -> tuple[Path, float | None]:
    """The cached corpus database of n articles, built first if missing; (path, build seconds)."""
    path = corpus_path(n)
    if path.exists():
        return path, None
    path.parent.mkdir(parents=True, exist_ok=True)
    # Per process: two runs building the same corpus at once each write their own file.
    partial = path.with_suffix(f".{os.getpid()}.partial")
    started = time.perf_counter()
    step = max(n // 10, BATCH)

    def progress(done: int) -> None:
        if done % step < BATCH or done == n:
            log(f"  corpus {n:,}: {done:,} articles ({time.perf_counter() - started:.0f} s)")

    load(partial, n, progress)
    partial.rename(path)
    return path, time.perf_counter() - started


def ready_corpus(n: int, log: Callable[[str], None] = print) -> Path:
    """The cached corpus, its schema upgraded in place, for read-only benchmarks."""
    path, _ = ensure_corpus(n, log)
    app = bench_app(path, CACHE_DIR / "unused-index")
    with app.app_context():
        quiet_upgrade()
        db.engine.dispose()
    return path


def run_directory(kind: str) -> Path:
    """A fresh directory for this process's copies; those of finished processes are removed.

    Per process, so two runs at once (two developers, or a profile during a run) never
    delete each other's index or database.
    """
    for old in CACHE_DIR.glob(f"{kind}-*"):
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(old, ignore_errors=True)
    for stale in CACHE_DIR.glob("*.partial"):
        pid = stale.suffixes[-2].lstrip(".") if len(stale.suffixes) > 1 else ""
        if not pid.isdigit() or not Path(f"/proc/{pid}").exists():
            stale.unlink(missing_ok=True)
    directory = CACHE_DIR / f"{kind}-{os.getpid()}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def working_copy(n: int, directory: Path, log: Callable[[str], None] = print) -> Path:
    """A private copy of the n-article corpus (benchmarks write view counts and index state)."""
    source, _ = ensure_corpus(n, log)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"corpus-{n}.sqlite3"
    shutil.copyfile(source, target)
    app = bench_app(target, directory / "unused-index")
    with app.app_context():
        quiet_upgrade()  # the schema may have moved on since the corpus was cached
        db.engine.dispose()
    return target


def plain_texts(db_path: Path) -> list[tuple[int, str, str]]:
    """(id, title, plain body text) of the published articles, in id order."""
    from microsite.text import plain_text

    app = bench_app(db_path, CACHE_DIR / "unused-index")
    with app.app_context():
        query = (
            select(Article.id, Article.title, Article.body)
            .where(Article.status == PUBLISHED)
            .order_by(Article.id)
        )
        rows = [(i, t, plain_text(b)) for i, t, b in db.session.execute(query)]
        db.session.remove()
        db.engine.dispose()
    return rows
