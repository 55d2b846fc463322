"""Bulk actions on articles (publish, unpublish, clear, restore) and undoing them.

Each action changes its articles through the ORM in one transaction, so their versions bump
and the search index follows (microsite.search.sync), and records a BulkAction holding every
changed article's state before and after. Undoing puts each article back to its state before
the action unless it has been changed since (its version moved on); an action is undone once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..text import local_now
from . import lifecycle
from .models import Article, BulkAction, User

# The fields an action changes and an undo puts back.
STATE = ("status", "published_at", "cleared_at", "scheduled_for")
MAX_SELECTION = 500
# Verb for the summary ("已清空 3 篇") and label for the dashboard's action menu.
ACTIONS = {
    "publish": ("已发表", "发表"),
    "unpublish": ("已撤回为草稿", "撤回为草稿"),
    "clear": ("已清空", "清空"),
    "restore": ("已恢复", "恢复"),
}
NAMES_SHOWN = 5


class BulkError(Exception):
    """The request itself is wrong (unknown action, bad or unknown ids): nothing is changed."""


class Conflict(Exception):
    """Someone saved one of the articles while this action ran: nothing is changed."""


class AlreadyUndone(Exception):
    """The action was undone before."""


def _dump(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _load(name: str, value):
    if value is not None and name != "status":
        return datetime.fromisoformat(value)
    return value


def _state(article: Article) -> dict:
    return {name: _dump(getattr(article, name)) for name in STATE}


@dataclass
class Outcome:
    """What an action or an undo did: the changed titles and the skipped ones with reasons."""

    verb: str
    changed: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    action_id: int | None = None

    def skip(self, article: Article | None, reason: str, title: str = "") -> None:
        name = article.title if article is not None else title
        self.skipped.setdefault(reason, []).append(name or "（无标题）")

    @property
    def skipped_count(self) -> int:
        return sum(len(titles) for titles in self.skipped.values())

    def summary(self) -> str:
        """E.g. "已清空 3 篇；跳过 1 篇：草稿不能清空（《标题》）"."""
        parts = [f"{self.verb} {len(self.changed)} 篇"]
        if self.skipped:
            reasons = []
            for reason, titles in self.skipped.items():
                names = "".join(f"《{title}》" for title in titles[:NAMES_SHOWN])
                if len(titles) > NAMES_SHOWN:
                    names += f"等 {len(titles)} 篇"
                reasons.append(f"{reason}（{names}）")
            parts.append(f"跳过 {self.skipped_count} 篇：" + "，".join(reasons))
        return "；".join(parts) + "。"


def parse_ids(raw: Iterable[str]) -> list[int]:
    """Selected article ids from the form; anything but small positive integers is a BulkError."""
    ids: list[int] = []
    for value in raw:
        value = value.strip()
        if not (value.isascii() and value.isdigit() and 0 < len(value) <= 18):
            raise BulkError("所选文章的编号无效。")
        ids.append(int(value))
    if len(ids) > MAX_SELECTION:
        raise BulkError(f"一次最多选择 {MAX_SELECTION} 篇文章。")
    return list(dict.fromkeys(ids))


def apply(action: str, ids: list[int], user: User | None) -> Outcome:
    """Apply `action` to the articles `ids` in one transaction and record it for undoing."""
    if action not in lifecycle.RULES:
        raise BulkError("未知的批量操作。")
    if not ids:
        raise BulkError("没有选择文章。")
    articles = db.session.scalars(select(Article).where(Article.id.in_(ids))).unique().all()
    by_id = {article.id: article for article in articles}
    if len(by_id) != len(ids):
        raise BulkError("所选文章中有不存在的文章。")
    outcome = Outcome(ACTIONS[action][0])
    now = local_now()
    rule = lifecycle.RULES[action]
    befores = {}
    with db.session.no_autoflush:
        for article_id in ids:
            article = by_id[article_id]
            before = _state(article)
            reason = rule(article, now)
            if reason is None:
                befores[article_id] = before
                outcome.changed.append(article.title)
            else:
                outcome.skip(article, reason)
    if not befores:
        return outcome  # nothing changed: nothing to record or undo
    record = BulkAction(user_id=user.id if user is not None else None, action=action)
    db.session.add(record)
    try:
        db.session.flush()  # one versioned UPDATE per changed article: their new versions
        record.changes = json.dumps(
            [
                {
                    "id": article_id,
                    "title": by_id[article_id].title,
                    "before": before,
                    "after": _state(by_id[article_id]),
                    "version": by_id[article_id].version,
                }
                for article_id, before in befores.items()
            ],
            ensure_ascii=False,
        )
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(
            "所选文章中有文章刚被别人修改过，本次批量操作没有做任何更改，请刷新后重试。"
        ) from None
    outcome.action_id = record.id
    return outcome


def undo(record: BulkAction) -> Outcome:
    """Put every article the action changed back to its state before, in one transaction;
    articles changed since are skipped. Raises AlreadyUndone the second time."""
    if record.undone_at is not None:
        raise AlreadyUndone("这次批量操作已经撤销过了。")
    outcome = Outcome("已撤销")
    changes = json.loads(record.changes)
    ids = [change["id"] for change in changes]
    articles = db.session.scalars(select(Article).where(Article.id.in_(ids))).unique().all()
    by_id = {article.id: article for article in articles}
    with db.session.no_autoflush:
        for change in changes:
            article = by_id.get(change["id"])
            if article is None:
                outcome.skip(None, "文章已被删除", change["title"])
                continue
            if article.version != change["version"] or _state(article) != change["after"]:
                outcome.skip(article, "此后已被修改")
                continue
            for name in STATE:
                setattr(article, name, _load(name, change["before"][name]))
            outcome.changed.append(article.title)
    # Marked undone in the same transaction, and only if no one else undid it meanwhile.
    marked = db.session.execute(
        update(BulkAction)
        .where(BulkAction.id == record.id, BulkAction.undone_at.is_(None))
        .values(undone_at=local_now())
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount != 1:
        db.session.rollback()
        raise AlreadyUndone("这次批量操作已经撤销过了。")
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict("有文章刚被别人修改过，撤销没有做任何更改，请刷新后重试。") from None
    outcome.action_id = record.id
    return outcome
