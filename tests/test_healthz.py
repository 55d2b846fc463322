"""/healthz: JSON about the database and the search index, for load balancers and operators."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from microsite.extensions import db

from .search_helpers import add_article, whoosh_only

pytest_plugins = ["tests.search_fixtures"]


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
