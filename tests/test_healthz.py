"""/healthz: JSON about the database and the search index, for load balancers and operators.

The test client connects from 127.0.0.1: it sees the details, as the host's own checks do."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from microsite.extensions import db
from tests.support.app import ADMIN_PASSWORD
from tests.support.factories import add_article
from tests.support.search import whoosh_only


def test_all_well(client, indexed):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"] == {"status": "ok", "published": 96}
    assert body["search"]["status"] == "ok"
    assert body["search"]["documents"] == 96 and body["search"]["in_sync"] is True
    add_article("健康检查", "<p>新文章</p>")
    assert client.get("/healthz").get_json()["search"]["documents"] == 97


@whoosh_only  # PostgreSQL search has no index to go missing
def test_missing_index_is_degraded_not_down(client, seeded):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["search"]["status"] == "missing"
    assert body["database"]["status"] == "ok"


def test_database_down_is_503(client, indexed, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("database is gone"))

    monkeypatch.setattr(db.session, "scalar", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"
    assert response.get_json()["database"] == {"status": "error"}


# Index details (document count, generation, sync state) tell an outsider how much is
# unpublished and when the site was reindexed: the status is public, the rest is not.
OUTSIDER = {"REMOTE_ADDR": "203.0.113.9"}


def test_an_outsider_gets_the_status_and_nothing_else(client, indexed):
    response = client.get("/healthz", environ_base=OUTSIDER)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_an_outsider_still_sees_a_failing_database_as_503(client, indexed, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("database is gone"))

    monkeypatch.setattr(db.session, "scalar", broken)
    response = client.get("/healthz", environ_base=OUTSIDER)
    assert response.status_code == 503 and response.get_json() == {"status": "error"}


@pytest.mark.parametrize(
    "header", ["X-Forwarded-For", "X-Real-IP", "Forwarded"], ids=["xff", "real-ip", "forwarded"]
)
def test_a_loopback_connection_through_a_proxy_is_an_outsider(client, indexed, header):
    """Behind nginx every connection comes from 127.0.0.1, with the client in a header."""
    value = "for=203.0.113.9" if header == "Forwarded" else "203.0.113.9"
    response = client.get("/healthz", headers={header: value})
    assert response.get_json() == {"status": "ok"}


def test_signed_in_staff_see_the_details_from_anywhere(client, indexed, admin_user):
    form = {"username": "editor", "password": ADMIN_PASSWORD}
    assert client.post("/admin/login", data=form, environ_base=OUTSIDER).status_code == 302
    body = client.get("/healthz", environ_base=OUTSIDER).get_json()
    assert body["database"] == {"status": "ok", "published": 96}
    assert body["search"]["in_sync"] is True
