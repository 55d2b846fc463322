"""User management, for admins only: list, create, change role, reset password, disable.

No view here is marked `editor_allowed`, so the blueprint refuses editors every one of them.
An admin can neither demote nor disable themselves, and the last active admin always stays.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ...accounts import auth, user_sessions
from ...accounts.auth import ADMIN
from ...accounts.user_forms import ROLE_LABELS, NewUserForm, ResetPasswordForm, RoleForm
from ...accounts.usernames import lookalike_of
from ...content.models import User
from ...extensions import db
from ...text import local_now
from . import bp

TAKEN = "这个用户名已经有人用了。"


def _get(user_id: int) -> User:
    return db.session.get(User, user_id) or abort(404, "没有这个用户。")


def _active_admins() -> int:
    query = select(func.count(User.id)).where(User.role == ADMIN, User.disabled_at.is_(None))
    return db.session.scalar(query) or 0


def _refusal(user: User, doing: str) -> str | None:
    """Why `doing` (降级, 停用) may not happen to `user`, or None."""
    if user.id == current_user.id:
        return f"不能{doing}自己的账户。"
    if user.role == ADMIN and user.is_active and _active_admins() <= 1:
        return f"{user.byline} 是最后一位启用中的管理员，不能{doing}。"
    return None


def _commit_keeping_an_admin(user: User, doing: str):
    """Commit unless the change left no active admin (a concurrent demotion, say)."""
    db.session.flush()
    if _active_admins() < 1:
        db.session.rollback()
        flash(f"不能{doing} {user.byline}：系统至少需要一位启用中的管理员。", "warning")
        return False
    db.session.commit()
    return True


def _name_refusal(username: str) -> str | None:
    """Why this new username may not be used: taken, or a look-alike of one that is."""
    taken = list(db.session.scalars(select(User.username)))
    if any(name.casefold() == username.casefold() for name in taken):
        return TAKEN
    lookalike = lookalike_of(username, taken)
    if lookalike is not None:
        return f"这个用户名和已有的用户名“{lookalike}”看起来太像，容易被认错，请换一个。"
    return None


def _back():
    return redirect(url_for("admin.users"), 303)


@bp.get("/users")
def users():
    """Every account: username, display name, role, created, disabled."""
    people = db.session.scalars(select(User).order_by(User.id)).all()
    return render_template("admin/users.html", users=people, roles=ROLE_LABELS)


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    """Create an account with an initial password; the user changes it at /admin/password."""
    form = NewUserForm()
    if form.validate_on_submit():
        refusal = _name_refusal(form.username.data)
        if refusal:
            form.username.errors.append(refusal)
        else:
            user = User(
                username=form.username.data,
                display_name=form.display_name.data,
                role=form.role.data,
            )
            user.set_password(form.password.data)
            db.session.add(user)
            try:
                db.session.commit()
            except IntegrityError:  # created by someone else a moment ago
                db.session.rollback()
                form.username.errors.append(TAKEN)
            else:
                flash(f"已创建用户 {user.byline}（{ROLE_LABELS[user.role]}）。")
                return _back()
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_new.html", form=form, roles=ROLE_LABELS), status


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int):
    """Make a user an admin or an editor; it takes effect at their next request."""
    user = _get(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400, "未知的角色。")
    if form.role.data == user.role:
        return _back()
    if form.role.data != ADMIN:
        refusal = _refusal(user, "降级")
        if refusal:
            flash(refusal, "warning")
            return _back()
    user.role = form.role.data
    if _commit_keeping_an_admin(user, "降级"):
        flash(f"{user.byline} 现在是{ROLE_LABELS[user.role]}。")
    return _back()


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
def reset_password(user_id: int):
    """Set a new password for a user; every open session of theirs ends."""
    user = _get(user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        user.set_password(form.password.data)
        db.session.commit()
        auth.password_changed(user)  # for oneself, this session stays; the others end
        flash(f"已为 {user.byline} 设置新密码，其已登录的会话全部失效。")
        return _back()
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_password.html", form=form, user=user), status


@bp.post("/users/<int:user_id>/disable")
def disable_user(user_id: int):
    """Disable an account: no more sign-ins, and open sessions end at their next request."""
    user = _get(user_id)
    if not user.is_active:
        return _back()
    refusal = _refusal(user, "停用")
    if refusal:
        flash(refusal, "warning")
        return _back()
    user.disabled_at = local_now()
    if _commit_keeping_an_admin(user, "停用"):
        # Gone for good: enabling the account later revives none of these cookies.
        user_sessions.end_all(user.id)
        flash(f"已停用 {user.byline}。其署名仍保留在文章上。")
    return _back()


@bp.post("/users/<int:user_id>/enable")
def enable_user(user_id: int):
    """Enable a disabled account again (with the password it had)."""
    user = _get(user_id)
    if user.is_active:
        return _back()
    user.disabled_at = None
    db.session.commit()
    flash(f"已重新启用 {user.byline}。")
    return _back()
