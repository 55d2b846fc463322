"""Article HTML is cut down to an allow-list on save."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import nh3
import pytest
from bs4 import BeautifulSoup
from hypothesis import given
from hypothesis import strategies as st

from microsite.sanitize import balanced_html, clean_html, images_missing_alt, strips_markup
from tests.support.payloads import ESCALATION, PICTURE, ROLE_FORM

# The oracle is written here, not imported: what README promises article HTML may hold, and
# what it must never hold. A test that read the module's own allow-list would agree with any
# mistake made in it.
DOCUMENTED_TAGS = {
    "p", "h2", "h3", "h4", "ul", "ol", "li", "a", "strong", "b", "em", "i", "blockquote", "br",
    "img",
}  # fmt: skip
DOCUMENTED_ATTRIBUTES = {
    "a": {"href", "title", "rel"},
    "img": {"src", "alt", "width", "height"},
    "p": {"class"},
}
FORBIDDEN_ATTRIBUTE_PREFIXES = ("on", "hx-", "data-", "xmlns", "xlink")
FORBIDDEN_ATTRIBUTES = {"style", "srcdoc", "formaction", "action", "target", "srcset", "id"}
FORBIDDEN_SCHEMES = {"javascript", "data", "vbscript", "file", "blob", "about"}
LOCAL_PICTURE = re.compile(r"/media/[0-9a-f]{32}\.(?:jpg|png|webp)")


def assert_safe(cleaned: str) -> None:
    """Only documented tags and attributes, no forbidden attribute of any value, no script
    scheme, pictures only from our uploads."""
    for tag in BeautifulSoup(cleaned, "html.parser").find_all(True):
        assert tag.name in DOCUMENTED_TAGS, (tag.name, cleaned)
        for name in tag.attrs:
            assert not name.startswith(FORBIDDEN_ATTRIBUTE_PREFIXES), (name, cleaned)
            assert name not in FORBIDDEN_ATTRIBUTES, (name, cleaned)
            assert name in DOCUMENTED_ATTRIBUTES.get(tag.name, set()), (name, cleaned)
        for name in ("href", "src"):
            scheme = urlsplit(tag.get(name, "").strip()).scheme.lower()
            assert scheme not in FORBIDDEN_SCHEMES, (tag, cleaned)
        if tag.name == "img":
            assert LOCAL_PICTURE.fullmatch(tag["src"]), (tag, cleaned)


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
        '<img alt="x>',
        f'<img src="{PICTURE}" alt="',
        '">',
        "<form hx-post=/admin/users/3/role hx-trigger=load>",
        "<input name=role value=admin>",
        "</form>",
        "<math><mi xlink:href=javascript:x>",
        "<svg><a href=javascript:x>",
        "&quot;",
        "\x00",
    ]
)


@given(st.lists(pieces, max_size=25).map("".join))
def test_no_combination_of_fragments_gets_through(dirty):
    """Whatever goes in, only documented tags and attributes and safe links come out, and
    cleaning the result again (an edit saved twice) uncovers nothing either."""
    cleaned = clean_html(dirty)
    assert_safe(cleaned)
    assert_safe(clean_html(cleaned))
    for tag in BeautifulSoup(cleaned, "html.parser").find_all(True):
        assert tag.name == "a" or "rel" not in tag.attrs
        href = tag.get("href", "")
        assert not re.match(r"\s*[a-z][a-z0-9+.-]*:", href, re.I) or href.startswith("http")


@pytest.mark.parametrize("tag", sorted(DOCUMENTED_TAGS))
def test_no_allowed_tag_keeps_a_handler_or_htmx_attribute(tag):
    """Each allowed tag offered every kind of active attribute: none of them survives."""
    active = (
        'hx-get="/admin/logout" hx-post="/admin/users/3/role" hx-trigger="load" '
        'hx-on:click="x()" data-hx-get="/x" hx-vals=\'{"role": "admin"}\' onclick="x()" '
        'onerror="x()" style="color:red" data-x="1"'
    )
    inner = "" if tag in {"br", "img"} else f"字</{tag}>"
    cleaned = clean_html(f'<p><{tag} src="{PICTURE}" alt="图" href="/a" {active}>{inner}</p>')
    assert_safe(cleaned)
    assert "hx-" not in cleaned and "onclick" not in cleaned and "onerror" not in cleaned


def test_installed_nh3_escapes_angle_brackets_in_attribute_values():
    """The floor pinned in pyproject: before nh3 0.3.7, ">" stayed raw inside an alt text."""
    cleaned = nh3.clean('<img alt="a><b>">', tags={"img"}, attributes={"img": {"alt"}})
    assert cleaned == '<img alt="a&gt;&lt;b&gt;">'


def test_an_alt_text_cannot_end_its_tag_and_store_a_form():
    """Issue 14.1's payload, and the same with a picture that is kept."""
    assert clean_html(ESCALATION) == ""
    kept = clean_html(f'<p><img src="{PICTURE}" alt="x>{ROLE_FORM}"></p>')
    assert_safe(kept)
    page = BeautifulSoup(kept, "html.parser")
    assert [tag.name for tag in page.find_all(True)] == ["p", "img"]
    assert page.img["alt"] == f"x>{ROLE_FORM}"  # the text survives, as text
    assert images_missing_alt(f'<p><img src="{PICTURE}" alt="x>{ROLE_FORM}"></p>') == 0


def test_pictures_from_elsewhere_are_removed_whole():
    assert clean_html('<p>图<img src="https://evil.example/t.gif" alt="t"></p>') == "<p>图</p>"
    assert clean_html('<p><img src="data:image/png;base64,AA" alt="t"></p>') == ""
    assert clean_html(f'<p><img src="{PICTURE}" width="0" alt="图"></p>') == (
        f'<p><img src="{PICTURE}" alt="图"></p>'
    )
    assert images_missing_alt(f'<p><img src="{PICTURE}"><img src="{PICTURE}" alt=" "></p>') == 2


def test_text_keeps_its_characters_and_entities_stay_escaped():
    html = "<p>“引号”、全角，&amp; a&lt;b&gt;c&nbsp;d</p>"
    assert clean_html(html) == html
    assert clean_html('<p><a href="/s?a=1&amp;b=&quot;2&quot;">l</a></p>') == (
        '<p><a href="/s?a=1&amp;b=&quot;2&quot;" rel="noopener nofollow">l</a></p>'
    )


@pytest.mark.parametrize(
    "stored, shown",
    [
        # End tags meant to close the page's container are dropped; what follows stays inside.
        ("<p>a</p></div></article><div>b</div>", "<p>a</p><div>b</div>"),
        ("<p>a<b>b", "<p>a<b>b</b></p>"),
        # A browser would copy a stray <body>'s attributes onto the page's own body.
        ('<body hx-get="/x" hx-trigger="load">t</body>', "t"),
        ('<html hx-boost="true"><p>t</p>', "<p>t</p>"),
        (
            '<p title="a>b" alt=\'"\'>&lt;q&gt; &amp;</p>',
            '<p title="a&gt;b" alt="&quot;">&lt;q&gt; &amp;</p>',
        ),
        ("<p>x<br/><input name=r></input>y</p>", '<p>x<br><input name="r">y</p>'),
    ],
)
def test_stored_html_is_balanced_before_it_is_shown(stored, shown):
    assert balanced_html(stored) == shown


@given(st.lists(pieces, max_size=25).map("".join))
def test_balancing_leaves_cleaned_bodies_as_they_are(dirty):
    cleaned = clean_html(dirty)
    assert balanced_html(cleaned) == cleaned
