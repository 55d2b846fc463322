"""Signing in and out, changing one's password, and one's open sessions."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ...accounts import auth, throttle, user_sessions
from ...extensions import db
from ...forms import LoginForm, PasswordForm
from . import bp

WRONG_CREDENTIALS = "用户名或密码错误。"


def _after_sign_in(target: str | None) -> str:
    return auth.safe_next(target) or url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@auth.editor_allowed
def login():
    """The sign-in form; one generic message for any wrong credentials."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_after_sign_in(request.args.get("next")))
    form = LoginForm(next=request.args.get("next", ""))
    error = None
    # A CSRF error or an empty field checks no password, so it costs nothing.
    if form.validate_on_submit():
        ticket = throttle.check(form.username.data)
        user = auth.authenticate(form.username.data, form.password.data)
        throttle.settle(ticket, ok=user is not None)
        if user is not None:
            auth.sign_in(user)
            return redirect(_after_sign_in(form.next.data))
        error = WRONG_CREDENTIALS
    status = 200 if request.method == "GET" else 422
    return render_template("admin/login.html", form=form, error=error), status


@bp.post("/logout")
@auth.editor_allowed
def logout():
    """Sign out (a POST with CSRF, so no link or image can sign anyone out)."""
    auth.sign_out()
    flash("您已安全退出。")
    return redirect(url_for("admin.login"))


@bp.route("/password", methods=["GET", "POST"])
@auth.editor_allowed
def password():
    """Change one's own password; every other session of this user ends. Wrong current
    passwords are throttled like sign-ins (they count against the same username)."""
    form = PasswordForm()
    if form.validate_on_submit():
        ticket = throttle.check(current_user.username, what="密码校验失败")
        right = current_user.check_password(form.current_password.data)
        throttle.settle(ticket, ok=right)
        if right:
            current_user.set_password(form.new_password.data)
            db.session.commit()
            auth.password_changed(current_user)
            flash("密码已修改，其他设备上的登录已失效。")
            return redirect(url_for("admin.dashboard"))
        form.current_password.errors.append("当前密码不正确。")
    status = 200 if request.method == "GET" else 422
    return render_template("admin/password.html", form=form), status


@bp.get("/account/sessions")
@auth.editor_allowed
def sessions():
    """Where this user is signed in: device, address, since, last seen; 本机 marks this one."""
    return render_template(
        "admin/sessions.html",
        sessions=user_sessions.open_sessions(current_user.id),
        current_id=user_sessions.current_id(),
        device=user_sessions.device,
    )


@bp.post("/account/sessions/<int:session_id>/end")
@auth.editor_allowed
def end_session(session_id: int):
    """End one of one's own sessions (ending this one signs out)."""
    if session_id == user_sessions.current_id():
        auth.sign_out()
        flash("已结束本机的登录。")
        return redirect(url_for("admin.login"), 303)
    if not user_sessions.end_one(current_user.id, session_id):
        abort(404, "没有这个会话，它可能已经结束。")
    flash("已结束该会话。")
    return redirect(url_for("admin.sessions"), 303)


@bp.post("/account/sessions/end-others")
@auth.editor_allowed
def end_other_sessions():
    """Sign out everywhere but here."""
    ended = user_sessions.end_all(current_user.id, keep_current=True)
    flash(f"已结束其他 {ended} 个会话。" if ended else "没有其他会话。")
    return redirect(url_for("admin.sessions"), 303)
