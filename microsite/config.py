"""Configuration: embedded defaults, overridden by environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .text import system_clock

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the instance folder."""
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two workers booting at once must agree on one key.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return key_file.read_text().strip()


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str) -> list[str]:
    """A list from a variable of comma- or space-separated words."""
    return os.environ.get(name, "").replace(",", " ").split()


def load_config(instance_path: Path, with_secret: bool = True) -> dict:
    """Build the configuration mapping for create_app (with_secret=False: the caller brings one)."""
    default_db = f"sqlite:///{instance_path / 'microsite.sqlite3'}"
    return {
        "SECRET_KEY": _secret_key(instance_path) if with_secret else None,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", default_db),
        "SEARCH_INDEX_DIR": os.environ.get(
            "MICROSITE_SEARCH_INDEX_DIR", str(PROJECT_ROOT / "search_index")
        ),
        # "whoosh" or "postgres"; empty: postgres on a PostgreSQL database, whoosh otherwise.
        "SEARCH_BACKEND": os.environ.get("MICROSITE_SEARCH_BACKEND", ""),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # How often the worker (`flask worker`) applies the search change log to the Whoosh
        # index; web workers only write the log.
        "INDEX_FOLLOW_SECONDS": float(os.environ.get("MICROSITE_INDEX_FOLLOW_SECONDS") or 1),
        # The job queue (microsite.queue): empty is a SQLite file in the instance folder (one
        # host); redis://… shares it between hosts; "immediate" runs each job as it is
        # enqueued (the default under TESTING).
        "JOBS_URL": os.environ.get("MICROSITE_JOBS_URL", ""),
        # The site's origin (https://news.example.cn): every absolute URL is built from it, and
        # other Host headers are refused (microsite.web.origin). Unset: the first host asked for.
        "SITE_URL": os.environ.get("MICROSITE_SITE_URL") or None,
        # More host names accepted besides SITE_URL's (they still get SITE_URL's links).
        "EXTRA_TRUSTED_HOSTS": _env_list("MICROSITE_TRUSTED_HOSTS"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_flag("SESSION_COOKIE_SECURE"),
        # Server-side sign-in sessions (accounts/user_sessions.py): a session ends after this
        # long without a request, and this long after sign-in whatever happens.
        "SESSION_IDLE_MINUTES": float(os.environ.get("MICROSITE_SESSION_IDLE_MINUTES", 120)),
        "SESSION_MAX_HOURS": float(os.environ.get("MICROSITE_SESSION_MAX_HOURS", 7 * 24)),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # Articles are text: 2 MiB is far above any real form and stops 10 MB floods early.
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)),
        "WTF_CSRF_TIME_LIMIT": None,
        # Reader pages rendered once per content change, shared by a host's workers on disk
        # (microsite.web.page_cache); an empty value turns the cache off.
        "PAGE_CACHE_DIR": os.environ.get("MICROSITE_PAGE_CACHE_DIR", str(instance_path / "cache")),
        "PAGE_CACHE_MAX_ENTRIES": int(os.environ.get("MICROSITE_PAGE_CACHE_MAX_ENTRIES", 20000)),
        "RELATED_PAGE_SIZE": 10,
        "RELATED_MAX": 100,
        "LIST_PAGE_SIZE": 20,
        "REVISIONS_KEEP": int(os.environ.get("MICROSITE_REVISIONS_KEEP", 0)),  # 0: keep all
        # Uploaded pictures (microsite.content.images); several hosts need one shared directory.
        "UPLOAD_DIR": os.environ.get("MICROSITE_UPLOAD_DIR", str(instance_path / "uploads")),
        "UPLOAD_MAX_BYTES": int(os.environ.get("MICROSITE_UPLOAD_MAX_BYTES", 5 * 1024 * 1024)),
        # `flask prune-uploads` removes pictures no article uses once they are this old.
        "UPLOAD_PRUNE_DAYS": int(os.environ.get("MICROSITE_UPLOAD_PRUNE_DAYS", 30)),
        # The writing desk (microsite.content.desk): how often the editor autosaves unsaved text and
        # tells the server it still has the article open.
        "AUTOSAVE_SECONDS": int(os.environ.get("MICROSITE_AUTOSAVE_SECONDS", 20)),
        "PRESENCE_SECONDS": int(os.environ.get("MICROSITE_PRESENCE_SECONDS", 30)),
        # What time it is: a callable returning aware UTC now (microsite.text.utc_now reads it).
        # Not from the environment: tests give an app a clock they can move.
        "CLOCK": system_clock,
    }
