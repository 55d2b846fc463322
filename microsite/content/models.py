"""Database models (SQLAlchemy 2, typed).

Times are naive and in the site's local time (Asia/Shanghai), as the seed page shows them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..text import local_now

DRAFT, SCHEDULED, PUBLISHED, CLEARED = "draft", "scheduled", "published", "cleared"
STATUSES = (DRAFT, SCHEDULED, PUBLISHED, CLEARED)

article_tags = Table(
    "article_tags",
    db.metadata,
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # The primary key leads with article_id; keyword listings look up by tag.
    Index("ix_article_tags_tag", "tag_id", "article_id"),
)


class Category(db.Model):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)


class Tag(db.Model):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256), default="")
    # The least role unless said otherwise: a user created without one cannot manage the site.
    role: Mapped[str] = mapped_column(String(16), default="editor")
    created_at: Mapped[datetime] = mapped_column(default=local_now)
    # A disabled account keeps its byline on old articles but can no longer sign in.
    disabled_at: Mapped[datetime | None]

    # Flask-Login protocol
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    def get_id(self) -> str:
        return str(self.id)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def byline(self) -> str:
        return f"{self.display_name} - {self.username}"


class Article(db.Model):
    __tablename__ = "articles"
    __table_args__ = (
        # Newest-first lists mix published and cleared rows: seek on (published_at, id).
        Index("ix_articles_published", "published_at", "id"),
        Index("ix_articles_status_published", "status", "published_at", "id"),
        Index("ix_articles_category_published", "category_id", "published_at", "id"),
        # 人力资讯TOP500 walks live articles by view count.
        Index("ix_articles_status_views", "status", "view_count", "id"),
        # The scheduler looks for scheduled articles that have come due.
        Index("ix_articles_status_scheduled", "status", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    source_note: Mapped[str] = mapped_column(String(500), default="")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    published_at: Mapped[datetime | None]
    # A scheduled article's publish time. Its published_at stays NULL until the time comes, so
    # every public list, feed and sitemap (which need published_at) leaves it out until then.
    scheduled_for: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=local_now, onupdate=local_now)
    cleared_at: Mapped[datetime | None]
    view_count: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    # Identifies rows that came from an imported page, so a re-import updates instead of adding.
    import_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    category: Mapped[Category | None] = relationship(lazy="joined")
    author: Mapped[User | None] = relationship(lazy="joined")
    tags: Mapped[list[Tag]] = relationship(secondary=article_tags, order_by=Tag.name)

    # A stale edit raises StaleDataError instead of silently overwriting a newer save.
    __mapper_args__ = {"version_id_col": version}

    @property
    def is_cleared(self) -> bool:
        return self.status == CLEARED

    @hybrid_property
    def is_live(self) -> bool:
        """The one definition of a live article, the kind readers, feeds, sitemaps and search
        see: published, with a publish time (a scheduled one has none until it goes live)."""
        return self.status == PUBLISHED and self.published_at is not None

    @is_live.inplace.expression
    @classmethod
    def _is_live_expression(cls) -> ColumnElement[bool]:
        return and_(cls.status == PUBLISHED, cls.published_at.is_not(None))

    @property
    def has_body(self) -> bool:
        return bool(self.body.strip())


class Revision(db.Model):
    """One saved version of an article's text, kept when the article is saved again."""

    __tablename__ = "revisions"
    __table_args__ = (Index("ix_revisions_article", "article_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    # The article's version number this text was saved as.
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    # Keyword names separated by spaces, as the edit form shows them.
    tags: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=local_now)
    # Why this version exists when it is not a plain edit, e.g. "恢复自第 3 版".
    note: Mapped[str] = mapped_column(String(200), default="")

    author: Mapped[User | None] = relationship(lazy="joined")


class Image(db.Model):
    """An uploaded picture, re-encoded and stored under a random name."""

    __tablename__ = "images"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Random file name with its extension, e.g. "3f9c…e1.webp"; also the URL's last segment.
    name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    byte_size: Mapped[int]
    alt: Mapped[str] = mapped_column(String(300), default="")
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=local_now)


class BulkAction(db.Model):
    """One dashboard bulk action and what it changed, so it can be undone."""

    __tablename__ = "bulk_actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16))
    # JSON list of each changed article's state before and after the action.
    changes: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(default=local_now)
    undone_at: Mapped[datetime | None]


class RelatedLink(db.Model):
    """A hand-curated (or imported) related-headline list, kept in its order."""

    __tablename__ = "related_links"
    __table_args__ = (UniqueConstraint("article_id", "target_id"),)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))


class MaskedWord(db.Model):
    __tablename__ = "masked_words"
    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=local_now)


class Page(db.Model):
    """Editable static pages such as 关于我们 and 加入我们."""

    __tablename__ = "pages"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=local_now, onupdate=local_now)


class Setting(db.Model):
    """One site setting; the value is JSON so lists of links fit as well as strings."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="null")

    @property
    def data(self) -> Any:
        return json.loads(self.value)

    @data.setter
    def data(self, new: Any) -> None:
        self.value = json.dumps(new, ensure_ascii=False)


class IndexChange(db.Model):
    """The search outbox of the Whoosh backend: one row per searchable article change, written
    in the same transaction as the change. The worker applies the rows past the last id its
    index applied (microsite.search.follow) and prunes what it applied. AUTOINCREMENT on
    SQLite: ids never come back after pruning."""

    __tablename__ = "index_changes"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: a deleted article's entry must survive to remove it from the index.
    article_id: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=local_now, index=True)


class Redirect(db.Model):
    """An old address that answers 301 to where its content lives now (imported sites'
    permalinks: `/2022/09/02/slug` or `?p=12`)."""

    __tablename__ = "redirects"
    id: Mapped[int] = mapped_column(primary_key=True)
    # A path without its trailing slash, or a query form such as "?p=12".
    old_path: Mapped[str] = mapped_column(String(500), unique=True)
    target: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=local_now)


class ImportedFile(db.Model):
    """Which stored picture a file of an imported site became, so a re-import reuses it."""

    __tablename__ = "imported_files"
    source: Mapped[str] = mapped_column(String(500), primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))


class UserSession(db.Model):
    """One sign-in: the browser holds a random token, this row only its SHA-256. Deleting the
    row ends the session wherever its cookie was copied (microsite.accounts.user_sessions)."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=local_now)
    # Written at most once a minute (user_sessions.TOUCH_EVERY), not every request.
    last_seen_at: Mapped[datetime] = mapped_column(default=local_now)


class SignInAttempt(db.Model):
    """The sign-in throttle's shared counter (accounts/throttle.py), in the site's database so
    every worker and host sees the same numbers without an extra server. A row is written
    before the password is checked ("pending"), then marked "failed" or "ok"; times are Unix
    seconds, so the Redis store and this one share one policy."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_username", "username", "at"),
        Index("ix_sign_in_attempts_address", "address", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[float]
    outcome: Mapped[str] = mapped_column(String(8), default="pending")


class ViewMark(db.Model):
    """One reader's view of one article in one counting window (microsite.web.counting).

    The primary key is the mark itself, so a second view in the window is an insert that does
    nothing, on any host; `fold` says which fold added it to the article's count (NULL: none
    yet). No foreign key: a mark may outlive a deleted article until its window is pruned."""

    __tablename__ = "view_marks"
    __table_args__ = (Index("ix_view_marks_fold", "fold"),)
    # Start of the window in Unix seconds; leading the key so old windows go in key order.
    slot: Mapped[int] = mapped_column(db.BigInteger, primary_key=True, autoincrement=False)
    article_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # A keyed 64-bit hash of the client address, never the address itself.
    reader: Mapped[int] = mapped_column(db.BigInteger, primary_key=True, autoincrement=False)
    fold: Mapped[int | None] = mapped_column(db.BigInteger)


class Autosave(db.Model):
    """What an editor typed in an article form and has not saved yet: one per (article, user).

    Never the article itself: readers and the version check only ever see saved text.
    article_id is empty for an article not yet created (one per user).
    """

    __tablename__ = "autosaves"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    # The article version the text was typed against: a restore saves through the same check.
    base_version: Mapped[int | None]
    saved_at: Mapped[datetime] = mapped_column(default=local_now)

    __table_args__ = (Index("ix_autosaves_user_article", "user_id", "article_id"),)


class Presence(db.Model):
    """Who has an article open in the editor, renewed by each page's heartbeat."""

    __tablename__ = "presence"
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    seen_at: Mapped[datetime] = mapped_column(default=local_now)


class RelatedList(db.Model):
    """An article's more-like-this ids, computed by the worker (microsite.content.related) so that a
    reader's view never asks the search engine. Derived data: rebuilt from the articles."""

    __tablename__ = "related_lists"
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    # The article version the ids were computed for; another version is asked again.
    version: Mapped[int]
    ids: Mapped[str] = mapped_column(Text, default="")  # comma-separated, best first
    computed_at: Mapped[datetime] = mapped_column(default=local_now)
