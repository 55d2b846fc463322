"""Submitting the site's forms as a browser would: sign in, CSRF token included."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.app import ADMIN_PASSWORD, soup


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
