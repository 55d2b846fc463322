"""/healthz: whether the database answers and the search index can be read, as JSON."""

from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from .. import search
from ..extensions import db
from ..models import PUBLISHED, Article

bp = Blueprint("health", __name__)


def _database() -> dict:
    try:
        live = db.session.scalar(
            select(func.count(Article.id)).where(
                Article.status == PUBLISHED, Article.published_at.is_not(None)
            )
        )
        return {"status": "ok", "published": live}
    except SQLAlchemyError:
        current_app.logger.exception("health check: database unavailable")
        db.session.rollback()
        return {"status": "error"}


@bp.get("/healthz")
def healthz():
    """200 while the database answers (search down is "degraded"), 503 when it does not."""
    database, index = _database(), search.status()
    if database["status"] != "ok":
        overall, code = "error", 503
    elif index["status"] != "ok":
        # The site still serves articles without search: keep the worker in rotation.
        overall, code = "degraded", 200
    else:
        overall, code = "ok", 200
    if index["status"] == "ok" and "published" in database:
        index["in_sync"] = index["documents"] == database["published"]
    body = {"status": overall, "database": database, "search": index}
    return body, code, {"Cache-Control": "no-store"}
