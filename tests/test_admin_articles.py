"""The article desk: write, validate, sanitize, preview, refuse stale saves, clear, restore."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import func, select, update

from microsite.content.models import CLEARED, DRAFT, PUBLISHED, Article
from microsite.extensions import db
from microsite.views.admin import articles as article_views
from tests.support.app import soup
from tests.support.articles import CATEGORY, article_form, create, form_fields, textarea


def headline_texts(response) -> list[str]:
    return [li.get_text(strip=True) for li in soup(response).select("ol.headlines li.headline")]


def test_new_article_is_saved_as_a_draft_with_its_fields(desk, admin_user):
    article = create(desk)
    assert article.status == DRAFT and article.published_at is None
    assert article.body == "<p>第一段说明新规。</p>\n<p>第二段讲执行时间。</p>"
    assert [tag.name for tag in article.tags] == ["临时工", "劳务派遣", "灵活用工"]
    assert article.category.name == CATEGORY and article.author_id == admin_user.id
    assert article.source_note == "来源：测试"
    assert article.title not in " ".join(headline_texts(desk.get("/")))
    page = desk.get(f"/admin/articles/{article.id}/edit")
    assert "已保存（草稿）" in soup(page).select_one(".flash").get_text()


def test_publishing_lists_the_article_on_home_and_in_its_category(desk, seeded):
    article = create(desk)
    fields = form_fields(desk.get(f"/admin/articles/{article.id}/edit"))
    response = desk.post(f"/admin/articles/{article.id}/edit", data={**fields, "status": PUBLISHED})
    assert response.status_code == 302
    db.session.refresh(article)
    assert article.status == PUBLISHED and article.published_at is not None
    assert headline_texts(desk.get("/"))[0] == "灵活用工新规发布"
    assert headline_texts(desk.get(f"/categories/{quote(CATEGORY)}"))[0] == "灵活用工新规发布"
    page = soup(desk.get(f"/articles/{article.id}"))
    assert "编辑部 - editor" in page.select_one(".byline").get_text()
    assert article.id in related_ids_of(desk, a_seed_headline())


def a_seed_headline() -> Article:
    """A published seed headline in the same category, without a curated related list."""
    query = select(Article).where(Article.status == PUBLISHED, Article.body == "")
    return db.session.scalars(query.order_by(Article.id)).first()


def related_ids_of(client, article: Article) -> list[int]:
    """Every article id in an article's related headlines, all pages."""
    ids, page = [], 1
    while True:
        response = client.get(f"/articles/{article.id}/related?page={page}")
        if response.status_code == 404:
            return ids
        for link in soup(response).select("ol.headlines li.headline a"):
            ids.append(int(link["href"].rsplit("/", 1)[-1]))
        page += 1


def test_new_form_starts_with_the_site_disclaimer_as_source_note(desk):
    page = soup(desk.get("/admin/articles/new"))
    assert textarea(page, "source_note").startswith("本文章内容来源于网络")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("title", "", "请填写标题。"),
        ("title", "长" * 201, "标题最多 200 个字。"),
        ("category", "", "请选择或填写栏目。"),
        ("tags", " ".join(f"词{n}" for n in range(21)), "关键词最多 20 个。"),
        ("published_at", "下周一", "请按“年-月-日 时:分”填写发表时间。"),
        ("category", "政策/解读", "栏目名不能包含"),
        ("tags", "灵活用工 50%", "关键词不能包含"),
    ],
)
def test_validation_errors_sit_next_to_the_field_and_keep_the_text(desk, field, value, message):
    body = "管理员辛苦写下的正文，一个字也不能丢。"
    response = desk.post("/admin/articles/new", data=article_form(**{field: value, "body": body}))
    assert response.status_code == 422
    page = soup(response)
    wrapper = page.select_one(f"#{field}").find_parent(class_="field")
    assert "field--error" in wrapper["class"]
    assert message in wrapper.select_one(".field__error").get_text()
    assert page.select_one(f"#{field}")["aria-invalid"] == "true"
    assert textarea(page, "body") == body
    assert db.session.scalar(select(func.count(Article.id))) == 0


def test_publishing_needs_a_body(desk):
    response = desk.post("/admin/articles/new", data=article_form(status=PUBLISHED, body=" "))
    assert response.status_code == 422
    assert "发表前请填写正文。" in soup(response).select_one("#body-error").get_text()


HOSTILE = (
    '<p style="color:red" onclick="steal()">开头<script>alert(1)</script>'
    '<img src=x onerror="alert(2)"><a href="javascript:alert(3)">坏链接</a>'
    '<a href="https://example.com/" hx-get="/admin/logout" data-hx-post="/x" target="_blank">'
    "好链接</a>"
    '<span hx-trigger="load" hx-post="/admin/reindex">文字</span></p>'
    "<style>body{display:none}</style><iframe src=//evil.com></iframe>"
    "<h2>小标题</h2><ul><li><strong>粗</strong></li></ul><!-- 注释 -->"
)


def test_hostile_html_is_stripped_on_save(desk):
    article = create(desk, body=HOSTILE)
    body = article.body
    for banned in (
        "<script",
        "alert",
        "onerror",
        "onclick",
        "hx-",
        "javascript:",
        "style",
        "<img",
        "<iframe",
        "<span",
        "target=",
        "注释",
    ):
        assert banned not in body, banned
    assert "<h2>小标题</h2>" in body and "<strong>粗</strong>" in body
    assert '<a href="https://example.com/" rel="noopener nofollow">好链接</a>' in body
    assert "开头" in body and "文字" in body
    page = desk.get(f"/admin/articles/{article.id}/edit")
    assert "已被移除" in soup(page).select_one(".flash--warning").get_text()


def test_preview_shows_the_sanitized_article_without_saving(desk):
    data = article_form(body=HOSTILE + "<p>预览段落</p>", save="")
    data.pop("save")
    response = desk.post("/admin/articles/new", data={**data, "preview": "预览"})
    assert response.status_code == 200
    preview = soup(response).select_one("section.preview")
    assert preview.select_one("h1").get_text() == "灵活用工新规发布"
    assert "预览段落" in preview.get_text()
    assert preview.select("script, img, iframe, [onclick], [style]") == []
    assert textarea(soup(response), "body").startswith("<p style")
    assert db.session.scalar(select(func.count(Article.id))) == 0


def test_a_stale_save_is_refused_and_the_text_kept(desk):
    article = create(desk)
    mine = form_fields(desk.get(f"/admin/articles/{article.id}/edit"))
    theirs = form_fields(desk.get(f"/admin/articles/{article.id}/edit"))
    theirs["title"] = "别人的标题"
    assert desk.post(f"/admin/articles/{article.id}/edit", data=theirs).status_code == 302
    my_body = "我在另一个窗口改了很久的正文。"
    response = desk.post(
        f"/admin/articles/{article.id}/edit", data={**mine, "title": "我的标题", "body": my_body}
    )
    assert response.status_code == 409
    page = soup(response)
    assert "保存被拒绝" in page.select_one(".conflict").get_text()
    assert page.select_one("input[name=title]")["value"] == "我的标题"
    assert textarea(page, "body") == my_body
    db.session.refresh(article)
    assert article.title == "别人的标题"
    # Having been warned, the admin may deliberately save their version over the other one.
    again = form_fields(response)
    assert desk.post(f"/admin/articles/{article.id}/edit", data=again).status_code == 302
    db.session.refresh(article)
    assert article.title == "我的标题" and article.body == f"<p>{my_body}</p>"


def test_a_validation_error_does_not_refresh_a_stale_version(desk):
    article = create(desk)
    mine = form_fields(desk.get(f"/admin/articles/{article.id}/edit"))
    desk.post(f"/admin/articles/{article.id}/edit", data={**mine, "title": "别人的标题"})
    invalid = desk.post(f"/admin/articles/{article.id}/edit", data={**mine, "title": ""})
    assert invalid.status_code == 422
    retry = {**form_fields(invalid), "title": "我的标题"}
    assert desk.post(f"/admin/articles/{article.id}/edit", data=retry).status_code == 409


def test_a_save_racing_another_between_read_and_write_is_refused(desk, monkeypatch):
    article = create(desk)
    fields = form_fields(desk.get(f"/admin/articles/{article.id}/edit"))
    real_apply = article_views._apply

    def apply_while_someone_else_saves(form, target):
        real_apply(form, target)
        with db.engine.begin() as other:
            other.execute(
                update(Article.__table__)
                .where(Article.__table__.c.id == target.id)
                .values(title="同时保存的标题", version=target.version + 1)
            )

    monkeypatch.setattr(article_views, "_apply", apply_while_someone_else_saves)
    response = desk.post(f"/admin/articles/{article.id}/edit", data={**fields, "title": "我的"})
    assert response.status_code == 409
    assert soup(response).select_one("input[name=title]")["value"] == "我的"
    db.session.expire_all()
    assert db.session.get(Article, article.id).title == "同时保存的标题"


def test_a_missing_version_is_treated_as_stale(desk):
    article = create(desk)
    fields = form_fields(desk.get(f"/admin/articles/{article.id}/edit"))
    fields.pop("version")
    assert desk.post(f"/admin/articles/{article.id}/edit", data=fields).status_code == 409


def test_clear_and_restore(desk, seeded):
    article = create(desk, status=PUBLISHED)
    row = desk.post(f"/admin/articles/{article.id}/clear", headers={"HX-Request": "true"})
    assert row.status_code == 200 and "HX-Request" in row.headers["Vary"]
    fragment = soup(row)
    assert fragment.select_one("li")["id"] == f"article-{article.id}"
    db.session.refresh(article)
    assert article.status == CLEARED and article.cleared_at is not None
    assert article.title == "灵活用工新规发布" and "第一段" in article.body  # the row is kept
    placeholder = f"标题和内容已经清空{article.cleared_at:%Y-%m-%d %H:%M:%S}"
    assert placeholder in fragment.get_text()
    gone = desk.get(f"/articles/{article.id}")
    assert gone.status_code == 410
    assert "no-cache" in gone.headers["Cache-Control"]  # else browsers keep it after a restore
    home = soup(desk.get("/"))
    first = home.select_one("ol.headlines li.headline")
    assert first.get_text(strip=True) == placeholder and first.select_one("a") is None
    assert article.title not in home.get_text()

    restored = desk.post(f"/admin/articles/{article.id}/restore")
    assert restored.status_code == 302 and restored.headers["Location"] == "/admin/"
    db.session.refresh(article)
    assert article.status == PUBLISHED and article.cleared_at is None
    assert desk.get(f"/articles/{article.id}").status_code == 200
    assert headline_texts(desk.get("/"))[0] == "灵活用工新规发布"


def test_clear_button_asks_for_confirmation_through_htmx(desk):
    article = create(desk, status=PUBLISHED)
    form = soup(desk.get("/admin/")).select_one(f"#article-{article.id} form")
    assert form["method"] == "post" and form["hx-post"] == form["action"]
    assert "确定清空" in form["hx-confirm"] and form["hx-target"] == "closest li"


def test_only_published_articles_clear_and_only_cleared_ones_restore(desk, seeded):
    draft = create(desk)
    assert desk.post(f"/admin/articles/{draft.id}/clear").status_code == 409
    assert desk.post(f"/admin/articles/{draft.id}/restore").status_code == 409
    imported_placeholder = db.session.scalar(
        select(Article).where(Article.status == CLEARED, Article.title == "")
    )
    response = desk.post(f"/admin/articles/{imported_placeholder.id}/restore")
    assert response.status_code == 409
    assert "没有可恢复" in soup(response).select_one(".error-page__message").get_text()
    assert desk.post("/admin/articles/999999/clear").status_code == 404


def test_a_cleared_article_cannot_be_edited_until_restored(desk):
    article = create(desk, status=PUBLISHED)
    desk.post(f"/admin/articles/{article.id}/clear")
    page = desk.get(f"/admin/articles/{article.id}/edit")
    assert "恢复后才能保存" in soup(page).select_one(".notice--cleared").get_text()
    fields = {**form_fields(page), "title": "新标题"}
    response = desk.post(f"/admin/articles/{article.id}/edit", data=fields)
    assert response.status_code == 409
    db.session.refresh(article)
    assert article.status == CLEARED and article.title == "灵活用工新规发布"
