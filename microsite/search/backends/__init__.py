"""The search engines behind microsite.search, one module each, all with one interface.

The rest of the site calls microsite.search (find, more_like, rebuild, status); only that
package calls a backend. Both backends share the analyzer, the reader's query language and
the snippets, so a page of results looks the same whichever engine found it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..query import ReaderQuery

NAMES = ("whoosh", "postgres")
Progress = Callable[[int, int], None] | None


class SearchBackend(Protocol):
    name: str

    def search(self, query: ReaderQuery, limit: int, by_date: bool) -> tuple[list[int], int]:
        """(ids of the `limit` best published matches, best first, ties newest first then by
        higher id; the exact number of matches). Raises SearchUnavailable."""

    def similar(self, article, limit: int) -> list[int]:
        """Ids of the published articles most like this one, best first, never itself."""

    def rebuild(self, progress: Progress = None, procs: int | None = 1) -> int:
        """Index every published article again; returns how many."""

    def status(self) -> dict:
        """For /healthz: {"status": "ok" | "missing" | "unreadable" | "outdated", ...}."""


def chosen(config) -> str:
    """MICROSITE_SEARCH_BACKEND if set; else PostgreSQL search on a PostgreSQL database (every
    host then sees the same index the moment a commit lands) and Whoosh on SQLite."""
    name = (config.get("SEARCH_BACKEND") or "").strip().lower()
    if name:
        if name not in NAMES:
            raise ValueError(f"MICROSITE_SEARCH_BACKEND must be one of {', '.join(NAMES)}")
        return name
    uri = str(config.get("SQLALCHEMY_DATABASE_URI", ""))
    return "postgres" if uri.startswith("postgresql") else "whoosh"


EXTENSION = "microsite.search.backend"


def create(name: str) -> SearchBackend:
    if name == "postgres":
        from .postgres import PostgresBackend

        return PostgresBackend()
    from .whoosh import WhooshBackend

    return WhooshBackend()


def current() -> SearchBackend:
    """The backend of the current app."""
    from flask import current_app

    return current_app.extensions[EXTENSION]
