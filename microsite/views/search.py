"""The search page: results for the reader's query, a fragment for htmx, a page otherwise."""

from __future__ import annotations

from flask import Blueprint, abort, request, url_for

from .. import search as search_index
from ..content.listings import page_number
from ..web.origin import understands
from ..web.rendering import render_fragment_or_page

bp = Blueprint("search", __name__)
UNAVAILABLE_RETRY_SECONDS = 300
# 100 pages of 10: past that a reader refines the query, and the cost of a page stays bounded.
MAX_PAGES = 100


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
        _fragment(1), "search/search.html", query=query, search_query=query, unavailable=True
    )
    # htmx leaves error responses unswapped, so a fragment says it with a 200 instead.
    if not (request.htmx and not request.htmx.history_restore_request):
        response.status_code = 503
        response.retry_after = UNAVAILABLE_RETRY_SECONDS
    return response


@bp.get("/search")
@understands("q", "sort", "page")
def search():
    """Search results: title, date and highlighted snippet for each hit; 10 a page."""
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
    return render_fragment_or_page(
        _fragment(page),
        "search/search.html",
        query=result.query.text,
        search_query=result.query.text,
        result=result,
        next_url=_next_url(result),
    )
