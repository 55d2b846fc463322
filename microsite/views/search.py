"""The search page: results for the reader's query, a fragment for htmx, a page otherwise.

Readers' pages are stored (microsite.web.search_pages: named by the stamp, the index's state
and the normalized query), so a repeated query costs a file read; signed-in users' never."""

from __future__ import annotations

from flask import Blueprint, abort, request, url_for

from .. import search as search_index
from ..content.listings import page_number
from ..web import page_cache, search_pages
from ..web.origin import understands
from ..web.rendering import render_fragment_or_page

bp = Blueprint("search", __name__)
UNAVAILABLE_RETRY_SECONDS = 300
# 100 pages of 10: past that a reader refines the query, and the cost of a page stays bounded.
MAX_PAGES = search_pages.MAX_PAGES


def _fragment(page: int) -> str:
    # The active-search form swaps the whole results area; a "加载更多" row swaps only rows.
    return "search/_rows.html" if page > 1 else "search/_main.html"


def _next_url(result) -> str | None:
    if not result.has_next:
        return None
    return url_for("search.search", q=result.query.text, sort=result.sort, page=result.page + 1)


def _unavailable(query: str, page: int):
    """搜索暂不可用, in the site's style: 503 for a page, 200 for an htmx swap."""
    if page > 1:
        abort(503, description="搜索暂不可用，请稍后再试。")
    response = render_fragment_or_page(
        _fragment(1),
        "search/search.html",
        query=query,
        search_query=query,
        unavailable=True,
        search_url=_canonical(),
    )
    response.cache_control.no_store = True  # neither we nor a proxy keep "搜索暂不可用"
    # htmx leaves error responses unswapped, so a fragment says it with a 200 instead.
    if not (request.htmx and not request.htmx.history_restore_request):
        response.status_code = 503
        response.retry_after = UNAVAILABLE_RETRY_SECONDS
    return response


def _canonical() -> str:
    return search_pages.search_url(search_pages.normalized(request.args) or [])


@bp.get("/search")
@understands("q", "sort", "page")
def search():
    """Search results: title, date and highlighted snippet for each hit; 10 a page."""
    return page_cache.serve(_results, name=search_pages.request_page_name)


def _results():
    q, page = request.args.get("q", ""), page_number(request.args.get("page"))
    sort = request.args.get("sort", "relevance")
    if page > MAX_PAGES:
        abort(404, description="没有这一页。")
    try:
        result = search_index.find(q, page, sort)
    except search_index.SearchUnavailable:
        return _unavailable(search_index.clean(q), page)
    if page > 1 and not result.hits:
        abort(404, description="没有这一页。")
    response = render_fragment_or_page(
        _fragment(page),
        "search/search.html",
        query=result.query.text,
        search_query=result.query.text,
        result=result,
        next_url=_next_url(result),
        search_url=_canonical(),
    )
    if not result.total and not result.query.empty and not search_index.status().get("documents"):
        response.cache_control.no_store = True  # an index still being filled: ask again
    return response
