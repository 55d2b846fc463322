"""flask commands: import-wxr, export-site, import-site, backup, restore."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

from . import archive, backup, wordpress
from .wxr import WxrError, read_export


def _author_map(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise click.BadParameter(f"{pair!r}: 应写成 WordPress登录名=本站用户名")
        mapping[old.strip()] = new.strip()
    return mapping


def _rebuild_search() -> None:
    from ...cli import _reindex

    _reindex()


@click.command("import-wxr")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--author-map",
    "author_map",
    multiple=True,
    metavar="OLD=NEW",
    help="Put a WordPress author's posts under an existing user (repeatable).",
)
@click.option(
    "--media-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A copy of wp-content/uploads; pictures are read from here, never downloaded.",
)
def import_wxr_command(file: Path, author_map: tuple[str, ...], media_dir: Path | None) -> None:
    """Import a WordPress export (WXR); re-importing updates, never duplicates."""
    mapping = _author_map(author_map)
    try:
        export = read_export(file)
    except WxrError as exc:
        raise click.ClickException(f"{file}: {exc}，未导入任何内容。") from None
    with click.progressbar(length=len(export.items), label="导入 WordPress 内容") as bar:
        summary = wordpress.import_wxr(
            export, media_dir, mapping, progress=lambda done, _total: bar.update(done - bar.pos)
        )
    width = max(len(label) for label, _ in summary.table())
    for label, count in summary.table():
        click.echo(f"{label.ljust(width, '　')}  {count:>6}")
    for missing in summary.missing_pictures:
        click.echo(f"缺失的图片：{missing}", err=True)


@click.command("export-site")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--with-secrets", is_flag=True, help="Include password hashes.")
def export_site_command(out: Path, with_secrets: bool) -> None:
    """Write the whole site (articles, revisions, pages, settings, users, pictures) to a zip."""
    counts = archive.export_site(out, with_secrets=with_secrets)
    click.echo(f"已导出到 {out}：" + "，".join(f"{name} {n}" for name, n in counts.items()))


@click.command("import-site")
@click.argument("archive_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_site_command(archive_file: Path) -> None:
    """Load a site exported with export-site into this (empty) site, then rebuild search."""
    try:
        counts = archive.import_site(archive_file)
    except archive.ArchiveError as exc:
        raise click.ClickException(f"{archive_file}: {exc}，未导入任何内容。") from None
    click.echo("已导入：" + "，".join(f"{name} {n}" for name, n in counts.items()))
    _rebuild_search()


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def backup_command(directory: Path) -> None:
    """Take a consistent snapshot of the running site (database, pictures, secret key)."""
    try:
        folder = backup.take(directory)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"备份完成：{folder}")


@click.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore_command(folder: Path) -> None:
    """Put a backup taken with `backup` back, then rebuild the search index."""
    try:
        counts = backup.restore(folder)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("已恢复：" + "，".join(f"{name} {n}" for name, n in counts.items()))
    _rebuild_search()


def init_app(app: Flask) -> None:
    for command in (
        import_wxr_command,
        export_site_command,
        import_site_command,
        backup_command,
        restore_command,
    ):
        app.cli.add_command(command)
