"""Issue 14.6: control characters. Typed text loses its C0/C1 controls (tabs and line breaks
stay where the field has lines), in form-encoded and multipart forms alike; NUL is refused
outright; and the feed and sitemaps stay well-formed XML even when a control character is
already in the database."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from microsite.content.models import PUBLISHED, Article, Category, Page, Tag, User
from microsite.content.models import Image as ImageRecord
from microsite.content.site import save_settings, site_settings
from microsite.extensions import db
from microsite.text import local_now
from tests.support.app import soup
from tests.support.factories import picture

ATOM = "{http://www.w3.org/2005/Atom}"
# Every C0 control but tab, line feed and carriage return; DEL and the C1 range's ends.
CONTROLS = "".join(map(chr, [*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0x85, 0x9F]))


def _article_form(**fields) -> dict:
    form = {
        "title": "标题",
        "body": "<p>正文</p>",
        "category": "栏目",
        "tags": "",
        "source_note": "",
        "status": "published",
        "published_at": "",
        "save": "保存",
    }
    form.update(fields)
    return form


def _stored_article(title: str) -> Article:
    return db.session.scalars(select(Article).where(Article.title == title)).one()


# --- forms: controls dropped, lines kept where the field has lines -------------------------


def test_article_fields_lose_controls_and_keep_their_lines(desk):
    response = desk.post(
        "/admin/articles/new",
        data=_article_form(
            title=f"疫情\x0b防控\x1b[31m警戒线{CONTROLS}",
            body="第一段\x07\n第二段\t尾\x1b",
            category="栏\x0c目",
            tags="关键\x01词 另一个",
            source_note="来源\r\n第二行\x08",
        ),
    )
    assert response.status_code == 302
    article = _stored_article("疫情防控[31m警戒线")
    assert article.body == "<p>第一段</p>\n<p>第二段\t尾</p>"
    assert article.category.name == "栏目"
    assert sorted(tag.name for tag in article.tags) == ["关键词", "另一个"]
    assert article.source_note == "来源\r\n第二行"


def test_a_line_break_in_a_one_line_field_becomes_a_space(desk):
    desk.post("/admin/articles/new", data=_article_form(title="上\r\n下\t右"))
    assert _stored_article("上 下 右")


def test_settings_and_pages_lose_controls(desk):
    response = desk.post(
        "/admin/settings",
        data={
            "site_name": "人力\x0b资讯网",
            "hotline": "400\x1b-100",
            "disclaimer": "声明\x1f第一行\n第二行",
            "footer_links": "关于\x02我们 | /pages/about\n联系 | https://example.com/",
            "keyword_links": "劳务\x0b派遣\n招聘",
            "icp": "京ICP备\x7f123号",
        },
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    db.session.expire_all()
    settings = site_settings()
    assert settings["site_name"] == "人力资讯网"
    assert settings["hotline"] == "400-100"
    assert settings["disclaimer"] == "声明第一行\n第二行"
    assert settings["footer_links"][0]["label"] == "关于我们"
    assert settings["icp"] == "京ICP备123号"
    assert "劳务派遣" in settings["keyword_links"]

    response = desk.post("/admin/pages/about", data={"title": "关于\x0b我们", "body": "甲\x1b\n乙"})
    assert response.status_code == 302
    page = db.session.scalar(select(Page).where(Page.slug == "about"))
    assert (page.title, page.body) == ("关于我们", "<p>甲</p>\n<p>乙</p>")


def test_a_username_with_a_control_is_refused_next_to_the_field(desk):
    """A username is an identity: it is refused, not silently changed."""
    response = desk.post(
        "/admin/users/new",
        data={
            "username": "bob\x1bx",
            "display_name": "记者\x0b乙",
            "role": "editor",
            "password": "a long password",
        },
    )
    assert response.status_code == 422
    assert "用户名只能包含" in soup(response).select_one("#username-error").get_text()
    assert db.session.scalar(select(User).where(User.username.like("bob%"))) is None


# --- multipart: the upload form's text is checked too ---------------------------------------


def _upload(desk, alt: str):
    data = {"alt": alt, "image": (io.BytesIO(picture()), "p.png", "image/png")}
    return desk.post("/admin/images", data=data, content_type="multipart/form-data")


def test_a_nul_in_a_multipart_field_is_refused(desk):
    response = _upload(desk, "说明\x00")
    assert response.status_code == 400
    assert "无效字符" in response.get_data(as_text=True)
    assert db.session.scalar(select(ImageRecord)) is None


def test_controls_in_a_multipart_field_are_dropped(desk):
    assert _upload(desk, "核酸\x1b检测\x0b点").status_code == 200
    assert db.session.scalar(select(ImageRecord.alt)) == "核酸检测点"


def test_a_nul_in_a_form_encoded_field_is_refused(desk):
    response = desk.post("/admin/articles/new", data=_article_form(title="a\x00b"))
    assert response.status_code == 400
    assert db.session.scalar(select(Article)) is None


# --- XML: well-formed whatever the database holds -------------------------------------------


@pytest.fixture
def controls_in_the_database(app):
    """Control characters written straight into the database, past every form."""
    author = User(username="ctl", display_name="记者\x1b甲", password_hash="")
    category = Category(name="栏目\x0b", slug="ctl")
    article = Article(
        title="疫情\x0b防控\x1b[31m警戒线\ufffe",
        body="<p>正文\x01第二句\x0c</p>",
        source_note="来源\x1b",
        status=PUBLISHED,
        published_at=local_now(),
        category=category,
        author=author,
        tags=[Tag(name="关键\x0b词")],
    )
    db.session.add_all([article, Page(slug="about", title="关于\x0b我们", body="<p>页\x1b</p>")])
    save_settings(site_name="人力\x0b资讯网")
    db.session.commit()
    return article


def _strict_xml(client, url: str) -> ET.Element:
    response = client.get(url)
    assert response.status_code == 200, url
    return ET.fromstring(response.get_data())  # expat: refuses any character XML forbids


def test_the_feed_is_well_formed_with_controls_in_the_database(client, controls_in_the_database):
    feed = _strict_xml(client, "/feed.xml")
    assert feed.findtext(f"{ATOM}title") == "人力资讯网"
    entry = feed.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "疫情防控[31m警戒线"
    assert entry.findtext(f"{ATOM}author/{ATOM}name").startswith("记者甲")
    assert entry.find(f"{ATOM}category").get("term") == "栏目"
    assert "正文第二句" in entry.findtext(f"{ATOM}content")


def test_the_sitemaps_are_well_formed_with_controls_in_the_database(
    client, controls_in_the_database
):
    for url in ("/sitemap.xml", "/sitemap-pages.xml", "/sitemap-articles-1.xml"):
        assert len(_strict_xml(client, url)) >= 1, url
