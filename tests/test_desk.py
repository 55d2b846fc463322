"""Autosave and presence on the server: kept beside the article, never over it; nothing locks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from microsite.content.models import PUBLISHED, Article, Autosave, Category, Presence, Revision
from microsite.extensions import db
from microsite.text import local_now
from tests.support.app import make_app, soup
from tests.support.factories import make_user
from tests.support.forms import sign_in

PUBLISHED_BODY = "<p>已发表的正文。</p>"
TYPED_BODY = "<p>还没保存的新正文。</p>"


@pytest.fixture
def article(app) -> Article:
    article = Article(
        title="原标题",
        body=PUBLISHED_BODY,
        category=Category(name="政策", slug="政策"),
        status=PUBLISHED,
        published_at=local_now(),
    )
    db.session.add(article)
    db.session.commit()
    return article


@pytest.fixture
def users(app):
    return make_user("jia", display_name="编辑甲"), make_user("yi", display_name="编辑乙")


def client_for(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def autosave(client, article: Article, **fields):
    data = {"title": "新标题", "body": TYPED_BODY, "version": article.version, **fields}
    return client.post(f"/admin/articles/{article.id}/autosave", data=data)


def fresh(article: Article) -> Article:
    db.session.expire_all()
    return db.session.get(Article, article.id)


def test_an_autosave_is_kept_beside_the_article_and_never_over_it(app, article, users):
    jia = client_for(app, "jia")
    revisions_before = db.session.scalar(select(func.count()).select_from(Revision))
    response = autosave(jia, article)
    assert response.status_code == 200
    assert response.json["message"].startswith("已自动保存（")
    stored = fresh(article)
    assert (stored.title, stored.body, stored.version) == ("原标题", PUBLISHED_BODY, 1)
    assert db.session.scalar(select(func.count()).select_from(Revision)) == revisions_before
    assert (
        app.test_client().get(f"/articles/{article.id}").get_data(as_text=True).count("还没保存")
        == 0
    )
    # A second autosave replaces the first: one per article and user.
    autosave(jia, article, body="<p>第二次。</p>")
    assert db.session.scalar(select(func.count()).select_from(Autosave)) == 1


def test_reopening_offers_to_restore_and_the_restored_text_saves(app, article, users):
    jia = client_for(app, "jia")
    autosave(jia, article)
    page = soup(jia.get(f"/admin/articles/{article.id}/edit"))
    offer = page.find("a", string=lambda s: s and s.startswith("恢复自动保存的内容（"))
    assert offer is not None and offer["href"].endswith("?autosave=restore")
    assert page.find("textarea", id="body").get_text().lstrip() == PUBLISHED_BODY

    page = soup(jia.get(offer["href"]))
    assert page.find("textarea", id="body").get_text().lstrip() == TYPED_BODY
    assert page.find("input", id="title")["value"] == "新标题"
    assert page.find(id="autosave-restored") is not None
    form = {"title": "新标题", "body": TYPED_BODY, "category": "政策", "status": PUBLISHED}
    form["version"] = page.find("input", attrs={"name": "version"})["value"]
    response = jia.post(f"/admin/articles/{article.id}/edit", data=form)
    assert response.status_code == 302
    assert fresh(article).body == TYPED_BODY
    # Saved for real: nothing left to offer.
    assert db.session.scalar(select(func.count()).select_from(Autosave)) == 0
    assert "恢复自动保存的内容" not in jia.get(f"/admin/articles/{article.id}/edit").get_data(
        as_text=True
    )


def test_a_restored_autosave_over_a_newer_save_is_refused_with_the_text_kept(app, article, users):
    jia, yi = client_for(app, "jia"), client_for(app, "yi")
    autosave(jia, article)
    # 编辑乙 saves the article meanwhile.
    form = {"title": "乙的标题", "body": "<p>乙的正文。</p>", "category": "政策"}
    assert (
        yi.post(
            f"/admin/articles/{article.id}/edit", data={**form, "status": PUBLISHED, "version": 1}
        ).status_code
        == 302
    )
    page = soup(jia.get(f"/admin/articles/{article.id}/edit?autosave=restore"))
    version = page.find("input", attrs={"name": "version"})["value"]
    assert version == "1"
    response = jia.post(
        f"/admin/articles/{article.id}/edit",
        data={"title": "新标题", "body": TYPED_BODY, "category": "政策", "version": version},
    )
    assert response.status_code == 409
    assert soup(response).find("textarea", id="body").get_text().lstrip() == TYPED_BODY
    assert fresh(article).body == "<p>乙的正文。</p>"


def test_discarding_forgets_the_autosave_and_others_never_see_mine(app, article, users):
    jia, yi = client_for(app, "jia"), client_for(app, "yi")
    autosave(jia, article)
    assert "恢复自动保存的内容" not in yi.get(f"/admin/articles/{article.id}/edit").get_data(
        as_text=True
    )
    assert yi.get(f"/admin/articles/{article.id}/edit?autosave=restore").status_code == 302
    response = jia.post(f"/admin/articles/{article.id}/autosave/discard", follow_redirects=True)
    assert "已放弃自动保存的内容。" in response.get_data(as_text=True)
    assert "恢复自动保存的内容（" not in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Autosave)) == 0


def test_a_new_article_is_autosaved_and_restored_before_it_exists(app, users):
    jia = client_for(app, "jia")
    response = jia.post(
        "/admin/articles/new/autosave", data={"title": "草稿标题", "body": TYPED_BODY}
    )
    assert response.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Article)) == 0
    page = soup(jia.get("/admin/articles/new"))
    offer = page.find("a", string=lambda s: s and s.startswith("恢复自动保存的内容（"))
    page = soup(jia.get(offer["href"]))
    assert page.find("textarea", id="body").get_text().lstrip() == TYPED_BODY
    assert page.find("input", id="title")["value"] == "草稿标题"


def test_a_body_too_long_for_an_article_is_refused_and_nothing_is_kept(app, article, users):
    jia = client_for(app, "jia")
    response = autosave(jia, article, body="长" * 200_001)
    assert response.status_code == 400
    assert "自动保存失败" in response.json["error"]
    assert db.session.scalar(select(func.count()).select_from(Autosave)) == 0


def test_a_cross_site_autosave_without_the_csrf_token_is_refused(tmp_path):
    app = make_app(tmp_path)  # CSRF on, as in production
    with app.app_context():
        make_user("jia", display_name="编辑甲")
        article = Article(title="原标题", body=PUBLISHED_BODY, status=PUBLISHED)
        db.session.add(article)
        db.session.commit()
        client = app.test_client()
        sign_in(client, "jia")
        response = client.post(
            f"/admin/articles/{article.id}/autosave", data={"title": "x", "body": "<p>攻击</p>"}
        )
        assert response.status_code == 400
        assert db.session.scalar(select(func.count()).select_from(Autosave)) == 0


def test_two_editors_on_one_article_see_each_other_and_nothing_is_locked(app, article, users):
    jia, yi = client_for(app, "jia"), client_for(app, "yi")
    assert "正在编辑这篇文章" not in jia.get(f"/admin/articles/{article.id}/edit").get_data(
        as_text=True
    )
    page = soup(yi.get(f"/admin/articles/{article.id}/edit"))
    assert page.find(id="presence").find(class_="desk-presence__who").get_text() == (
        "编辑甲 正在编辑这篇文章"
    )
    heartbeat = jia.post(f"/admin/articles/{article.id}/presence")
    assert soup(heartbeat).find(class_="desk-presence__who").get_text() == "编辑乙 正在编辑这篇文章"
    # Both may save; the version check alone decides.
    form = {"title": "乙的标题", "body": "<p>乙。</p>", "category": "政策", "version": 1}
    assert yi.post(f"/admin/articles/{article.id}/edit", data=form).status_code == 302


def test_an_editor_whose_heartbeat_stopped_is_no_longer_shown(app, article, users):
    jia, yi = client_for(app, "jia"), client_for(app, "yi")
    jia.get(f"/admin/articles/{article.id}/edit")
    seconds = app.config["PRESENCE_SECONDS"]
    row = db.session.scalar(select(Presence))
    row.seen_at = local_now() - timedelta(seconds=seconds * 3)
    db.session.commit()
    page = yi.get(f"/admin/articles/{article.id}/edit").get_data(as_text=True)
    assert "编辑甲 正在编辑这篇文章" not in page
