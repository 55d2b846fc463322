"""What may happen to an article, in one place: publish, unpublish, clear, restore.

Each rule changes the article in the caller's session and returns None, or returns the
reason it refuses (shown to the editor) and changes nothing. The article form's buttons, the
dashboard's bulk actions and their undo all go through these, so a rule cannot differ
between them. Scheduled publishing (microsite.content.scheduling) is the one exception: it publishes
with a conditional UPDATE so that racing workers publish an article once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .models import CLEARED, DRAFT, PUBLISHED, SCHEDULED, Article


def publish(article: Article, now: datetime) -> str | None:
    if article.status == PUBLISHED:
        return "已经发表"
    if article.status == CLEARED:
        return "已清空的文章请用“恢复”"
    if not article.title:
        return "没有标题"
    if article.status == SCHEDULED:
        # Published now instead of at its scheduled time.
        article.published_at = now
        article.scheduled_for = None
    elif article.published_at is None:
        article.published_at = now
    article.status = PUBLISHED
    return None


def unpublish(article: Article, now: datetime) -> str | None:
    if article.status == DRAFT:
        return "本来就是草稿"
    if article.status == SCHEDULED:
        return "定时发表的文章尚未发表"
    if article.status == CLEARED:
        return "已清空的文章不能撤回"
    article.status = DRAFT
    return None


def clear(article: Article, now: datetime) -> str | None:
    """The row stays; its URL answers 410 and lists show 标题和内容已经清空 in its place."""
    if article.status == DRAFT:
        return "草稿不能清空"
    if article.status == SCHEDULED:
        return "定时发表的文章不能清空"
    if article.status == CLEARED:
        return "已经清空"
    article.status = CLEARED
    article.cleared_at = now
    return None


def restore(article: Article, now: datetime) -> str | None:
    """Undo a clear: published again under its old URL and date."""
    if article.status != CLEARED:
        return "没有被清空"
    if not article.title:
        return "导入时就只有清空标记，没有可恢复的内容"
    article.status = PUBLISHED
    article.cleared_at = None
    return None


RULES: dict[str, Callable[[Article, datetime], str | None]] = {
    "publish": publish,
    "unpublish": unpublish,
    "clear": clear,
    "restore": restore,
}
