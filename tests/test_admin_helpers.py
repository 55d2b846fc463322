"""The sign-in helper (tests/support/forms.py) passes the real login form, with CSRF on or off."""

from __future__ import annotations

from microsite.extensions import db
from tests.support.app import make_app
from tests.support.factories import make_user
from tests.support.forms import csrf_token_of, sign_in


def test_sign_in_helper_passes_csrf(tmp_path):
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
