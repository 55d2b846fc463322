"""The dashboard and the article desk: write, edit, preview, clear, restore."""

from __future__ import annotations

import json
import re

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import defer
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import BadRequest

from ... import admin_jobs, search
from ...accounts.auth import ADMIN, editor_allowed
from ...content import desk, lifecycle, listings, revisions, taxonomy
from ...content.models import (
    DRAFT,
    PUBLISHED,
    SCHEDULED,
    STATUSES,
    Article,
    Category,
    IndexChange,
)
from ...content.scheduling import when_text
from ...content.site import site_settings
from ...extensions import db
from ...forms import ArticleForm, split_keywords
from ...sanitize import clean_html, strips_markup
from ...text import local_now
from ...web.rendering import render_fragment_or_page
from . import bp

STATUS_LABELS = {
    "draft": "草稿",
    "scheduled": "定时发表",
    "published": "已发表",
    "cleared": "已清空",
}
# Newest written first, by id: drafts have no publish date, so the public order cannot page them.
NEWEST = listings.Ordering(
    Article.id, lambda a: str(a.id), int, re.compile(r"^(\d{1,18})-(\d{1,18})$")
)


def _filters() -> dict:
    """The dashboard's filters from the query string; unknown values are a 400."""
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest("未知的状态。")
    category = request.args.get("category") or None
    if category is not None and not (category.isascii() and category.isdigit()):
        raise BadRequest("栏目参数无效。")
    q = (request.args.get("q") or "").strip()[:100]
    return {"status": status, "category": int(category) if category else None, "q": q}


def _dashboard_query(status: str | None, category: int | None, q: str):
    query = select(Article).options(defer(Article.body)).order_by(Article.id.desc())
    if status:
        query = query.where(Article.status == status)
    if category:
        query = query.where(Article.category_id == category)
    if q:
        query = query.where(Article.title.contains(q, autoescape=True))
    return query


def _dashboard_page(filters: dict) -> dict:
    """One page of the dashboard list, numbered like the public lists, and the next URL."""
    page = listings.page_number(request.args.get("page"))
    size = current_app.config["LIST_PAGE_SIZE"]
    query = _dashboard_query(**filters)
    scope = json.dumps(["admin.dashboard", filters], ensure_ascii=False, sort_keys=True)
    result = listings.keyset_page(query, page, request.args.get("after"), size, NEWEST, None, scope)
    next_url = None
    if result.has_next:
        params = {key: value for key, value in filters.items() if value}
        next_url = url_for("admin.dashboard", page=page + 1, after=result.next_cursor, **params)
    return {"headlines": result, "next_url": next_url}


def _status_counts() -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    query = select(Article.status, func.count()).group_by(Article.status)
    counts.update({status: total for status, total in db.session.execute(query)})
    return counts


@bp.get("/")
@editor_allowed
def dashboard():
    """Every article, filtered by status, category and title; counts per status."""
    filters = _filters()
    listing = _dashboard_page(filters)
    categories = db.session.scalars(select(Category).order_by(Category.name)).all()
    return render_fragment_or_page(
        "admin/_rows.html",
        "admin/dashboard.html",
        filters=filters,
        counts=_status_counts(),
        categories=categories,
        labels=STATUS_LABELS,
        job=_reindex_state(),
        **listing,
    )


def _reindex_state():
    """The reindex panel's state, for admins only (editors cannot start one)."""
    if current_user.role != ADMIN:
        return None
    return admin_jobs.read_state(current_app._get_current_object())


def _get(article_id: int) -> Article:
    return db.session.get(Article, article_id) or abort(404, "没有这篇文章。")


def _form_data(article: Article) -> dict:
    return {
        "title": article.title,
        "body": article.body,
        "category": article.category.name if article.category else "",
        "tags": " ".join(tag.name for tag in article.tags),
        "source_note": article.source_note,
        # A scheduled article is one to publish at its time: 发表 with that time filled in.
        "status": PUBLISHED if article.status in (PUBLISHED, SCHEDULED) else DRAFT,
        "published_at": article.scheduled_for or article.published_at,
    }


def _apply(form: ArticleForm, article: Article) -> None:
    # No flush half-way: the versioned UPDATE must happen once, at commit.
    with db.session.no_autoflush:
        _assign(form, article)


def _assign(form: ArticleForm, article: Article) -> None:
    article.title = form.title.data
    article.body = clean_html(form.body.data)
    article.category = taxonomy.category(form.category.data)
    article.tags = taxonomy.tags(split_keywords(form.tags.data))
    article.source_note = form.source_note.data or ""
    _assign_status(article, form.status.data, form.published_at.data)


def _assign_status(article: Article, status: str, when) -> None:
    """发表 with a time to come schedules the article (published_at stays empty until
    then, which keeps it out of every public list); a past or empty time publishes it now;
    草稿 keeps the time typed and drops any schedule."""
    article.scheduled_for = None
    if status == PUBLISHED and when is not None and when > local_now():
        article.status, article.published_at, article.scheduled_for = SCHEDULED, None, when
    elif status == PUBLISHED:
        article.status, article.published_at = PUBLISHED, when or local_now()
    else:
        article.status, article.published_at = DRAFT, when


def _editor(form: ArticleForm, article: Article | None, status: int = 200, **context):
    """The article form with its errors, the admin's text and, if asked, a preview."""
    if form.preview.data and not form.errors:
        context["preview"] = clean_html(form.body.data)
    version = context.pop("version", article.version if article else None)
    categories = db.session.scalars(select(Category).order_by(Category.name)).all()
    context.update(form=form, article=article, version=version, categories=categories)
    context["labels"] = STATUS_LABELS
    context.setdefault("autosave", desk.autosave_for(article, current_user))
    if article is not None:
        desk.here(article, current_user)
        context["others"] = desk.others_editing(article, current_user)
    return render_template("admin/edit.html", **context), status


def _index_behind(article: Article) -> bool:
    """True when this host's search index exists but has not taken this article's latest
    change (its write failed: disk full, index not writable). The article itself is saved."""
    where = search.index.live_dir(search.state().home)
    if where is None:
        return False  # no index yet: search says so itself, and `flask reindex` builds it
    change = db.session.scalar(
        select(func.max(IndexChange.id)).where(IndexChange.article_id == article.id)
    )
    return change is not None and search.index.read_applied(where) < change


def _saved(form: ArticleForm, article: Article):
    if _index_behind(article):
        flash(
            "文章已保存，但搜索索引暂时无法更新（磁盘已满或索引目录不可写），搜索结果里暂时还是旧内容。"
            "索引恢复可写后，下一次保存或搜索会自动补上；也可以在后台重建索引。",
            "warning",
        )
    if strips_markup(form.body.data):
        flash("正文中不允许的标签或属性已被移除，请检查保存后的正文。", "warning")
    if article.status == SCHEDULED:
        when = when_text(article.scheduled_for)
        flash(f"《{article.title}》已保存（定时发表），将于 {when} 发表，在此之前读者看不到它。")
    else:
        flash(f"《{article.title}》已保存（{STATUS_LABELS[article.status]}）。")
    return redirect(url_for("admin.edit_article", article_id=article.id))


@bp.route("/articles/new", methods=["GET", "POST"])
@editor_allowed
def new_article():
    """Write a new article: a draft to preview, or published at once."""
    form = ArticleForm(data={"source_note": site_settings()["disclaimer"]})
    if request.method == "GET" and "autosave" in request.args:
        return _restored_new(form)
    if not form.validate_on_submit():
        return _editor(form, None, 422 if request.method == "POST" else 200)
    if form.preview.data:
        return _editor(form, None)
    desk.drop_autosave(None, current_user)
    article = Article(author=current_user)
    _apply(form, article)
    db.session.add(article)
    revisions.record(article, current_user)
    db.session.commit()
    return _saved(form, article)


def _conflict(form: ArticleForm, article: Article):
    """Refuse a stale save: nothing is written and the admin's text stays in the form."""
    if article.is_cleared:
        message = "这篇文章已被清空，未保存您的修改。请先恢复文章，再保存。"
    else:
        message = (
            f"保存被拒绝：在您编辑期间，这篇文章已于 {article.updated_at:%Y-%m-%d %H:%M:%S} "
            "被保存过。您的内容保留在下面，尚未保存。请在新窗口打开最新版本核对；"
            "确认以您的内容为准后，再点一次“保存”。"
        )
    return _editor(form, article, 409, conflict=message, version=article.version)


@bp.route("/articles/<int:article_id>/edit", methods=["GET", "POST"])
@editor_allowed
def edit_article(article_id: int):
    """Edit an article; a save over a newer version is refused, never silently applied."""
    article = _get(article_id)
    form = ArticleForm(data=_form_data(article))
    if request.method == "GET":
        return _editor(form, article) if "autosave" not in request.args else _restored(article)
    # Re-rendered forms keep the version the admin started from, or a stale edit would pass.
    if not form.validate_on_submit():
        return _editor(form, article, 422, version=form.version.data)
    if form.preview.data:
        return _editor(form, article, version=form.version.data)
    if form.version.data != article.version or article.is_cleared:
        return _conflict(form, article)
    # Looked up before the article changes: a query would flush the versioned UPDATE early.
    desk.drop_autosave(article, current_user)
    _apply(form, article)
    revisions.record(article, current_user)
    try:
        db.session.commit()
    except StaleDataError:
        # Someone saved between our read and our write: the versioned UPDATE matched no row.
        db.session.rollback()
        return _conflict(form, _get(article_id))
    return _saved(form, article)


def _restored(article: Article):
    """The form holding this user's autosave, at the version it was typed against: saving it
    goes through the same check, so a newer save by someone else answers 409, text kept."""
    autosave = desk.autosave_for(article, current_user)
    if autosave is None:
        flash("没有可恢复的自动保存内容。", "warning")
        return redirect(url_for("admin.edit_article", article_id=article.id))
    data = {**_form_data(article), "title": autosave.title, "body": autosave.body}
    version = autosave.base_version or article.version
    return _editor(
        ArticleForm(data=data), article, version=version, restored=autosave, autosave=None
    )


def _restored_new(form: ArticleForm):
    """A new article's form holding this user's autosave of an article never saved."""
    autosave = desk.autosave_for(None, current_user)
    if autosave is None:
        flash("没有可恢复的自动保存内容。", "warning")
        return redirect(url_for("admin.new_article"))
    form.title.data, form.body.data = autosave.title, autosave.body
    return _editor(form, None, restored=autosave, autosave=None)


def _apply_rule(rule, article: Article, refused: str) -> None:
    """Apply a lifecycle rule and commit, or answer 409 with the rule's reason."""
    reason = rule(article, local_now())
    if reason:
        abort(409, f"{refused}：{reason}。")
    _commit_or_conflict()


def _commit_or_conflict() -> None:
    """Commit a status change, or answer 409 if someone saved the article a moment earlier."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        abort(409, "这篇文章刚被别人修改过，请刷新页面后再试。")


def _row_or_back(article: Article, message: str):
    """The updated dashboard row for htmx; otherwise back to the dashboard."""
    if request.htmx:
        response = current_app.make_response(
            render_template("admin/_row.html", article=article, labels=STATUS_LABELS)
        )
        response.vary.add("HX-Request")
        return response
    flash(message)
    return redirect(url_for("admin.dashboard"))


@bp.post("/articles/<int:article_id>/clear")
@editor_allowed
def clear_article(article_id: int):
    """Clear a published article: the row stays, its URL answers 410, lists show a placeholder."""
    article = _get(article_id)
    _apply_rule(lifecycle.clear, article, "不能清空这篇文章")
    return _row_or_back(article, f"《{article.title}》已清空。")


@bp.post("/articles/<int:article_id>/restore")
@editor_allowed
def restore_article(article_id: int):
    """Undo a clear: the article is published again under its old URL and date."""
    article = _get(article_id)
    _apply_rule(lifecycle.restore, article, "不能恢复这篇文章")
    return _row_or_back(article, f"《{article.title}》已恢复。")
