"""What a reader sees of a whole site: every public URL's status and visible text.

Two sites that give the same snapshot look the same to every reader and crawler; the export,
import and backup tests compare a site with its copy this way.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import select

from microsite.content import listings
from microsite.content.models import Article, Category, Image, Page, Tag
from microsite.extensions import db

FIXED_URLS = ("/top", "/", "/sitemap", "/feed.xml", "/sitemap.xml", "/robots.txt")


def public_urls(app: Flask) -> list[str]:
    """Every page a reader or crawler can reach, from the database's own rows."""
    with app.app_context():
        articles = db.session.scalars(select(Article.id).order_by(Article.id)).all()
        urls = [*FIXED_URLS]
        urls += [f"/articles/{n}" for n in articles]
        urls += [f"/pages/{slug}" for slug in db.session.scalars(select(Page.slug))]
        urls += [f"/tags/{name}" for name in db.session.scalars(select(Tag.name))]
        urls += [f"/categories/{slug}" for slug in db.session.scalars(select(Category.slug))]
        urls += [f"/media/{name}" for name in db.session.scalars(select(Image.name))]
        db.session.remove()
    return urls


def visible(response) -> str:
    """The text a reader sees (HTML), or the body itself (XML, text, pictures)."""
    if response.mimetype == "text/html":
        page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
        for hidden in page(["script", "style", "template"]):
            hidden.decompose()
        for listing in page.select(".related ol"):
            # More-like-this scores depend on the index's history (an index that replayed
            # recent updates keeps deleted documents in its statistics), so two indexes of the
            # same rows may rank near-equal neighbours differently: related_sets compares the
            # lists by what they hold instead.
            listing.replace_with("[related headlines]")
        return re.sub(r"\s+", " ", page.get_text(" ")).strip()
    if response.mimetype.startswith("image/"):
        return f"{response.mimetype}:{len(response.get_data())}"
    return response.get_data(as_text=True)


def snapshot(app: Flask, urls: list[str]) -> dict[str, tuple[int, str]]:
    """Status and visible text of each URL. Views are not counted: walking the site must not
    reorder 人力资讯TOP500 half way through."""
    counter = app.extensions["view_counter"]
    counter.record = lambda article_id: False
    client = app.test_client()
    seen = {}
    for url in urls:
        with app.app_context(), client.get(url) as response:
            seen[url] = (response.status_code, visible(response))
    return seen


def differences(before: dict, after: dict) -> list[str]:
    """Each URL whose status or text differs, with the first place the text differs."""
    found = []
    for url, (status, text) in before.items():
        other_status, other_text = after.get(url, (None, ""))
        if (status, text) == (other_status, other_text):
            continue
        at = next((i for i, (a, b) in enumerate(zip(text, other_text, strict=False)) if a != b), 0)
        found.append(
            f"{url}: {status} → {other_status}; …{text[max(0, at - 20) : at + 60]!r} "
            f"→ …{other_text[max(0, at - 20) : at + 60]!r}"
        )
    return found


def related_sets(app: Flask) -> dict[int, frozenset[int]]:
    """Every article's whole related-headline list, as a set."""
    with app.app_context():
        articles = db.session.scalars(select(Article).where(Article.status == "published"))
        found = {a.id: frozenset(listings.related_ids(a, 100)) for a in articles}
        db.session.remove()
    return found
