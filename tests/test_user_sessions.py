"""Server-side sessions (issue 14, finding 3), tried as an attacker who copied a cookie.

Each test replays a session cookie taken while it worked, after the event that must end it:
sign-out, a password change, disabling (and enabling) the user, idling, old age, or the owner
ending it from the sessions page. The app's clock (its `CLOCK` setting) moves, never by sleeping.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from microsite.content.models import Article, User, UserSession
from microsite.extensions import db
from tests.support.app import ADMIN_PASSWORD, make_app, soup
from tests.support.clock import movable_clock
from tests.support.factories import make_user
from tests.support.forms import csrf_token_of, post_form, sign_in

CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)
PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def site(tmp_path):
    """CSRF on, an admin `boss` and an editor `editor`; no app context left pushed."""
    app = make_app(tmp_path)
    with app.app_context():
        make_user("boss", role="admin", display_name="主编")
        make_user("editor", role="editor")
        db.session.remove()
    return app


def _signed_in(app, username="editor", password=ADMIN_PASSWORD, address="10.1.1.1", ua=None):
    client = app.test_client()
    options = {"environ_base": {"REMOTE_ADDR": address}}
    if ua:
        options["headers"] = {"User-Agent": ua}
    assert sign_in(client, username, password, **options).status_code == 302
    return client


def _copied_cookie(client) -> str:
    return client.get_cookie("session").value


def _replay(app, cookie: str):
    """What an attacker holding `cookie` gets for the admin desk."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get("/admin/")


def _is_login_page(response) -> bool:
    return response.status_code in {302, 303} and response.headers["Location"].startswith(
        "/admin/login"
    )


def _logout(client):
    token = csrf_token_of(client.get("/admin/"))
    return client.post("/admin/logout", data={"csrf_token": token})


def test_a_cookie_copied_before_sign_out_gets_the_login_page_after_it(site):
    client = _signed_in(site)
    cookie = _copied_cookie(client)
    assert _replay(site, cookie).status_code == 200  # the copy works while the session lives
    thief = site.test_client()
    thief.set_cookie("session", cookie)
    token = csrf_token_of(thief.get("/admin/articles/new"))
    assert _logout(client).status_code == 302
    assert _is_login_page(_replay(site, cookie))
    # Nor can it publish with the form token it took along: sent to sign in, nothing stored.
    article = {"csrf_token": token, "title": "偷来的", "body": "<p>x</p>", "status": "published"}
    assert _is_login_page(thief.post("/admin/articles/new", data=article))
    with site.app_context():
        assert db.session.scalar(select(Article.id)) is None


def test_a_password_change_ends_the_other_sessions_but_not_this_one(site):
    laptop = _signed_in(site, address="10.1.1.1")
    phone = _signed_in(site, address="10.1.1.2")
    stolen = _copied_cookie(phone)
    changed = post_form(
        laptop,
        "/admin/password",
        current_password=ADMIN_PASSWORD,
        new_password="new secret 9",
        confirm="new secret 9",
    )
    assert changed.status_code == 302
    assert laptop.get("/admin/").status_code == 200
    assert _is_login_page(phone.get("/admin/"))
    assert _is_login_page(_replay(site, stolen))


def test_an_admin_password_reset_ends_every_session_of_that_user(site):
    boss = _signed_in(site, "boss")
    victim = _signed_in(site)
    stolen = _copied_cookie(victim)
    with site.app_context():
        editor_id = db.session.scalar(select(User.id).filter_by(username="editor"))
    path = f"/admin/users/{editor_id}/password"
    assert post_form(boss, path, password="fresh password 1").status_code == 303
    assert _is_login_page(_replay(site, stolen))
    assert boss.get("/admin/").status_code == 200


def test_disabling_and_enabling_a_user_never_revives_old_cookies(site):
    boss = _signed_in(site, "boss")
    editor = _signed_in(site)
    stolen = _copied_cookie(editor)
    with site.app_context():
        editor_id = db.session.scalar(select(User.id).filter_by(username="editor"))
    assert post_form(boss, "/admin/users", f"/admin/users/{editor_id}/disable").status_code == 303
    assert _is_login_page(_replay(site, stolen))
    assert post_form(boss, "/admin/users", f"/admin/users/{editor_id}/enable").status_code == 303
    assert _is_login_page(_replay(site, stolen))
    assert _is_login_page(editor.get("/admin/"))
    # The editor signs in again with the password; only the new session works.
    assert _signed_in(site).get("/admin/").status_code == 200


def test_an_idle_session_ends_and_a_used_one_lives_on(site):
    busy = _signed_in(site, address="10.1.1.1")
    idle = _signed_in(site, address="10.1.1.2")
    stolen = _copied_cookie(idle)
    for _ in range(3):  # 3 × 100 minutes, each under the 120-minute idle limit
        movable_clock(site).move(minutes=100)
        assert busy.get("/admin/").status_code == 200
    assert _is_login_page(idle.get("/admin/"))
    assert _is_login_page(_replay(site, stolen))
    movable_clock(site).move(minutes=121)
    assert _is_login_page(busy.get("/admin/"))


def test_no_session_outlives_its_absolute_lifetime_however_busy(tmp_path):
    app = make_app(tmp_path, SESSION_MAX_HOURS=5)
    with app.app_context():
        make_user()
        db.session.remove()
    client = _signed_in(app)
    for _ in range(4):
        movable_clock(app).move(minutes=70)  # used every 70 minutes: never idle
        assert client.get("/admin/").status_code == 200
    movable_clock(app).move(minutes=30)  # 5 h 10 min after sign-in
    assert _is_login_page(client.get("/admin/"))


def test_last_seen_is_written_at_most_once_a_minute(site):
    clock = movable_clock(site, frozen=True)  # stamps are to the second: no real time may pass
    client = _signed_in(site)

    def last_seen():
        with site.app_context():
            return db.session.scalar(select(UserSession.last_seen_at))

    signed_in_at = last_seen()
    clock.move(seconds=30)
    assert client.get("/admin/").status_code == 200
    assert last_seen() == signed_in_at
    clock.move(seconds=40)
    assert client.get("/admin/").status_code == 200
    assert last_seen() - signed_in_at == timedelta(seconds=70)


def test_the_database_holds_no_usable_token(site):
    client = _signed_in(site)
    with client.session_transaction() as session:
        token = session["_session_token"]
    with site.app_context():
        stored = db.session.scalars(select(UserSession.token_hash)).all()
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64


def _rows(page) -> list:
    return page.select(".sessions-table tbody tr")


def test_the_sessions_page_lists_devices_and_ends_them(site):
    laptop = _signed_in(site, address="10.1.1.1", ua=CHROME_UA)
    phone = _signed_in(site, address="10.1.1.2", ua=PHONE_UA)
    tablet = _signed_in(site, address="10.1.1.3")
    stolen = _copied_cookie(phone)
    page = soup(laptop.get("/admin/account/sessions"))
    rows = _rows(page)
    assert len(rows) == 3
    mine = [row for row in rows if "本机" in row.get_text()]
    assert len(mine) == 1 and "Chrome · Linux" in mine[0].get_text()
    assert "10.1.1.1" in mine[0].get_text()
    phone_row = next(row for row in rows if "10.1.1.2" in row.get_text())
    assert "Safari · iPhone" in phone_row.get_text()
    assert "登录设备" in page.select_one(".admin-nav").get_text()
    assert (
        "120 分钟没有操作、或登录超过 168 小时的会话会自动结束"
        in page.select_one(".lead").get_text()
    )

    # End the phone's session: the phone and any copy of its cookie are signed out.
    action = phone_row.select_one("form")["action"]
    ended = laptop.post(action, data={"csrf_token": csrf_token_of(laptop.get("/admin/"))})
    assert ended.status_code == 303
    assert _is_login_page(phone.get("/admin/"))
    assert _is_login_page(_replay(site, stolen))
    assert len(_rows(soup(laptop.get("/admin/account/sessions")))) == 2

    # Sign out everywhere else: only this session is left.
    response = post_form(laptop, "/admin/account/sessions", "/admin/account/sessions/end-others")
    assert response.status_code == 303
    assert _is_login_page(tablet.get("/admin/"))
    rows = _rows(soup(laptop.get("/admin/account/sessions")))
    assert len(rows) == 1 and "本机" in rows[0].get_text()


def test_nobody_ends_another_users_session(site):
    boss = _signed_in(site, "boss")
    editor = _signed_in(site)
    with site.app_context():
        editors_session = db.session.scalar(
            select(UserSession.id).join(User).where(User.username == "editor")
        )
    action = f"/admin/account/sessions/{editors_session}/end"
    response = post_form(boss, "/admin/account/sessions", action)
    assert response.status_code == 404
    assert editor.get("/admin/").status_code == 200


def test_ending_this_session_from_the_list_signs_out(site):
    client = _signed_in(site)
    cookie = _copied_cookie(client)
    row = _rows(soup(client.get("/admin/account/sessions")))[0]
    response = post_form(client, "/admin/account/sessions", row.select_one("form")["action"])
    assert _is_login_page(response)
    assert _is_login_page(client.get("/admin/"))
    assert _is_login_page(_replay(site, cookie))


def test_ending_a_session_needs_the_csrf_token(site):
    client = _signed_in(site)
    assert client.post("/admin/account/sessions/end-others").status_code == 400
    assert client.get("/admin/").status_code == 200


def test_a_password_set_on_the_command_line_ends_every_session(site):
    client = _signed_in(site)
    stolen = _copied_cookie(client)
    with site.app_context():
        result = site.test_cli_runner().invoke(
            args=["create-admin", "ｅｄｉｔｏｒ"], input="changed by cli 1\nchanged by cli 1\n"
        )
        db.session.remove()
    assert result.exit_code == 0, result.output
    assert _is_login_page(_replay(site, stolen))
    assert _is_login_page(client.get("/admin/"))
    with site.app_context():
        assert db.session.scalar(select(UserSession.id)) is None
        names = db.session.scalars(select(User.username).order_by(User.id)).all()
    assert names == ["boss", "editor"]  # the full-width name found the existing user
    assert _signed_in(site, password="changed by cli 1").get("/admin/").status_code == 200
