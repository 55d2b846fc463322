"""Backups of a running site, and putting one back.

A backup is a folder: `database.sqlite3` (a consistent snapshot taken with SQLite's online
backup API, so readers and writers go on while it runs and a save is either in it whole or not
at all), `uploads/` (the pictures), `secret_key` (so sessions and links signed before still
hold after a restore) and `manifest.json`. Pictures are copied after the database snapshot:
a picture is written before the row that names it is committed, so every picture the snapshot
names is already on disk.

PostgreSQL has its own tool for this: `pg_dump --format=custom` (see README); `backup` says so
rather than pretend.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy.engine import make_url

from ...extensions import db
from .. import images

FORMAT = "microsite-backup"
DATABASE = "database.sqlite3"
UPLOADS = "uploads"


class BackupError(RuntimeError):
    """A backup that cannot be taken or restored; the message says why and what to do."""


def _sqlite_path() -> Path:
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite" or not url.database:
        raise BackupError(
            "backup 只处理 SQLite 数据库。PostgreSQL 请用 pg_dump --format=custom "
            "备份数据库，并另行复制上传目录（见 README 的“备份”一节）。"
        )
    return Path(url.database)


def take(parent: Path) -> Path:
    """Snapshot the database, pictures and secret key into a new folder under `parent`."""
    source = _sqlite_path()
    folder = parent / f"backup-{datetime.now():%Y%m%d-%H%M%S-%f}"
    partial = parent / f".{folder.name}.partial"
    partial.mkdir(parents=True, mode=0o700)
    try:
        with sqlite3.connect(source) as live, sqlite3.connect(partial / DATABASE) as copy:
            live.backup(copy)
        counts = _counts(partial / DATABASE)
        _copy_uploads(images.upload_dir(), partial / UPLOADS)
        key = Path(current_app.instance_path) / "secret_key"
        if key.is_file():
            shutil.copy2(key, partial / "secret_key")
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "tables": counts,
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder


def _counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        return {
            name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            for name in ("articles", "pages", "images", "users")
        }


def _copy_uploads(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if not source.is_dir():
        return
    for file in source.iterdir():
        if images.NAME.fullmatch(file.name):
            try:
                os.link(file, target / file.name)  # uploads never change in place
            except OSError:
                shutil.copy2(file, target / file.name)


def restore(folder: Path) -> dict[str, int]:
    """Put a backup back into the running site's database and upload folder."""
    manifest_file = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_file.read_text())
    except (OSError, ValueError):
        raise BackupError(f"{folder} 不是备份目录（缺少或无法读取 manifest.json）") from None
    if manifest.get("format") != FORMAT or not (folder / DATABASE).is_file():
        raise BackupError(f"{folder} 不是本站的备份")
    target = _sqlite_path()
    db.session.remove()
    db.engine.dispose()
    # The backup API writes the copy into the live file under SQLite's own locks: other
    # workers see the old database or the restored one, never a mix.
    with sqlite3.connect(folder / DATABASE) as copy, sqlite3.connect(target) as live:
        copy.backup(live)
    _copy_uploads(folder / UPLOADS, images.upload_dir())
    return manifest.get("tables", {})
