"""The whole site as one file: export it, and import it into an empty site.

The format (docs/export-format.md) is a zip holding `manifest.json`, one JSON-lines file per
table under `tables/` and the uploaded pictures under `media/`. Rows keep their ids, so an
imported site answers the same URLs with the same pages. It is written from the tables
themselves, column by column, so a column added later is carried without touching this module;
an archive from an older version imports with the newer columns' defaults.

What is left out, and why: password hashes (unless `with_secrets`: an archive is often handed
around, a hash is a secret), sign-in sessions, throttles, view marks, bulk-action undo records,
autosaves and presence, related-headline lists and the search index (all state of a running
site, rebuilt or started afresh), and the page cache's marker rows.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Date, DateTime, Table, delete, func, insert, select, text

from ...extensions import db
from .. import images
from ..models import Setting

FORMAT = "microsite-site-export"
VERSION = 1
# Parents before children, so foreign keys hold at every insert.
TABLES = (
    "users",
    "categories",
    "tags",
    "articles",
    "article_tags",
    "related_links",
    "revisions",
    "pages",
    "settings",
    "masked_words",
    "images",
    "imported_files",
    "redirects",
)
PAGE_CACHE_MARK = "_site_revision"
# The page cache's revisions (microsite.web.page_cache.REVISIONS): no content of a site.
CACHE_MARKS = (PAGE_CACHE_MARK, "_articles_revision")


class ArchiveError(ValueError):
    """An archive we cannot import, or a site we must not import into."""


def _table(name: str) -> Table:
    return db.metadata.tables[name]


def _plain(value):
    return value.isoformat() if isinstance(value, datetime | date) else value


def _rows(table: Table, with_secrets: bool) -> Iterator[dict]:
    query = select(table)
    if table.primary_key.columns:
        query = query.order_by(*table.primary_key.columns)
    for row in db.session.execute(query).mappings():
        record = {key: _plain(value) for key, value in row.items()}
        if table.name == "users" and not with_secrets:
            record["password_hash"] = ""
        if table.name == "settings" and record["key"] == PAGE_CACHE_MARK:
            continue
        yield record


def export_site(out: Path, with_secrets: bool = False) -> dict[str, int]:
    """Write the site to `out` (a zip, written whole or not at all); the row counts."""
    counts: dict[str, int] = {}
    partial = out.with_name(f".{out.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in TABLES:
                lines = [
                    json.dumps(row, ensure_ascii=False) for row in _rows(_table(name), with_secrets)
                ]
                counts[name] = len(lines)
                archive.writestr(f"tables/{name}.jsonl", "".join(f"{line}\n" for line in lines))
            for (file_name,) in db.session.execute(select(_table("images").c.name)):
                path = images.upload_dir() / file_name
                if path.is_file():
                    archive.write(path, f"media/{file_name}", compress_type=zipfile.ZIP_STORED)
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                "with_secrets": with_secrets,
                "tables": counts,
            }
            archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return counts


def _manifest(archive: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(archive.read("manifest.json"))
    except (KeyError, ValueError):
        raise ArchiveError("不是本站的导出文件：缺少或无法读取 manifest.json") from None
    if manifest.get("format") != FORMAT:
        raise ArchiveError("不是本站的导出文件（format 不符）")
    if not isinstance(manifest.get("version"), int) or manifest["version"] > VERSION:
        raise ArchiveError(f"导出格式版本 {manifest.get('version')} 比本程序新，请先升级程序")
    return manifest


def _typed(table: Table, record: dict) -> dict:
    row = {}
    for key, value in record.items():
        if key not in table.columns:
            continue  # a column this version no longer has
        column_type = table.columns[key].type
        if value is not None and isinstance(column_type, DateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(column_type, Date):
            value = date.fromisoformat(value)
        row[key] = value
    return row


def _site_is_empty() -> bool:
    for name in TABLES:
        table = _table(name)
        query = select(func.count()).select_from(table)
        if name == "settings":
            query = query.where(table.c.key.not_in(CACHE_MARKS))
        if db.session.scalar(query):
            return False
    return True


def import_site(path: Path) -> dict[str, int]:
    """Load an archive into an empty site in one transaction; the row counts."""
    if not zipfile.is_zipfile(path):
        raise ArchiveError("不是 zip 文件")
    if not _site_is_empty():
        raise ArchiveError(
            "只能导入到空站点：这个数据库里已有内容（先用 init-db 建一个新的数据库）"
        )
    written: list[Path] = []
    counts: dict[str, int] = {}
    with zipfile.ZipFile(path) as archive:
        _manifest(archive)
        try:
            for name in TABLES:
                counts[name] = _load_table(archive, _table(name))
            for info in archive.infolist():
                written.extend(_restore_media(archive, info))
            # Pages cached for whatever this database held before must not match.
            db.session.execute(delete(Setting).where(Setting.key == PAGE_CACHE_MARK))
            db.session.execute(
                insert(Setting).values(key=PAGE_CACHE_MARK, value=json.dumps(uuid.uuid4().hex))
            )
            _advance_sequences()
            db.session.commit()
        except BaseException:
            db.session.rollback()
            for file in written:
                file.unlink(missing_ok=True)
            raise
    return counts


def _load_table(archive: zipfile.ZipFile, table: Table) -> int:
    try:
        data = archive.read(f"tables/{table.name}.jsonl").decode("utf-8")
    except KeyError:
        return 0  # an archive from before this table existed
    rows = []
    for number, line in enumerate(data.splitlines(), 1):
        if line.strip():
            try:
                rows.append(_typed(table, json.loads(line)))
            except ValueError as exc:
                raise ArchiveError(
                    f"tables/{table.name}.jsonl 第 {number} 行无法读取：{exc}"
                ) from None
    if rows:
        db.session.execute(insert(table), rows)
    return len(rows)


def _restore_media(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> list[Path]:
    name = info.filename.removeprefix("media/")
    if not info.filename.startswith("media/") or not images.NAME.fullmatch(name):
        return []  # only our own random picture names: nothing else is written anywhere
    target = images.upload_dir() / name
    if target.exists():
        return []
    return [images.write_file(name, archive.read(info))]


def _advance_sequences() -> None:
    """PostgreSQL hands out ids from sequences that explicit ids did not move."""
    if db.engine.dialect.name != "postgresql":
        return
    for name in TABLES:
        table = _table(name)
        if "id" in table.columns and table.columns["id"].primary_key:
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
                )
            )
