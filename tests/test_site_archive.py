"""flask export-site / import-site: a site exported and imported into an empty one answers
every public URL with the same status and the same visible text."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from microsite.content import revisions
from microsite.content.models import Article, MaskedWord, Revision, User
from microsite.content.site import save_settings
from microsite.extensions import db
from tests.support.app import ADMIN_PASSWORD, make_app
from tests.support.snapshot import differences, public_urls, related_sets, snapshot

WXR = Path(__file__).parent / "fixtures" / "wordpress" / "export.xml"


@pytest.fixture
def full_site(app, runner, seeded, admin_user, tmp_path):
    """The demo page, the WordPress fixture (with its picture), an edited article with its
    revisions, a masked word and settings."""
    media = tmp_path / "wp-uploads" / "2022" / "09"
    media.mkdir(parents=True)
    picture = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(picture, "JPEG")
    (media / "photo.jpg").write_bytes(picture.getvalue())
    result = runner.invoke(
        args=["import-wxr", str(WXR), "--media-dir", str(tmp_path / "wp-uploads")]
    )
    assert result.exit_code == 0, result.output
    # An edit, kept as a revision the way the editor's save keeps it.
    seeded.title += "（更新）"
    seeded.body = "<p>改写后的正文，疫情防控不放松。</p>"
    revisions.record(seeded, admin_user)
    db.session.add(MaskedWord(word="新政"))
    save_settings(hotline="400-000-0000")
    db.session.commit()
    assert db.session.scalar(select(func.count(Revision.id))) >= 1
    return app


def test_export_then_import_into_an_empty_site_answers_every_url_the_same(
    full_site, runner, tmp_path
):
    archive = tmp_path / "site.zip"
    result = runner.invoke(args=["export-site", str(archive)])
    assert result.exit_code == 0, result.output
    # The copy's index is built whole by import-site; build this one whole too, so related
    # headlines (more-like-this) come from the same index on both sides.
    assert runner.invoke(args=["reindex"]).exit_code == 0
    urls = public_urls(full_site)
    before = snapshot(full_site, urls)
    assert {status for status, _ in before.values()} >= {200, 410}

    copy = make_app(tmp_path / "copy", WTF_CSRF_ENABLED=False)
    with copy.app_context():
        imported = copy.test_cli_runner().invoke(args=["import-site", str(archive)])
    assert imported.exit_code == 0, imported.output
    assert differences(before, snapshot(copy, urls)) == []
    assert related_sets(copy) == related_sets(full_site)


def test_the_archive_is_documented_json_lines_without_password_hashes(full_site, runner, tmp_path):
    archive = tmp_path / "site.zip"
    runner.invoke(args=["export-site", str(archive)])
    with zipfile.ZipFile(archive) as content:
        manifest = json.loads(content.read("manifest.json"))
        users = [json.loads(line) for line in content.read("tables/users.jsonl").splitlines()]
        names = set(content.namelist())
    assert manifest["format"] == "microsite-site-export" and manifest["version"] == 1
    assert manifest["tables"]["articles"] == db.session.scalar(select(func.count(Article.id)))
    assert {user["password_hash"] for user in users} == {""}
    assert any(name.startswith("media/") for name in names)
    documented = (Path(__file__).parent.parent / "docs" / "export-format.md").read_text()
    for table in manifest["tables"]:
        assert f"`{table}`" in documented


def test_with_secrets_keeps_password_hashes_so_staff_can_sign_in(full_site, runner, tmp_path):
    archive = tmp_path / "site.zip"
    runner.invoke(args=["export-site", str(archive), "--with-secrets"])
    copy = make_app(tmp_path / "copy", WTF_CSRF_ENABLED=False)
    with copy.app_context():
        assert copy.test_cli_runner().invoke(args=["import-site", str(archive)]).exit_code == 0
        user = db.session.scalar(select(User).filter_by(username="editor"))
        assert user.check_password(ADMIN_PASSWORD)


def test_import_refuses_a_site_that_already_has_content(full_site, runner, tmp_path):
    archive = tmp_path / "site.zip"
    runner.invoke(args=["export-site", str(archive)])
    articles = db.session.scalar(select(func.count(Article.id)))
    result = runner.invoke(args=["import-site", str(archive)])
    assert result.exit_code != 0 and "只能导入到空站点" in result.output
    assert db.session.scalar(select(func.count(Article.id))) == articles


def test_a_broken_archive_stores_nothing(app, runner, tmp_path):
    archive = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive, "w") as content:
        manifest = {"format": "microsite-site-export", "version": 1, "tables": {}}
        content.writestr("manifest.json", json.dumps(manifest))
        content.writestr("tables/users.jsonl", '{"id": 1, "username": "a", "display_name": "A"}\n')
        content.writestr("tables/articles.jsonl", "{not json\n")
    result = runner.invoke(args=["import-site", str(archive)])
    assert result.exit_code != 0 and "articles.jsonl 第 1 行" in result.output
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_an_archive_from_a_newer_version_is_refused(app, runner, tmp_path):
    archive = tmp_path / "future.zip"
    with zipfile.ZipFile(archive, "w") as content:
        content.writestr(
            "manifest.json", json.dumps({"format": "microsite-site-export", "version": 99})
        )
    result = runner.invoke(args=["import-site", str(archive)])
    assert result.exit_code != 0 and "请先升级程序" in result.output
