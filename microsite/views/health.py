"""/healthz: whether the database answers, the search index can be read and the worker beats.

Everyone gets the status (a load balancer needs nothing more); the counts, generation, sync
state and the worker's heartbeat are details for staff and the host's own checks
(`may_see_details`).
"""

from __future__ import annotations

from ipaddress import ip_address

from flask import Blueprint, current_app, request
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from .. import queue, search
from ..content.models import Article
from ..extensions import db

bp = Blueprint("health", __name__)


def _database() -> dict:
    try:
        live = db.session.scalar(select(func.count(Article.id)).where(Article.is_live))
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
    body = {"status": overall}
    if may_see_details():
        body |= {"database": database, "search": index, "worker": worker}
    return body, code, {"Cache-Control": "no-store"}


# A proxy in front names the real client in one of these; a request carrying any of them is
# not trusted as local, whatever its connection's address.
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def may_see_details() -> bool:
    """Index and database details are for signed-in staff and for the host itself.

    "The host itself" is a loopback connection that came through no proxy: behind nginx every
    connection comes from 127.0.0.1, but nginx adds X-Forwarded-For (docs/deploy.md), and with
    ProxyFix remote_addr is the client's own address anyway.
    """
    if current_user.is_authenticated:
        return True
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    try:
        return ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
