"""Site-wide settings and masked words, read once per request."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context
from sqlalchemy import select

from ..extensions import db
from .models import MaskedWord, Setting

DEFAULTS: dict[str, Any] = {
    "site_name": "人力资讯网",
    "hotline": "",
    "disclaimer": "本文章内容来源于网络公开内容,仅供参考!不对文章内容时效、真实性负责",
    "footer_links": [],
    "keyword_links": [],
    "icp": "",
}


def _load_settings() -> dict[str, Any]:
    stored = {row.key: row.data for row in db.session.scalars(select(Setting))}
    return {key: stored.get(key, default) for key, default in DEFAULTS.items()}


def site_settings() -> dict[str, Any]:
    """Every setting, defaults filled in; cached for the current request."""
    if not has_request_context():
        return _load_settings()
    if "site_settings" not in g:
        g.site_settings = _load_settings()
    return g.site_settings


def save_settings(**values: Any) -> None:
    """Stage new values for known settings in the session (the caller commits)."""
    for key, value in values.items():
        if key not in DEFAULTS:
            raise KeyError(f"unknown setting {key!r}")
        row = db.session.get(Setting, key) or Setting(key=key)
        row.data = value
        db.session.add(row)
    if has_request_context():
        g.pop("site_settings", None)


def masked_words() -> tuple[str, ...]:
    """The masked words, as a hashable tuple; cached for the current request."""
    if has_request_context() and "masked_words" in g:
        return g.masked_words
    words = tuple(sorted(db.session.scalars(select(MaskedWord.word))))
    if has_request_context():
        g.masked_words = words
    return words
