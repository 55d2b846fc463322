"""Issue 14.1 end to end: an editor saves the body that once stored a live self-submitting
form (role change to admin); what is stored and what an admin is shown hold no form and no
htmx attribute. The Chromium side (markup planted past the sanitizer) is in
tests/test_hx_disable_browser.py."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from microsite.content.models import Article, User
from microsite.extensions import db
from tests.support.app import make_app
from tests.support.factories import make_user
from tests.support.forms import post_form, sign_in
from tests.support.payloads import ESCALATION, PICTURE, ROLE_FORM

KEPT_PICTURE = f'<p>正文</p><p><img src="{PICTURE}" alt="x>{ROLE_FORM}"></p>'


@pytest.fixture
def desk_app(tmp_path):
    app = make_app(tmp_path)  # CSRF on, as in production
    with app.app_context():
        make_user("boss")  # an admin
        make_user("writer", role="editor")
        db.session.remove()
    return app


def _signed_in(app, username):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _active_attributes(soup: BeautifulSoup) -> list[str]:
    return [
        f"{tag.name}[{name}]"
        for tag in soup.find_all(True)
        for name in tag.attrs
        if name.startswith(("hx-", "data-hx-", "on"))
    ]


@pytest.mark.parametrize("body", [ESCALATION, KEPT_PICTURE], ids=["issue-payload", "kept-picture"])
def test_an_editor_cannot_store_a_form_an_admin_would_run(desk_app, body):
    writer = _signed_in(desk_app, "writer")
    response = post_form(
        writer,
        "/admin/articles/new",
        title="提权测试",
        body=body,
        category="测试",
        tags="",
        source_note="",
        status="published",
        published_at="",
        save="保存",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    with desk_app.app_context():
        article = db.session.scalars(select(Article).where(Article.title == "提权测试")).one()
        stored, article_id = article.body, article.id
        writer_role = db.session.scalar(select(User.role).where(User.username == "writer"))
    stored_soup = BeautifulSoup(stored, "html.parser")
    assert stored_soup.find_all(["form", "input"]) == [], stored
    assert _active_attributes(stored_soup) == [], stored

    page = _signed_in(desk_app, "boss").get(f"/articles/{article_id}")
    assert page.status_code == 200
    body_soup = BeautifulSoup(page.get_data(as_text=True), "html.parser").select_one("article")
    assert body_soup.find_all(["form", "input"]) == []
    assert _active_attributes(body_soup) == []
    assert writer_role == "editor"
