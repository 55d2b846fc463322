"""Bulk actions from the dashboard (publish, unpublish, clear, restore) and their undo.

Plain form POSTs that redirect back to the dashboard with a summary; the summary carries an
undo button. Editors may use both.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from ...accounts.auth import ADMIN, editor_allowed, safe_next
from ...content import bulk
from ...content.models import BulkAction
from ...extensions import db
from . import bp

# Flash category whose message is the id of a bulk action the summary offers to undo.
UNDO_CATEGORY = "bulk-undo"


def _back():
    """Back to the dashboard view the form was sent from (its filters kept)."""
    dashboard = url_for("admin.dashboard")
    target = safe_next(request.form.get("next"))
    if target is None or urlsplit(target).path != dashboard:
        target = dashboard
    return redirect(target, 303)


@bp.post("/bulk")
@editor_allowed
def bulk_action():
    """Apply one action to the selected articles, all or nothing, and offer to undo it."""
    action = request.form.get("action", "")
    if action not in bulk.ACTIONS:
        abort(400, "未知的批量操作。")
    try:
        ids = bulk.parse_ids(request.form.getlist("ids"))
        if not ids:
            flash("请先勾选要操作的文章。", "warning")
            return _back()
        outcome = bulk.apply(action, ids, current_user)
    except bulk.BulkError as error:
        abort(400, str(error))
    except bulk.Conflict as error:
        abort(409, str(error))
    flash(outcome.summary(), "bulk" if outcome.changed else "warning")
    if outcome.action_id is not None:
        flash(str(outcome.action_id), UNDO_CATEGORY)
    return _back()


@bp.post("/bulk/<int:action_id>/undo")
@editor_allowed
def bulk_undo(action_id: int):
    """Put the articles of one bulk action back as they were, skipping any changed since."""
    record = db.session.get(BulkAction, action_id) or abort(404, "没有这次批量操作。")
    if record.user_id != current_user.id and current_user.role != ADMIN:
        abort(403, "只能撤销自己的批量操作。")
    try:
        outcome = bulk.undo(record)
    except bulk.AlreadyUndone as error:
        abort(409, str(error))
    except bulk.Conflict as error:
        abort(409, str(error))
    flash(outcome.summary(), "bulk" if outcome.changed else "warning")
    return _back()


# The dashboard's action menu (value -> label), for templates rendered by any view.
bp.add_app_template_global(
    {key: label for key, (_verb, label) in bulk.ACTIONS.items()}, "bulk_actions"
)
