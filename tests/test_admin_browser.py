"""The editorial desk in a real Chromium: from sign-in to sign-out, through htmx and CSRF."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.support.app import ADMIN_PASSWORD
from tests.support.browser import watch_problems

pytestmark = pytest.mark.browser

TITLE = "蜂鸟骑手灵活用工新规解读"
EDITED = "蜂鸟骑手灵活用工新规全文解读"
CATEGORY = "人力资讯"
PLACEHOLDER = re.compile(r"^标题和内容已经清空\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def first_headline(page: Page):
    return page.locator("ol.headlines li.headline").first


def hit_link(page: Page, article_id: int):
    return page.locator(f".search-hit a[href$='/articles/{article_id}']")


def search_hits(page: Page, base: str, query: str):
    page.goto(f"{base}/search?q={quote(query)}")
    return page.locator(".search-hit__title")


def test_sign_in_write_preview_publish_edit_clear_restore_sign_out(page: Page, admin_site):
    problems = watch_problems(page)
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm asks before clearing

    page.goto(f"{admin_site}/admin/")
    expect(page).to_have_url(f"{admin_site}/admin/login?next=/admin/")
    page.get_by_role("textbox", name="用户名", exact=True).fill("editor")
    page.locator("input[name=password]").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1")).to_have_text("文章管理")

    # The index is built from the dashboard, polled by htmx until it reports its count.
    page.get_by_role("button", name="重建搜索索引").click()
    expect(page.locator("#reindex-status")).to_contain_text("索引重建完成", timeout=30_000)

    page.locator(".admin-nav").get_by_role("link", name="写文章").click()
    page.get_by_role("textbox", name="标题", exact=True).fill(TITLE)
    # This admin writes the HTML itself: the rich-text editor's source view is the textarea.
    page.get_by_role("button", name="编辑 HTML 源码").click()
    page.get_by_role("textbox", name="正文", exact=True).fill(
        "外卖平台的蜂鸟骑手迎来灵活用工新规。\n<h2>新规要点</h2>\n<p>工伤保障全覆盖。</p>"
    )
    page.get_by_role("combobox", name="栏目", exact=True).fill(CATEGORY)
    page.get_by_role("textbox", name="关键词", exact=True).fill("灵活用工 骑手")
    page.get_by_label("草稿", exact=True).check()
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash").first).to_contain_text("已保存（草稿）")
    article_id = int(re.search(r"/admin/articles/(\d+)/edit", page.url).group(1))
    edit_url = page.url
    article_url = f"{admin_site}/articles/{article_id}"

    page.get_by_role("button", name="预览").click()
    expect(page.locator("section.preview h1")).to_have_text(TITLE)
    expect(page.locator("section.preview h2", has_text="新规要点")).to_be_visible()

    page.get_by_label("发表", exact=True).check()
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash").first).to_contain_text("已保存（已发表）")

    page.goto(f"{admin_site}/")
    expect(first_headline(page)).to_have_text(TITLE)
    page.goto(f"{admin_site}/categories/{quote(CATEGORY)}")
    expect(first_headline(page)).to_have_text(TITLE)
    expect(search_hits(page, admin_site, "蜂鸟骑手").first).to_contain_text("蜂鸟骑手")
    expect(hit_link(page, article_id)).to_have_count(1)

    page.goto(edit_url)
    page.get_by_role("textbox", name="标题", exact=True).fill(EDITED)
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash").first).to_contain_text(EDITED)
    page.goto(article_url)
    expect(page.locator("h1")).to_have_text(EDITED)

    page.goto(f"{admin_site}/admin/")
    row = page.locator(f"#article-{article_id}")
    row.get_by_role("button", name="清空").click()
    expect(row.locator(".admin-row__title")).to_have_text(PLACEHOLDER)
    expect(row.locator(".status")).to_have_text("已清空")
    assert page.goto(article_url).status == 410
    page.goto(f"{admin_site}/")
    expect(first_headline(page)).to_have_text(PLACEHOLDER)
    expect(first_headline(page).locator("a")).to_have_count(0)
    search_hits(page, admin_site, "蜂鸟骑手")
    expect(hit_link(page, article_id)).to_have_count(0)

    page.goto(f"{admin_site}/admin/?status=cleared")
    row.get_by_role("button", name="恢复").click()
    expect(row.locator(".status")).to_have_text("已发表")
    expect(row.locator(".admin-row__title")).to_have_text(EDITED)
    assert page.goto(article_url).status == 200
    page.goto(f"{admin_site}/")
    expect(first_headline(page)).to_have_text(EDITED)
    search_hits(page, admin_site, "蜂鸟骑手")
    expect(hit_link(page, article_id)).to_have_count(1)

    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(f"{admin_site}/admin/login")
    expect(page.locator(".flash")).to_have_text("您已安全退出。")
    page.goto(f"{admin_site}/admin/")
    expect(page).to_have_url(f"{admin_site}/admin/login?next=/admin/")
    assert problems == []
