"""Store a WordPress export: posts, pages, categories, tags, authors, pictures, old permalinks.

Everything is stored in one transaction: a file that fails half way stores nothing (pictures
already written for it are removed again). Re-importing the same file updates what it imported
before, found by the post's WordPress id (articles), slug (pages), file path (pictures) and old
address (redirects), and never adds a second copy.

Choices, where WordPress and this site differ:
- Nested categories are flattened: the category is named by its path ("新闻 / 国内"), its slug is
  WordPress's own (unique there). An article has one category: a post's first; its other
  categories become keywords, so no label is lost.
- Published posts are published, scheduled ones scheduled, drafts and pending ones drafts.
  Private and trashed posts are skipped and counted, as are pages that are not published (a page
  here is always public).
- Authors become bylines: users with the least role (editor) and no password, so nobody can
  sign in as them until an admin sets one. `--author-map old=new` puts posts under an existing
  user instead.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

from ...accounts.usernames import normalize
from ...extensions import db
from ...sanitize import clean_html
from .. import images, taxonomy
from ..models import DRAFT, PUBLISHED, SCHEDULED, Article, Category, ImportedFile, Page, Tag, User
from ..models import Image as ImageRecord
from . import permalinks, wpbody
from .wxr import WpItem, WxrExport, full_size, uploads_path

POST_STATUSES = {"publish": PUBLISHED, "future": SCHEDULED, "draft": DRAFT, "pending": DRAFT}
SKIPPED = {"private": "私密", "trash": "回收站"}
NAME_MAX, TITLE_MAX, ALT_MAX = 64, 200, images.ALT_MAX


@dataclass
class Summary:
    counts: Counter = field(default_factory=Counter)
    missing_pictures: list[str] = field(default_factory=list)

    ROWS = (
        ("posts_new", "新导入的文章"),
        ("posts_updated", "更新的文章"),
        ("published", "其中已发表"),
        ("drafts", "其中草稿"),
        ("scheduled", "其中定时发表"),
        ("pages", "页面"),
        ("skipped_私密", "跳过：私密文章"),
        ("skipped_回收站", "跳过：回收站"),
        ("skipped_page", "跳过：未发表的页面"),
        ("skipped_other", "跳过：其他类型（附件、菜单等）"),
        ("categories", "分类"),
        ("tags", "关键词"),
        ("authors", "作者"),
        ("pictures", "导入的图片"),
        ("pictures_missing", "缺失的图片"),
        ("redirects", "旧链接跳转"),
    )

    def table(self) -> list[tuple[str, int]]:
        return [(label, self.counts[key]) for key, label in self.ROWS]


class _Importer:
    def __init__(self, export: WxrExport, media_dir: Path | None, author_map: dict[str, str]):
        self.export = export
        self.media_dir = media_dir
        self.author_map = author_map
        self.summary = Summary()
        self.written: list[Path] = []
        self.site_key = hashlib.sha1(export.site_url.encode()).hexdigest()[:12]
        self.attachments = {
            full_size(path): item
            for item in export.items
            if item.post_type == "attachment" and (path := uploads_path(item.attachment_url))
        }
        self.categories: dict[str, Category] = {}
        self.users: dict[str, User] = {}

    # Pictures -----------------------------------------------------------------------------

    def picture(self, src: str, alt: str, post: WpItem) -> tuple[str, str] | None:
        """A body's <img>: the library copy of its file and alt text, or None if missing."""
        path = uploads_path(src)
        record = self._stored_picture(path) if path else None
        if record is None:
            self.summary.counts["pictures_missing"] += 1
            self.summary.missing_pictures.append(f"《{post.title}》: {src}")
            return None
        return f"/media/{record.name}", (alt.strip() or record.alt or post.title)[:ALT_MAX]

    def _stored_picture(self, path: str) -> ImageRecord | None:
        for candidate in dict.fromkeys((path, full_size(path))):
            source = f"wxr-media:{self.site_key}:{candidate}"
            known = db.session.get(ImportedFile, source)
            if known is not None:
                return db.session.get(ImageRecord, known.image_id)
            file = self._media_file(candidate)
            if file is not None:
                return self._store_picture(source, file, self._attachment_alt(candidate))
        return None

    def _media_file(self, path: str) -> Path | None:
        if self.media_dir is None:
            return None
        file = (self.media_dir / path).resolve()
        inside = self.media_dir.resolve() in file.parents
        return file if inside and file.is_file() else None

    def _attachment_alt(self, path: str) -> str:
        item = self.attachments.get(full_size(path))
        if item is None:
            return Path(path).stem
        return (item.meta.get("_wp_attachment_image_alt") or item.title or Path(path).stem)[
            :ALT_MAX
        ]

    def _store_picture(self, source: str, file: Path, alt: str) -> ImageRecord | None:
        try:
            encoded = images.encode(file.read_bytes())
        except images.UploadError as exc:
            self.summary.missing_pictures.append(f"{file.name}: {exc}")
            return None
        record, path = images.stage(encoded, alt, None)
        self.written.append(path)
        db.session.flush()
        db.session.add(ImportedFile(source=source, image_id=record.id))
        self.summary.counts["pictures"] += 1
        return record

    # Names ------------------------------------------------------------------------------

    def author(self, login: str) -> User | None:
        if not login:
            return None
        username = normalize(self.author_map.get(login, login))[:NAME_MAX]
        if username not in self.users:
            user = db.session.scalar(select(User).filter_by(username=username))
            if user is None:
                wp_author = self.export.authors.get(login)
                display = wp_author.display_name if wp_author else login
                # The least role and no password: a byline, not an account, until an admin
                # gives it a password.
                user = User(username=username, display_name=display[:NAME_MAX], role="editor")
                db.session.add(user)
                self.summary.counts["authors"] += 1
            self.users[username] = user
        return self.users[username]

    def category_path(self, nicename: str) -> str:
        names, seen = [], set()
        while nicename and nicename not in seen:
            seen.add(nicename)
            known = self.export.categories.get(nicename)
            names.append(known.name if known else nicename)
            nicename = known.parent if known else ""
        return " / ".join(reversed(names))[:NAME_MAX]

    def category(self, nicename: str) -> Category:
        slug = nicename[:NAME_MAX]
        if slug not in self.categories:
            found = taxonomy.category(self.category_path(nicename), slug=slug)
            if taxonomy.is_new(found):
                self.summary.counts["categories"] += 1
            self.categories[slug] = found
        return self.categories[slug]

    def tags(self, names: list[str]) -> list[Tag]:
        tags = taxonomy.tags(n.strip()[:NAME_MAX] for n in names if n.strip())
        self.summary.counts["tags"] += sum(taxonomy.is_new(tag) for tag in tags)
        return tags

    # Posts and pages --------------------------------------------------------------------

    def body(self, item: WpItem) -> str:
        return clean_html(
            wpbody.convert(item.content, lambda src, alt: self.picture(src, alt, item))
        )

    def post(self, item: WpItem, status: str) -> None:
        key = f"wxr:{self.site_key}:{item.post_id}"
        article = db.session.scalar(select(Article).filter_by(import_key=key))
        self.summary.counts["posts_new" if article is None else "posts_updated"] += 1
        if article is None:
            article = Article(import_key=key)
            db.session.add(article)
        other_categories = [self.category_path(n).rsplit(" / ", 1)[-1] for n in item.categories[1:]]
        fields = {
            "title": item.title[:TITLE_MAX] or "（无标题）",
            "body": self.body(item),
            "status": status,
            "published_at": item.published_at if status == PUBLISHED else None,
            "scheduled_for": item.published_at if status == SCHEDULED else None,
            "category": self.category(item.categories[0]) if item.categories else None,
            "author": self.author(item.creator),
            "tags": self.tags([*item.tags, *other_categories]),
        }
        for name, value in fields.items():
            if getattr(article, name) != value:
                setattr(article, name, value)
        if item.modified_at and article.updated_at != item.modified_at:
            article.updated_at = item.modified_at
        self.summary.counts[
            {PUBLISHED: "published", SCHEDULED: "scheduled"}.get(status, "drafts")
        ] += 1
        db.session.flush()
        self.redirects(item, f"/articles/{article.id}", "p")

    def page(self, item: WpItem) -> None:
        slug = (item.slug or str(item.post_id))[:NAME_MAX]
        page = db.session.scalar(select(Page).filter_by(slug=slug))
        if page is None:
            page = Page(slug=slug)
            db.session.add(page)
        page.title = (item.title or slug)[:100]
        page.body = self.body(item)
        self.summary.counts["pages"] += 1
        self.redirects(item, f"/pages/{slug}", "page_id")

    def redirects(self, item: WpItem, target: str, query_name: str) -> None:
        old = {f"?{query_name}={item.post_id}", f"?p={item.post_id}"}
        if item.link:
            link = urlsplit(item.link)
            old.add(permalinks.normalize(link.path, link.query))
        for path in old:
            if path and path != "/" and permalinks.remember(path, target):
                self.summary.counts["redirects"] += 1

    def run(self, progress: Callable[[int, int], None] | None) -> Summary:
        total = len(self.export.items)
        for done, item in enumerate(self.export.items, 1):
            self.one(item)
            if progress:
                progress(done, total)
        return self.summary

    def one(self, item: WpItem) -> None:
        if item.status in SKIPPED and item.post_type in {"post", "page"}:
            self.summary.counts[f"skipped_{SKIPPED[item.status]}"] += 1
        elif item.post_type == "post" and item.status in POST_STATUSES:
            self.post(item, POST_STATUSES[item.status])
        elif item.post_type == "page" and item.status == "publish":
            self.page(item)
        elif item.post_type == "page":
            self.summary.counts["skipped_page"] += 1
        elif item.post_type != "attachment":
            self.summary.counts["skipped_other"] += 1


def import_wxr(
    export: WxrExport,
    media_dir: Path | None = None,
    author_map: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Summary:
    """Store the export in one transaction and say what was done."""
    importer = _Importer(export, media_dir, author_map or {})
    try:
        summary = importer.run(progress)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for path in importer.written:
            path.unlink(missing_ok=True)
        raise
    return summary
