"""Machine-readable views: XML sitemaps, robots.txt and the Atom feed."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from sqlalchemy import func, select

from ..content import listings
from ..content.models import Article, Category, Page, Tag
from ..controls import xml_safe
from ..extensions import db
from ..text import local_now
from ..web.origin import absolute_url

bp = Blueprint("feeds", __name__)
# The sitemap protocol allows 50,000 URLs a file; articles are split by id ranges so every
# file is one index range scan, however large the site grows.
SITEMAP_CHUNK = 50_000
FEED_SIZE = 20


def _xml(template: str, **context) -> Response:
    # A character XML forbids (a control in an imported title) cannot be escaped, and one
    # would make the whole document unreadable to every feed reader: it is left out.
    return Response(xml_safe(render_template(template, **context)), mimetype="application/xml")


@bp.get("/robots.txt")
def robots():
    """Crawlers may read everything public; the admin desk is off limits."""
    sitemap = absolute_url("feeds.sitemap_index")
    text = f"User-agent: *\nDisallow: /admin/\nSitemap: {sitemap}\n"
    return Response(text, mimetype="text/plain")


@bp.get("/sitemap.xml")
def sitemap_index():
    """The sitemap index: one file for the site's pages, one per 50,000 article ids in use."""
    chunk = ((Article.id - 1) // SITEMAP_CHUNK + 1).label("chunk")
    # Only chunks that hold a published article: an empty one would be a 404 in the index.
    chunks = db.session.execute(
        select(chunk, func.max(Article.updated_at))
        .where(Article.is_live)
        .group_by(chunk)
        .order_by(chunk)
    ).all()
    return _xml("feeds/sitemap_index.xml", chunks=chunks)


@bp.get("/sitemap-pages.xml")
def sitemap_pages():
    """Home, the listing pages (categories and keywords in use) and the editable pages."""
    urls = [(absolute_url("public.home"), None)]
    urls += [(absolute_url("pages.top"), None)]
    urls += [(absolute_url("pages.sitemap"), None)]
    for category in listings.public_categories(order_by=Category.id):
        urls.append((absolute_url("public.category", slug=category.slug), None))
    for tag in listings.public_tags(order_by=Tag.id):
        urls.append((absolute_url("public.tag", name=tag.name), None))
    for page in db.session.scalars(select(Page).order_by(Page.id)):
        urls.append((absolute_url("pages.page", slug=page.slug), page.updated_at))
    return _xml("feeds/urlset.xml", urls=urls)


@bp.get("/sitemap-articles-<int:chunk>.xml")
def sitemap_articles(chunk: int):
    """Published articles whose ids fall in this chunk."""
    if not 1 <= chunk <= 100_000:
        abort(404)
    low, high = (chunk - 1) * SITEMAP_CHUNK, chunk * SITEMAP_CHUNK
    rows = db.session.execute(
        select(Article.id, Article.updated_at)
        .where(Article.is_live)
        .where(Article.id > low, Article.id <= high)
        .order_by(Article.id)
    ).all()
    if not rows:
        abort(404)
    urls = [(absolute_url("public.article", article_id=row.id), row.updated_at) for row in rows]
    return _xml("feeds/urlset.xml", urls=urls)


@bp.get("/feed.xml")
def feed():
    """Atom feed of the latest published articles, masked like the pages."""
    query = listings.live_query(full=True).limit(FEED_SIZE)
    entries = list(db.session.scalars(query))
    updated = max((a.updated_at for a in entries), default=None) or local_now()
    response = _xml("feeds/atom.xml", entries=entries, updated=updated)
    response.mimetype = "application/atom+xml"
    return response
