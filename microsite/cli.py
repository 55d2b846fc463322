"""flask commands: init-db, create-admin, import-page, reindex, demo, publish-due,
prune-uploads, worker."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask_migrate import upgrade
from sqlalchemy import func, select

from . import jobs, queue, search
from .accounts import user_sessions
from .accounts.usernames import normalize
from .content import picture_library, scheduling
from .content.importer import PageFormatError, parse_page, store_page
from .content.models import Article, Page, User
from .extensions import db

DEMO_PAGE = Path(__file__).parent / "demo" / "seed_page.txt"
DEMO_PAGES = {
    "about": (
        "关于我们",
        "<p>我们发布人力资源、劳务派遣、临时工与兼职招聘相关的新闻资讯，"
        "并为求职者和用工企业提供咨询服务。</p>",
    ),
    "join": (
        "加入我们",
        "<p>我们长期招聘编辑、记者和客户经理。请拨打页面顶部的客服热线了解职位详情。</p>",
    ),
}


@click.command("init-db")
def init_db_command() -> None:
    """Create or upgrade the database schema to the latest migration."""
    upgrade()
    click.echo("数据库已升级到最新版本。")


def _prompt_password() -> str:
    # Prompted only: a password given as an argument would stay in the shell history and `ps`.
    while True:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        if len(password) >= 8:
            return password
        click.echo("密码至少需要 8 个字符。", err=True)


@click.command("create-admin")
@click.argument("username")
@click.option("--display-name", help="Name shown in bylines (defaults to the username).")
@click.option(
    "--role",
    type=click.Choice(["admin", "editor"]),
    help="admin (everything) or editor (articles only); new users default to admin.",
)
def create_admin_command(username: str, display_name: str | None, role: str | None) -> None:
    """Create an admin, or set the password (and role) of an existing one; prompts for it."""
    password = _prompt_password()
    username = normalize(username)  # ａｄｍｉｎ typed in full-width mode is admin
    user = db.session.scalar(select(User).filter_by(username=username))
    if user is None:
        user = User(username=username, display_name=display_name or username, role=role or "admin")
        db.session.add(user)
    else:
        user.display_name = display_name or user.display_name
        user.role = role or user.role
    # A new password also ends the user's open sessions (auth keys them to the hash).
    user.set_password(password)
    db.session.commit()
    user_sessions.end_all(user.id)
    click.echo(f"管理员 {username}（{user.role}）已保存。")


def import_file(path: Path) -> Article:
    """Parse and store one page file; raises ClickException with the offending line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not UTF-8 text ({exc.reason})") from None
    try:
        return store_page(parse_page(text))
    except PageFormatError as exc:
        raise click.ClickException(f"{path}: {exc}") from None


@click.command("import-page")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def import_page_command(files: tuple[str, ...]) -> None:
    """Import saved pages in the seed's text format (re-importing updates, never duplicates)."""
    for name in files:
        article = import_file(Path(name))
        click.echo(f"{name}: 已导入《{article.title}》(id {article.id})")


def _ensure_demo_pages() -> None:
    for slug, (title, body) in DEMO_PAGES.items():
        if db.session.scalar(select(Page).filter_by(slug=slug)) is None:
            db.session.add(Page(slug=slug, title=title, body=body))
    db.session.commit()


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Only load the demo when there are no articles.")
def demo_command(if_empty: bool) -> None:
    """Upgrade the schema and load the demo content (the seed page)."""
    upgrade()
    if if_empty and db.session.scalar(select(func.count(Article.id))):
        click.echo("数据库已有文章，跳过演示内容。")
        if search.status()["status"] != "ok":
            _reindex()
        return
    article = import_file(DEMO_PAGE)
    _ensure_demo_pages()
    total = db.session.scalar(select(func.count(Article.id)))
    click.echo(f"演示内容已就绪：《{article.title}》在 /articles/{article.id}，共 {total} 篇文章。")
    _reindex()


def _reindex(procs: int | None = None) -> int:
    """Rebuild the search index with a progress bar (drawn once the total is known)."""
    bars: list = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(click.progressbar(length=total, label="重建搜索索引"))
            bars[0].__enter__()
        bars[0].update(done - bars[0].pos)

    try:
        count = search.rebuild(progress=progress, procs=procs)
    except search.RebuildInProgress as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if bars:
            bars[0].__exit__(None, None, None)
    click.echo(f"搜索索引已重建：{count} 篇文章。")
    return count


@click.command("reindex")
@click.option(
    "--procs",
    type=click.IntRange(1, 8),
    default=None,
    help="Indexing processes (default: 2 from 2,000 articles on, else 1).",
)
def reindex_command(procs: int | None) -> None:
    """Rebuild the search index from the database; the old index serves until it is done."""
    _reindex(procs)


@click.command("publish-due")
def publish_due_command() -> None:
    """Publish the scheduled articles whose time has come (the worker does it every minute)."""
    published = scheduling.publish_due()
    click.echo(f"已发表 {len(published)} 篇到时的定时文章。")


@click.command("prune-uploads")
@click.option("--days", type=click.IntRange(min=0), help="age in days (default: the setting)")
def prune_uploads_command(days: int | None) -> None:
    """Delete uploaded pictures no article uses that are older than --days."""
    if days is None:
        days = current_app.config["UPLOAD_PRUNE_DAYS"]
    app = current_app._get_current_object()
    removed = picture_library.prune_unused_uploads(app, timedelta(days=days))
    click.echo(f"已删除 {len(removed)} 张超过 {days} 天且没有文章使用的图片。")


@click.command("worker")
@click.option(
    "--threads", type=click.IntRange(1, 16), default=2, help="Jobs run at once (default 2)."
)
def worker_command(threads: int) -> None:
    """Run the background worker: queued jobs, the schedule, this host's search index."""
    app = current_app._get_current_object()
    if queue.jobs(app).immediate:
        raise click.ClickException("MICROSITE_JOBS_URL=immediate：任务入队即执行，无需 worker。")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    click.echo(f"后台进程已启动（{threads} 个任务线程），Ctrl-C 停止。")
    jobs.run_worker(app, threads=threads)


def init_app(app: Flask) -> None:
    for command in (init_db_command, create_admin_command, import_page_command, demo_command):
        app.cli.add_command(command)
    app.cli.add_command(reindex_command)
    app.cli.add_command(publish_due_command)
    app.cli.add_command(prune_uploads_command)
    app.cli.add_command(worker_command)
