"""Brute-force rankings the search tests compare result pages with, on either backend."""

from __future__ import annotations

from microsite import search
from microsite.search.analyzer import words
from microsite.text import plain_text
from tests.support.search import BACKEND, hit_ids, results


def every_score(q: str) -> list[tuple[float, int]]:
    """(score, id) of every match, as the engine scores it, with no limit and no pruning."""
    query = search.results.parse(q)
    if BACKEND == "postgres":
        from microsite.search.backends import current

        return current().every_score(query)

    def scores_of(searcher):
        scored = searcher.search(query.whoosh(), limit=None)  # never prunes: no lowest score
        return [(hit.score, int(hit["id"])) for hit in scored]

    return search.state().searcher.run(scores_of)


def reference_ranking(corpus: dict, q: str) -> list[int]:
    """Every match ranked in Python: best score first, ties newest first, then higher id."""
    scored = every_score(q)
    order = [(score, corpus[ident].published_at, ident) for score, ident in scored]
    return [ident for _, _, ident in sorted(order, reverse=True)]


def all_pages(client, q: str, **params) -> tuple[int, list[int]]:
    first = results(client, q, **params)
    total = int(first.select_one(".search-summary strong").get_text().replace(",", ""))
    ids, page = hit_ids(first), 2
    while len(ids) < min(total, 30):
        ids += hit_ids(results(client, q, page=page, **params))
        page += 1
    return total, ids


def matching_phrase(corpus: dict, q: str) -> set[int]:
    """Brute force for a query of phrases and words: each piece's words stand together."""
    query = search.results.parse(q)
    found = set()
    for ident, article in corpus.items():
        texts = [words(article.title), words(plain_text(article.body))]
        if all(
            any(any(holds(t, clause.words) for t in texts) for clause in group)
            for group in query.groups
        ):
            found.add(ident)
    return found


def holds(text: list[str], run: tuple[str, ...]) -> bool:
    n = len(run)
    return any(tuple(text[i : i + n]) == run for i in range(len(text) - n + 1))
