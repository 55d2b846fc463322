"""The article form as the desk tests fill it in: a valid form, a page's own fields, creating."""

from __future__ import annotations

from microsite.content.models import DRAFT, Article
from microsite.extensions import db
from tests.support.app import soup

CATEGORY = "人力资讯"


def article_form(**overrides) -> dict:
    data = {
        "title": "灵活用工新规发布",
        "body": "第一段说明新规。\n第二段讲执行时间。",
        "category": CATEGORY,
        "tags": "灵活用工，劳务派遣 临时工",
        "source_note": "来源：测试",
        "status": DRAFT,
        "published_at": "",
        "save": "保存",
    }
    data.update(overrides)
    return data


def textarea(page, name: str) -> str:
    """A textarea's value as a browser reads it (HTML drops one newline after the tag)."""
    text = page.select_one(f"textarea[name={name}]").text
    return text.removeprefix("\r\n").removeprefix("\n")


def form_fields(response) -> dict:
    """The values a browser would submit from the page's article form."""
    form = soup(response).select_one("form.article-form")
    data = {}
    for field in form.select("input[name], textarea[name]"):
        kind = field.get("type", "text")
        if kind in {"submit", "radio"}:
            continue
        if field.name == "textarea":
            data[field["name"]] = textarea(form, field["name"])
        else:
            data[field["name"]] = field.get("value", "")
    data["status"] = form.select_one("input[name=status][checked]")["value"]
    data["save"] = "保存"
    return data


def create(desk, **overrides) -> Article:
    response = desk.post("/admin/articles/new", data=article_form(**overrides))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    article_id = int(response.headers["Location"].split("/")[-2])
    return db.session.get(Article, article_id)
