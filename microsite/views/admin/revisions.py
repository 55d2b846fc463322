"""Article revisions on the desk: the list on the edit page, one revision with its diff against
the current text, and restoring it (editors and admins alike: it is article work)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from ...accounts.auth import editor_allowed
from ...content import revisions, worddiff
from ...content.models import Article, Revision
from ...extensions import db
from . import bp

# The edit page lists this many of the newest revisions and links to the rest.
EDIT_PAGE_LIMIT = 20


@dataclass(frozen=True)
class Listed:
    revision: Revision
    current: bool


@dataclass(frozen=True)
class Listing:
    items: list[Listed]
    total: int


@bp.app_template_global("article_revisions")
def article_revisions(article: Article, everything: bool = False) -> Listing:
    """An article's revisions, newest first (the newest few unless `everything`), the one
    holding the current text marked."""
    limit = None if everything else EDIT_PAGE_LIMIT
    found = revisions.history(article.id, limit)
    # Only the newest can be the current text (every save records one); a re-import since
    # leaves none current.
    current = bool(found) and revisions.matches(revisions.latest(article.id), article)
    total = len(found) if limit is None or len(found) < limit else revisions.count(article.id)
    return Listing([Listed(rev, current and n == 0) for n, rev in enumerate(found)], total)


def _get(article_id: int, revision_id: int) -> tuple[Article, Revision]:
    article = db.session.get(Article, article_id) or abort(404, "没有这篇文章。")
    revision = db.session.get(Revision, revision_id)
    if revision is None or revision.article_id != article.id:
        abort(404, "这篇文章没有这个版本。")
    return article, revision


def _page(article: Article, revision: Revision, status: int = 200, conflict: str | None = None):
    """The revision, its diff against the current text, and the restore form."""
    old = revisions.Text.of_revision(revision)
    new = revisions.Text.of_article(article)
    diff = {
        "title": worddiff.inline_diff(old.title, new.title),
        "tags": worddiff.tags_diff(old.tags, new.tags),
        "body": worddiff.folded(worddiff.body_diff(old.body, new.body)),
    }
    context = dict(
        article=article,
        revision=revision,
        diff=diff,
        same=old == new,
        conflict=conflict,
    )
    return render_template("admin/revision.html", **context), status


@bp.get("/articles/<int:article_id>/revisions/<int:revision_id>")
@editor_allowed
def revision(article_id: int, revision_id: int):
    """One revision of an article and what differs from the current text."""
    return _page(*_get(article_id, revision_id))


@bp.get("/articles/<int:article_id>/revisions")
@editor_allowed
def revision_history(article_id: int):
    """Every revision of an article (the edit page lists the newest only)."""
    article = db.session.get(Article, article_id) or abort(404, "没有这篇文章。")
    return render_template("admin/revisions.html", article=article, show_all=True)


def _stale(article: Article, revision: Revision):
    db.session.rollback()
    article, revision = _get(article.id, revision.id)
    message = (
        f"恢复被拒绝：在您查看期间，这篇文章已于 {article.updated_at:%Y-%m-%d %H:%M:%S} "
        "被保存过，没有做任何修改。下面的对比已按最新内容更新，请核对后再决定是否恢复。"
    )
    return _page(article, revision, 409, message)


@bp.post("/articles/<int:article_id>/revisions/<int:revision_id>/restore")
@editor_allowed
def restore_revision(article_id: int, revision_id: int):
    """Make a revision's text the current one again, as a new revision."""
    article, revision = _get(article_id, revision_id)
    if article.is_cleared:
        message = "这篇文章已被清空，不能恢复旧版本。请先在文章列表中恢复文章。"
        return _page(article, revision, 409, message)
    if request.form.get("version", "") != str(article.version):
        return _stale(article, revision)
    restored = revisions.restore(article, revision, current_user)
    try:
        db.session.commit()
    except StaleDataError:
        # Saved by someone else between our read and our write: nothing was changed.
        return _stale(article, revision)
    if restored is None:
        flash(f"第 {revision.version} 版与当前内容相同，无需恢复。")
    else:
        flash(f"已恢复第 {revision.version} 版，保存为第 {restored.version} 版。")
    return redirect(url_for("admin.edit_article", article_id=article.id))
