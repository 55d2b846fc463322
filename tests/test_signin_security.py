"""Sign-in hardening: cookie flags, session fixation, no user enumeration by message or timing.

Throttling, CSRF, `next` and no-store on admin pages are tried in tests/test_auth.py.
"""

from __future__ import annotations

import re

from microsite.content.models import User
from microsite.extensions import db
from microsite.text import local_now
from tests.support.app import ADMIN_PASSWORD, make_app
from tests.support.factories import make_user
from tests.support.forms import sign_in


def _app(tmp_path, **overrides):
    app = make_app(tmp_path, **overrides)
    with app.app_context():
        make_user()
        db.session.remove()
    return app


def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "no session cookie was set"
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite_lax(tmp_path):
    app = _app(tmp_path, SESSION_COOKIE_SECURE=False)
    response = sign_in(app.test_client())
    assert response.status_code == 302
    cookie = _session_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_when_configured(tmp_path):
    app = _app(tmp_path, SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    response = sign_in(
        client, base_url="https://localhost", headers={"Referer": "https://localhost/admin/login"}
    )
    assert response.status_code == 302
    cookie = _session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_config_sets_the_flags(tmp_path):
    from microsite.config import load_config

    config = load_config(tmp_path, with_secret=False)
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["REMEMBER_COOKIE_HTTPONLY"] is True


def test_a_cookie_planted_before_sign_in_does_not_become_signed_in(tmp_path):
    """Session fixation: the attacker's pre-login cookie stays anonymous after the victim's
    sign-in with it; the victim gets a different cookie."""
    app = _app(tmp_path)
    attacker = app.test_client()
    planted = _session_cookie(attacker.get("/admin/login")).split(";", 1)[0].split("=", 1)[1]
    victim = app.test_client()
    victim.set_cookie("session", planted)
    response = sign_in(victim)
    assert response.status_code == 302
    after = _session_cookie(response).split(";", 1)[0].split("=", 1)[1]
    assert after != planted
    assert victim.get("/admin/").status_code == 200
    # The attacker still holds the planted value: it is not signed in.
    attacker.set_cookie("session", planted)
    response = attacker.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def _normalised(response, username: str) -> str:
    text = response.get_data(as_text=True)
    text = re.sub(r'name="csrf_token"[^>]*value="[^"]*"', "", text)
    return text.replace(f'value="{username}"', 'value=""')


def test_unknown_user_and_wrong_password_get_the_same_page(tmp_path):
    app = _app(tmp_path)
    wrong_password = sign_in(app.test_client(), "editor", "wrong password")
    unknown_user = sign_in(app.test_client(), "nobody", "wrong password")
    assert wrong_password.status_code == unknown_user.status_code == 422
    assert _normalised(wrong_password, "editor") == _normalised(unknown_user, "nobody")
    assert wrong_password.headers.get("Retry-After") == unknown_user.headers.get("Retry-After")


def test_throttling_treats_unknown_and_known_users_alike(tmp_path):
    """The username slow-down answers 429 after ten failures from ten addresses whether the
    user exists or not (so the throttle does not tell which usernames exist)."""
    app = _app(tmp_path)
    for username in ("editor", "nobody"):
        statuses = []
        for attempt in range(11):
            client = app.test_client()
            address = {"REMOTE_ADDR": f"10.9.{len(username)}.{attempt + 1}"}
            statuses.append(sign_in(client, username, "wrong", environ_base=address).status_code)
        assert statuses == [422] * 10 + [429], (username, statuses)


def _hash_checks(app, monkeypatch, username: str, password: str) -> list[str]:
    """The password-hash computations (their method and cost) one failed sign-in makes."""
    import werkzeug.security

    from microsite.accounts import auth

    with app.app_context():
        auth._dummy_hash()  # made once per process; only the check itself is of interest
    seen: list[str] = []
    real = werkzeug.security._hash_internal

    def spy(method: str, salt: str, secret: str):
        seen.append(method)
        return real(method, salt, secret)

    monkeypatch.setattr(werkzeug.security, "_hash_internal", spy)
    try:
        assert sign_in(app.test_client(), username, password).status_code == 422
    finally:
        monkeypatch.setattr(werkzeug.security, "_hash_internal", real)
    return seen


def test_unknown_users_cost_the_same_hash_check_as_wrong_passwords(tmp_path, monkeypatch):
    """No user enumeration by timing: an unknown username, a wrong password and a disabled
    account each run exactly one scrypt check with the cost of a real user's hash. (Without
    the dummy hash an unknown user answers ~100x faster.) Behaviour, not a stopwatch."""
    app = _app(tmp_path, RATELIMIT_ENABLED=False)
    with app.app_context():
        stored_method = db.session.scalar(db.select(User.password_hash)).split("$", 1)[0]
        make_user("gone", disabled_at=local_now())
        db.session.remove()
    assert stored_method.startswith("scrypt:")
    wrong_password = _hash_checks(app, monkeypatch, "editor", "wrong password")
    unknown_user = _hash_checks(app, monkeypatch, "nobody", ADMIN_PASSWORD)
    disabled = _hash_checks(app, monkeypatch, "gone", ADMIN_PASSWORD)
    assert wrong_password == unknown_user == disabled == [stored_method]
