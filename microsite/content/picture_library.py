"""The picture library: every upload with where it is used; alt text edits, deletes, pruning.

A picture is "used" while the current body of any article, or any kept version of one, points
at /media/<its name>: restoring an old version must not bring back a broken picture. Usage is
found by searching the bodies for the random file name, which never appears by chance.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask
from PIL import Image as PILImage
from sqlalchemy import or_, select

from ..extensions import db
from ..text import local_now
from . import images
from .models import Article, Image, Page, Revision, User

PAGE_SIZE = 24
# Library thumbnails: the longest side, twice the 160 px box for sharp screens.
THUMB_SIDE = 320
PRUNE_BATCH = 200


@dataclass
class Entry:
    """One picture as the library shows it."""

    image: Image
    uploader: User | None
    articles: list[Article] = field(default_factory=list)

    @property
    def used(self) -> bool:
        return bool(self.articles)


class InUse(Exception):
    """A delete refused: these articles show the picture."""

    def __init__(self, articles: list[Article]) -> None:
        super().__init__("图片正在使用")
        self.articles = articles


def _src(image: Image) -> str:
    return f"/media/{image.name}"


def usage(pictures: list[Image]) -> dict[int, list[Article]]:
    """For each picture, the articles whose body or kept versions show it (two queries)."""
    found: dict[int, dict[int, Article]] = {image.id: {} for image in pictures}
    if not pictures:
        return {}
    mentions = [Article.body.contains(_src(image), autoescape=True) for image in pictures]
    for article in db.session.scalars(select(Article).where(or_(*mentions))):
        for image in pictures:
            if _src(image) in article.body:
                found[image.id][article.id] = article
    old = [Revision.body.contains(_src(image), autoescape=True) for image in pictures]
    query = select(Revision.article_id, Revision.body).where(or_(*old))
    for article_id, body in db.session.execute(query):
        for image in pictures:
            if _src(image) in body and article_id not in found[image.id]:
                found[image.id][article_id] = db.session.get(Article, article_id)
    return {key: sorted(value.values(), key=lambda a: a.id) for key, value in found.items()}


def page(query: str = "", before: int | None = None) -> tuple[list[Entry], int | None]:
    """A page of pictures, newest first, whose alt text contains `query`; and the next cursor."""
    statement = select(Image, User).outerjoin(User, User.id == Image.uploaded_by)
    if query:
        statement = statement.where(Image.alt.contains(query, autoescape=True))
    if before is not None:
        statement = statement.where(Image.id < before)
    rows = db.session.execute(statement.order_by(Image.id.desc()).limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    used = usage([image for image, _ in rows])
    entries = [Entry(image, uploader, used.get(image.id, [])) for image, uploader in rows]
    return entries, (rows[-1][0].id if more else None)


def entry(image: Image) -> Entry:
    uploader = db.session.get(User, image.uploaded_by) if image.uploaded_by else None
    return Entry(image, uploader, usage([image]).get(image.id, []))


def set_alt(image: Image, alt: str) -> None:
    """New alt text for the library and for the next insertions of this picture."""
    image.alt = alt
    db.session.commit()


def delete(image: Image) -> None:
    """Remove a picture nobody uses: its record, then its file. Raises InUse otherwise."""
    articles = usage([image]).get(image.id, [])
    if articles:
        raise InUse(articles)
    _remove(image)
    db.session.commit()


def _remove(image: Image) -> None:
    db.session.delete(image)
    (images.upload_dir() / image.name).unlink(missing_ok=True)
    _thumbnail_file(image.name).unlink(missing_ok=True)


def _thumbnail_file(name: str) -> Path:
    return images.upload_dir() / "thumbs" / name


def thumbnail(image: Image) -> Path:
    """The library's small copy of a picture, made on first use and kept beside the uploads.

    The library shows 24 pictures a page; sending each at up to 2000 px would cost megabytes.
    """
    target = _thumbnail_file(image.name)
    if target.exists():
        return target
    with PILImage.open(images.upload_dir() / image.name) as picture:
        format = picture.format  # ours: re-encoded on upload as JPEG, PNG or WebP
        picture.thumbnail((THUMB_SIDE, THUMB_SIDE), PILImage.Resampling.LANCZOS)
        out = io.BytesIO()
        picture.save(out, format=format)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(out.getvalue())
    os.replace(temporary, target)
    return target


def prune_unused_uploads(app: Flask, older_than: timedelta) -> list[str]:
    """Delete uploads older than `older_than` that no article uses; returns their names.

    Also removes files in the upload directory that have no record (an upload whose commit
    failed half-way) once they are as old. Safe to run from a command or a background job.
    """
    with app.app_context():
        cutoff = local_now() - older_than
        removed = _prune_records(cutoff)
        removed += _prune_orphan_files(older_than)
        db.session.remove()
    return removed


def _prune_records(cutoff: datetime) -> list[str]:
    removed: list[str] = []
    after = 0
    while True:
        query = select(Image).where(Image.created_at < cutoff, Image.id > after)
        batch = list(db.session.scalars(query.order_by(Image.id).limit(PRUNE_BATCH)))
        if not batch:
            return removed
        used = usage(batch)
        for image in batch:
            if not used.get(image.id) and not _on_a_page(image):
                removed.append(image.name)
                _remove(image)
        db.session.commit()
        after = batch[-1].id


def _on_a_page(image: Image) -> bool:
    """Whether an editable page (关于我们 …) shows the picture: it is in use, though no
    article lists it."""
    mention = Page.body.contains(_src(image), autoescape=True)
    return db.session.scalar(select(Page.id).where(mention).limit(1)) is not None


def _prune_orphan_files(older_than: timedelta) -> list[str]:
    directory = images.upload_dir()
    if not directory.is_dir():
        return []
    known = set(db.session.scalars(select(Image.name)))
    removed = []
    for path in directory.iterdir():
        if not images.NAME.fullmatch(path.name) or path.name in known:
            continue
        # File times are the host's clock, not the site's time zone: compare ages.
        if time.time() - path.stat().st_mtime > older_than.total_seconds():
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed
