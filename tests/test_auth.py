"""Sign-in: generic errors, throttling, CSRF, same-site `next`, renewed sessions, guarded routes."""

from __future__ import annotations

import re

import pytest

from microsite.accounts.auth import safe_next
from microsite.content.models import User
from microsite.extensions import db
from tests.support.app import ADMIN_PASSWORD, make_app, soup
from tests.support.factories import make_user
from tests.support.forms import csrf_token_of, post_form, sign_in

GENERIC = "用户名或密码错误。"


@pytest.fixture
def csrf_app(tmp_path):
    """An app with CSRF protection on and the admin user, as in production.

    No app context stays pushed: requests then get their own `g`, as they do in production
    (Flask-Login and Flask-WTF keep the user and the CSRF token there).
    """
    app = make_app(tmp_path)
    with app.app_context():
        make_user()
        db.session.remove()
    return app


def _error_text(response) -> str:
    alert = soup(response).select_one(".form-error")
    return alert.get_text(strip=True) if alert else ""


def test_login_form_is_plain_username_and_password(client):
    page = soup(client.get("/admin/login"))
    form = page.select_one("form.admin-form")
    assert form["method"] == "post"
    assert form.select_one("input[name=username]")["autocomplete"] == "username"
    assert form.select_one("input[name=password]")["type"] == "password"


@pytest.mark.parametrize(
    "username, password",
    [("editor", "wrong password"), ("nobody", ADMIN_PASSWORD), ("nobody", "wrong password")],
)
def test_wrong_credentials_get_one_generic_message(client, admin_user, username, password):
    response = sign_in(client, username, password)
    assert response.status_code == 422
    assert _error_text(response) == GENERIC
    page = soup(response)
    assert page.select_one("input[name=username]")["value"] == username
    assert password not in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_sign_in_and_sign_out(client, admin_user):
    response = sign_in(client)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200
    assert "编辑部 - editor" in dashboard.get_data(as_text=True)
    assert client.get("/admin/logout").status_code == 405
    assert client.get("/admin/").status_code == 200
    response = client.post("/admin/logout")
    assert response.headers["Location"] == "/admin/login"
    assert client.get("/admin/").status_code == 302


def test_session_is_renewed_at_sign_in(client, admin_user):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    sign_in(client)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == str(admin_user.id)


def test_sixth_failure_gets_a_429_that_says_when_to_retry(client, admin_user):
    for _ in range(5):
        assert sign_in(client, password="wrong").status_code == 422
    response = sign_in(client)  # even the right password waits out the window
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 301  # the window, rounded up
    page = soup(response)
    assert page.select_one("h1").get_text(strip=True) == "请求过于频繁"
    message = page.select_one(".error-page__message").get_text()
    assert re.search(r"请在 \d\d:\d\d:\d\d（约 [1-5] 分钟后）再试", message)
    assert client.get("/admin/login").status_code == 200  # the form itself still opens


def test_a_username_under_attack_is_slowed_down_not_locked(client, admin_user, site_clock):
    """Guesses from many addresses slow the username down; the owner still signs in from an
    address they used before, and everyone else may try again after a delay."""
    owner = {"REMOTE_ADDR": "10.0.9.9"}
    assert sign_in(client, environ_base=owner).status_code == 302
    client.post("/admin/logout", environ_base=owner)
    for number in range(10):
        address = {"REMOTE_ADDR": f"10.0.0.{number}"}
        assert sign_in(client, password="wrong", environ_base=address).status_code == 422
    stranger = {"REMOTE_ADDR": "10.0.1.1"}
    refused = sign_in(client, environ_base=stranger)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 30
    # Another username from the same fresh address is not slowed down.
    assert sign_in(client, "other", "wrong", environ_base=stranger).status_code == 422
    # The owner's own address is not held up by the guessing elsewhere.
    assert sign_in(client, environ_base=owner).status_code == 302
    client.post("/admin/logout", environ_base=owner)
    # Past the delay a new address may check one password, then waits twice as long.
    site_clock.move(seconds=31)
    assert sign_in(client, password="wrong", environ_base=stranger).status_code == 422
    again = sign_in(client, environ_base={"REMOTE_ADDR": "10.0.1.2"})
    assert again.status_code == 429
    assert 30 < int(again.headers["Retry-After"]) <= 60


def test_throttle_per_address_across_usernames(client, admin_user):
    for number in range(5):
        assert sign_in(client, f"guess{number}", "wrong").status_code == 422
    assert sign_in(client).status_code == 429
    elsewhere = {"REMOTE_ADDR": "10.9.9.9"}
    assert sign_in(client, environ_base=elsewhere).status_code == 302


def test_successful_sign_ins_are_not_counted(client, admin_user):
    for _ in range(7):
        assert sign_in(client).status_code == 302
        client.post("/admin/logout")


def test_missing_csrf_token_is_a_400(csrf_app):
    client = csrf_app.test_client()
    response = client.post("/admin/login", data={"username": "editor", "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert "刷新页面" in soup(response).select_one(".error-page__message").get_text()
    assert sign_in(client).status_code == 302
    for url in ("/admin/logout", "/admin/articles/new", "/admin/words", "/admin/reindex"):
        assert client.post(url, data={"title": "x"}).status_code == 400, url
    assert client.get("/admin/").status_code == 200  # the refused sign-out changed nothing
    token = csrf_token_of(client.get("/admin/"))
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_htmx_post_carries_csrf_in_a_header(csrf_app):
    client = csrf_app.test_client()
    sign_in(client)
    body = soup(client.get("/admin/")).body
    assert "X-CSRFToken" in body["hx-headers"]
    token = re.search(r'"X-CSRFToken": "([^"]+)"', body["hx-headers"]).group(1)
    response = client.post("/admin/logout", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 302


HOSTILE_NEXT = [
    "//evil.com",
    "https://evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "http:evil.com",
    "javascript:alert(1)",
    "/\t/evil.com",
    " //evil.com",
    "///evil.com",
    "evil.com",
]


def test_off_site_next_is_ignored(client, admin_user):
    for target in HOSTILE_NEXT:
        response = sign_in(client, next=target)
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/admin/", target
        # Already signed in, the login URL forwards to `next`: still never off the site.
        again = client.get("/admin/login", query_string={"next": target})
        assert again.headers["Location"] == "/admin/", target


def test_same_site_next_is_followed(client, admin_user):
    response = client.get("/admin/words?x=1")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url == "/admin/login?next=/admin/words?x%3D1"
    next_field = soup(client.get(login_url)).select_one("input[name=next]")
    assert next_field["value"] == "/admin/words?x=1"
    assert sign_in(client, next="/admin/words?x=1").headers["Location"] == "/admin/words?x=1"


@pytest.mark.parametrize(
    "target, expected",
    [("/admin/", "/admin/"), ("/articles/1?x=//y", "/articles/1?x=//y"), ("", None), (None, None)]
    + [(target, None) for target in HOSTILE_NEXT],
)
def test_safe_next(target, expected):
    assert safe_next(target) == expected


def _admin_urls(app) -> list[tuple[str, str]]:
    """Every admin URL and method, with sample values for the URL's parameters: 1 for an
    integer, "about" (a page slug) for anything else."""
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or rule.endpoint == "admin.login":
            continue
        values = {
            name: 1 if re.search(rf"<int(\([^)]*\))?:{name}>", rule.rule) else "about"
            for name in rule.arguments
        }
        url = rule.build(values)[1]
        urls += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return urls


def test_every_admin_route_refuses_a_visitor(app, client, seeded):
    urls = _admin_urls(app)
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert {"admin.dashboard", "admin.clear_article", "admin.settings"} <= endpoints
    assert len(urls) >= 15
    before = db.session.get(type(seeded), seeded.id).version
    for method, url in urls:
        page = client.open(url, method=method, data={"title": "x", "word": "x"})
        assert page.status_code == 302, (method, url)
        assert page.headers["Location"].startswith("/admin/login"), (method, url)
        fragment = client.open(url, method=method, headers={"HX-Request": "true"})
        assert fragment.status_code == 401, (method, url)
        assert fragment.headers["HX-Redirect"].startswith("/admin/login")
    db.session.expire_all()
    assert db.session.get(type(seeded), seeded.id).version == before


def test_htmx_401_points_back_to_the_page_the_admin_was_on(client):
    response = client.get(
        "/admin/reindex",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/admin/?status=draft"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/admin/login?next=/admin/"


def test_admin_pages_are_never_stored(app, client, admin_user):
    assert client.get("/admin/login").headers["Cache-Control"] == "no-store"
    sign_in(client)
    for method, url in _admin_urls(app):
        if method == "GET":
            response = client.get(url)
            assert response.headers["Cache-Control"] == "no-store", url


def test_change_password_ends_other_sessions(csrf_app):
    mine, other = csrf_app.test_client(), csrf_app.test_client()
    sign_in(mine)
    sign_in(other)

    def change(current: str, new: str, confirm: str):
        return post_form(
            mine, "/admin/password", current_password=current, new_password=new, confirm=confirm
        )

    wrong = change("nope", "new secret 1", "new secret 1")
    assert wrong.status_code == 422
    error = soup(wrong).select_one("#current_password-error")
    assert error.get_text(strip=True) == "当前密码不正确。"
    mismatch = change(ADMIN_PASSWORD, "new secret 1", "x")
    error = soup(mismatch).select_one("#confirm-error")
    assert error.get_text(strip=True) == "两次输入的新密码不一致。"
    assert change(ADMIN_PASSWORD, "new secret 1", "new secret 1").status_code == 302
    assert mine.get("/admin/").status_code == 200
    assert other.get("/admin/").status_code == 302
    assert sign_in(csrf_app.test_client()).status_code == 422
    assert sign_in(csrf_app.test_client(), password="new secret 1").status_code == 302


def test_editors_cannot_change_site_wide_things(app, client):
    make_user("writer", role="editor")
    sign_in(client, "writer")
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/articles/new").status_code == 200
    for url in ("/admin/words", "/admin/settings", "/admin/reindex", "/admin/pages/about"):
        assert client.get(url).status_code == 403, url
    assert client.post("/admin/words", data={"word": "x"}).status_code == 403
    nav = soup(client.get("/admin/")).select_one(".admin-nav").get_text()
    assert "屏蔽词" not in nav and "写文章" in nav


def test_header_shows_admin_link_and_sign_out_button_only_when_signed_in(client, admin_user):
    assert soup(client.get("/")).select_one(".admin-links") is None
    sign_in(client)
    form = soup(client.get("/")).select_one("form.admin-links")
    assert form["method"] == "post" and form["action"] == "/admin/logout"
    assert form.select_one("a")["href"] == "/admin/"


def test_create_admin_prompts_for_the_password(app, runner):
    result = runner.invoke(
        args=["create-admin", "boss", "--role", "editor"],
        input="short\nshort\nlong enough 1\nlong enough 1\n",
    )
    assert result.exit_code == 0, result.output
    assert "8 个字符" in result.output
    user = db.session.scalar(db.select(User).filter_by(username="boss"))
    assert user.role == "editor" and user.check_password("long enough 1")
    refused = runner.invoke(args=["create-admin", "boss", "--password", "on the command line"])
    assert refused.exit_code == 2


def test_password_change_is_throttled_like_sign_in(csrf_app):
    """README: the password form is throttled the same way. Five wrong current passwords, then
    a 429 that says when to retry, even for the right one; the guesses count against the
    username, so signing in from the same address is refused too (issue 20)."""
    client = csrf_app.test_client()
    assert sign_in(client).status_code == 302

    def change(current: str):
        return post_form(
            client,
            "/admin/password",
            current_password=current,
            new_password="new secret 2",
            confirm="new secret 2",
        )

    assert [change(f"guess {n}").status_code for n in range(5)] == [422] * 5
    refused = change(ADMIN_PASSWORD)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 301
    message = soup(refused).select_one(".error-page__message").get_text()
    assert re.search(r"请在 \d\d:\d\d:\d\d（约 [1-5] 分钟后）再试", message)
    assert sign_in(csrf_app.test_client()).status_code == 429
    with csrf_app.app_context():
        user = db.session.scalar(db.select(User).filter_by(username="editor"))
        assert user.check_password(ADMIN_PASSWORD)
