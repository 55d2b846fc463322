"""Scheduled publishing: out of every public view until its time, then everywhere, once.

The site's clock is moved (the app's `CLOCK` setting) instead of waiting, and the worker's
every-minute publishing job then runs as it would have meanwhile (under TESTING jobs run as they
are enqueued). Readers' requests never publish: only the worker (or `flask publish-due`) does.
"""

from __future__ import annotations

import multiprocessing
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import event, func, select

from microsite import create_app, queue, search
from microsite.content import scheduling
from microsite.content.models import DRAFT, PUBLISHED, SCHEDULED, Article, IndexChange
from microsite.extensions import db
from microsite.text import local_now
from tests.support.app import POSTGRES, soup
from tests.support.forms import sign_in
from tests.support.search import hit_ids, results

# These count change-log rows, which only the Whoosh backend writes; scheduled publishing with
# PostgreSQL search is in test_search_postgres.py.
pytestmark = pytest.mark.usefixtures("on_whoosh")

TITLE = "蓝鲸物流定时发表的用工新规"
BODY = "<p>蓝鲸物流公布灵活用工新规，定时发表测试正文。</p>"
CATEGORY = "定时栏目"
TAG = "定时关键词"
WORD = "蓝鲸物流"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ATOM = "{http://www.w3.org/2005/Atom}"
FORM_TIME = "%Y-%m-%dT%H:%M:%S"


@pytest.fixture
def clock(app, site_clock):
    """Time passes with the worker running: clock(timedelta(minutes=2)) moves the site's clock
    forward, then runs the worker's every-minute publishing job (worker=False: none ran)."""

    def advance(delta: timedelta, worker: bool = True) -> None:
        site_clock.move(delta)
        if worker:
            queue.jobs(app).publish_due()

    return advance


@pytest.fixture
def desk(desk, seeded):
    """A signed-in admin on a site with the seed imported and indexed."""
    search.rebuild()
    return desk


@pytest.fixture
def reader(app):
    """A second browser, signed out."""
    return app.test_client()


def form(**overrides) -> dict:
    data = {
        "title": TITLE,
        "body": BODY,
        "category": CATEGORY,
        "tags": TAG,
        "source_note": "来源：测试",
        "status": PUBLISHED,
        "published_at": "",
        "save": "保存",
    }
    data.update(overrides)
    return data


def save(desk, url: str = "/admin/articles/new", **overrides):
    response = desk.post(url, data=form(**overrides))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def schedule(desk, when: datetime) -> Article:
    response = save(desk, published_at=when.strftime(FORM_TIME))
    article_id = int(response.headers["Location"].split("/")[-2])
    return db.session.get(Article, article_id)


def reload(article: Article) -> Article:
    db.session.expire_all()
    return db.session.get(Article, article.id)


def changes_of(article_id: int) -> int:
    query = (
        select(func.count()).select_from(IndexChange).where(IndexChange.article_id == article_id)
    )
    return db.session.scalar(query)


def path_of(url: str) -> str:
    return urlsplit(url).path


def headline_links(response) -> set[str]:
    return {a["href"] for a in soup(response).select("li.headline a[href]")}


def feed_links(response) -> set[str]:
    root = ET.fromstring(response.data)
    return {path_of(entry.find(f"{ATOM}id").text) for entry in root.iter(f"{ATOM}entry")}


def sitemap_links(reader) -> set[str]:
    """Every article URL the XML sitemaps name, through the index."""
    index = ET.fromstring(reader.get("/sitemap.xml").data)
    found = set()
    for loc in index.iter(f"{SITEMAP}loc"):
        part = reader.get(path_of(loc.text))
        assert part.status_code == 200, loc.text
        found |= {path_of(url.text) for url in ET.fromstring(part.data).iter(f"{SITEMAP}loc")}
    return found


def public_views(reader, article_id: int) -> dict[str, bool]:
    """For each public view: whether the article is in it, read as a reader."""
    url = f"/articles/{article_id}"
    return {
        "home": url in headline_links(reader.get("/")),
        "category": url in headline_links(reader.get(f"/categories/{quote(CATEGORY)}")),
        "tag": url in headline_links(reader.get(f"/tags/{quote(TAG)}")),
        "top": url in headline_links(reader.get("/top")),
        "feed": url in feed_links(reader.get("/feed.xml")),
        "sitemap.xml": url in sitemap_links(reader),
        "sitemap": url in headline_links(reader.get("/sitemap")),
        "search": article_id in hit_ids(results(reader, WORD)),
        "article page": reader.get(url).status_code == 200,
    }


def test_scheduled_article_is_out_of_every_public_view_until_its_time(desk, reader, clock):
    when = local_now() + timedelta(hours=1)
    article = schedule(desk, when)
    assert (article.status, article.published_at, article.scheduled_for) == (
        SCHEDULED,
        None,
        when,
    )
    url = f"/articles/{article.id}"
    version, logged = article.version, changes_of(article.id)

    views = public_views(reader, article.id)
    assert len(views) == 9 and not any(views.values()), views
    assert reader.get(url).status_code == 404
    assert reader.get(f"{url}-slug").status_code == 404
    assert reader.get(f"{url}/related").status_code == 404
    preview = desk.get(url)  # staff may look, like at a draft
    assert preview.status_code == 200 and TITLE in soup(preview).select_one("h1").get_text()

    clock(timedelta(minutes=59))
    views = public_views(reader, article.id)
    assert not any(views.values()), views
    assert reload(article).status == SCHEDULED

    clock(timedelta(minutes=1))  # exactly its time
    views = public_views(reader, article.id)
    assert all(views.values()), views
    article = reload(article)
    assert (article.status, article.published_at, article.scheduled_for) == (
        PUBLISHED,
        when,
        None,
    )
    assert article.version == version + 1 and article.updated_at >= when
    assert changes_of(article.id) == logged + 1  # one change-log row for the publication
    # Searchable at once, on the page published it and through the module API alike.
    assert [hit.article.id for hit in search.find(WORD).hits] == [article.id]
    page = soup(reader.get(url))
    assert "于" in page.select_one(".byline").get_text()


def test_conditional_requests_cannot_hide_a_just_published_article(desk, reader, clock):
    """What a reader's cache kept from before the publication is not confirmed afterwards."""
    article = schedule(desk, local_now() + timedelta(minutes=1))
    url = f"/articles/{article.id}"
    paths = ["/", "/feed.xml", "/sitemap", "/sitemap.xml", "/sitemap-articles-1.xml"]
    paths += [f"/categories/{quote(CATEGORY)}", f"/tags/{quote(TAG)}"]
    before = {path: reader.get(path) for path in paths}
    clock(timedelta(minutes=2))
    for path, old in before.items():
        headers = {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}
        if old.headers.get("ETag"):
            headers["If-None-Match"] = old.headers["ETag"]
        if old.headers.get("Last-Modified"):
            headers["If-Modified-Since"] = old.headers["Last-Modified"]
        response = reader.get(path, headers=headers)
        assert response.status_code == 200, path
        if path != "/sitemap.xml":
            assert url in response.get_data(as_text=True), path
    # The article page itself: the staff preview's validators do not match the live page.
    preview = desk.get(url)
    response = reader.get(url, headers={"If-None-Match": preview.headers.get("ETag", '"x"')})
    assert response.status_code == 200


def test_staff_preview_of_a_scheduled_article_says_when_it_goes_live(desk, reader):
    when = (local_now() + timedelta(hours=3)).replace(microsecond=0)
    article = schedule(desk, when)
    byline = soup(desk.get(f"/articles/{article.id}")).select_one(".byline").get_text()
    assert f"定时发表：将于{when:%Y-%m-%d %H:%M:%S}发表" in byline
    assert reader.get(f"/articles/{article.id}").status_code == 404


def test_past_or_empty_time_publishes_now_and_the_flash_says_when(desk, reader):
    now = local_now()
    response = save(desk, published_at="")
    flash = soup(desk.get(response.headers["Location"])).select_one(".flash").get_text()
    assert "已保存（已发表）" in flash
    past = save(
        desk, title="已过去的时间", published_at=(now - timedelta(days=2)).strftime(FORM_TIME)
    )
    article = db.session.get(Article, int(past.headers["Location"].split("/")[-2]))
    assert article.status == PUBLISHED and article.published_at == now - timedelta(days=2)
    assert article.scheduled_for is None

    when = datetime(now.year + 1, 11, 29, 10, 5)
    scheduled = save(desk, title="明年发表", published_at=when.strftime(FORM_TIME))
    page = soup(desk.get(scheduled.headers["Location"]))
    flash = " ".join(element.get_text() for element in page.select(".flash"))
    assert f"将于 {now.year + 1}年11月29日 10:05 发表" in flash
    assert "已保存（定时发表）" in flash


def test_editing_shows_the_time_reschedules_and_unschedules(desk, reader, clock):
    when = local_now() + timedelta(hours=1)
    article = schedule(desk, when)
    edit_url = f"/admin/articles/{article.id}/edit"
    page = soup(desk.get(edit_url))
    assert page.select_one("input[name=status][checked]")["value"] == PUBLISHED
    assert page.select_one("input[name=published_at]")["value"].startswith(
        when.strftime("%Y-%m-%dT%H:%M")
    )
    notice = page.select_one("#schedule-notice").get_text()
    assert "将于" in notice and when.strftime("%H:%M:%S") in notice

    # Later: still scheduled, at the new time; the old time no longer publishes it.
    later = when + timedelta(hours=1)
    save(desk, edit_url, published_at=later.strftime(FORM_TIME), version=article.version)
    article = reload(article)
    assert (article.status, article.scheduled_for, article.published_at) == (
        SCHEDULED,
        later,
        None,
    )
    assert scheduling.publish_due(when + timedelta(minutes=1)) == []

    # 草稿 unschedules: the time passes and nothing appears.
    save(
        desk,
        edit_url,
        status=DRAFT,
        published_at=later.strftime(FORM_TIME),
        version=article.version,
    )
    article = reload(article)
    assert article.status == DRAFT and article.scheduled_for is None
    clock(timedelta(hours=3))
    assert reader.get(f"/articles/{article.id}").status_code == 404
    assert reload(article).status == DRAFT
    # Three idle hours end the desk's session (MICROSITE_SESSION_IDLE_MINUTES): sign in again.
    sign_in(desk)

    # A published article given a time to come leaves the site until then.
    save(desk, edit_url, published_at="", version=article.version)
    article = reload(article)
    assert article.status == PUBLISHED
    assert reader.get(f"/articles/{article.id}").status_code == 200
    soon = local_now() + timedelta(minutes=10)
    save(desk, edit_url, published_at=soon.strftime(FORM_TIME), version=article.version)
    assert reader.get(f"/articles/{article.id}").status_code == 404
    clock(timedelta(minutes=10))
    assert reader.get(f"/articles/{article.id}").status_code == 200


def test_dashboard_lists_scheduled_articles_with_their_time(desk):
    when = local_now() + timedelta(days=1)
    article = schedule(desk, when)
    for url in ("/admin/", "/admin/?status=scheduled"):
        page = soup(desk.get(url))
        row = page.select_one(f"#article-{article.id}")
        assert row is not None, url
        assert row.select_one(".status").get_text() == "定时发表"
        assert f"将于 {when:%Y-%m-%d %H:%M:%S} 发表" in row.get_text(" ", strip=True)
    tabs = soup(desk.get("/admin/")).select_one(".status-tabs").get_text(" ", strip=True)
    assert "定时发表 1" in tabs


def test_an_edit_opened_before_the_publication_is_refused_not_applied(desk, clock):
    article = schedule(desk, local_now() + timedelta(minutes=1))
    edit_url = f"/admin/articles/{article.id}/edit"
    opened = article.version
    clock(timedelta(minutes=2), worker=False)
    assert scheduling.publish_due() == [article.id]
    response = desk.post(edit_url, data=form(status=DRAFT, version=opened))
    assert response.status_code == 409
    assert reload(article).status == PUBLISHED


def test_publish_due_publishes_once_and_the_command_line_does_it_too(desk, runner, clock):
    first = schedule(desk, local_now() + timedelta(minutes=1))
    second = schedule(desk, local_now() + timedelta(minutes=5))
    clock(timedelta(minutes=2), worker=False)
    # No worker ran: the command publishes what is due, and only that.
    now = local_now()
    result = runner.invoke(args=["publish-due"])
    assert result.exit_code == 0, result.output
    assert "已发表 1 篇" in result.output
    assert reload(first).status == PUBLISHED and reload(second).status == SCHEDULED
    assert scheduling.publish_due(now) == []
    assert changes_of(first.id) == 2  # scheduled, then published
    assert runner.invoke(args=["publish-due"]).output.startswith("已发表 0 篇")


def test_readers_never_publish_only_the_worker_does(desk, reader, clock):
    article = schedule(desk, local_now() + timedelta(minutes=1))
    clock(timedelta(minutes=2), worker=False)  # due, and no worker has run since
    assert reader.get(f"/articles/{article.id}").status_code == 404
    assert not public_views(reader, article.id)["home"]
    assert reload(article).status == SCHEDULED  # a reader's GET wrote nothing
    queue.jobs(desk.application).publish_due()  # the worker's minute comes
    assert reload(article).status == PUBLISHED
    assert reader.get(f"/articles/{article.id}").status_code == 200


@pytest.mark.skipif(bool(POSTGRES), reason="reads SQLite's query plan")
def test_the_check_is_one_statement_on_the_status_scheduled_index(app):
    statements: list[str] = []
    with db.engine.connect() as connection:
        event.listen(connection, "before_cursor_execute", lambda *args: statements.append(args[2]))
        assert scheduling.due_ids(connection, local_now()) == []
        plan = connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statements[0]}", (SCHEDULED, str(local_now()))
        )
        plan = " ".join(row[-1] for row in plan)
    assert len(statements) == 2  # the check, then the EXPLAIN
    assert "COVERING INDEX ix_articles_status_scheduled" in plan, plan
    # No ORDER BY: the listing tests tell list queries by it.
    assert "ORDER BY" not in statements[0]


# --- two workers -------------------------------------------------------------------------

RACED = 12


def publish_in_child(config: dict, now: str, barrier) -> tuple[list[int], list[int]]:
    """In a child process (a second worker): publish_due, where both workers read the due
    articles before either publishes one, so every article is contested.
    Returns (the ids this worker saw due, the ids it published)."""
    app = create_app(config)
    seen: list[int] = []
    read_due = scheduling.due_ids

    def due_then_wait(connection, when):
        seen.extend(read_due(connection, when))
        barrier.wait(timeout=60)  # the other worker has read them too
        return list(seen)

    scheduling.due_ids = due_then_wait
    with app.app_context():
        published = scheduling.publish_due(datetime.fromisoformat(now))
        db.session.remove()
    return seen, published


def test_two_workers_never_publish_one_scheduled_article_twice(app, seeded):
    search.rebuild()
    when = local_now() + timedelta(minutes=1)
    articles = [
        Article(title=f"并发定时 {n}", body=f"<p>并发定时正文 鲸落{n}</p>", status=SCHEDULED)
        for n in range(RACED)
    ]
    for article in articles:
        article.scheduled_for = when
    db.session.add_all(articles)
    db.session.commit()
    ids = {article.id for article in articles}
    versions = {article.id: article.version for article in articles}
    logged = db.session.scalar(select(func.max(IndexChange.id))) or 0
    db.session.remove()

    keys = ("SQLALCHEMY_DATABASE_URI", "SEARCH_INDEX_DIR", "RATELIMIT_STORAGE_URI")
    config = {key: app.config[key] for key in keys}
    config |= {"TESTING": True, "SECRET_KEY": "test", "INSTANCE_PATH": app.instance_path}
    context = multiprocessing.get_context("spawn")
    due = (when + timedelta(seconds=1)).isoformat()
    with context.Manager() as manager, ProcessPoolExecutor(2, mp_context=context) as pool:
        barrier = manager.Barrier(2)
        futures = [pool.submit(publish_in_child, config, due, barrier) for _ in range(2)]
        (seen_a, first), (seen_b, second) = (future.result(timeout=120) for future in futures)

    assert set(seen_a) == set(seen_b) == ids  # both went for every article
    first, second = set(first), set(second)
    assert first | second == ids  # none lost
    assert not first & second  # one winner each
    rows = db.session.execute(
        select(IndexChange.article_id).where(
            IndexChange.id > logged, IndexChange.article_id.in_(ids)
        )
    ).scalars()
    assert sorted(rows) == sorted(ids)  # exactly one change-log row per publication
    for article in db.session.scalars(select(Article).where(Article.id.in_(ids))):
        assert (article.status, article.published_at) == (PUBLISHED, when)
        assert article.version == versions[article.id] + 1
    found = search.find("并发定时正文", size=100)
    assert {hit.article.id for hit in found.hits} == ids
