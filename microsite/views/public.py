"""Reader-facing pages: home, article, related headlines, tag and category listings."""

from __future__ import annotations

from functools import partial

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from ..content import listings
from ..content.models import DRAFT, SCHEDULED, Article
from ..content.transfer import permalinks
from ..extensions import db
from ..text import SITE_TZ
from ..web import page_cache
from ..web.counting import view_counter
from ..web.origin import understands
from ..web.rendering import render_fragment_or_page
from .common import list_page

bp = Blueprint("public", __name__)
# Ids beyond a 32-bit integer cannot exist; refusing them early keeps the database out of it.
ARTICLE_ID = "<int(max=2147483647):article_id>"
# Not yet public: readers get a 404, signed-in staff a preview.
UNPUBLISHED = (DRAFT, SCHEDULED)


def get_article_or_abort(article_id: int) -> Article:
    """The article, or 404 if unknown (drafts and scheduled ones too, unless an admin is
    signed in), 410 if cleared."""
    article = db.session.get(Article, article_id)
    if article is None or (article.status in UNPUBLISHED and not current_user.is_authenticated):
        abort(404)
    if article.is_cleared:
        abort(410)
    return article


@bp.get("/")
@understands("page", "after")
def home():
    """Latest headlines, numbered, newest first (an imported site's `/?p=12` moves on)."""
    if request.args and (moved := permalinks.query_redirect()):
        return moved
    return page_cache.serve(_home)


def _home():
    listing = list_page(listings.latest_query(), "public.home")
    return render_fragment_or_page(
        "partials/_headlines.html",
        "home.html",
        categories=listings.public_categories(),
        **listing,
    )


@bp.get(f"/articles/{ARTICLE_ID}")
def article(article_id: int):
    """The article page with the first page of its related headlines; 304 when unchanged."""
    # A stored page was a reader's 200: the article is live, so its view counts.
    count = partial(view_counter().record, article_id)
    response = page_cache.serve(
        partial(_article_page, article_id),
        on_hit=count,
        content_key=partial(_article_key, article_id),
    )
    return response.make_conditional(request)


def _article_parts(article_id: int) -> dict:
    """What the article page shows, read once per request (for its key and its render)."""
    if "article_parts" not in g:
        article = get_article_or_abort(article_id)
        older, newer = listings.neighbours(article)
        g.article_parts = {
            "article": article,
            "older": older,
            "newer": newer,
            **_related(article, 1),
        }
    return g.article_parts


def _article_key(article_id: int):
    """Names what the article page shows: a publish elsewhere leaves it, an edit of the
    article, of a neighbour or of a listed headline changes it. None unless live."""
    parts = _article_parts(article_id)
    if not parts["article"].is_live:
        return None
    shown = [parts["article"], parts["older"], parts["newer"]]
    return [*map(_version_of, shown), _headlines_key(parts["headlines"])]


def _version_of(article: Article | None):
    if article is None:
        return None
    return [article.id, article.version, article.status, article.updated_at.isoformat()]


def _headlines_key(page) -> list:
    rows = [[item.number, _version_of(item.article)] for item in page.items]
    return [rows, page.has_next]


def _last_change(parts: dict):
    shown = [parts["article"], parts["older"], parts["newer"]]
    shown += [item.article for item in parts["headlines"].items]
    return max(article.updated_at for article in shown if article is not None)


def _article_page(article_id: int):
    parts = _article_parts(article_id)
    article = parts["article"]
    if article.is_live:
        view_counter().record(article.id)
    page = render_template("articles/article.html", **parts)
    response = make_response(page)
    # The page also shows other articles (related, neighbours): it was last modified when the
    # newest of them was, and the ETag hashes what was rendered.
    response.last_modified = _last_change(parts).replace(tzinfo=SITE_TZ)
    response.add_etag()
    return response


@bp.get(f"/articles/{ARTICLE_ID}-<path:slug>")
def article_with_slug(article_id: int, slug: str):
    """A URL with a title tail points to the canonical article URL."""
    get_article_or_abort(article_id)
    return redirect(url_for("public.article", article_id=article_id), 301)


def _related(article: Article, page: int) -> dict:
    config = current_app.config
    result = listings.related_page(
        article, page, config["RELATED_PAGE_SIZE"], config["RELATED_MAX"]
    )
    next_url = None
    if result.has_next:
        next_url = url_for("public.related", article_id=article.id, page=page + 1)
    return {"headlines": result, "next_url": next_url}


@bp.get(f"/articles/{ARTICLE_ID}/related")
@understands("page")
def related(article_id: int):
    """Related headlines page N: a fragment for htmx, a full page otherwise."""
    return page_cache.serve(
        partial(_related_page, article_id), content_key=partial(_related_key, article_id)
    )


def _related_parts(article_id: int) -> tuple[Article, dict]:
    if "related_parts" not in g:
        article = get_article_or_abort(article_id)
        page = listings.page_number(request.args.get("page"))
        g.related_parts = article, _related(article, page)
    return g.related_parts


def _related_key(article_id: int):
    """Names what a related page shows: its article (title, link back) and its headlines."""
    article, related = _related_parts(article_id)
    if not article.is_live:
        return None
    return [_version_of(article), _headlines_key(related["headlines"])]


def _related_page(article_id: int):
    article, related = _related_parts(article_id)
    return render_fragment_or_page(
        "partials/_headlines.html", "articles/related.html", article=article, **related
    )


@bp.get("/tags/<name>")
@understands("page", "after")
def tag(name: str):
    """Articles carrying one keyword."""
    return page_cache.serve(partial(_tag_page, name))


def _tag_page(name: str):
    tag = listings.public_tag(name) or abort(404)
    listing = list_page(listings.latest_query(tag_id=tag.id), "public.tag", name=tag.name)
    return render_fragment_or_page("partials/_headlines.html", "tag.html", tag=tag, **listing)


@bp.get("/categories/<slug>")
@understands("page", "after")
def category(slug: str):
    """Articles in one category."""
    return page_cache.serve(partial(_category_page, slug))


def _category_page(slug: str):
    category = listings.public_category(slug) or abort(404)
    query = listings.latest_query(category_id=category.id)
    listing = list_page(query, "public.category", slug=category.slug)
    return render_fragment_or_page(
        "partials/_headlines.html", "category.html", category=category, **listing
    )
