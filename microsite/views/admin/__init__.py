"""The editorial desk: every /admin URL, all of them behind sign-in and a role check."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request
from flask_login import current_user

from ...accounts.auth import ADMIN, ADMIN_ONLY_MESSAGE, EDITOR, is_editor_allowed
from ...extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")
# The only admin URL a signed-out visitor may open.
OPEN_ENDPOINTS = frozenset({"admin.login"})


def editor_may_open(endpoint: str | None) -> bool:
    """Whether an editor may open this admin endpoint (admins may open every one): only views
    marked `@editor_allowed` (accounts/auth.py), so a view added later is admins-only until
    its author decides otherwise."""
    return is_editor_allowed(current_app.view_functions.get(endpoint or ""))


@bp.before_request
def require_sign_in():
    """Every admin URL but the login form needs a signed-in user with a role that may use it."""
    # One guard for the whole blueprint, so a route added later cannot forget it.
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role == ADMIN:
        return None
    if current_user.role == EDITOR and editor_may_open(request.endpoint):
        return None
    abort(403, ADMIN_ONLY_MESSAGE)


@bp.app_template_global()
def may_open(endpoint: str) -> bool:
    """For templates: whether the signed-in user may open this admin endpoint (nav links)."""
    if not current_user.is_authenticated:
        return False
    return current_user.role == ADMIN or (current_user.role == EDITOR and editor_may_open(endpoint))


@bp.after_request
def no_store(response):
    """Admin responses are never cached."""
    # Admin pages carry drafts and CSRF tokens: no browser or proxy may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


# The route modules register their views on `bp`.
from . import account, articles, bulk, desk, images, reindex, revisions, site, users  # noqa: E402, F401
