"""Article revisions: every save kept, listed on the edit page, diffed word by word, restorable."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from microsite import search
from microsite.config import load_config
from microsite.content import worddiff
from microsite.content.models import CLEARED, PUBLISHED, Article, Revision
from microsite.extensions import db
from microsite.views.admin import revisions as revision_views
from tests.support.app import soup
from tests.support.articles import create, form_fields
from tests.support.factories import make_user
from tests.support.forms import sign_in
from tests.support.search import hit_ids, results

OLD_BODY = "公司大量使用劳务派遣人员，引发争议。\n第二段保持不变。"
NEW_BODY = "公司大量滥用临时用工人员，引发争议。\n第二段保持不变。"
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def edit(client, article: Article, **changes):
    """Save the article's edit form with `changes`, as a browser would; returns the response."""
    url = f"/admin/articles/{article.id}/edit"
    response = client.post(url, data={**form_fields(client.get(url)), **changes})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def revisions_of(article: Article) -> list[Revision]:
    db.session.expire_all()
    query = select(Revision).where(Revision.article_id == article.id).order_by(Revision.id)
    return list(db.session.scalars(query))


def listed(client, article: Article) -> list[dict]:
    """The edit page's revision rows, newest first, as the admin reads them."""
    page = soup(client.get(f"/admin/articles/{article.id}/edit"))
    rows = []
    for tr in page.select("section.revisions tbody tr"):
        cells = tr.select("th, td")
        rows.append(
            {
                "version": cells[0].get_text(" ", strip=True),
                "who": cells[1].get_text(strip=True),
                "when": cells[2].get_text(strip=True),
                "note": cells[3].get_text(strip=True),
                "href": cells[4].select_one("a")["href"],
            }
        )
    return rows


def revision_page(client, article: Article, revision: Revision):
    return client.get(f"/admin/articles/{article.id}/revisions/{revision.id}")


def restore(client, article: Article, revision: Revision, version: int | None = None):
    """Press the restore button on the revision page (optionally with another version)."""
    form = soup(revision_page(client, article, revision)).select_one("form[action$='/restore']")
    data = {field["name"]: field["value"] for field in form.select("input[name]")}
    if version is not None:
        data["version"] = str(version)
    return client.post(form["action"], data=data)


def test_every_save_is_listed_on_the_edit_page_newest_first(desk):
    article = create(desk, title="第一稿标题")
    edit(desk, article, title="第二稿标题")
    edit(desk, article, title="第三稿标题")
    rows = listed(desk, article)
    assert [row["version"] for row in rows] == ["第 3 版 （当前）", "第 2 版", "第 1 版"]
    assert {row["who"] for row in rows} == {"编辑部 - editor"}
    assert all(STAMP.match(row["when"]) for row in rows)
    assert [r.title for r in revisions_of(article)] == ["第一稿标题", "第二稿标题", "第三稿标题"]
    db.session.refresh(article)
    assert [r.version for r in revisions_of(article)] == [1, 2, 3] and article.version == 3


def test_first_edit_of_an_imported_article_keeps_its_text_as_the_first_version(desk, seeded):
    before_title, before_body, updated_at = seeded.title, seeded.body, seeded.updated_at
    assert listed(desk, seeded) == []
    edit(desk, seeded, title="改过的标题")
    baseline, saved = revisions_of(seeded)
    assert (baseline.title, baseline.body) == (before_title, before_body)
    assert baseline.note == "最初版本" and baseline.created_at == updated_at
    assert baseline.author_id == seeded.author_id and baseline.version == 1
    assert saved.title == "改过的标题" and saved.version == 2
    assert [row["note"] for row in listed(desk, seeded)] == ["", "最初版本"]


def test_a_save_that_changes_no_text_adds_no_revision(desk):
    article = create(desk)
    edit(desk, article, status=PUBLISHED)
    assert len(revisions_of(article)) == 1
    assert listed(desk, article)[0]["version"] == "第 1 版 （当前）"


def test_a_keyword_change_alone_is_a_new_version(desk):
    article = create(desk, tags="劳务派遣 临时工")
    edit(desk, article, tags="劳务派遣 灵活用工")
    first, second = revisions_of(article)
    assert (first.tags, second.tags) == ("临时工 劳务派遣", "劳务派遣 灵活用工")
    db.session.refresh(article)
    assert (second.version, article.version) == (2, 2)


def test_the_diff_marks_whole_chinese_words(desk):
    article = create(desk, title="劳务派遣新规", body=OLD_BODY, tags="劳务派遣 临时工")
    edit(desk, article, title="临时用工新规", body=NEW_BODY, tags="临时工 灵活用工")
    first = revisions_of(article)[0]
    page = soup(revision_page(desk, article, first))
    title = page.select_one(".diff__title")
    assert [d.get_text() for d in title.select("del")] == ["劳务派遣"]
    assert [i.get_text() for i in title.select("ins")] == ["临时用工"]
    assert title.get_text() == "劳务派遣临时用工新规"
    changed, unchanged = page.select(".diff__body p")
    # 使用 → 滥用 shares a character, yet the whole word is marked, not just 使 → 滥.
    assert [d.get_text() for d in changed.select("del")] == ["使用劳务派遣"]
    assert [i.get_text() for i in changed.select("ins")] == ["滥用临时用工"]
    # The words around stay unmarked and full-width punctuation is intact.
    assert changed.get_text() == "公司大量使用劳务派遣滥用临时用工人员，引发争议。"
    assert unchanged.get_text() == "第二段保持不变。" and not unchanged.select("del, ins")
    tags = page.select_one(".diff__tags")
    assert [d.get_text() for d in tags.select("del")] == ["劳务派遣"]
    assert [i.get_text() for i in tags.select("ins")] == ["灵活用工"]


def test_the_diff_escapes_what_it_shows(desk):
    article = create(
        desk, title="标题<b>粗</b>", body="<p>正文 &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )
    edit(desk, article, title="新的标题<b>粗</b>", body="<p>正文 改了</p>")
    response = revision_page(desk, article, revisions_of(article)[0])
    page = soup(response)
    assert page.select(".diff b, .diff i, .diff script") == []
    assert page.select_one(".diff__title").get_text() == "新的标题<b>粗</b>"
    assert "<script>alert(1)</script>" in page.select_one(".diff__body").get_text()
    assert "<script>alert" not in response.get_data(as_text=True)


def test_restore_brings_back_the_old_text_everywhere_as_a_new_revision(desk):
    article = create(desk, title="劳务派遣新规", body=OLD_BODY, tags="劳务派遣", status=PUBLISHED)
    edit(desk, article, title="临时用工新规", body=NEW_BODY, tags="临时用工")
    first = revisions_of(article)[0]
    response = restore(desk, article, first)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/articles/{article.id}/edit"
    db.session.refresh(article)
    assert (article.title, [t.name for t in article.tags]) == ("劳务派遣新规", ["劳务派遣"])
    assert "劳务派遣人员" in article.body and article.version == 3
    public = soup(desk.get(f"/articles/{article.id}"))
    assert public.select_one(".article__title").get_text() == "劳务派遣新规"
    assert "劳务派遣人员" in public.select_one(".article__body").get_text()
    assert "临时用工" not in public.select_one(".article__body").get_text()
    newest = revisions_of(article)[-1]
    assert (newest.version, newest.note, newest.title) == (3, "恢复自第 1 版", "劳务派遣新规")
    rows = listed(desk, article)
    assert rows[0]["version"] == "第 3 版 （当前）" and rows[0]["note"] == "恢复自第 1 版"
    assert len(rows) == 3  # the replaced text (version 2) is still there
    flash = soup(desk.get(f"/admin/articles/{article.id}/edit")).select_one(".flash")
    assert flash is None or "恢复" not in flash.get_text()  # the flash was shown once, above


def test_restore_tells_the_admin_what_happened(desk):
    article = create(desk, title="甲")
    edit(desk, article, title="乙")
    response = restore(desk, article, revisions_of(article)[0])
    page = soup(desk.get(response.headers["Location"]))
    assert "已恢复第 1 版，保存为第 3 版" in page.select_one(".flash").get_text()


def test_the_current_revision_offers_no_restore(desk):
    article = create(desk, title="甲")
    edit(desk, article, title="乙")
    page = soup(revision_page(desk, article, revisions_of(article)[-1]))
    assert "这一版与当前内容相同" in page.select_one(".revision-diff").get_text()
    assert page.select("form[action$='/restore']") == []
    assert page.select(".diff del, .diff ins") == []


def test_a_stale_restore_is_refused_and_changes_nothing(desk):
    article = create(desk, title="第一版标题")
    edit(desk, article, title="第二版标题")
    first = revisions_of(article)[0]
    db.session.refresh(article)
    opened_at = article.version
    edit(desk, article, title="别人刚保存的标题")  # someone saves while the page is open
    response = restore(desk, article, first, version=opened_at)
    assert response.status_code == 409
    page = soup(response)
    assert "恢复被拒绝" in page.select_one(".conflict").get_text()
    # The page shows the diff against the newest text and a form that may now go through.
    assert [i.get_text() for i in page.select(".diff__title ins")] == ["别人刚保存的"]
    db.session.refresh(article)
    assert article.title == "别人刚保存的标题"
    assert page.select_one("input[name=version]")["value"] == str(article.version)
    assert len(revisions_of(article)) == 3


def test_a_restore_racing_a_save_between_read_and_write_is_refused(desk, monkeypatch):
    article = create(desk, title="第一版标题")
    edit(desk, article, title="第二版标题")
    first = revisions_of(article)[0]
    real_restore = revision_views.revisions.restore

    def restore_while_someone_else_saves(target, revision, user):
        found = real_restore(target, revision, user)
        with db.engine.begin() as other:
            other.execute(
                update(Article.__table__)
                .where(Article.__table__.c.id == target.id)
                .values(title="同时保存的标题", version=target.version + 1)
            )
        return found

    monkeypatch.setattr(revision_views.revisions, "restore", restore_while_someone_else_saves)
    response = restore(desk, article, first)
    assert response.status_code == 409
    db.session.expire_all()
    assert db.session.get(Article, article.id).title == "同时保存的标题"
    assert len(revisions_of(article)) == 2


def test_a_cleared_article_keeps_its_revisions_and_refuses_a_restore(desk):
    article = create(desk, title="第一版标题", status=PUBLISHED)
    edit(desk, article, title="第二版标题")
    first = revisions_of(article)[0]
    restore_form = soup(revision_page(desk, article, first)).select_one("form[action$='/restore']")
    assert desk.post(f"/admin/articles/{article.id}/clear").status_code == 302
    assert [r.title for r in revisions_of(article)] == ["第一版标题", "第二版标题"]
    assert len(listed(desk, article)) == 2
    page = soup(revision_page(desk, article, first))
    assert "已被清空" in page.select_one(".notice--cleared").get_text()
    assert page.select("form[action$='/restore']") == []
    # A restore form opened before the clear is refused too.
    data = {field["name"]: field["value"] for field in restore_form.select("input[name]")}
    response = desk.post(restore_form["action"], data=data)
    assert response.status_code == 409
    assert "已被清空" in soup(response).select_one(".conflict").get_text()
    db.session.refresh(article)
    assert article.status == CLEARED and article.title == "第二版标题"
    assert len(revisions_of(article)) == 2


def test_retention_keeps_the_newest_revisions(app, desk):
    app.config["REVISIONS_KEEP"] = 2
    article = create(desk, title="第1稿")
    for n in range(2, 6):
        edit(desk, article, title=f"第{n}稿")
    kept = revisions_of(article)
    assert [(r.version, r.title) for r in kept] == [(4, "第4稿"), (5, "第5稿")]
    db.session.refresh(article)
    assert kept[-1].title == article.title  # the current text is always among them
    assert len(listed(desk, article)) == 2


def test_retention_of_one_still_keeps_the_current_text(app, desk, seeded):
    app.config["REVISIONS_KEEP"] = 1
    edit(desk, seeded, title="改过一次")
    edit(desk, seeded, title="改过两次")
    assert [r.title for r in revisions_of(seeded)] == ["改过两次"]


def test_retention_is_read_from_the_environment(tmp_path, monkeypatch):
    assert load_config(tmp_path, with_secret=False)["REVISIONS_KEEP"] == 0  # default: keep all
    monkeypatch.setenv("MICROSITE_REVISIONS_KEEP", "7")
    assert load_config(tmp_path, with_secret=False)["REVISIONS_KEEP"] == 7


@pytest.fixture
def index(app):
    """A search index built for this app, its files closed when the test ends."""
    search.rebuild()
    yield
    search.state().searcher.close()


def test_search_follows_a_restore(desk, index):
    article = create(desk, title="蓝鲸计划启动", body="蓝鲸计划第一阶段。", status=PUBLISHED)
    edit(desk, article, title="白鹭计划启动", body="白鹭计划第一阶段。")
    assert article.id not in hit_ids(results(desk, "蓝鲸计划"))
    assert article.id in hit_ids(results(desk, "白鹭计划"))
    assert restore(desk, article, revisions_of(article)[0]).status_code == 302
    assert hit_ids(results(desk, "蓝鲸计划")) == [article.id]
    assert article.id not in hit_ids(results(desk, "白鹭计划"))


def test_an_editor_may_view_and_restore_revisions(client, app):
    make_user("writer", display_name="记者", role="editor")
    sign_in(client, "writer")
    article = create(client, title="编辑写的第一版")
    edit(client, article, title="编辑写的第二版")
    first = revisions_of(article)[0]
    assert revision_page(client, article, first).status_code == 200
    assert restore(client, article, first).status_code == 302
    db.session.refresh(article)
    assert article.title == "编辑写的第一版"
    assert listed(client, article)[0]["who"] == "记者 - writer"


def test_revisions_need_sign_in(client, admin_user):
    sign_in(client)
    article = create(client)
    client.post("/admin/logout")
    url = f"/admin/articles/{article.id}/revisions/{revisions_of(article)[0].id}"
    assert client.get(url).headers["Location"].startswith("/admin/login")
    assert client.post(url + "/restore", data={"version": "1"}).status_code == 302
    db.session.refresh(article)
    assert len(revisions_of(article)) == 1


def test_unknown_ids_are_404_pages(desk):
    one = create(desk, title="一号")
    other = create(desk, title="二号")
    theirs = revisions_of(other)[0]
    for url in (
        f"/admin/articles/999999/revisions/{theirs.id}",
        f"/admin/articles/{one.id}/revisions/999999",
        f"/admin/articles/{one.id}/revisions/{theirs.id}",  # a revision of another article
    ):
        response = desk.get(url)
        assert response.status_code == 404, url
        assert soup(response).select_one(".error-page__code").get_text() == "404"
        assert desk.post(url + "/restore", data={"version": "1"}).status_code == 404
    db.session.refresh(one)
    assert one.title == "一号"


def test_word_diff_keeps_text_and_punctuation():
    old, new = "我们要求：“不得使用劳务派遣！”", "我们要求：“不得滥用临时用工！”"
    pieces = worddiff.diff_words(old, new)
    assert "".join(p.text for p in pieces if p.kind != worddiff.INSERTED) == old
    assert "".join(p.text for p in pieces if p.kind != worddiff.DELETED) == new
    assert str(worddiff.render(pieces)) == (
        "我们要求：“不得<del>使用劳务派遣</del><ins>滥用临时用工</ins>！”"
    )


def test_body_diff_works_paragraph_by_paragraph():
    old = "<h2>小标题</h2><p>第一段。</p><p>要删的段落。</p><p>末段。</p>"
    new = "<h2>小标题</h2><p>第一段。</p><p>末段。</p><p>新加的段落。</p>"
    paragraphs = worddiff.body_diff(old, new)
    assert [(p.kind, str(p.html)) for p in paragraphs] == [
        ("equal", "小标题"),
        ("equal", "第一段。"),
        ("del", "<del>要删的段落。</del>"),
        ("equal", "末段。"),
        ("ins", "<ins>新加的段落。</ins>"),
    ]
    merged = worddiff.body_diff("<p>甲乙。</p><p>丙丁。</p>", "<p>甲乙。丙丁。</p>")
    assert [str(p.html) for p in merged] == ["甲乙。<del>↵</del>", "丙丁。"]
    assert merged[0].kind == "changed"


def test_unchanged_paragraphs_far_from_a_change_are_folded(desk):
    paragraphs = [f"第{n}段的内容。" for n in range(1, 9)]
    article = create(desk, body="\n".join(paragraphs))
    changed = [*paragraphs[:5], "第6段改过的内容。", *paragraphs[6:]]
    edit(desk, article, body="\n".join(changed))
    page = soup(revision_page(desk, article, revisions_of(article)[0]))
    body = page.select_one(".diff__body")
    folds = body.select("details.diff__unchanged")
    assert [d.select_one("summary").get_text() for d in folds] == ["4 段未改动", "1 段未改动"]
    assert [p.get_text() for p in folds[0].select("p")] == paragraphs[:4]
    shown = [p.get_text() for p in body.find_all("p", recursive=False)]
    assert shown == ["第5段的内容。", "第6段改过的内容。", "第7段的内容。"]
    assert [d.get_text() for d in body.select("del")] == [] and body.select_one("ins")


def test_the_edit_page_lists_the_newest_and_links_to_every_revision(desk, monkeypatch):
    monkeypatch.setattr(revision_views, "EDIT_PAGE_LIMIT", 2)
    article = create(desk, title="第1稿")
    for n in (2, 3):
        edit(desk, article, title=f"第{n}稿")
    assert [row["version"] for row in listed(desk, article)] == ["第 3 版 （当前）", "第 2 版"]
    page = soup(desk.get(f"/admin/articles/{article.id}/edit"))
    link = page.select_one("section.revisions a[href$='/revisions']")
    assert link.get_text() == "查看全部 3 个版本"
    everything = soup(desk.get(link["href"]))
    rows = everything.select("section.revisions tbody tr th")
    assert [th.get_text(" ", strip=True) for th in rows] == [
        "第 3 版 （当前）",
        "第 2 版",
        "第 1 版",
    ]
    assert everything.select("section.revisions a[href$='/revisions']") == []
    assert desk.get("/admin/articles/999999/revisions").status_code == 404


def test_the_edit_page_lists_exactly_the_newest_20_of_22_versions(desk):
    # README (Admin, Revisions): "The edit page lists the newest 20 (all at
    # /admin/articles/<id>/revisions)". The number is README's, not EDIT_PAGE_LIMIT.
    article = create(desk, title="第1稿")
    for n in range(2, 23):
        edit(desk, article, title=f"第{n}稿")
    rows = listed(desk, article)
    assert len(rows) == 20
    assert rows[0]["version"] == "第 22 版 （当前）"
    assert [row["version"] for row in rows[1:]] == [f"第 {n} 版" for n in range(21, 2, -1)]
    page = soup(desk.get(f"/admin/articles/{article.id}/edit"))
    link = page.select_one("section.revisions a[href$='/revisions']")
    assert link.get_text() == "查看全部 22 个版本"
    everything = soup(desk.get(link["href"])).select("section.revisions tbody tr th")
    assert len(everything) == 22


def test_a_long_rewritten_run_is_compared_paragraph_by_paragraph(monkeypatch):
    monkeypatch.setattr(worddiff, "BLOCK_LIMIT", 10)
    old = "<p>第一段讲劳务派遣。</p><p>第二段讲工资。</p><p>第三段。</p>"
    new = "<p>第一段讲临时用工。</p><p>第二段讲社保。</p>"
    assert [str(p.html) for p in worddiff.body_diff(old, new)] == [
        "第一段讲<del>劳务派遣</del><ins>临时用工</ins>。",
        "第二段讲<del>工资</del><ins>社保</ins>。",
        "<del>第三段。</del>",
    ]
