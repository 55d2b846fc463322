"""Rebuilding the search index from the dashboard, with progress polled by htmx."""

from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for

from ... import admin_jobs
from ...web.rendering import render_fragment_or_page
from . import bp


def _status_page():
    job = admin_jobs.read_state(current_app._get_current_object())
    return render_fragment_or_page("admin/_reindex_status.html", "admin/reindex.html", job=job)


@bp.get("/reindex")
def reindex():
    """The reindex job's progress: a fragment for htmx polling, a full page otherwise."""
    return _status_page()


@bp.post("/reindex")
def start_reindex():
    """Start rebuilding the index in the background; the request returns at once."""
    started = admin_jobs.start(current_app._get_current_object())
    if not started and not request.htmx:
        flash("索引正在重建中，请等待当前任务完成。", "warning")
    if request.htmx:
        return _status_page()
    return redirect(url_for("admin.reindex"))
