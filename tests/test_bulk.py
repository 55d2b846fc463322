"""Bulk actions on the dashboard (publish, unpublish, clear, restore) and their undo."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from microsite import search
from microsite.content.models import CLEARED, DRAFT, PUBLISHED, SCHEDULED, Article, BulkAction
from microsite.extensions import db
from microsite.text import local_now
from tests.support.app import FreshContextClient, make_app, soup
from tests.support.factories import make_user
from tests.support.forms import csrf_token_of, sign_in
from tests.support.search import hit_ids, results

WORD = "蜂鸟骑手"


def _article(title: str, status: str = PUBLISHED, **fields) -> Article:
    if status in (PUBLISHED, CLEARED):
        fields.setdefault("published_at", local_now() - timedelta(days=1))
    if status == CLEARED:
        fields.setdefault("cleared_at", local_now())
    article = Article(title=title, body=f"<p>{WORD}灵活用工新规：{title}。</p>", status=status)
    for name, value in fields.items():
        setattr(article, name, value)
    db.session.add(article)
    db.session.commit()
    return article


@pytest.fixture
def desk(client, app):
    """A signed-in admin, three published articles, a draft, a scheduled one, an index."""
    make_user()
    sign_in(client)
    published = [_article(f"{WORD}新规第{n}条") for n in (1, 2, 3)]
    draft = _article("草稿：骑手保障", DRAFT)
    scheduled = _article("定时：骑手保险", SCHEDULED, scheduled_for=local_now() + timedelta(days=2))
    search.rebuild()
    return {"client": client, "published": published, "draft": draft, "scheduled": scheduled}


def ids_of(*articles: Article) -> list[str]:
    return [str(article.id) for article in articles]


def bulk(client, action: str, ids: list[str], **extra):
    return client.post("/admin/bulk", data={"action": action, "ids": ids, **extra})


def fresh(article: Article) -> Article:
    db.session.expire_all()
    return db.session.get(Article, article.id)


def flashes(client) -> list[str]:
    return summary(client)[0]


def summary(client) -> tuple[list[str], str | None]:
    """The dashboard's flashed messages and its undo form's action (None without one)."""
    page = soup(client.get("/admin/"))
    undo = page.select_one("form.flash-undo")
    return [p.get_text(strip=True) for p in page.select(".flash")], undo and undo["action"]


def undo_action(client) -> str:
    """The undo form's action on the dashboard right after a bulk action."""
    form = soup(client.get("/admin/")).select_one("form.flash-undo")
    return form["action"]


def found(client) -> set[int]:
    return set(hit_ids(results(client, WORD)))


def test_clear_three_then_undo(desk):
    client, published = desk["client"], desk["published"]
    versions = [article.version for article in published]
    assert found(client) == {article.id for article in published}

    response = bulk(client, "clear", ids_of(*published), next="/admin/?status=published")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/?status=published"
    page = soup(client.get("/admin/?status=published"))
    assert page.select_one(".flash--bulk").get_text(strip=True) == "已清空 3 篇。"
    undo = page.select_one("form.flash-undo")
    assert undo.select_one("button").get_text(strip=True) == "撤销这次批量操作"

    for article, version in zip(published, versions, strict=True):
        article = fresh(article)
        assert article.status == CLEARED and article.cleared_at is not None
        assert article.version == version + 1
        assert client.get(f"/articles/{article.id}").status_code == 410
    assert found(client) == set()
    record = db.session.scalar(select(BulkAction))
    assert record.action == "clear" and record.undone_at is None
    assert [change["id"] for change in json.loads(record.changes)] == ids_of_int(published)

    response = client.post(undo["action"], data={"next": undo.select_one("[name=next]")["value"]})
    assert response.status_code == 303
    assert flashes(client) == ["已撤销 3 篇。"]
    for article in published:
        article = fresh(article)
        assert article.status == PUBLISHED and article.cleared_at is None
        assert client.get(f"/articles/{article.id}").status_code == 200
    assert found(client) == {article.id for article in published}

    # An action is undone once.
    again = client.post(undo["action"])
    assert again.status_code == 409
    assert "已经撤销过" in soup(again).select_one(".error-page__message").get_text()
    assert all(fresh(article).status == PUBLISHED for article in published)


def ids_of_int(articles) -> list[int]:
    return [article.id for article in articles]


def test_skipped_articles_are_named_with_the_reason(desk):
    client, published = desk["client"], desk["published"]
    bulk(client, "clear", ids_of(*published[:2], desk["draft"], desk["scheduled"]))
    [message] = flashes(client)
    assert message.startswith("已清空 2 篇；跳过 2 篇：")
    assert "草稿不能清空（《草稿：骑手保障》）" in message
    assert "定时发表的文章不能清空（《定时：骑手保险》）" in message
    assert fresh(desk["draft"]).status == DRAFT
    assert fresh(desk["scheduled"]).status == SCHEDULED


def test_nothing_to_change_records_nothing(desk):
    client = desk["client"]
    response = bulk(client, "restore", ids_of(*desk["published"]))
    assert response.status_code == 303
    page = soup(client.get("/admin/"))
    assert page.select_one(".flash--warning").get_text(strip=True) == (
        "已恢复 0 篇；跳过 3 篇：没有被清空（《蜂鸟骑手新规第1条》《蜂鸟骑手新规第2条》"
        "《蜂鸟骑手新规第3条》）。"
    )
    assert page.select_one("form.flash-undo") is None
    assert db.session.scalar(select(func.count(BulkAction.id))) == 0


def test_undo_skips_an_article_edited_since(desk):
    client, published = desk["client"], desk["published"]
    bulk(client, "clear", ids_of(*published))
    action = undo_action(client)
    # Someone restores one by hand and clears it again: its version has moved on.
    edited = fresh(published[0])
    edited.status, edited.cleared_at = PUBLISHED, None
    db.session.commit()
    edited.status, edited.cleared_at = CLEARED, local_now()
    db.session.commit()
    client.post(action)
    [message] = flashes(client)
    assert message == f"已撤销 2 篇；跳过 1 篇：此后已被修改（《{published[0].title}》）。"
    assert fresh(published[0]).status == CLEARED
    assert [fresh(a).status for a in published[1:]] == [PUBLISHED, PUBLISHED]
    assert found(client) == {published[1].id, published[2].id}


def test_publish_drafts_and_scheduled_now_and_undo_puts_the_schedule_back(desk):
    client, draft, scheduled = desk["client"], desk["draft"], desk["scheduled"]
    when = scheduled.scheduled_for
    bulk(client, "publish", ids_of(draft, scheduled, desk["published"][0]))
    [message], undo = summary(client)
    assert message == f"已发表 2 篇；跳过 1 篇：已经发表（《{desk['published'][0].title}》）。"
    draft, scheduled = fresh(draft), fresh(scheduled)
    assert draft.status == scheduled.status == PUBLISHED
    assert draft.published_at is not None and scheduled.published_at is not None
    assert scheduled.scheduled_for is None
    assert client.get(f"/articles/{scheduled.id}").status_code == 200
    assert {draft.id, scheduled.id} <= found(client)

    client.post(undo)
    draft, scheduled = fresh(draft), fresh(scheduled)
    assert (draft.status, draft.published_at) == (DRAFT, None)
    assert (scheduled.status, scheduled.published_at) == (SCHEDULED, None)
    assert scheduled.scheduled_for == when
    assert not ({draft.id, scheduled.id} & found(client))


def test_unpublish_then_restore_rules(desk):
    client, published = desk["client"], desk["published"]
    bulk(client, "unpublish", ids_of(published[0], desk["draft"]))
    assert flashes(client) == [
        f"已撤回为草稿 1 篇；跳过 1 篇：本来就是草稿（《{desk['draft'].title}》）。"
    ]
    assert fresh(published[0]).status == DRAFT
    assert published[0].id not in found(client)
    # Restore only takes cleared articles that still have a title.
    bulk(client, "clear", ids_of(published[1]))
    assert flashes(client) == ["已清空 1 篇。"]
    empty = _article("", CLEARED)
    bulk(client, "restore", ids_of(published[1], empty, published[0]))
    [message] = flashes(client)
    assert message.startswith("已恢复 1 篇；跳过 2 篇：")
    assert "导入时就只有清空标记" in message and "没有被清空" in message
    assert fresh(published[1]).status == PUBLISHED


@pytest.mark.parametrize(
    "data",
    [
        {"action": "delete", "ids": ["1"]},
        {"action": "", "ids": ["1"]},
        {"action": "clear", "ids": ["1", "abc"]},
        {"action": "clear", "ids": ["-1"]},
        {"action": "clear", "ids": ["1", "999999"]},
        {"action": "clear", "ids": ["1" * 30]},
    ],
)
def test_bad_action_or_ids_are_a_400_page_and_change_nothing(desk, data):
    client, published = desk["client"], desk["published"]
    data = {**data, "ids": [str(published[0].id) if i == "1" else i for i in data["ids"]]}
    response = client.post("/admin/bulk", data=data)
    assert response.status_code == 400
    assert soup(response).select_one(".error-page__code").get_text() == "400"
    assert fresh(published[0]).status == PUBLISHED
    assert db.session.scalar(select(func.count(BulkAction.id))) == 0


def test_empty_selection_asks_to_tick_rows(desk):
    response = bulk(desk["client"], "clear", [])
    assert response.status_code == 303
    assert flashes(desk["client"]) == ["请先勾选要操作的文章。"]


def test_next_only_returns_to_the_dashboard(desk):
    response = bulk(desk["client"], "clear", ids_of(desk["published"][0]), next="//evil.test/")
    assert response.headers["Location"] == "/admin/"
    response = bulk(desk["client"], "restore", ids_of(desk["published"][0]), next="/admin/words")
    assert response.headers["Location"] == "/admin/"


def test_dashboard_rows_have_labelled_checkboxes_in_the_bulk_form(desk):
    page = soup(desk["client"].get("/admin/"))
    form = page.select_one("form#bulk-form")
    assert form["method"] == "post" and form["action"] == "/admin/bulk"
    options = [o["value"] for o in form.select("select[name=action] option")]
    assert options == ["", "publish", "unpublish", "clear", "restore"]
    boxes = page.select("li.admin-row input[type=checkbox][name=ids]")
    assert len(boxes) == 5 and all(box["form"] == "bulk-form" for box in boxes)
    assert all(box["aria-label"].startswith("选择 #") for box in boxes)
    assert page.select_one("#bulk-all")["type"] == "checkbox"
    assert page.select_one("label[for=bulk-all]").get_text() == "全选本页"
    # Rows loaded by htmx carry the same checkbox, tied to the page's form.
    fragment = soup(desk["client"].get("/admin/", headers={"HX-Request": "true"}))
    assert fragment.select_one("form") is None or fragment.select_one("form#bulk-form") is None
    assert len(fragment.select("input[name=ids][form=bulk-form]")) == 5


def test_an_editor_may_bulk_and_undo_but_not_undo_someone_elses(desk, app):
    client, published = desk["client"], desk["published"]
    bulk(client, "clear", ids_of(published[0]))
    admins_undo = undo_action(client)
    editor = app.test_client()
    make_user("writer", role="editor")
    sign_in(editor, "writer")
    assert bulk(editor, "clear", ids_of(published[1])).status_code == 303
    assert fresh(published[1]).status == CLEARED
    own_undo = undo_action(editor)
    assert editor.post(admins_undo).status_code == 403
    assert editor.post(own_undo).status_code == 303
    assert fresh(published[1]).status == PUBLISHED
    assert fresh(published[0]).status == CLEARED
    # An admin may undo anyone's.
    assert client.post(admins_undo).status_code == 303
    assert fresh(published[0]).status == PUBLISHED


def test_unknown_action_id_is_404(desk):
    assert desk["client"].post("/admin/bulk/999/undo").status_code == 404


def test_csrf_is_required(tmp_path):
    app = make_app(tmp_path)
    app.test_client_class = FreshContextClient  # each request its own g, as in production
    with app.app_context():
        make_user()
        article = _article("有 CSRF 的文章")
        client = app.test_client()
        sign_in(client)
        refused = client.post("/admin/bulk", data={"action": "clear", "ids": [str(article.id)]})
        assert refused.status_code == 400
        assert fresh(article).status == PUBLISHED
        token = csrf_token_of(client.get("/admin/"))
        data = {"action": "clear", "ids": [str(article.id)], "csrf_token": token}
        assert client.post("/admin/bulk", data=data).status_code == 303
        assert fresh(article).status == CLEARED
        action = undo_action(client)
        assert client.post(action).status_code == 400
        assert fresh(article).status == CLEARED
        page = client.get("/admin/")
        assert client.post(action, data={"csrf_token": csrf_token_of(page)}).status_code == 303
        assert fresh(article).status == PUBLISHED
        db.session.remove()


def test_a_conflicting_save_changes_nothing(desk, monkeypatch):
    """If one article was saved by someone else meanwhile, its versioned UPDATE matches no
    row: the whole action is rolled back, the others included, and nothing is recorded."""
    from microsite.content import lifecycle

    client, published = desk["client"], desk["published"]
    clear = lifecycle.RULES["clear"]
    table = Article.__table__

    def clear_while_someone_saves(article, now):
        if article.id == published[1].id:
            bump = table.update().where(table.c.id == article.id)
            db.session.execute(bump.values(version=table.c.version + 1))
        return clear(article, now)

    monkeypatch.setitem(lifecycle.RULES, "clear", clear_while_someone_saves)
    response = bulk(client, "clear", ids_of(*published))
    assert response.status_code == 409
    assert "没有做任何更改" in soup(response).select_one(".error-page__message").get_text()
    assert [fresh(article).status for article in published] == [PUBLISHED] * 3
    assert db.session.scalar(select(func.count(BulkAction.id))) == 0
    assert found(client) == {article.id for article in published}
