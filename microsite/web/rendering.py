"""Template helpers: filters for Chinese dates and masking, site context, versioned assets."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Flask, current_app, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from .. import text
from ..content.site import DEFAULTS, masked_words, site_settings
from ..extensions import db
from ..sanitize import balanced_html

YEAR = 365 * 24 * 3600


@cache
def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_url(filename: str) -> str:
    """A static file's URL carrying its content hash, so it can be cached for a year."""
    digest = _file_digest(str(Path(current_app.static_folder) / filename))
    return url_for("static", filename=filename, v=digest)


def mask_filter(value: str | None) -> str:
    return text.mask(value, masked_words())


def mask_html_filter(value: str | None) -> Markup:
    # Bodies are sanitized when saved; balancing them again keeps anything stored another way
    # inside its container (and so inside hx-disable).
    return Markup(text.mask_html(balanced_html(value or ""), masked_words()))


def render_fragment_or_page(fragment: str, page: str, **context):
    """The fragment for htmx requests, the full page otherwise; caches must keep them apart."""
    template = fragment if request.htmx and not request.htmx.history_restore_request else page
    response = current_app.make_response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response


def _static_max_age(filename: str | None) -> int | None:
    """A year for URLs carrying a content hash (they change with the file); else revalidate."""
    return YEAR if request.args.get("v") else None


def init_app(app: Flask) -> None:
    app.get_send_file_max_age = _static_max_age
    app.jinja_env.filters.update(
        cn_date=text.cn_date,
        stamp=text.stamp,
        w3c_time=text.w3c_time,
        mask=mask_filter,
        mask_html=mask_html_filter,
        excerpt=text.excerpt,
    )
    app.jinja_env.globals.update(asset_url=asset_url)

    @app.context_processor
    def site_context() -> dict:
        try:
            return {"site": site_settings()}
        except SQLAlchemyError:
            # An error page must render even when the database is what failed.
            db.session.rollback()
            return {"site": dict(DEFAULTS)}
