"""PostgreSQL with RUM: a page of results is exactly the best matches by `<=>` on the rows.

RUM's ordered scan scores rows from the index (rum_tsquery_distance) and `<=>` scores them
from the row (rum_ts_distance_tt); the two group repeated covers by hashes of different
pointers (see postgres.ordering_text), so for three words the scan's order is not the rows'.
The corpus below is made of the three query words in random order with a few others between
them, which gives many documents with several covers in different word orders: the ones
whose covers collide on one side only.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from microsite import search
from microsite.content.models import PUBLISHED, Article
from microsite.extensions import db
from microsite.search.backends import postgres
from tests.support.ranking import all_pages, matching_phrase, reference_ranking
from tests.support.search import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL search backend")

WORDS = ["农村", "企业", "科技"]
NOISE = ["信息", "时候", "经济", "市场", "社区"]
# One word, two, an OR, a phrase, then three words or more (ordered by their OR).
QUERIES = ["农村", "农村 企业", "企业 科技", "农村 OR 企业 OR 科技", '"农村企业"']
QUERIES += ["农村 企业 科技", "科技 农村 企业", "农村 企业 科技 信息", '"企业科技" OR 农村']


def _body(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(2, 6)):
        out += rng.sample(WORDS, 3)
        out += rng.choices(NOISE, k=rng.randint(0, 3))
    return " ".join(out)


@pytest.fixture
def collide(app):
    """300 articles of the query words in shuffled runs; returns {id: article}."""
    search.rebuild()
    rng = random.Random(3)
    start = datetime(2022, 1, 1)
    articles = [
        Article(
            title=rng.choice(NOISE),
            body=f"<p>{_body(rng)}</p>",
            status=PUBLISHED,
            published_at=start + timedelta(days=rng.randint(0, 20)),
        )
        for _ in range(300)
    ]
    db.session.add_all(articles)
    db.session.commit()
    return {a.id: a for a in articles}


@pytest.fixture
def no_margin(monkeypatch):
    """The scan read with no rows to spare: exactness must not rest on the margin."""
    monkeypatch.setattr(postgres, "RUM_MARGIN", 0)


def _rum_scan(q: str, r: str | None = None) -> list[float]:
    """`<=>` on the rows, in the order RUM's ordered scan hands them over (ordered by `r`,
    by default the backend's ordering query)."""
    query = search.results.parse(q)
    r = r or postgres.ordering_text(query)
    match = postgres.tsquery_text(query)
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    db.session.execute(text("SET LOCAL enable_sort = off"))
    rows = db.session.execute(
        text(
            "SELECT search_vector <=> CAST(:r AS tsquery) FROM articles "
            "WHERE search_vector @@ CAST(:q AS tsquery) "
            "ORDER BY search_vector <=> CAST(:r AS tsquery)"
        ),
        {"r": r, "q": match},
    ).scalars()
    found = list(rows)
    db.session.rollback()
    return found


def _is_rum() -> bool:
    from microsite.search.backends import current

    return current().kind() == "rum"


def test_rum_scan_is_in_the_rows_order_for_the_backends_ordering_queries(app, collide):
    if not _is_rum():
        pytest.skip("no RUM on this server")
    for q in QUERIES:
        scores = _rum_scan(q)
        assert len(scores) > 30, q
        assert scores == sorted(scores), q
    # What ordering_text avoids: ordered by the AND of three words, the scan puts rows out of
    # `<=>`'s order.
    scores = _rum_scan("农村 企业 科技", "'农村' & '企业' & '科技'")
    assert scores != sorted(scores)


@pytest.mark.parametrize("q", QUERIES)
def test_pages_are_the_best_by_the_rows_scores_with_no_margin(client, collide, no_margin, q):
    matching = matching_phrase(collide, q)
    total, shown = all_pages(client, q)
    assert total == len(matching) > 30
    reference = reference_ranking(collide, q)
    assert set(reference) == matching
    assert shown == reference[:30]
