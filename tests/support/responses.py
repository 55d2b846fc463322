"""Responses read the way a comparison needs them: whole, closed, headers without the date."""

from __future__ import annotations


def fetch(client, path: str, **options):
    """A response read whole and closed (file responses hold their file open until then)."""
    response = client.get(path, **options)
    response.get_data()
    response.close()
    return response


def headers_of(response) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.items() if k != "Date")
