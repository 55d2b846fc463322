"""Helpers for the admin tests: sign in through the real form, CSRF token included.

Other admin test modules import these functions; the tests here check the helpers themselves.
"""

from __future__ import annotations

from flask.testing import FlaskClient

from microsite.extensions import db
from microsite.models import User
from tests.conftest import ADMIN_PASSWORD, soup


def make_user(username: str = "editor", password: str = ADMIN_PASSWORD, **fields) -> User:
    fields.setdefault("display_name", "编辑部")
    fields.setdefault("role", "admin")
    if fields["role"] is None:
        del fields["role"]  # the model's own default
    user = User(username=username, **fields)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def csrf_token_of(response) -> str | None:
    """The CSRF token of the first form on a page (None when CSRF is switched off)."""
    field = soup(response).find("input", attrs={"name": "csrf_token"})
    return field["value"] if field else None


def sign_in(
    client: FlaskClient,
    username: str = "editor",
    password: str = ADMIN_PASSWORD,
    next: str | None = None,
    **request_options,
):
    """Fill in and submit the login form as a browser would; returns the POST's response."""
    form_page = client.get("/admin/login", **request_options)
    data = {"username": username, "password": password}
    token = csrf_token_of(form_page)
    if token:
        data["csrf_token"] = token
    if next is not None:
        data["next"] = next
    return client.post("/admin/login", data=data, **request_options)


def post_form(client: FlaskClient, page_url: str, action: str | None = None, **fields):
    """Submit a page's own form with its CSRF token plus `fields`."""
    page = client.get(page_url)
    data = dict(fields)
    token = csrf_token_of(page)
    if token:
        data["csrf_token"] = token
    return client.post(action or page_url, data=data)


def test_sign_in_helper_passes_csrf(tmp_path):
    from tests.conftest import make_app

    app = make_app(tmp_path)
    with app.app_context():
        make_user()
        response = sign_in(app.test_client())
        db.session.remove()
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_sign_in_helper_works_without_csrf(client, admin_user):
    assert csrf_token_of(client.get("/admin/login")) is None
    assert sign_in(client).status_code == 302
