"""In Chromium: an editor schedules an article a minute ahead; it appears on / after that minute.

The live server runs in this process, so the test moves the site's clock
(the live app's `CLOCK` setting) instead of waiting a minute, then runs the worker's every-minute
publishing job (jobs run as they are enqueued under TESTING).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from microsite import queue
from microsite.content.scheduling import when_text
from microsite.text import local_now
from tests.support.browser import sign_in_page, watch_problems
from tests.support.clock import movable_clock

pytestmark = pytest.mark.browser

TITLE = "一分钟后发表的灵活用工新规"


def test_an_editor_schedules_an_article_and_it_appears_after_its_minute(
    page: Page, editor_site, live_app, monkeypatch
):
    problems = watch_problems(page, ignore_failed_loads=False)
    sign_in_page(page, editor_site, "writer")
    expect(page.locator("h1")).to_have_text("文章管理")

    page.locator(".admin-nav").get_by_role("link", name="写文章").click()
    page.get_by_role("textbox", name="标题", exact=True).fill(TITLE)
    # Typed once the rich-text editor has replaced the textarea (both are named 正文): a fill
    # that found the textarea just before the editor hid it waited for it to show again.
    expect(page.locator("textarea#body")).to_be_hidden()
    page.get_by_role("textbox", name="正文", exact=True).fill("新规将在一分钟后与读者见面。")
    page.get_by_role("combobox", name="栏目", exact=True).fill("人力资讯")
    page.get_by_label("发表", exact=True).check()
    when = local_now() + timedelta(minutes=1)
    page.get_by_label("发表时间", exact=True).fill(when.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="保存").click()
    flash = page.locator(".flash").first
    expect(flash).to_contain_text("已保存（定时发表）")
    expect(flash).to_contain_text(f"将于 {when_text(when)} 发表")
    article_id = int(re.search(r"/admin/articles/(\d+)/edit", page.url).group(1))
    expect(page.locator("#schedule-notice")).to_contain_text(f"{when:%H:%M:%S}")

    page.goto(f"{editor_site}/admin/?status=scheduled")
    row = page.locator(f"#article-{article_id}")
    expect(row.locator(".status")).to_have_text("定时发表")
    expect(row).to_contain_text(f"将于 {when:%Y-%m-%d %H:%M:%S} 发表")

    page.goto(f"{editor_site}/")
    headlines = page.locator("ol.headlines li.headline")
    expect(headlines.first).to_be_visible()
    expect(headlines.filter(has_text=TITLE)).to_have_count(0)

    # A minute and a bit later (the site's clock, not ours) the worker's minute job has run:
    # the next page shows it first.
    movable_clock(live_app).move(seconds=62)
    page.reload()
    expect(headlines.filter(has_text=TITLE)).to_have_count(0)  # readers alone publish nothing
    queue.jobs(live_app).publish_due()
    page.reload()
    expect(headlines.first).to_have_text(TITLE)
    headlines.first.locator("a").click()
    expect(page.locator("h1")).to_have_text(TITLE)
    expect(page.locator(".byline")).to_contain_text("记者 - writer")
    expect(page.locator(".byline")).to_contain_text(f"于{when:%Y年%m月%d日}发表")
    assert problems == []
