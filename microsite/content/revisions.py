"""Article revisions: every saved title, body and keyword list is kept, restorable.

`record` is called by every path that saves an article's text (new, edit, restore) after the
new text is assigned and before the commit, so the revision lands in the same transaction as
the save: a refused (stale) save rolls both back, and a committed save always has its
revision. The newest revision is therefore the article's current text, and a restore is just
another save.

Articles that reach the desk without a revision (imported pages, the demo, or text changed by a
re-import) first get their stored text kept as a revision of its own before the save replaces
it, so no text that was ever shown is lost by an edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import flag_modified

from ..extensions import db
from ..sanitize import clean_html
from . import taxonomy
from .models import Article, Revision, Tag, User, article_tags

# Notes of revisions that were not a plain edit.
BASELINE_NOTE = "最初版本"
OUTSIDE_NOTE = "后台以外的修改（如重新导入）"
RESTORED_NOTE = "恢复自第 {version} 版"


@dataclass(frozen=True)
class Text:
    """The part of an article a revision keeps; keywords sorted, as a set."""

    title: str
    body: str
    tags: tuple[str, ...]

    @classmethod
    def of_article(cls, article: Article) -> Text:
        return cls(
            article.title or "", article.body or "", tuple(sorted(t.name for t in article.tags))
        )

    @classmethod
    def of_revision(cls, revision: Revision) -> Text:
        return cls(revision.title, revision.body, tuple(sorted(split_tags(revision.tags))))


def split_tags(stored: str) -> list[str]:
    return [name for name in (stored or "").split(" ") if name]


def keep_count() -> int:
    """How many revisions to keep per article (MICROSITE_REVISIONS_KEEP); 0 keeps all."""
    return max(0, int(current_app.config.get("REVISIONS_KEEP") or 0))


def history(article_id: int, limit: int | None = None) -> list[Revision]:
    """An article's revisions, newest first, without their bodies (a list needs none)."""
    query = select(Revision).where(Revision.article_id == article_id).options(defer(Revision.body))
    return list(db.session.scalars(query.order_by(Revision.id.desc()).limit(limit)))


def count(article_id: int) -> int:
    query = select(func.count()).select_from(Revision).where(Revision.article_id == article_id)
    return db.session.scalar(query) or 0


def latest(article_id: int) -> Revision | None:
    query = select(Revision).where(Revision.article_id == article_id)
    return db.session.scalar(query.order_by(Revision.id.desc()).limit(1))


def matches(revision: Revision | None, article: Article) -> bool:
    """Whether a revision holds exactly the article's current text."""
    return revision is not None and Text.of_revision(revision) == Text.of_article(article)


@dataclass(frozen=True)
class _Stored:
    """The article as the database holds it now, before this transaction's save is flushed."""

    text: Text
    version: int
    author_id: int | None
    updated_at: datetime


def _stored(article_id: int) -> _Stored | None:
    row = db.session.execute(
        select(
            Article.title, Article.body, Article.version, Article.author_id, Article.updated_at
        ).where(Article.id == article_id)
    ).first()
    if row is None:
        return None
    names = db.session.scalars(
        select(Tag.name)
        .join(article_tags, article_tags.c.tag_id == Tag.id)
        .where(article_tags.c.article_id == article_id)
    )
    text = Text(row.title or "", row.body or "", tuple(sorted(names)))
    return _Stored(text, row.version, row.author_id, row.updated_at)


def _revision(article_id: int, version: int, text: Text, **fields) -> Revision:
    revision = Revision(
        article_id=article_id,
        version=version,
        title=text.title,
        body=text.body,
        tags=" ".join(text.tags),
        **fields,
    )
    db.session.add(revision)
    return revision


def record(article: Article, user: User | None, note: str = "") -> Revision | None:
    """Keep the text `article` is about to be saved with as a revision; call before commit,
    with the new text assigned but not yet flushed (assign under `session.no_autoflush`, as the
    desk's views do; a flush in between only makes the text look changed outside the desk).

    Returns the new revision, or None when the title, body and keywords did not change (a
    status or date change alone keeps the latest revision as the current text).
    """
    if article.id is None:
        # A new article: insert it now to learn its id (an INSERT cannot be stale).
        db.session.flush()
        return _revision(
            article.id, article.version, Text.of_article(article), author=user, note=note
        )
    # No autoflush: the article's versioned UPDATE must happen once, at the caller's commit,
    # where a stale save is caught; and the queries below must read the text before it.
    with db.session.no_autoflush:
        stored = _stored(article.id)
        text = Text.of_article(article)
        if stored is None or stored.text == text:
            return None
        previous = latest(article.id)
        pending = []
        if previous is None or Text.of_revision(previous) != stored.text:
            # The text about to be replaced was never kept (an imported article's first
            # edit, or a re-import since): keep it first, as its author saved it.
            pending.append(
                dict(
                    version=stored.version,
                    text=stored.text,
                    author_id=stored.author_id,
                    created_at=stored.updated_at,
                    note=BASELINE_NOTE if previous is None else OUTSIDE_NOTE,
                )
            )
        # The version this save commits as. Keyword changes alone touch no column of the row,
        # so mark one: the UPDATE (and the version check that refuses stale saves) always runs.
        flag_modified(article, "title")
        pending.append(dict(version=article.version + 1, text=text, author=user, note=note))
        pending = _prune(article.id, pending)
        revisions = [_revision(article.id, **fields) for fields in pending]
    return revisions[-1]


def _prune(article_id: int, pending: list[dict]) -> list[dict]:
    """Apply the retention limit: drop the oldest revisions beyond it (pending ones count as
    the newest). The revision of the text being saved is never dropped."""
    keep = keep_count()
    if not keep:
        return pending
    keep = max(keep, 1)
    stored_ids = list(
        db.session.scalars(
            select(Revision.id)
            .where(Revision.article_id == article_id)
            .order_by(Revision.id.desc())
        )
    )
    # The newest `keep` of (pending newest first, then stored newest first) survive.
    survivors_pending = pending[-keep:]
    room = keep - len(survivors_pending)
    doomed = stored_ids[room:]
    if doomed:
        for revision in db.session.scalars(select(Revision).where(Revision.id.in_(doomed))):
            db.session.delete(revision)
    return survivors_pending


def restore(article: Article, revision: Revision, user: User | None) -> Revision | None:
    """Put a revision's text back into the article, recorded as a new revision; call before
    commit. Returns None when the article already holds that text."""
    with db.session.no_autoflush:
        article.title = revision.title
        # Cleaned again: the allow-list may have narrowed since this text was saved.
        article.body = clean_html(revision.body)
        article.tags = taxonomy.tags(split_tags(revision.tags))
    return record(article, user, RESTORED_NOTE.format(version=revision.version))
