"""Listing flatness: page 10 must cost what page 1 costs, on the 100,000-article corpus.

In-process through Flask's test client (no network noise), as htmx fragments, the way the
"加载更多" row fetches them. `/` page 10 is reached by following the pages' own next links
(keyset cursors). Requests alternate page 1 / page N and the medians are compared. Flat is
not enough (page 1 and page 10 can both scan everything), so two more checks: page 1 of the
100,000 corpus against page 1 of the 1,000 corpus, and every SQL statement the list pages
run is put through EXPLAIN QUERY PLAN to catch sorts and scans over the whole table.
"""

from __future__ import annotations

import html
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import event, func, select

from microsite.content import listings
from microsite.content.models import PUBLISHED, Article, Category, Tag
from microsite.extensions import db
from microsite.views.common import list_scope

HX = {"HX-Request": "true"}
_NEXT = re.compile(r'hx-get="([^"]+)"')
# Plan steps that grow with the table: a sort of every candidate row, or a full scan.
# Each comparison alternates for at most BUDGET_S seconds (at least MIN_REPS rounds).
BUDGET_S = 8.0
MIN_REPS = 3
_COSTLY = re.compile(r"USE TEMP B-TREE FOR ORDER BY|^SCAN articles\b")


@dataclass
class Flatness:
    name: str
    first_ms: float
    other_ms: float
    statements: tuple[int, int]

    @property
    def ratio(self) -> float:
        return self.other_ms / self.first_ms


@dataclass
class Recorder:
    """SQL statements run through an app's engine, with their parameters."""

    statements: list[tuple[str, object]] = field(default_factory=list)

    def attach(self, app: Flask) -> Recorder:
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", self._seen)
        return self

    def _seen(self, _conn, _cursor, statement, parameters, _context, _many) -> None:
        self.statements.append((statement, parameters))


@dataclass
class Site:
    app: Flask
    recorder: Recorder

    @classmethod
    def open(cls, app: Flask) -> Site:
        return cls(app, Recorder().attach(app))

    def get(self, url: str, hx: bool = True) -> str:
        response = self.app.test_client().get(url, headers=HX if hx else {})
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        return response.get_data(as_text=True)

    def statements(self, url: str, hx: bool = True) -> list[tuple[str, object]]:
        before = len(self.recorder.statements)
        self.get(url, hx)
        return self.recorder.statements[before:]


def _next_url(body: str) -> str:
    match = _NEXT.search(body)
    if not match:
        raise RuntimeError("no 加载更多 link on a page that should have one")
    return html.unescape(match.group(1))


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def compare(name: str, pairs: list[tuple[tuple[Site, str], tuple[Site, str]]], reps: int):
    """Median time of the first request of each pair against the second, alternating."""
    first: list[float] = []
    other: list[float] = []
    counts = tuple(len(site.statements(url)) for site, url in pairs[0])
    deadline = time.perf_counter() + BUDGET_S
    for rep in range(reps):
        if rep >= MIN_REPS and time.perf_counter() > deadline:
            break  # slow pages: enough samples for a median within the time budget
        for pair in pairs:
            for (site, url), into in zip(pair, (first, other), strict=True):
                began = time.perf_counter()
                site.get(url)
                into.append(time.perf_counter() - began)
    return Flatness(name, _median_ms(first), _median_ms(other), counts)


def _deep_page(app: Flask, page: int) -> str:
    """Page `page` of `/` (or the middle page of a shorter list), with the cursor a reader
    would hold after following the next links that far."""
    size = app.config["LIST_PAGE_SIZE"]
    with app.app_context():
        count = listings.latest_query().with_only_columns(func.count()).order_by(None)
        page = min(page, max(2, db.session.scalar(count) // size // 2))
        query = listings.latest_query().offset((page - 1) * size - 1).limit(1)
        last = db.session.scalar(query)
        db.session.remove()
        # Sealed as the home list seals it: an unsealed cursor is a 400 (翻页参数无效).
        scope = list_scope("public.home")
        after = listings.sealed_cursor(scope, page, listings.LATEST.cursor(last))
    return f"/?page={page}&after={after}"


def costly_plans(site: Site, urls: list[tuple[str, bool]]) -> list[str]:
    """'url: plan step: statement' for statements whose plan sorts or scans all articles."""
    found = []
    with site.app.app_context():
        connection = db.engine.raw_connection()
        try:
            for url, hx in urls:
                for statement, params in site.statements(url, hx):
                    # Only list queries over articles (sorting one article's tags is harmless).
                    if "FROM articles" not in statement:
                        continue
                    plan = connection.execute("EXPLAIN QUERY PLAN " + statement, params or ())
                    for row in plan.fetchall():
                        if _COSTLY.search(row[3]):
                            where = statement.split("WHERE", 1)[-1].split("LIMIT")[0]
                            found.append(f"{url}: {row[3]}: WHERE{' '.join(where.split())}")
        finally:
            connection.close()
    return list(dict.fromkeys(found))


def _sample_ids(app: Flask, k: int) -> list[int]:
    with app.app_context():
        live = select(Article.id).where(Article.status == PUBLISHED).order_by(Article.id)
        ids = list(db.session.scalars(live))
        category = db.session.scalar(select(Category.slug).order_by(Category.id))
        tag = db.session.scalar(select(Tag.name).order_by(Tag.id))
        db.session.remove()
    return ids[:: max(1, len(ids) // k)][:k], category, tag, len(ids)


def measure(
    large: Flask, small: Flask, log: Callable[[str], None] = print
) -> tuple[list[Flatness], list[str]]:
    """Flatness figures on `large`, page 1 of `large` against `small`, and costly plans."""
    big, little = Site.open(large), Site.open(small)
    urls = ["/"]
    for _ in range(9):
        urls.append(_next_url(big.get(urls[-1])))
    deep = _deep_page(large, 1000)
    ids, category, tag, live = _sample_ids(large, 20)
    small_live = _sample_ids(small, 1)[3]
    related = [
        ((big, f"/articles/{i}/related?page=1"), (big, f"/articles/{i}/related?page=10"))
        for i in ids
    ]
    deep_no = deep.split("=")[1].split("&")[0]
    results = [
        compare("/ page 10 vs page 1", [((big, "/"), (big, urls[9]))], 60),
        compare("related page 10 vs page 1", related, 4),
        compare(
            f"/ page 1: {live:,} vs {small_live:,} live articles",
            [((little, "/"), (big, "/"))],
            60,
        ),
        compare(f"/ page {deep_no} vs page 1 (info)", [((big, "/"), (big, deep))], 30),
        compare("/?page=10, no cursor (info)", [((big, "/"), (big, "/?page=10"))], 30),
    ]
    for r in results:
        log(f"  listing {r.name}: {r.first_ms:.2f} vs {r.other_ms:.2f} ms ({r.ratio:.2f}x)")
    audit = [
        ("/", True),
        (urls[9], True),
        (f"/articles/{ids[1]}", False),
        (f"/articles/{ids[1]}/related?page=10", True),
        ("/top", True),
        (f"/categories/{category}", True),
        (f"/tags/{tag}", True),
    ]
    plans = costly_plans(big, audit)
    for line in plans:
        log(f"  plan: {line}")
    return results, plans
