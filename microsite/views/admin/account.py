"""Signing in and out, and changing one's password."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ... import auth
from ...extensions import db, limiter
from ...forms import LoginForm, PasswordForm
from . import bp

WRONG_CREDENTIALS = "用户名或密码错误。"


def _after_sign_in(target: str | None) -> str:
    return auth.safe_next(target) or url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@auth.throttled
def login():
    """The sign-in form; one generic message for any wrong credentials."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_after_sign_in(request.args.get("next")))
    form = LoginForm(next=request.args.get("next", ""))
    error = None
    if form.validate_on_submit():
        user = auth.authenticate(form.username.data, form.password.data)
        if user is not None:
            auth.sign_in(user)
            return redirect(_after_sign_in(form.next.data))
        auth.mark_login_failed()
        error = WRONG_CREDENTIALS
    status = 200 if request.method == "GET" else 422
    return render_template("admin/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    """Sign out (a POST with CSRF, so no link or image can sign anyone out)."""
    auth.sign_out()
    flash("您已安全退出。")
    return redirect(url_for("admin.login"))


@bp.route("/password", methods=["GET", "POST"])
@limiter.limit(
    auth.LOGIN_LIMIT,
    key_func=lambda: f"password:{current_user.get_id()}",
    **auth.throttle_options(),
)
def password():
    """Change one's own password; every other session of this user ends."""
    form = PasswordForm()
    if form.validate_on_submit():
        if current_user.check_password(form.current_password.data):
            current_user.set_password(form.new_password.data)
            db.session.commit()
            auth.refresh_stamp(current_user)
            flash("密码已修改，其他设备上的登录已失效。")
            return redirect(url_for("admin.dashboard"))
        auth.mark_login_failed()
        form.current_password.errors.append("当前密码不正确。")
    status = 200 if request.method == "GET" else 422
    return render_template("admin/password.html", form=form), status
