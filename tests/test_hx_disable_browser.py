"""The second layer behind the sanitizer: markup that reached the database some other way (an
old nh3, a migration, a hand edit) still cannot make htmx act for the admin who views it.

The hostile elements are written straight into the database, bypassing clean_html. They aim
at a real admin action (making an editor an admin) and at a probe URL; an admin then opens
every page that shows them in Chromium, and no request may leave for either, nor may the
editor's role change.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from microsite.content.models import PUBLISHED, Article, Revision, User
from microsite.content.models import Page as SitePage
from microsite.content.site import save_settings
from microsite.extensions import db
from microsite.text import local_now
from tests.support.browser import sign_in_page
from tests.support.factories import make_user

pytestmark = pytest.mark.browser

PROBE = "/admin/hx-probe"


def hostile_markup(editor_id: int) -> str:
    """A self-firing form that makes the editor an admin, and self-firing GETs: one plain,
    one after end tags meant to close the container around it, one as attributes of a stray
    <body> tag (a browser copies those onto the page's own body)."""
    return (
        f'<form hx-post="/admin/users/{editor_id}/role" hx-trigger="load" hx-swap="none">'
        '<input name="role" value="admin"></form>'
        f'<div hx-get="{PROBE}" hx-trigger="load" hx-swap="none">探针</div>'
        f'<p data-hx-get="{PROBE}" data-hx-trigger="load">探针二</p>'
        "</p></div></div></article></details></section></dd></dl></li></ol></main>"
        f'<div hx-get="{PROBE}?escaped=1" hx-trigger="load" hx-swap="none">逃逸</div>'
        f'<body hx-get="{PROBE}?body=1" hx-trigger="load" hx-swap="none">'
    )


@pytest.fixture
def planted(live_app, live_server):
    """An admin, an editor, and the hostile markup stored raw in an article body, a revision,
    a page and the settings."""
    with live_app.app_context():
        make_user()  # "editor" with the default role: an admin, the one who signs in
        target = make_user("reporter", role="editor")
        markup = hostile_markup(target.id)
        article = Article(
            title="hx 测试",
            body=f"<p>正文</p>{markup}",
            source_note=markup,
            status=PUBLISHED,
            published_at=local_now(),
        )
        db.session.add(article)
        db.session.flush()
        revision = Revision(article_id=article.id, version=1, title="旧版", body=markup, tags="")
        db.session.add(revision)
        db.session.add(SitePage(slug="hx-test", title="hx 页面", body=markup))
        save_settings(
            site_name=markup[:100],
            hotline=markup[:64],
            footer_links=[{"label": markup, "href": "/"}],
            keyword_links=[markup],
            icp=markup[:64],
        )
        db.session.commit()
        ids = {"article": article.id, "revision": revision.id, "target": target.id}
        db.session.remove()
    return live_server.url, ids


def _role_of(live_app, user_id: int) -> str:
    with live_app.app_context():
        role = db.session.scalar(select(User.role).where(User.id == user_id))
        db.session.remove()
    return role


def _htmx_has_settled(page: Page) -> None:
    """Prove htmx runs on this page and has processed it: a load-triggered element added
    outside any stored content sends its request. Load triggers of the page itself fire
    during the same processing, before this one is even added."""
    page.wait_for_function("() => window.htmx !== undefined")
    with page.expect_request(lambda request: "hx-canary" in request.url):
        page.evaluate(
            """() => {
              const canary = document.createElement("div");
              canary.setAttribute("hx-get", "/robots.txt?hx-canary=1");
              canary.setAttribute("hx-trigger", "load");
              canary.setAttribute("hx-swap", "none");
              document.body.appendChild(canary);
              htmx.process(canary);
            }"""
        )


def test_stored_htmx_markup_never_acts_for_an_admin(page: Page, planted, live_app):
    base, ids = planted
    sent: list[str] = []
    target_role = f"/admin/users/{ids['target']}/role"

    def on_request(request) -> None:
        if urlsplit(request.url).path in {PROBE, target_role}:
            sent.append(f"{request.method} {request.url}")

    page.on("request", on_request)
    sign_in_page(page, base, "editor")
    urls = [
        f"/articles/{ids['article']}",
        "/pages/hx-test",
        f"/admin/articles/{ids['article']}/revisions/{ids['revision']}",
        "/",
        "/admin/",
    ]
    for url in urls:
        page.goto(base + url)
        # The hostile elements are in the page, so htmx had them to act on.
        assert page.locator(f'[hx-get="{PROBE}"], [data-hx-get="{PROBE}"]').count() or (
            url in {"/", "/admin/"}
        ), url
        _htmx_has_settled(page)
        assert sent == [], (url, sent)
    assert _role_of(live_app, ids["target"]) == "editor"


def test_the_canary_proves_htmx_would_act_outside_stored_content(page: Page, planted):
    """The same markup outside a stored-content container does fire: the test above can fail."""
    base, ids = planted
    sign_in_page(page, base, "editor")
    page.goto(base + "/pages/hx-test")
    page.wait_for_function("() => window.htmx !== undefined")
    with page.expect_request(lambda request: urlsplit(request.url).path == PROBE):
        page.evaluate(
            """(html) => {
              const box = document.createElement("div");
              box.innerHTML = html;
              document.querySelector("main").appendChild(box);
              htmx.process(box);
            }""",
            f'<div hx-get="{PROBE}" hx-trigger="load" hx-swap="none">x</div>',
        )
