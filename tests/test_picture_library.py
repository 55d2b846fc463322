"""The picture library: what it lists, alt text edits, deletes refused while used, pruning."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta

import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select

from microsite.content import images, picture_library
from microsite.content.models import PUBLISHED, Article, Category, Image, MaskedWord, Revision
from microsite.extensions import db
from microsite.text import local_now
from tests.support.app import soup
from tests.support.factories import gradient_png, make_user
from tests.support.forms import sign_in


@pytest.fixture
def writer(app):
    return make_user("writer", display_name="记者", role="editor")


@pytest.fixture
def client_in(client, writer):
    sign_in(client, "writer")
    return client


def upload(alt: str, user=None) -> Image:
    return images.store(gradient_png((300, 150)), alt, user.id if user else None)


def article_showing(image: Image, title: str = "用图的文章") -> Article:
    article = Article(
        title=title,
        body=f'<p>正文。</p>\n<img src="/media/{image.name}" alt="{image.alt}">',
        category=Category(name=title, slug=title),
        status=PUBLISHED,
        published_at=local_now(),
    )
    db.session.add(article)
    db.session.commit()
    return article


def items(response):
    return soup(response).select(".library__item")


def test_the_library_shows_alt_size_uploader_and_where_each_picture_is_used(client_in, writer):
    used = upload("社区工作人员在核酸检测点", writer)
    upload("骑手在雨中送餐", writer)
    article_showing(used, "核酸检测点现场")
    response = client_in.get("/admin/images")
    assert response.status_code == 200
    shown = items(response)
    assert len(shown) == 2
    newest, oldest = shown
    assert newest.select_one("figcaption").get_text() == "骑手在雨中送餐"
    assert "没有文章使用" in newest.get_text()
    assert oldest.select_one("img")["alt"] == "社区工作人员在核酸检测点"
    assert "300 × 150 像素" in oldest.get_text()
    assert "上传：记者 - writer" in oldest.get_text()
    assert [a.get_text() for a in oldest.select(".library__usage a")] == ["核酸检测点现场"]


def test_search_finds_pictures_by_alt_text(client_in, writer):
    upload("社区工作人员在核酸检测点", writer)
    upload("骑手在雨中送餐", writer)
    shown = items(client_in.get("/admin/images", query_string={"q": "骑手"}))
    assert [item.select_one("figcaption").get_text() for item in shown] == ["骑手在雨中送餐"]
    response = client_in.get("/admin/images", query_string={"q": "不存在"})
    assert "没有说明中含“不存在”的图片。" in response.get_data(as_text=True)
    assert client_in.get("/admin/images?before=abc").status_code == 400


def test_the_picker_lists_pictures_to_insert_with_their_size(client_in, writer):
    image = upload("骑手在雨中送餐", writer)
    page = soup(client_in.get("/admin/images", query_string={"picker": "1"}))
    button = page.select_one("button.library__pick")
    assert button["data-src"] == f"/media/{image.name}"
    assert (button["data-alt"], button["data-width"], button["data-height"]) == (
        "骑手在雨中送餐",
        "300",
        "150",
    )


def test_alt_text_is_edited_and_an_empty_one_is_refused_next_to_the_field(client_in, writer):
    image = upload("旧说明", writer)
    field = f"image-{image.id}-alt"
    response = client_in.post(f"/admin/images/{image.id}/alt", data={field: "  新的  说明 "})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Image, image.id).alt == "新的 说明"
    response = client_in.post(f"/admin/images/{image.id}/alt", data={field: "  "})
    assert response.status_code == 422
    error = soup(response).find(id=f"{field}-error")
    assert error.get_text() == "请填写图片说明（替代文字）"
    db.session.expire_all()
    assert db.session.get(Image, image.id).alt == "新的 说明"


def test_a_picture_nobody_uses_is_deleted_with_its_file(client_in, writer):
    image = upload("没人用的图", writer)
    path = images.upload_dir() / image.name
    assert path.exists()
    response = client_in.post(f"/admin/images/{image.id}/delete", follow_redirects=True)
    assert "图片已删除。" in response.get_data(as_text=True)
    assert not path.exists()
    assert db.session.scalar(select(func.count()).select_from(Image)) == 0
    assert client_in.get(f"/media/{image.name}").status_code == 404


def test_deleting_a_used_picture_is_refused_with_the_articles_using_it(client_in, writer):
    image = upload("现场图", writer)
    article_showing(image, "第一篇")
    article_showing(image, "第二篇")
    response = client_in.post(f"/admin/images/{image.id}/delete")
    assert response.status_code == 409
    refusal = soup(response).find(id="delete-refused")
    assert "正在被以下文章使用，不能删除" in refusal.get_text()
    assert [a.get_text() for a in refusal.select("a")] == ["第一篇", "第二篇"]
    assert (images.upload_dir() / image.name).exists()
    assert db.session.scalar(select(func.count()).select_from(Image)) == 1


def test_a_picture_only_an_earlier_version_shows_is_still_in_use(client_in, writer):
    image = upload("旧版里的图", writer)
    article = article_showing(image, "改过的文章")
    db.session.add(
        Revision(article_id=article.id, version=1, title="改过的文章", body=article.body)
    )
    article.body = "<p>图已去掉。</p>"
    db.session.commit()
    assert client_in.post(f"/admin/images/{image.id}/delete").status_code == 409


def test_masked_words_apply_to_alt_text_as_rendered(app, client_in, writer):
    image = upload("骑手在违禁词旁边", writer)
    article = article_showing(image, "屏蔽测试")
    db.session.add(MaskedWord(word="违禁词"))
    db.session.commit()
    library = soup(client_in.get("/admin/images"))
    assert library.select_one(".library__item img")["alt"] == "骑手在***旁边"
    assert library.select_one("figcaption").get_text() == "骑手在***旁边"
    page = soup(app.test_client().get(f"/articles/{article.id}"))
    assert page.select_one(".article__body img")["alt"] == "骑手在***旁边"
    # Stored text is never rewritten.
    db.session.expire_all()
    assert "违禁词" in db.session.get(Article, article.id).body


def test_pruning_removes_old_unused_uploads_and_keeps_the_rest(app, writer, runner):
    old_unused = upload("旧的没人用", writer)
    old_used = upload("旧的有人用", writer)
    young_unused = upload("新的没人用", writer)
    article_showing(old_used)
    long_ago = local_now() - timedelta(days=40)
    old_unused.created_at = old_used.created_at = long_ago
    db.session.commit()
    stray = images.upload_dir() / images.random_name("png")
    stray.write_bytes(gradient_png((300, 150)))
    os.utime(stray, (time.time() - 40 * 86400,) * 2)
    names = {old_unused.name, old_used.name, young_unused.name}
    gone = old_unused.name

    result = runner.invoke(args=["prune-uploads", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "已删除 2 张超过 30 天且没有文章使用的图片。" in result.output
    db.session.expire_all()
    left = set(db.session.scalars(select(Image.name)))
    assert left == names - {gone}
    assert sorted(p.name for p in images.upload_dir().iterdir()) == sorted(left)
    # The function the background job calls gives the same answer: nothing more to prune.
    assert picture_library.prune_unused_uploads(app, timedelta(days=30)) == []


def test_an_editor_reaches_the_library_from_the_admin_menu(client_in):
    page = soup(client_in.get("/admin/"))
    link = page.select_one(".admin-nav a[href='/admin/images']")
    assert link.get_text() == "图片库"


def test_thumbnails_are_small_copies_and_go_with_their_picture(client_in, writer):
    image = images.store(gradient_png((1600, 800)), "大图", writer.id)
    page = soup(client_in.get("/admin/images"))
    thumb = page.select_one(".library__item img")
    assert (thumb["width"], thumb["height"]) == ("160", "80")
    with client_in.get(thumb["src"]) as response:
        assert response.status_code == 200
        assert response.mimetype == "image/png"
        assert PILImage.open(io.BytesIO(response.data)).size == (320, 160)
        assert len(response.data) < image.byte_size
    client_in.post(f"/admin/images/{image.id}/delete")
    assert not (images.upload_dir() / "thumbs" / image.name).exists()
    assert client_in.get(thumb["src"]).status_code == 404
