"""The hostile-input payloads rendered in a real Chromium: no dialog opens, no injected htmx
request leaves the page, no inline script or handler even reaches CSP, on the public pages,
the search box (typed, through htmx) and the admin desk."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Page, expect

from microsite import search
from microsite.content.models import PUBLISHED, Article, Category, MaskedWord, Tag
from microsite.content.site import save_settings
from microsite.extensions import db
from microsite.sanitize import clean_html
from microsite.text import local_now
from tests.support.app import ADMIN_PASSWORD
from tests.support.factories import make_user
from tests.support.payloads import PAYLOADS

pytestmark = pytest.mark.browser

LIVE = ["script", "img-onerror", "svg-onload", "attr-break", "hx-get", "hx-on", "js-url", "iframe"]
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.sample || ""));
});
"""
# Enough newer articles that the payloads' headlines reach the home page only through
# "加载更多" (20 to a page), i.e. through an htmx swap.
NEWER_FILLERS = 20
INJECTED = (
    "[onerror], [onload], [onfocus], [onclick], [hx-get='/evil'], [hx-target='body'],"
    " iframe, object, script:not([src]):not([type='application/ld+json'])"
)


@pytest.fixture
def hostile_site(live_app, live_server):
    """The live site with every payload stored where readers and admins will see it."""
    with live_app.app_context():
        make_user()
        ids = []
        category = Category(name="栏目<b>x</b>", slug="hostile")
        now = local_now()
        db.session.add_all(
            Article(title=f"较新的文章{n}", status=PUBLISHED, published_at=now)
            for n in range(NEWER_FILLERS)
        )
        for name in LIVE:
            payload = PAYLOADS[name]
            tag = Tag(name=f"{name}{payload}"[:60].replace("/", ""))
            article = Article(
                title=payload[:200],
                body=clean_html(f"<p>正文 {payload}</p>"),
                source_note=payload,
                status=PUBLISHED,
                published_at=now - timedelta(minutes=1),
                category=category,
                tags=[tag],
            )
            db.session.add(article)
            db.session.flush()
            ids.append(article.id)
        db.session.add(MaskedWord(word="<img src=x onerror=alert(9)>"))
        save_settings(
            site_name='站"><script>alert(5)</script>',
            hotline="<img src=x onerror=alert(6)>",
            disclaimer="<svg/onload=alert(7)>",
            footer_links=[{"label": "<b onclick=alert(8)>l</b>", "href": "/pages/about"}],
            keyword_links=["<script>alert(10)</script>"],
            icp='" autofocus onfocus="alert(11)',
        )
        db.session.commit()
        search.rebuild()
        db.session.remove()
    return live_server.url, ids


def _watch(page: Page) -> dict:
    seen = {"dialogs": [], "evil": [], "errors": []}

    def on_dialog(dialog) -> None:
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    def on_request(request) -> None:
        parts = urlsplit(request.url)
        if parts.path == "/evil" or parts.hostname == "evil":
            seen["evil"].append(request.url)

    page.on("request", on_request)
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.add_init_script(WATCH)
    return seen


def _settled(page: Page) -> None:
    """Wait until what could fire on its own has had its chance: the page loaded, every image
    finished (onerror), and two frames rendered after that (autofocus, htmx's load triggers)."""
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => Array.from(document.images).every(image => image.complete)", timeout=10_000
    )
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _check(page: Page, seen: dict, where: str) -> None:
    _settled(page)
    assert not seen["dialogs"], (where, seen["dialogs"])
    assert not seen["evil"], (where, seen["evil"])
    assert not seen["errors"], (where, seen["errors"])
    injected = page.eval_on_selector_all(INJECTED, "els => els.map(e => e.outerHTML)")
    assert not injected, (where, injected[:3])
    assert page.evaluate("window.__csp") == [], where


def test_stored_and_reflected_payloads_never_run(page: Page, hostile_site):
    base, ids = hostile_site
    seen = _watch(page)
    urls = ["/", "/sitemap", "/categories/hostile", "/top"]
    urls += [f"/articles/{article_id}" for article_id in ids]
    urls += [f"/articles/{ids[0]}/related?page=1"]
    urls += ["/search?q=" + quote(PAYLOADS[name]) for name in LIVE]
    for url in urls:
        page.goto(base + url)
        _check(page, seen, url)
    # Active search: typed into the box, answered through htmx and swapped into the page.
    page.goto(base + "/")
    box = page.locator("input[type=search]").first
    for name in ("script", "hx-get", "attr-break"):
        box.fill(PAYLOADS[name])
        # The results were swapped in (the heading names what was typed, as text).
        expect(page.locator("#main #search-heading")).to_have_text("搜索：" + PAYLOADS[name])
        _check(page, seen, f"typed {name}")
    # Click-to-load on the home page pulls the payloads' headlines in through htmx.
    page.goto(base + "/")
    rows = page.locator("ol li.headline")
    expect(rows).to_have_count(20)
    assert page.locator("li.headline", has_text=PAYLOADS["script"]).count() == 0
    page.locator("li.more a").click()
    expect(rows).to_have_count(40)
    titles = rows.locator("a").all_text_contents()
    assert [name for name in LIVE if PAYLOADS[name][:200] not in titles] == []
    _check(page, seen, "加载更多")


def test_the_admin_desk_shows_payloads_as_text(page: Page, hostile_site):
    base, ids = hostile_site
    seen = _watch(page)
    page.goto(f"{base}/admin/login")
    page.get_by_role("textbox", name="用户名", exact=True).fill("editor")
    page.get_by_label("密码", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/admin/")
    for url in ["/admin/", "/admin/settings", "/admin/words"] + [
        f"/admin/articles/{article_id}/edit" for article_id in ids
    ]:
        page.goto(base + url)
        _check(page, seen, url)
    # The edit form keeps the title as typed text, characters and all.
    page.goto(f"{base}/admin/articles/{ids[0]}/edit")
    assert page.locator("input[name=title]").input_value() == PAYLOADS[LIVE[0]]
