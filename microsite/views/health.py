"""/healthz: whether the database answers, the search index can be read and the worker beats."""

from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from .. import queue, search
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


def _worker() -> dict:
    try:
        return queue.worker_status()
    except Exception:  # the queue's storage is away (Redis down): the worker cannot be seen
        current_app.logger.exception("health check: job queue unavailable")
        return {"status": "stale", "last_seen": None}


@bp.get("/healthz")
def healthz():
    """200 while the database answers (search down is "degraded"), 503 when it does not."""
    database, index, worker = _database(), search.status(), _worker()
    if database["status"] != "ok":
        overall, code = "error", 503
    elif index["status"] != "ok" or worker["status"] not in ("ok", queue.IMMEDIATE):
        # The site still serves articles without search or a worker (nothing new gets
        # published or indexed meanwhile): keep the web worker in rotation.
        overall, code = "degraded", 200
    else:
        overall, code = "ok", 200
    if index["status"] == "ok" and "published" in database:
        index["in_sync"] = index["documents"] == database["published"]
    body = {"status": overall, "database": database, "search": index, "worker": worker}
    return body, code, {"Cache-Control": "no-store"}
