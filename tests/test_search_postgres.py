"""PostgreSQL search: one index in the database for every host, written with the article.

Runs under scripts/with-postgres (skipped on SQLite). The shared search tests (test_search*.py)
run against this backend there as well; these are what only this backend promises.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from microsite import create_app, search
from microsite.content.models import CLEARED, DRAFT, Article
from microsite.extensions import db
from microsite.search.backends.postgres import tsquery_text, vector_text
from microsite.search.query import parse
from tests.support.app import in_app, make_app
from tests.support.factories import add_article
from tests.support.search import BACKEND, hit_ids, results

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL search backend")


@pytest.fixture
def two_hosts(tmp_path):
    """Hosts A and B: two apps on one database, neither with an index directory (nothing of
    their own to build or follow). No app context stays pushed: each step opens its own."""
    a = make_app(tmp_path / "a")
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp_path / "b" / "instance"),
        "SQLALCHEMY_DATABASE_URI": a.config["SQLALCHEMY_DATABASE_URI"],
        "SEARCH_INDEX_DIR": str(tmp_path / "b" / "no-index"),
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    b = create_app(config)
    yield a, b
    in_app(b, lambda: db.engine.dispose())


def _search_ids(app, q: str) -> list[int]:
    with app.test_client() as client:
        return hit_ids(results(client, q))


def test_published_on_one_host_is_found_on_the_other_at_once_and_cleared_everywhere(
    two_hosts,
):
    a, b = two_hosts
    ident = in_app(a, lambda: add_article("两台主机的蓝鲸新闻", "<p>蓝鲸出现在近海</p>").id)
    assert _search_ids(b, "蓝鲸") == [ident]

    def clear():
        article = db.session.get(Article, ident)
        article.status, article.cleared_at = CLEARED, datetime(2024, 1, 1)
        db.session.commit()

    in_app(b, clear)
    assert _search_ids(a, "蓝鲸") == [] and _search_ids(b, "蓝鲸") == []
    for host in (a, b):
        assert not Path(host.config["SEARCH_INDEX_DIR"]).exists()


def test_words_are_written_in_the_same_transaction_as_the_article(app):
    article = add_article("樱花季的标题", "<p>樱花盛开</p>")
    vector = db.session.scalar(
        text("SELECT search_vector::text FROM articles WHERE id = :id"), {"id": article.id}
    )
    assert "'樱花'" in vector and "'盛开'" in vector
    article.title = "改过的标题"
    db.session.flush()
    db.session.rollback()  # a rolled-back change never reaches the index
    assert hit_ids_for("樱花季") == [article.id]
    draft = add_article("草稿的梧桐", "<p>梧桐</p>", status=DRAFT)
    stored = db.session.scalar(
        text("SELECT search_vector FROM articles WHERE id = :id"), {"id": draft.id}
    )
    assert stored is None and hit_ids_for("梧桐") == []


def hit_ids_for(q: str) -> list[int]:
    return [hit.article.id for hit in search.find(q).hits]


def test_phrases_are_words_at_consecutive_positions():
    query = parse('"核酸检测 结果"')
    assert "'核酸' <-> '检测' <-> '结果'" in tsquery_text(query)
    assert "'核酸' & '检测' & '结果'" in tsquery_text(query, " & ")  # RUM's ordering query
    vector = vector_text({"title": "核酸检测结果", "body": "", "tags": "", "category": ""})
    assert vector == "'核酸':1A '检测':2A '结果':3A"


def test_a_long_words_parts_are_left_to_the_word_in_a_phrase(app, client):
    """社区工作人员 is 社区 工作 作人 人员 工作人员 in search mode; the parts always come just
    before the word, so the phrase asks for 社区 and 工作人员 four places on."""
    assert tsquery_text(parse('"社区工作人员"')) == "(('社区' <4> '工作人员'))"
    found = add_article("走访", "<p>社区工作人员走访居民</p>")
    add_article("倒过来", "<p>工作人员在社区</p>")
    add_article("分开", "<p>社区工作，人员不足</p>")
    add_article("隔开", "<p>社区的新工作人员</p>")
    assert hit_ids(results(client, '"社区工作人员"')) == [found.id]
    assert hit_ids(results(client, "社区工作人员")) == [found.id]


def test_phrase_matches_only_words_side_by_side(app, client):
    near = add_article("社区新闻", "<p>网格员走访社区，栗艳萍介绍情况。</p>")
    add_article("另一篇", "<p>栗艳萍说，网格员很辛苦。</p>")
    assert hit_ids(results(client, '"网格员走访"')) == [near.id]


def test_more_like_this_finds_neighbours_never_itself_or_drafts(app):
    first = add_article("社区防控网格员走访", "<p>社区网格员排查疫情防控，网格员走访</p>")
    near = add_article("网格员排查", "<p>社区网格员排查疫情</p>")
    draft = add_article("社区网格员草稿", "<p>社区网格员</p>", status=DRAFT)
    add_article("天气预报", "<p>明天晴天</p>")
    assert search.more_like(first, 10) == [near.id]
    assert draft.id not in search.more_like(near, 10)


def test_reindex_rewrites_every_vector_with_progress(app, runner, seeded):
    db.session.execute(text("UPDATE articles SET search_vector = NULL"))
    db.session.commit()
    assert search.status()["documents"] == 0
    result = runner.invoke(args=["reindex"])
    assert result.exit_code == 0, result.output
    assert "搜索索引已重建：96 篇文章" in result.output
    assert search.status() == {"status": "ok", "generation": "postgres", "documents": 96}
    assert hit_ids_for("网格员") == [seeded.id]


def test_scheduled_publishing_is_searchable_at_once(app):
    from microsite.content import scheduling
    from microsite.content.models import SCHEDULED

    due = datetime(2030, 1, 1, 8, 0)
    article = add_article("定时发表的红杉新闻", "<p>红杉林</p>", status=SCHEDULED)
    article.published_at, article.scheduled_for = None, due
    db.session.commit()
    assert hit_ids_for("红杉") == []
    # publish_due changes the row with a Core UPDATE: the words still arrive in its commit.
    assert scheduling.publish_due(now=due) == [article.id]
    db.session.expire_all()
    assert hit_ids_for("红杉") == [article.id]


@pytest.mark.parametrize("q", ["O'Neil", "a\\b", "it's 'quoted'", "&|!():*<->", '"x\'y z"'])
def test_quotes_and_operators_in_input_are_plain_text(app, client, q):
    add_article("O'Neil 的来信", "<p>a\\b 与 x'y z</p>")
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200


# --- the ranked page at a size where RUM's ordered scan answers ------------------------------

SCALE_WORDS = [
    *("信息", "时候", "真是", "经济", "市场", "社区", "防控", "网格"),
    *("医院", "学校", "老师", "学生", "工作", "发展", "建设"),
]
SCALE_QUERIES = ["信息", "经济 学校", "医院 OR 建设", '"信息时候"', '"信息时候真是"', "菠萝啤酒"]


@pytest.fixture
def scaled(app):
    """2,000 random articles (bulk-inserted, then a real rebuild), and 60 identical ones on
    20 dates, so equal scores run far past a page: enough rows that the planner reads RUM's
    ordered scan, and ties beyond the scan's margin."""
    import random
    from datetime import timedelta

    from sqlalchemy import insert

    from microsite.content.models import PUBLISHED

    rng = random.Random(1616)
    weights = [1 / (rank + 1) for rank in range(len(SCALE_WORDS))]
    start = datetime(2021, 1, 1)

    def row(title: str, body: str, day: int) -> dict:
        published = start + timedelta(days=day)
        return {"title": title, "body": f"<p>{body}</p>", "status": PUBLISHED,
                "published_at": published, "updated_at": published}  # fmt: skip

    rows = [
        row("".join(rng.choices(SCALE_WORDS, weights, k=rng.randint(1, 4))),
            "，".join(rng.choices(SCALE_WORDS, weights, k=rng.randint(5, 120))),
            rng.randint(0, 400))
        for _ in range(2000)
    ]  # fmt: skip
    rows += [row("菠萝啤酒节", "菠萝啤酒节开幕", n % 20) for n in range(60)]
    db.session.execute(insert(Article), rows)
    db.session.commit()
    assert search.rebuild() == 2060
    db.session.execute(text("ANALYZE articles"))
    db.session.commit()


def _brute_force(q: str) -> list[int]:
    """Every match scored from its own row (no index, no limit), ordered in Python."""
    from microsite.search.backends import current

    db.session.execute(text("SET LOCAL enable_indexscan = off"))
    db.session.execute(text("SET LOCAL enable_bitmapscan = off"))
    scored = current().every_score(parse(q))
    dates = dict(db.session.execute(text("SELECT id, published_at FROM articles")).all())
    db.session.rollback()
    return [i for _, _, i in sorted(((s, dates[i], i) for s, i in scored), reverse=True)]


@pytest.mark.parametrize("q", SCALE_QUERIES)
def test_ranked_pages_and_count_equal_a_brute_force_ranking_at_scale(scaled, q):
    reference = _brute_force(q)
    assert len(reference) > 30, "a query with several pages"
    shown, total = [], None
    for page in (1, 2, 3):
        result = search.find(q, page=page)
        shown += result.ids
        total = result.total
        db.session.remove()
    assert total == len(reference)
    assert shown == reference[:30]


def test_the_ranked_page_is_read_from_rums_ordered_scan(scaled):
    from microsite.search.backends import current, postgres

    if current().kind() != "rum":
        pytest.skip("the server has no RUM: GIN ranks every match")
    params = {
        "q": tsquery_text(parse('"信息时候真是"')),
        "r": tsquery_text(parse('"信息时候真是"'), " & "),
    }
    sql = postgres.rum_sql(postgres._WHERE, 20)
    statements = ["SET LOCAL enable_sort = off", f"EXPLAIN {sql}"]
    plan = "\n".join(row[0] for row in postgres._select(statements, params)[0])
    assert f"Index Scan using {postgres.INDEX}" in plan and "Order By" in plan, plan


# --- two hosts, each its own server process, nothing run on either but the server -----------

SERVE = """
import json, os
from werkzeug.serving import make_server
from microsite import create_app
app = create_app(json.loads(os.environ["MICROSITE_HOST_CONFIG"]))
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


class _Server:
    """One host: the app served by a child process, with its own cookie jar."""

    def __init__(self, tmp_path: Path, name: str, database: str) -> None:
        import http.cookiejar
        import json
        import os
        import subprocess
        import sys
        import urllib.request

        self.home = tmp_path / name
        config = {
            "SECRET_KEY": "test-secret",
            "INSTANCE_PATH": str(self.home / "instance"),
            "SQLALCHEMY_DATABASE_URI": database,
            "SEARCH_INDEX_DIR": str(self.home / "no-index"),
            "RATELIMIT_STORAGE_URI": "memory://",
            "WTF_CSRF_ENABLED": False,
            "MICROSITE_JOBS_URL": "immediate",
        }
        env = {**os.environ, "MICROSITE_HOST_CONFIG": json.dumps(config)}
        root = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE], cwd=root, env=env, stdout=subprocess.PIPE, text=True
        )
        port = self.process.stdout.readline().strip()
        assert port.isdigit(), "host did not start"
        self.url = f"http://127.0.0.1:{port}"
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def post(self, path: str, form: dict) -> str:
        import urllib.parse

        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(self.url + path, data=data, timeout=10) as response:
            return response.url

    def hits(self, q: str) -> list[int]:
        import urllib.parse

        from bs4 import BeautifulSoup

        query = urllib.parse.urlencode({"q": q})
        with self.opener.open(f"{self.url}/search?{query}", timeout=10) as response:
            page = BeautifulSoup(response.read().decode(), "html.parser")
        return hit_ids(page)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        self.process.stdout.close()


def test_two_host_processes_see_a_publish_and_a_clear_within_the_second(tmp_path):
    """Hosts A and B are separate server processes on one PostgreSQL, no index directory and
    no worker: what A publishes B finds on its next search, what B clears A no longer shows."""
    import time

    from microsite.content.models import User
    from tests.support.app import ADMIN_PASSWORD

    setup = make_app(tmp_path / "setup")
    database = setup.config["SQLALCHEMY_DATABASE_URI"]

    def editor():
        user = User(username="editor", display_name="编辑部", role="admin")
        user.set_password(ADMIN_PASSWORD)
        db.session.add(user)
        db.session.commit()

    in_app(setup, editor)
    hosts = [_Server(tmp_path, name, database) for name in ("a", "b")]
    try:
        a, b = hosts
        for host in hosts:
            host.post("/admin/login", {"username": "editor", "password": ADMIN_PASSWORD})
        assert b.hits("蓝鲸") == []
        form = {"title": "甲主机的蓝鲸新闻", "body": "<p>蓝鲸出现在近海</p>", "category": "多主机",
                "tags": "", "status": "published"}  # fmt: skip
        began = time.monotonic()
        location = a.post("/admin/articles/new", form)
        found = b.hits("蓝鲸")
        took = time.monotonic() - began
        ident = int(location.split("/articles/")[1].split("/")[0])
        assert found == [ident] and took < 1.0, (found, took)
        b.post(f"/admin/articles/{ident}/clear", {})
        assert a.hits("蓝鲸") == [] and b.hits("蓝鲸") == []
        for host in hosts:
            assert not (host.home / "no-index").exists()
    finally:
        for host in hosts:
            host.stop()
