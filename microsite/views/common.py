"""Helpers shared by the views."""

from __future__ import annotations

import json

from flask import current_app, request, url_for

from ..content import listings


def list_scope(endpoint: str, **view_args) -> str:
    """What a list's cursors are sealed to: the endpoint and its arguments."""
    return json.dumps([endpoint, view_args], ensure_ascii=False, sort_keys=True)


def list_page(query, endpoint: str, ordering=listings.LATEST, total=None, **view_args) -> dict:
    """One page of a listing, from the request's page and cursor, plus the next page's URL."""
    page = listings.page_number(request.args.get("page"))
    size = current_app.config["LIST_PAGE_SIZE"]
    after = request.args.get("after")
    scope = list_scope(endpoint, **view_args)
    result = listings.keyset_page(query, page, after, size, ordering, total, scope)
    next_url = None
    if result.has_next:
        next_url = url_for(endpoint, page=page + 1, after=result.next_cursor, **view_args)
    return {"headlines": result, "next_url": next_url}
