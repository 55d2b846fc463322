"""Site-wide admin pages: masked words, settings, the editable pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from microsite.content.models import MaskedWord, Page
from microsite.content.site import site_settings
from microsite.extensions import db
from tests.support.app import soup


def test_masked_words_are_added_listed_and_removed(desk):
    assert desk.post("/admin/words", data={"word": "  口交 "}).status_code == 302
    assert desk.post("/admin/words", data={"word": "赌博网站"}).status_code == 302
    page = soup(desk.get("/admin/words"))
    assert [tr.td.get_text() for tr in page.select("tbody tr")] == ["口交", "赌博网站"]
    duplicate = desk.post("/admin/words", data={"word": "口交"})
    assert duplicate.status_code == 422
    assert soup(duplicate).select_one("#word-error").get_text() == "这个词已经在列表中。"
    empty = desk.post("/admin/words", data={"word": " "})
    assert soup(empty).select_one("#word-error").get_text() == "请输入要屏蔽的词。"
    word = db.session.scalar(select(MaskedWord).filter_by(word="口交"))
    assert desk.post(f"/admin/words/{word.id}/delete").status_code == 302
    assert list(db.session.scalars(select(MaskedWord.word))) == ["赌博网站"]
    assert desk.post(f"/admin/words/{word.id}/delete").status_code == 404


def settings_form(**overrides) -> dict:
    data = {
        "site_name": "劳务资讯网",
        "hotline": "400-123-4567",
        "disclaimer": "内容仅供参考。",
        "footer_links": "关于我们 | /pages/about\n人社部 | https://www.mohrss.gov.cn/",
        "keyword_links": "劳务派遣，临时工 兼职",
        "icp": "京ICP备12345678号",
    }
    data.update(overrides)
    return data


def test_settings_are_saved_and_shown_on_every_page(desk):
    assert desk.post("/admin/settings", data=settings_form()).status_code == 302
    settings = site_settings()
    assert settings["footer_links"] == [
        {"label": "关于我们", "href": "/pages/about"},
        {"label": "人社部", "href": "https://www.mohrss.gov.cn/"},
    ]
    assert settings["keyword_links"] == ["劳务派遣", "临时工", "兼职"]
    home = soup(desk.get("/"))
    assert home.select_one(".brand").get_text() == "劳务资讯网"
    assert "400-123-4567" in home.select_one(".hotline").get_text()
    assert [a.get_text() for a in home.select(".keyword-links a")] == ["劳务派遣", "临时工", "兼职"]
    assert "京ICP备12345678号" in home.select_one(".copyright").get_text()
    form = soup(desk.get("/admin/settings"))
    footer = form.select_one("textarea[name=footer_links]").text.strip()
    assert footer == "关于我们 | /pages/about\n人社部 | https://www.mohrss.gov.cn/"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("footer_links", "坏链接 | javascript:alert(1)", "第 1 行的链接只能是本站路径"),
        ("footer_links", "关于我们 | /pages/about\n没有竖线", "第 2 行应写成"),
        ("footer_links", "外站 | //evil.com", "第 1 行的链接只能是本站路径"),
        ("site_name", "", "请填写网站名称。"),
    ],
)
def test_bad_settings_are_refused_next_to_the_field(desk, field, value, message):
    response = desk.post("/admin/settings", data=settings_form(**{field: value}))
    assert response.status_code == 422
    assert message in soup(response).select_one(f"#{field}-error").get_text()
    assert site_settings()["site_name"] == "人力资讯网"


def test_known_pages_are_created_then_edited_and_sanitized(desk):
    page = soup(desk.get("/admin/pages/join"))
    assert page.select_one("input[name=title]")["value"] == "加入我们"
    body = '<p onclick="x()">欢迎加入<script>alert(1)</script></p><h2>岗位</h2>'
    response = desk.post("/admin/pages/join", data={"title": "加入我们", "body": body})
    assert response.status_code == 302
    stored = db.session.scalar(select(Page).filter_by(slug="join"))
    assert stored.body == "<p>欢迎加入</p><h2>岗位</h2>"
    public = soup(desk.get("/pages/join"))
    assert "欢迎加入" in public.get_text() and public.select_one("main script") is None
    desk.post("/admin/pages/join", data={"title": "招贤纳士", "body": "新内容"})
    db.session.refresh(stored)
    assert stored.title == "招贤纳士" and stored.body == "<p>新内容</p>"
    listed = soup(desk.get("/admin/settings")).select(".page-list a")
    assert "编辑“招贤纳士”" in [a.get_text() for a in listed]


def test_page_errors_and_unknown_pages(desk):
    response = desk.post("/admin/pages/about", data={"title": "", "body": "保留的内容"})
    assert response.status_code == 422
    assert soup(response).select_one("#title-error").get_text() == "请填写标题。"
    assert "保留的内容" in soup(response).select_one("textarea[name=body]").text
    assert db.session.scalar(select(Page).filter_by(slug="about")) is None
    assert desk.get("/admin/pages/no-such-page").status_code == 404
