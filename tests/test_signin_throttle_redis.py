"""The sign-in throttle's Redis store follows the same policy as the database store: per
address and per username+address limits, and a username slowed down (not locked) with the
owner's known address let through. Needs Debian's redis-server (skipped without it)."""

from __future__ import annotations

import pytest

from microsite.extensions import db
from tests.support.app import make_app
from tests.support.factories import make_user
from tests.support.forms import sign_in


@pytest.fixture
def redis_app(tmp_path, redis_uri):
    app = make_app(tmp_path, RATELIMIT_STORAGE_URI=redis_uri, WTF_CSRF_ENABLED=False)
    with app.app_context():
        make_user()
        db.session.remove()
    return app


def _at(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_redis_store_limits_an_address_and_slows_a_username(redis_app, redis_uri):
    client = redis_app.test_client()
    owner = _at("10.5.0.1")
    assert sign_in(client, **owner).status_code == 302
    client.post("/admin/logout", **owner)

    # Per username and address: the sixth failure from one address is refused.
    attacker = _at("10.5.1.1")
    statuses = [sign_in(client, password="wrong", **attacker).status_code for _ in range(6)]
    assert statuses == [422] * 5 + [429]

    # Five more addresses bring the username to ten failures: it is slowed down…
    for number in range(5):
        assert sign_in(client, password="wrong", **_at(f"10.5.2.{number}")).status_code == 422
    refused = sign_in(client, **_at("10.5.3.1"))
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 30
    # … but not locked: the owner's address still signs in with the right password.
    assert sign_in(client, **owner).status_code == 302
    # The counting happened in Redis, not in the database.
    import redis

    from microsite.content.models import SignInAttempt

    assert redis.Redis.from_url(redis_uri).keys("microsite:sign-in:*")
    with redis_app.app_context():
        assert db.session.query(SignInAttempt).count() == 0
