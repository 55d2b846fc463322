"""flask backup / restore: a snapshot taken while the site serves readers and an admin saves
restores to a site that shows the same pages, with the save whole or not at all."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from microsite.content import images, revisions
from microsite.content.importer import parse_page, store_page
from microsite.content.models import Article, Revision, User
from microsite.extensions import db
from tests.support.app import POSTGRES, SEED_TEXT, LiveServer, make_app
from tests.support.snapshot import differences, public_urls, snapshot

sqlite_only = pytest.mark.skipif(bool(POSTGRES), reason="backup takes SQLite snapshots only")

OLD_TITLE, NEW_TITLE = "保存之前的标题", "保存之后的标题"
OLD_BODY, NEW_BODY = "<p>保存之前的正文。</p>", "<p>保存之后的正文，整篇一起提交。</p>"
# Reader pages that do not count views, so the site's state is only what the admin changes.
READER_URLS = ("/", "/sitemap", "/feed.xml", "/search?q=%E7%A4%BE%E5%8C%BA", "/robots.txt")


@pytest.fixture
def site(tmp_path):
    app = make_app(tmp_path / "live")
    with app.app_context():
        store_page(parse_page(SEED_TEXT))
        picture = io.BytesIO()
        Image.new("RGB", (20, 10), (0, 90, 0)).save(picture, "PNG")
        stored = images.store(picture.getvalue(), "一张绿色的图", None)
        author = User(username="bianji", display_name="编辑", role="editor")
        article = Article(
            title=OLD_TITLE,
            body=OLD_BODY + f'<p><img src="/media/{stored.name}" alt="图"></p>',
            status="published",
            author=author,
        )
        db.session.add(article)
        db.session.commit()
        assert app.test_cli_runner().invoke(args=["reindex"]).exit_code == 0
        db.session.remove()
    return app


def save_new_text(app, article_id: int) -> None:
    """The admin's save: title, body and a revision in one commit."""
    with app.app_context():
        article = db.session.get(Article, article_id)
        author = db.session.scalar(select(User).filter_by(username="bianji"))
        article.title, article.body = NEW_TITLE, NEW_BODY
        revisions.record(article, author)
        db.session.commit()
        db.session.remove()


def read_until(stop: threading.Event, base: str, errors: list) -> None:
    deadline = time.monotonic() + 60  # bounded even if the test fails to stop us
    while not stop.is_set() and time.monotonic() < deadline:
        for url in READER_URLS:
            try:
                with urllib.request.urlopen(base + url, timeout=10) as response:
                    response.read()
            except Exception as exc:  # noqa: BLE001 - any failure is a finding
                errors.append(f"{url}: {exc}")


def restored_copy(tmp_path: Path, folder: Path):
    copy = make_app(tmp_path / "restored")
    with copy.app_context():
        result = copy.test_cli_runner().invoke(args=["restore", str(folder)])
        db.session.remove()
    assert result.exit_code == 0, result.output
    return copy


def article_state(app, article_id: int) -> tuple[str, str, int]:
    with app.app_context():
        article = db.session.get(Article, article_id)
        kept = db.session.scalars(select(Revision).filter_by(article_id=article_id)).all()
        state = (article.title, article.body.split("<p><img")[0], len(kept))
        db.session.remove()
    return state


@sqlite_only
def test_backup_while_serving_and_saving_restores_whole(site, tmp_path):
    with site.app_context():
        article_id = db.session.scalar(select(Article.id).filter_by(title=OLD_TITLE))
        db.session.remove()
    urls = public_urls(site)
    before = snapshot(site, urls)
    server = LiveServer(site).start()
    stop, errors = threading.Event(), []
    readers = [
        threading.Thread(target=read_until, args=(stop, server.url, errors)) for _ in range(3)
    ]
    for reader in readers:
        reader.start()
    try:
        saver = threading.Thread(target=save_new_text, args=(site, article_id))
        saver.start()
        with site.app_context():
            result = site.test_cli_runner().invoke(args=["backup", str(tmp_path / "backups")])
        saver.join()
    finally:
        stop.set()
        for reader in readers:
            reader.join()
        server.stop()
    assert result.exit_code == 0, result.output
    assert errors == []
    after = snapshot(site, urls)

    (folder,) = (tmp_path / "backups").iterdir()
    copy = restored_copy(tmp_path, folder)
    title, body, kept = article_state(copy, article_id)
    # Whole or not at all: the new title never with the old body, the revisions with the save
    # (two: the article's first edit keeps the text it replaces as 最初版本, then the save's).
    assert (title, body, kept) in {(OLD_TITLE, OLD_BODY, 0), (NEW_TITLE, NEW_BODY, 2)}
    expected = after if title == NEW_TITLE else before
    assert differences(expected, snapshot(copy, urls)) == []


@sqlite_only
def test_a_backup_holds_the_database_pictures_and_key(site, tmp_path):
    with site.app_context():
        result = site.test_cli_runner().invoke(args=["backup", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "b").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "microsite-backup" and manifest["tables"]["images"] == 1
    assert len(list((folder / "uploads").iterdir())) == 1
    assert (folder / "database.sqlite3").stat().st_size > 0
    assert oct(folder.stat().st_mode & 0o777) == "0o700"


def test_restore_refuses_a_folder_that_is_not_a_backup(app, runner, tmp_path):
    (tmp_path / "notes").mkdir()
    result = runner.invoke(args=["restore", str(tmp_path / "notes")])
    assert result.exit_code != 0 and "不是备份目录" in result.output


@pytest.mark.skipif(not POSTGRES, reason="the PostgreSQL answer")
def test_on_postgresql_backup_declines_and_points_to_pg_dump(app, runner, tmp_path):
    result = runner.invoke(args=["backup", str(tmp_path / "b")])
    assert result.exit_code != 0 and "pg_dump" in result.output
    assert not (tmp_path / "b").exists()
