"""The editorial desk: every /admin URL, all of them behind sign-in."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user

from ...extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")
# The only admin URL a signed-out visitor may open.
OPEN_ENDPOINTS = frozenset({"admin.login"})


@bp.before_request
def require_sign_in():
    """Every admin URL but the login form needs a signed-in user."""
    # One guard for the whole blueprint, so a route added later cannot forget it.
    if request.endpoint in OPEN_ENDPOINTS or current_user.is_authenticated:
        return None
    return login_manager.unauthorized()


@bp.after_request
def no_store(response):
    """Admin responses are never cached."""
    # Admin pages carry drafts and CSRF tokens: no browser or proxy may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


# The route modules register their views on `bp`.
from . import account, articles, bulk, images, reindex, revisions, site, users  # noqa: E402, F401
