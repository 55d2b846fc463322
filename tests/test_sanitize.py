"""Article HTML is cut down to an allow-list on save."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup
from hypothesis import given
from hypothesis import strategies as st

from microsite.sanitize import ATTRIBUTES, TAGS, clean_html, strips_markup


@pytest.mark.parametrize(
    "dirty, clean",
    [
        ("<p>正文<script>alert(1)</script></p>", "<p>正文</p>"),
        ('<p onclick="x()" onmouseover="y()">点</p>', "<p>点</p>"),
        ('<img src="x" onerror="alert(1)">', ""),
        ('<p hx-get="/admin/logout" hx-trigger="load">h</p>', "<p>h</p>"),
        ('<p data-hx-post="/x" data-foo="1">d</p>', "<p>d</p>"),
        ('<p><a href="javascript:alert(1)">j</a></p>', '<p><a rel="noopener nofollow">j</a></p>'),
        ('<p><a href=" JaVaScRiPt:alert(1)">j</a></p>', '<p><a rel="noopener nofollow">j</a></p>'),
        (
            '<p><a href="data:text/html,<script>x</script>">d</a></p>',
            '<p><a rel="noopener nofollow">d</a></p>',
        ),
        ('<p style="position:fixed">s</p>', "<p>s</p>"),
        ("<style>p{display:none}</style><p>t</p>", "<p>t</p>"),
        ('<iframe src="//evil.com"></iframe><p>i</p>', "<p>i</p>"),
        ("<p>a<!-- secret --></p>", "<p>a</p>"),
        (
            '<p><a href="https://example.com/a?b=1" title="例" target="_blank" rel="x">l</a></p>',
            '<p><a href="https://example.com/a?b=1" title="例" rel="noopener nofollow">l</a></p>',
        ),
        (
            '<p><a href="/articles/3">站内</a></p>',
            '<p><a href="/articles/3" rel="noopener nofollow">站内</a></p>',
        ),
    ],
)
def test_hostile_markup_is_removed(dirty, clean):
    assert clean_html(dirty) == clean


def test_the_allowed_subset_survives_unchanged():
    html = (
        "<h2>小标题</h2><h3>三级</h3><h4>四级</h4><p>段落<br><strong>粗</strong><b>b</b>"
        "<em>斜</em><i>i</i></p><ul><li>一</li></ul><ol><li>二</li></ol>"
        "<blockquote><p>引用</p></blockquote>"
    )
    assert clean_html(html) == html


def test_imported_reporters_line_keeps_its_class():
    assert clean_html('<p class="reporters evil">记者</p>') == '<p class="reporters">记者</p>'


def test_plain_lines_become_paragraphs():
    assert clean_html("第一段\n\n 第二段 <b>粗</b>\n") == "<p>第一段</p>\n<p>第二段 <b>粗</b></p>"
    assert clean_html("a < b\n<script>x</script>") == "<p>a &lt; b</p>"
    assert clean_html("   ") == "" and clean_html(None) == ""


def test_strips_markup_tells_whether_anything_was_removed():
    assert not strips_markup("纯文字")
    assert not strips_markup('<p>ok <a href="https://a.cn/" title="t">l</a></p>')
    assert strips_markup("<p>x<script>y</script></p>")
    assert strips_markup('<a href="javascript:x">l</a>')
    assert strips_markup('<p style="color:red">s</p>')


pieces = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<script>",
        "</script>",
        "<img src=x onerror=alert(1)>",
        "<a href=",
        '"javascript:alert(1)"',
        "'java\tscript:x'",
        ">",
        "<",
        "<svg onload=x>",
        " hx-get=/x ",
        "<p style='a:b'>",
        "<!--",
        "-->",
        "<style>",
        "<b",
        " onclick=y",
        "文字",
        "&lt;",
        "\n",
        "<iframe>",
        "data-hx-post=1",
        "<A HREF=JAVASCRIPT:x>",
        "<h2>",
        "</a>",
    ]
)


@given(st.lists(pieces, max_size=25).map("".join))
def test_no_combination_of_fragments_gets_through(dirty):
    """Whatever goes in, only allowed tags and attributes and safe links come out."""
    for tag in BeautifulSoup(clean_html(dirty), "html.parser").find_all(True):
        assert tag.name in TAGS
        allowed = ATTRIBUTES.get(tag.name, set()) | {"rel"}
        assert set(tag.attrs) <= allowed | ({"class"} if tag.name == "p" else set())
        assert tag.name == "a" or "rel" not in tag.attrs
        href = tag.get("href", "")
        assert not re.match(r"\s*[a-z][a-z0-9+.-]*:", href, re.I) or href.startswith("http")
