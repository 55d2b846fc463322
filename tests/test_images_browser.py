"""An editor puts a picture into an article in a real Chromium: upload, insert, save, read."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from microsite.content.models import PUBLISHED, Article, Category
from microsite.extensions import db
from microsite.text import local_now
from tests.support.browser import sign_in_page, watch_problems
from tests.support.factories import gradient_png, make_user

pytestmark = pytest.mark.browser

ALT = "社区工作人员在核酸检测点引导居民排队"


@pytest.fixture
def site(live_app, live_server):
    """The live server with an editor and a published article to put a picture into."""
    with live_app.app_context():
        make_user(username="writer", display_name="记者", role="editor")
        article = Article(
            title="核酸检测点现场",
            body="<p>第一段。</p>",
            category=Category(name="图片新闻", slug="图片新闻"),
            status=PUBLISHED,
            published_at=local_now(),
        )
        db.session.add(article)
        db.session.commit()
        article_id = article.id
        db.session.remove()
    return live_server.url, article_id


def sign_in(page: Page, base: str) -> None:
    sign_in_page(page, base, "writer")


def test_editor_uploads_an_image_with_alt_text_that_shows_in_the_article(page: Page, site):
    base, article_id = site
    problems = watch_problems(page)
    sign_in(page, base)
    page.goto(f"{base}/admin/articles/{article_id}/edit")

    # A forged file first: the error appears next to the field, the alt text stays.
    page.set_input_files(
        "#image-file",
        files=[{"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": b"<svg onload=x>"}],
    )
    page.get_by_label("图片说明（替代文字）").fill(ALT)
    page.get_by_role("button", name="上传图片").click()
    expect(page.locator("#image-file-error")).to_have_text("只能上传 JPEG、PNG 或 WebP 图片")
    expect(page.get_by_label("图片说明（替代文字）")).to_have_value(ALT)

    page.set_input_files(
        "#image-file",
        files=[{"name": "现场.png", "mimeType": "image/png", "buffer": gradient_png((1200, 400))}],
    )
    page.get_by_role("button", name="上传图片").click()
    expect(page.locator(".image-result")).to_contain_text("图片已上传（1200 × 400")
    preview = page.locator(".image-result img")
    expect(preview).to_have_attribute("alt", ALT)
    assert preview.evaluate("img => img.complete && img.naturalWidth") == 1200

    # The HTML source view: the picture's <img> goes into the textarea at its cursor.
    page.get_by_role("button", name="编辑 HTML 源码").click()
    body = page.get_by_role("textbox", name="正文", exact=True)
    body.click()
    body.press("Control+End")
    page.get_by_role("button", name="插入正文").click()
    expect(page.locator(".image-result__inserted")).to_have_text(
        "已插入正文光标处，保存文章后生效。"
    )
    expect(body).to_have_value(
        re.compile(r'^<p>第一段。</p>\n<img src="/media/[0-9a-f]{32}\.png" alt=')
    )
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".flash").first).to_contain_text("已保存（已发表）")

    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{base}/articles/{article_id}")
    picture = page.locator(".article__body img")
    expect(picture).to_be_visible()
    expect(picture).to_have_attribute("alt", ALT)
    assert picture.evaluate("img => img.complete && img.naturalWidth") == 1200
    # The 1200 px picture fits the column on a 360 px screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert picture.evaluate("img => img.getBoundingClientRect().right") <= 360
    assert problems == []


def test_a_file_over_the_limit_is_refused_before_it_is_sent(page: Page, site, live_app):
    base, article_id = site
    live_app.config["UPLOAD_MAX_BYTES"] = 2_048
    problems = watch_problems(page)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    sign_in(page, base)
    sent.clear()
    page.goto(f"{base}/admin/articles/{article_id}/edit")
    page.set_input_files(
        "#image-file",
        files=[{"name": "big.png", "mimeType": "image/png", "buffer": gradient_png((1200, 400))}],
    )
    page.get_by_label("图片说明（替代文字）").fill(ALT)
    page.get_by_role("button", name="上传图片").click()
    expect(page.locator(".image-form__status")).to_have_text("文件太大（最大 2 KB）")
    assert sent == []
    assert problems == []
