"""Uploaded pictures, served to everyone under their random names and cached for a year."""

from __future__ import annotations

from flask import Blueprint, abort, g, send_from_directory
from markupsafe import escape

from ..content import images
from ..extensions import login_manager

bp = Blueprint("media", __name__)
YEAR = 365 * 24 * 60 * 60


@bp.before_request
def as_anonymous():
    """Answer every visitor alike: no session read, no user loaded, nothing private."""
    # The site marks pages seen by a signed-in user private and no-store; a picture is public
    # and never changes under its name, so it must stay cacheable for admins too.
    g._login_user = login_manager.anonymous_user()


@bp.get("/media/<name>")
def file(name: str):
    """One uploaded picture; its name is random and never reused, so it never changes."""
    if not images.NAME.fullmatch(name):
        abort(404)
    extension = name.rsplit(".", 1)[1]
    response = send_from_directory(
        images.upload_dir(),
        name,
        mimetype=images.CONTENT_TYPES[extension],
        max_age=YEAR,
        conditional=True,
        etag=True,
    )
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.app_template_global()
def image_tag(image) -> str:
    """The HTML that puts an uploaded picture into an article body."""
    return (
        f'<img src="/media/{image.name}" alt="{escape(image.alt)}"'
        f' width="{image.width}" height="{image.height}">'
    )
