"""Helpers for the search tests: the backend in use, reading result pages, a child process."""

from __future__ import annotations

import os
import time

import pytest
from bs4 import BeautifulSoup

from microsite import create_app, search
from microsite.extensions import db
from microsite.search import backends
from tests.support.app import POSTGRES
from tests.support.factories import add_article

# The backend the test apps get: PostgreSQL search under scripts/with-postgres, unless
# MICROSITE_SEARCH_BACKEND=whoosh runs Whoosh on PostgreSQL.
BACKEND = backends.chosen(
    {
        "SEARCH_BACKEND": os.environ.get("MICROSITE_SEARCH_BACKEND", ""),
        "SQLALCHEMY_DATABASE_URI": POSTGRES or "sqlite://",
    }
)
# Tests of the Whoosh index directory itself (missing, unreadable, generations, the related
# list's disk cache): PostgreSQL search keeps its index in the article rows.
whoosh_only = pytest.mark.skipif(BACKEND != "whoosh", reason="tests the Whoosh index directory")


def results(client, q: str, **params) -> BeautifulSoup:
    response = client.get("/search", query_string={"q": q, **params})
    assert response.status_code == 200, response.status_code
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def hit_ids(page: BeautifulSoup) -> list[int]:
    links = page.select(".search-hit .search-hit__title a")
    return [int(a["href"].rsplit("/", 1)[1]) for a in links]


def marks(element) -> list[str]:
    return [mark.get_text() for mark in element.select("mark")]


def write_and_read(config: dict, tag: str, count: int, start_at: float) -> tuple:
    """In a child process: from `start_at` on, save `count` articles one commit at a time
    and search for each right after its commit. Returns (ids, first and last commit time);
    raises, failing the parent's test, on any miss."""
    app = create_app(config)
    ids = []
    with app.app_context():
        search.find("预热")  # open the searcher and load the segmenter before the start line
        time.sleep(max(0.0, start_at - time.time()))
        began = time.time()
        for n in range(count):
            word = f"{tag}n{n}"
            article = add_article(f"并发写入 {tag} {n}", f"<p>并发测试正文 {word}</p>")
            ids.append(article.id)
            found = [hit.article.id for hit in search.find(word).hits]
            assert found == [article.id], (word, found)
            # What the other process wrote is readable too: the count only grows.
            assert search.find("并发测试正文", size=100).total >= n + 1
        db.session.remove()
    return ids, began, time.time()
