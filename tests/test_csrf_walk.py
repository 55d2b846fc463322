"""CSRF on every state change: every route that takes anything but GET is tried, signed in as
an admin, with no token and with a token from another admin's session, and must answer the
styled 400 page without changing anything.

The walk reads `app.url_map`, so a route added tomorrow is covered without editing this file;
an `@csrf.exempt` (or a view that skips the check some other way) fails here.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from microsite.content.importer import parse_page, store_page
from microsite.content.models import Article, MaskedWord, User
from microsite.extensions import db
from tests.support.app import SEED_TEXT, make_app, soup
from tests.support.factories import make_user
from tests.support.forms import csrf_token_of, sign_in

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# What the site says when the token is missing or wrong (microsite.accounts.auth._csrf_error).
CSRF_MESSAGE = "表单已过期或缺少安全校验信息，请刷新页面后重新提交。"
# Routes known today that change state; the walk must at least reach these.
KNOWN_CHANGES = {
    "admin.login",
    "admin.logout",
    "admin.password",
    "admin.new_article",
    "admin.edit_article",
    "admin.clear_article",
    "admin.restore_article",
    "admin.bulk_action",
    "admin.bulk_undo",
    "admin.upload_image",
    "admin.start_reindex",
    "admin.restore_revision",
    "admin.add_word",
    "admin.delete_word",
    "admin.settings",
    "admin.edit_page",
    "admin.new_user",
    "admin.change_role",
    "admin.reset_password",
    "admin.disable_user",
    "admin.enable_user",
}


@pytest.fixture
def site(tmp_path) -> dict:
    """A production-like app (CSRF on) with an article, a masked word and a second user, so
    that a route whose check was skipped would find something real to change."""
    app = make_app(tmp_path)
    with app.app_context():
        make_user("boss", display_name="总编")
        victim = make_user("victim", display_name="记者", role="editor")
        article = store_page(parse_page(SEED_TEXT))
        word = MaskedWord(word="禁词")
        db.session.add(word)
        db.session.commit()
        ids = {"article": article.id, "user": victim.id, "word": word.id}
        db.session.remove()
    return {"app": app, "ids": ids}


def sample_value(rule_text: str, name: str, ids: dict) -> object:
    """A value for one URL parameter, by its converter: an existing row for ids, a page slug
    for text."""
    if not re.search(rf"<int(\([^)]*\))?:{name}>", rule_text):
        return "about"
    for key in ("article", "user", "word"):
        if name.startswith(key):
            return ids[key]
    return 1


def changing_routes(app: Flask, ids: dict) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every route and method that is not GET/HEAD/OPTIONS."""
    routes = []
    for rule in app.url_map.iter_rules():
        methods = sorted((rule.methods or set()) - SAFE_METHODS)
        if not methods:
            continue
        values = {name: sample_value(rule.rule, name, ids) for name in rule.arguments}
        url = rule.build(values)[1]
        routes += [(rule.endpoint, method, url) for method in methods]
    return routes


def signed_in(app: Flask, username: str = "boss") -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def state(app: Flask, ids: dict) -> tuple:
    """What a successful forged request would change: the article, the word, the users."""
    with app.app_context():
        article = db.session.get(Article, ids["article"])
        users = tuple(
            (u.username, u.role, u.disabled_at, u.password_hash)
            for u in db.session.scalars(db.select(User).order_by(User.id))
        )
        words = tuple(db.session.scalars(db.select(MaskedWord.word).order_by(MaskedWord.id)))
        articles = db.session.scalar(db.select(db.func.count(Article.id)))
        snapshot = (article.version, article.status, article.title, users, words, articles)
        db.session.remove()
    return snapshot


FORM = {
    "title": "伪造的标题",
    "body": "伪造的正文",
    "status": "published",
    "category": "伪造",
    "word": "伪造词",
    "role": "admin",
    "username": "forged",
    "password": "forged password 1",
    "new_password": "forged password 1",
    "confirm": "forged password 1",
    "action": "clear",
    "ids": "1",
    "site_name": "伪造站点",
}


def assert_refused(response, endpoint: str, method: str, how: str) -> None:
    where = (endpoint, method, how)
    assert response.status_code == 400, where
    page = soup(response)
    assert page.select_one(".error-page__code").get_text() == "400", where
    assert page.select_one(".error-page__message").get_text(strip=True) == CSRF_MESSAGE, where
    assert page.select_one(".site-footer"), where  # the site's own page, not a bare error


def test_every_state_change_refuses_a_missing_or_foreign_csrf_token(site):
    app, ids = site["app"], site["ids"]
    admin = signed_in(app)
    # Another session's token: valid for that session, worthless in this one.
    other = signed_in(app)
    foreign = csrf_token_of(other.get("/admin/words"))
    assert foreign and foreign != csrf_token_of(admin.get("/admin/words"))
    routes = changing_routes(app, ids)
    assert {endpoint for endpoint, _, _ in routes} >= KNOWN_CHANGES
    before = state(app, ids)
    for endpoint, method, url in routes:
        missing = admin.open(url, method=method, data=FORM)
        assert_refused(missing, endpoint, method, "no token")
        in_form = admin.open(url, method=method, data={**FORM, "csrf_token": foreign})
        assert_refused(in_form, endpoint, method, "another session's token in the form")
        as_htmx = admin.open(
            url, method=method, data=FORM, headers={"X-CSRFToken": foreign, "HX-Request": "true"}
        )
        assert_refused(as_htmx, endpoint, method, "another session's token in the header")
        # Still signed in (a forged sign-out would have ended the session).
        assert admin.get("/admin/").status_code == 200, (endpoint, method)
    assert state(app, ids) == before


def test_the_same_requests_with_the_sessions_own_token_get_through(site):
    """The refusal above is the token's doing: with this session's own token the clear goes
    through (so the walk's URLs reach real views)."""
    app, ids = site["app"], site["ids"]
    admin = signed_in(app)
    token = csrf_token_of(admin.get("/admin/"))
    response = admin.post(f"/admin/articles/{ids['article']}/clear", data={"csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Article, ids["article"]).status == "cleared"
        db.session.remove()
