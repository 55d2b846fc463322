"""Site pages: 人力资讯TOP500, editable pages such as 关于我们, and the HTML site map."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy import select

from ..content import listings
from ..content.models import Page
from ..extensions import db
from ..web.origin import understands
from ..web.rendering import render_fragment_or_page
from .common import list_page

bp = Blueprint("pages", __name__)
TOP_TOTAL = 500


@bp.get("/top")
@understands("page", "after")
def top():
    """人力资讯TOP500: the most-read live articles, numbered."""
    listing = list_page(
        listings.most_read_query(), "pages.top", listings.MOST_READ, total=TOP_TOTAL
    )
    return render_fragment_or_page("partials/_headlines.html", "pages/top.html", **listing)


@bp.get("/pages/<slug>")
def page(slug: str):
    """An editable page such as 关于我们 or 加入我们."""
    page = db.session.scalar(select(Page).filter_by(slug=slug)) or abort(404)
    return render_template("pages/page.html", page=page)


@bp.get("/sitemap")
@understands("page", "after")
def sitemap():
    """网站地图: every category and keyword in use, and every published article, page by page."""
    listing = list_page(listings.live_query(), "pages.sitemap")
    return render_fragment_or_page(
        "partials/_headlines.html",
        "pages/sitemap.html",
        categories=listings.public_categories(),
        tags=listings.public_tags(),
        **listing,
    )
