"""Roles (every admin URL checks it) and user management (admins only)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from microsite.content.models import User
from microsite.extensions import db
from microsite.views.admin import editor_may_open
from tests.support.app import ADMIN_PASSWORD, soup
from tests.support.factories import make_user
from tests.support.forms import sign_in

NEW_PASSWORD = "a new secret 42"
# Views of the article desk every editor needs (others may be added: revisions, images …).
EDITOR_VIEWS = {
    "admin.logout",
    "admin.password",
    "admin.dashboard",
    "admin.new_article",
    "admin.edit_article",
    "admin.clear_article",
    "admin.restore_article",
    "admin.bulk_action",
    "admin.bulk_undo",
}
ADMIN_VIEWS = {
    "admin.words",
    "admin.add_word",
    "admin.delete_word",
    "admin.settings",
    "admin.edit_page",
    "admin.reindex",
    "admin.start_reindex",
    "admin.users",
    "admin.new_user",
    "admin.change_role",
    "admin.reset_password",
    "admin.disable_user",
    "admin.enable_user",
}


def admin_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every admin URL, with a sample for each URL parameter."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        values = {name: 1 if f"<int:{name}>" in rule.rule else "about" for name in rule.arguments}
        url = rule.build(values)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, url))
    return routes


def editor_allowed_endpoints(app: Flask) -> set[str]:
    with app.test_request_context():
        endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
        return {e for e in endpoints if e.startswith("admin.") and editor_may_open(e)}


@pytest.fixture
def admin(client, app):
    make_user("boss", display_name="总编")
    sign_in(client, "boss")
    return client


@pytest.fixture
def editor(app):
    make_user("writer", display_name="记者", role="editor")
    client = app.test_client()
    sign_in(client, "writer")
    return client


def user(username: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).filter_by(username=username))


def flashes(client, url: str = "/admin/users") -> list[str]:
    return [p.get_text(strip=True) for p in soup(client.get(url)).select(".flash")]


# --- roles ---------------------------------------------------------------------------------


def test_every_admin_only_endpoint_refuses_an_editor_with_the_styled_403(app, editor, seeded):
    allowed = editor_allowed_endpoints(app)
    assert allowed >= EDITOR_VIEWS
    assert not (ADMIN_VIEWS & allowed)
    endpoints = {endpoint for endpoint, _method, _url in admin_routes(app)}
    assert endpoints >= ADMIN_VIEWS
    checked = 0
    for endpoint, method, url in admin_routes(app):
        if endpoint in allowed:
            continue
        response = editor.open(url, method=method, data={"word": "x", "role": "admin"})
        assert response.status_code == 403, (endpoint, method, url)
        page = soup(response)
        assert page.select_one(".error-page__code").get_text() == "403", endpoint
        assert "只有管理员" in page.select_one(".error-page__message").get_text()
        checked += 1
    assert checked >= len(ADMIN_VIEWS)
    # Nothing changed on the way: the editor is still an editor, no word was added.
    assert user("writer").role == "editor"


def test_editor_allowed_endpoints_do_not_answer_403(app, editor, seeded):
    allowed = editor_allowed_endpoints(app)
    for endpoint, method, url in admin_routes(app):
        if endpoint in allowed and method == "GET":
            assert editor.get(url).status_code != 403, (endpoint, url)


def test_nav_shows_users_to_admins_only(admin, editor):
    nav = soup(admin.get("/admin/")).select_one(".admin-nav")
    assert nav.select_one("a[href='/admin/users']").get_text() == "用户"
    nav = soup(editor.get("/admin/")).select_one(".admin-nav")
    assert nav.select_one("a[href='/admin/users']") is None
    assert nav.select_one("a[href='/admin/settings']") is None
    assert nav.select_one("a[href='/admin/']") is not None


def test_role_change_takes_effect_at_the_next_request(admin, editor):
    assert editor.get("/admin/settings").status_code == 403
    writer = user("writer")
    assert admin.post(f"/admin/users/{writer.id}/role", data={"role": "admin"}).status_code == 303
    assert flashes(admin) == ["记者 - writer 现在是管理员。"]
    assert editor.get("/admin/settings").status_code == 200
    assert admin.post(f"/admin/users/{writer.id}/role", data={"role": "editor"}).status_code == 303
    assert editor.get("/admin/settings").status_code == 403
    assert admin.post(f"/admin/users/{writer.id}/role", data={"role": "root"}).status_code == 400
    assert user("writer").role == "editor"


def test_create_admin_command_makes_an_editor(app, runner, client):
    result = runner.invoke(
        args=["create-admin", "cli-writer", "--role", "editor"],
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    sign_in(client, "cli-writer", NEW_PASSWORD)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/users").status_code == 403


def test_a_user_created_without_a_role_gets_the_least_one(app, client):
    # A forgotten role must fail closed: the model's default is editor, never admin.
    make_user("no-role-given", role=None)
    sign_in(client, "no-role-given", ADMIN_PASSWORD)
    assert client.get("/admin/").status_code == 200
    for admin_only in ("/admin/users", "/admin/settings", "/admin/words"):
        assert client.get(admin_only).status_code == 403


# --- user management -----------------------------------------------------------------------


def test_users_page_lists_every_account(admin, editor):
    make_user("gone", display_name="离职", role="editor")
    admin.post(f"/admin/users/{user('gone').id}/disable")
    page = soup(admin.get("/admin/users"))
    rows = {
        row.select_one("th").get_text(" ", strip=True).split()[0]: row
        for row in page.select("tbody tr")
    }
    assert set(rows) == {"boss", "writer", "gone"}
    assert "总编" in rows["boss"].get_text() and "管理员" in rows["boss"].get_text()
    assert rows["writer"].select_one("select option[selected]")["value"] == "editor"
    assert "已停用" in rows["gone"].get_text() and "启用" in rows["writer"].get_text()
    assert rows["gone"].select_one(".users-table__actions button").get_text() == "启用"
    # An admin's own row offers neither a role change nor disabling.
    assert rows["boss"].select_one("select") is None
    assert rows["boss"].select_one("button") is None


def test_admin_creates_an_editor_who_can_sign_in(admin, app):
    page = soup(admin.get("/admin/users/new"))
    assert page.select_one("label[for=role]").get_text() == "角色"
    response = admin.post(
        "/admin/users/new",
        data={
            "username": "reporter",
            "display_name": "记者甲",
            "role": "editor",
            "password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303
    assert flashes(admin) == ["已创建用户 记者甲 - reporter（编辑）。"]
    new = app.test_client()
    assert sign_in(new, "reporter", NEW_PASSWORD).status_code == 302
    assert "记者甲 - reporter" in soup(new.get("/admin/")).select_one(".admin-nav").get_text()
    assert new.get("/admin/users").status_code == 403


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"password": "short"}, "password", "8 到 200 个字符"),
        ({"username": "boss"}, "username", "已经有人用了"),
        ({"username": "BOSS"}, "username", "已经有人用了"),
        # Issue 14.10: full-width letters are the same name after NFKC …
        ({"username": "ｂｏｓｓ"}, "username", "已经有人用了"),
        ({"username": " ＢＯＳＳ "}, "username", "已经有人用了"),
        # … and names that merely look like it are refused as look-alikes.
        ({"username": "b0ss"}, "username", "看起来太像"),
        ({"username": "bоss"}, "username", "看起来太像"),  # Cyrillic о
        ({"username": "βoss"}, "username", "看起来太像"),  # Greek beta
        ({"username": "bo.ss"}, "username", "看起来太像"),
        ({"username": "bóss"}, "username", "看起来太像"),
        ({"username": "two words"}, "username", "不能有空格"),
        ({"username": ""}, "username", "请填写用户名"),
        ({"display_name": ""}, "display_name", "请填写显示名"),
    ],
)
def test_creation_errors_sit_next_to_their_field(admin, fields, field, message):
    data = {"username": "newbie", "display_name": "新人", "role": "editor"}
    data |= {"password": NEW_PASSWORD} | fields
    response = admin.post("/admin/users/new", data=data)
    assert response.status_code == 422
    page = soup(response)
    assert message in page.select_one(f"#{field}-error").get_text()
    assert page.select_one(f"#{field}")["aria-invalid"] == "true"
    if field != "username":
        assert page.select_one("#username")["value"] == data["username"]
    assert user("newbie") is None
    assert len(db.session.scalars(select(User)).all()) == 1


def test_a_full_width_username_is_stored_and_signs_in_as_its_plain_form(admin, app):
    data = {"username": "ｒｅｐｏｒｔｅｒ", "display_name": "记者乙", "role": "editor"}
    response = admin.post("/admin/users/new", data=data | {"password": NEW_PASSWORD})
    assert response.status_code == 303
    assert flashes(admin) == ["已创建用户 记者乙 - reporter（编辑）。"]
    assert user("reporter") is not None and user("ｒｅｐｏｒｔｅｒ") is None
    for typed in ("reporter", "ｒｅｐｏｒｔｅｒ"):
        client = app.test_client()
        assert sign_in(client, typed, NEW_PASSWORD).status_code == 302, typed
        assert "记者乙 - reporter" in client.get("/admin/").get_data(as_text=True)


def test_a_name_unlike_any_other_is_accepted(admin):
    data = {"username": "bossa", "display_name": "另一位", "role": "editor"}
    assert admin.post("/admin/users/new", data=data | {"password": NEW_PASSWORD}).status_code == 303
    assert user("bossa") is not None


def test_disabling_refuses_sign_in_and_ends_the_open_session(admin, editor, app):
    writer = user("writer")
    assert editor.get("/admin/").status_code == 200
    assert admin.post(f"/admin/users/{writer.id}/disable").status_code == 303
    assert flashes(admin) == ["已停用 记者 - writer。其署名仍保留在文章上。"]
    assert user("writer").disabled_at is not None
    # The open session ends at its next request; signing in again is refused.
    response = editor.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    refused = sign_in(app.test_client(), "writer")
    assert refused.status_code == 422
    assert "用户名或密码错误" in soup(refused).get_text()
    # Enabled again, the same password works.
    assert admin.post(f"/admin/users/{writer.id}/enable").status_code == 303
    assert user("writer").disabled_at is None
    assert sign_in(app.test_client(), "writer").status_code == 302


def test_an_admin_cannot_demote_or_disable_themselves(admin):
    boss = user("boss")
    admin.post(f"/admin/users/{boss.id}/role", data={"role": "editor"})
    assert flashes(admin) == ["不能降级自己的账户。"]
    admin.post(f"/admin/users/{boss.id}/disable")
    assert flashes(admin) == ["不能停用自己的账户。"]
    assert user("boss").role == "admin" and user("boss").is_active


def test_the_last_active_admin_stays(admin, app):
    """Two admins may demote each other only while another active admin remains."""
    make_user("deputy", display_name="副总编", role="admin")
    deputy = app.test_client()
    sign_in(deputy, "deputy")
    boss = user("boss")
    assert deputy.post(f"/admin/users/{boss.id}/role", data={"role": "editor"}).status_code == 303
    assert user("boss").role == "editor"
    # boss, now an editor, cannot touch users at all; deputy is the last admin.
    assert admin.post(f"/admin/users/{user('deputy').id}/disable").status_code == 403
    assert deputy.post(f"/admin/users/{user('deputy').id}/disable").status_code == 303
    assert user("deputy").is_active and user("deputy").role == "admin"


def test_last_admin_check_holds_even_when_the_actor_is_not_counted(app):
    """The rule itself, as a concurrent demotion would meet it: never zero active admins."""
    from microsite.views.admin import users as views

    make_user("solo", display_name="唯一", role="admin")
    make_user("other", display_name="另一位", role="editor")
    solo = user("solo")
    with app.test_request_context():
        from flask_login import login_user

        login_user(user("other"))
        assert views._refusal(solo, "停用") == "唯一 - solo 是最后一位启用中的管理员，不能停用。"
        solo.role = "editor"
        assert views._commit_keeping_an_admin(solo, "降级") is False
    assert user("solo").role == "admin"


def test_reset_password_ends_the_users_sessions(admin, editor, app):
    writer = user("writer")
    page = soup(admin.get(f"/admin/users/{writer.id}/password"))
    assert "重设 记者 - writer 的密码" in page.select_one("h1").get_text()
    short = admin.post(f"/admin/users/{writer.id}/password", data={"password": "short"})
    assert short.status_code == 422
    assert "8 到 200" in soup(short).select_one("#password-error").get_text()
    done = admin.post(f"/admin/users/{writer.id}/password", data={"password": NEW_PASSWORD})
    assert done.status_code == 303
    assert editor.get("/admin/").status_code == 302
    assert sign_in(app.test_client(), "writer", ADMIN_PASSWORD).status_code == 422
    assert sign_in(app.test_client(), "writer", NEW_PASSWORD).status_code == 302
    # Resetting one's own password keeps this session.
    boss = user("boss")
    admin.post(f"/admin/users/{boss.id}/password", data={"password": NEW_PASSWORD})
    assert admin.get("/admin/users").status_code == 200


def test_unknown_user_is_404(admin):
    assert admin.post("/admin/users/999/disable").status_code == 404
    assert admin.get("/admin/users/999/password").status_code == 404
