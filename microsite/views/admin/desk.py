"""The writing desk's background requests: autosave, its discard, and the presence heartbeat."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import Length, Optional
from wtforms.widgets import HiddenInput

from ...accounts.auth import editor_allowed
from ...content import desk
from ...content.models import Article
from ...extensions import db
from ...text import stamp
from . import bp


class AutosaveForm(FlaskForm):
    """What the article form holds while it is being typed; nothing is required."""

    title = StringField(validators=[Length(max=200)])
    body = TextAreaField(validators=[Length(max=200_000)])
    version = IntegerField(widget=HiddenInput(), validators=[Optional()])


def _article_or_new(article_id: int | None) -> Article | None:
    if article_id is None:
        return None
    return db.session.get(Article, article_id) or abort(404, "没有这篇文章。")


def _edit_url(article: Article | None) -> str:
    if article is None:
        return url_for("admin.new_article")
    return url_for("admin.edit_article", article_id=article.id)


@bp.post("/articles/new/autosave", defaults={"article_id": None})
@bp.post("/articles/<int:article_id>/autosave")
@editor_allowed
def autosave(article_id: int | None):
    """Keep the form's unsaved title and body for this user; the article is not touched."""
    article = _article_or_new(article_id)
    form = AutosaveForm()
    if not form.validate_on_submit():
        return jsonify(error="自动保存失败：内容太长或表单已过期，请手动保存。"), 400
    record = desk.keep_autosave(
        article, current_user, form.title.data or "", form.body.data or "", form.version.data
    )
    return jsonify(
        saved_at=stamp(record.saved_at), message=f"已自动保存（{stamp(record.saved_at)}）"
    )


@bp.post("/articles/new/autosave/discard", defaults={"article_id": None})
@bp.post("/articles/<int:article_id>/autosave/discard")
@editor_allowed
def discard_autosave(article_id: int | None):
    """Throw away this user's autosave and open the form with the saved text."""
    article = _article_or_new(article_id)
    desk.drop_autosave(article, current_user)
    db.session.commit()
    flash("已放弃自动保存的内容。")
    return redirect(_edit_url(article))


@bp.post("/articles/<int:article_id>/presence")
@editor_allowed
def presence(article_id: int):
    """The heartbeat of an open editor: answers who else has this article open."""
    article = _article_or_new(article_id)
    desk.here(article, current_user)
    return render_template(
        "admin/_presence.html", others=desk.others_editing(article, current_user)
    )


@bp.post("/articles/<int:article_id>/presence/leave")
@editor_allowed
def presence_leave(article_id: int):
    """The editor page was closed (a beacon from `pagehide`): stop showing this user at once."""
    desk.left(_article_or_new(article_id), current_user)
    return "", 204
