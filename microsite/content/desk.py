"""The writing desk's safety nets: autosaves of unsaved text, and who else has an article open.

An autosave is kept per (article, user) beside the article, never in it: the published text,
its version and its revisions change only through a real save, which still goes through the
version check. Presence is a heartbeat row per (article, user); nothing is locked by it.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from ..extensions import db
from ..text import local_now
from .models import Article, Autosave, Presence, User

# A heartbeat missed this many times in a row means the editor has gone.
PRESENCE_MISSES = 2.5


def _autosave_query(article_id: int | None, user_id: int):
    where = (
        Autosave.article_id.is_(None) if article_id is None else Autosave.article_id == article_id
    )
    return select(Autosave).where(Autosave.user_id == user_id, where)


def autosave_for(article: Article | None, user: User) -> Autosave | None:
    """This user's unsaved text for the article (or for a new article), if any."""
    article_id = article.id if article else None
    return db.session.scalar(_autosave_query(article_id, user.id))


def keep_autosave(
    article: Article | None, user: User, title: str, body: str, base_version: int | None
) -> Autosave:
    """Store what the form holds now, replacing this user's previous autosave of it."""
    record = autosave_for(article, user)
    if record is None:
        record = Autosave(article_id=article.id if article else None, user_id=user.id)
        db.session.add(record)
    record.title, record.body, record.base_version = title, body, base_version
    record.saved_at = local_now()
    db.session.commit()
    return record


def drop_autosave(article: Article | None, user: User) -> None:
    """Forget the user's autosave: discarded, or its text has been saved for real."""
    record = autosave_for(article, user)
    if record is not None:
        db.session.delete(record)


def presence_seconds() -> int:
    return int(current_app.config["PRESENCE_SECONDS"])


def here(article: Article, user: User) -> None:
    """Record that `user` has the article open now."""
    record = db.session.get(Presence, (article.id, user.id))
    if record is None:
        db.session.add(Presence(article_id=article.id, user_id=user.id))
    else:
        record.seen_at = local_now()
    db.session.commit()


def left(article: Article, user: User) -> None:
    db.session.execute(
        delete(Presence).where(Presence.article_id == article.id, Presence.user_id == user.id)
    )
    db.session.commit()


def others_editing(article: Article, user: User) -> list[User]:
    """The other users whose heartbeat on this article is recent, by name."""
    since = local_now() - timedelta(seconds=presence_seconds() * PRESENCE_MISSES)
    query = (
        select(User)
        .join(Presence, Presence.user_id == User.id)
        .where(Presence.article_id == article.id, Presence.user_id != user.id)
        .where(Presence.seen_at >= since)
        .order_by(User.display_name)
    )
    return list(db.session.scalars(query))
