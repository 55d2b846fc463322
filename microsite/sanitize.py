"""Article HTML, sanitized on save: an allow-list of tags and attributes (nh3)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3

TAGS = {
    "p",
    "h2",
    "h3",
    "h4",
    "ul",
    "ol",
    "li",
    "a",
    "strong",
    "b",
    "em",
    "i",
    "blockquote",
    "br",
    "img",
}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
# No javascript:, data: or vbscript: links; relative links stay allowed.
URL_SCHEMES = {"http", "https", "mailto", "tel"}
# Imported bodies mark the reporters' line with this class; an edit must not lose it.
CLASSES = {"p": {"reporters"}}
# Their text is code or styling, never article prose: drop the content, not only the tag.
DROP_WITH_CONTENT = {"script", "style", "template", "iframe", "object", "noscript", "textarea"}

# Pictures come only from our own uploads (/media/<random name>): no hotlinking, no tracking
# pixels, no data: or javascript: sources. The same pattern the /media view accepts.
_LOCAL_IMAGE = re.compile(r"/media/[0-9a-f]{32}\.(?:jpg|png|webp)")
_DIMENSION = re.compile(r"[1-9][0-9]{0,4}")


def _img_attribute_ok(name: str, value: str) -> bool:
    if name == "src":
        return bool(_LOCAL_IMAGE.fullmatch(value))
    if name in {"width", "height"}:
        return bool(_DIMENSION.fullmatch(value))
    return True


def _filter_attribute(element: str, name: str, value: str) -> str | None:
    # nh3 calls this for every kept attribute; it must never raise (errors go unraisable).
    if element == "img" and not _img_attribute_ok(name, value):
        return None
    return value


_cleaner = nh3.Cleaner(
    tags=TAGS,
    attribute_filter=_filter_attribute,
    clean_content_tags=DROP_WITH_CONTENT,
    attributes=ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    allowed_classes=CLASSES,
    link_rel="noopener nofollow",
    strip_comments=True,
)


_BLOCK_TAG = re.compile(r"<\s*(?:p|h[1-6]|ul|ol|li|blockquote|div|br|table|pre)\b", re.IGNORECASE)

_EMPTY_PARAGRAPH = re.compile(r"<p>\s*</p>\n?")
# The cleaner's output quotes every attribute and escapes ">" inside values, so a tag is
# `<img` up to the next ">". An <img> whose source was refused is removed altogether.
_IMG_TAG = re.compile(r"<img\b[^>]*>")
_SRC_ATTRIBUTE = re.compile(r'\ssrc="')
_ALT_TEXT = re.compile(r'\salt="\s*[^"\s][^"]*"')


def paragraphs_from_lines(text: str) -> str:
    """Each non-empty line as a paragraph (the cleaner escapes or strips what is inside)."""
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(f"<p>{line}</p>" for line in lines if line)


def clean_html(html: str | None) -> str:
    """The allowed subset of an HTML fragment.

    Text typed without block tags (lines, maybe a <b> here and there) is what admins write
    in a plain textarea: its lines become paragraphs instead of running together.
    """
    if not html or not html.strip():
        return ""
    if not _BLOCK_TAG.search(html):
        html = paragraphs_from_lines(html)
    cleaned = _IMG_TAG.sub(_keep_local_image, _cleaner.clean(html))
    # A paragraph whose only content was stripped (a <script> line) leaves no empty gap.
    return _EMPTY_PARAGRAPH.sub("", cleaned).strip()


def _keep_local_image(match: re.Match) -> str:
    return match.group(0) if _SRC_ATTRIBUTE.search(match.group(0)) else ""


def images_missing_alt(html: str | None) -> int:
    """How many pictures the cleaned body would show without alternative text."""
    if not html or "<img" not in html.lower():
        return 0
    return sum(1 for tag in _IMG_TAG.findall(clean_html(html)) if not _ALT_TEXT.search(tag))


class _Audit(HTMLParser):
    """Notices markup the cleaner will drop, so the admin can be told."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.drops = False

    def handle_starttag(self, tag, attrs):
        allowed = ATTRIBUTES.get(tag, set()) | ({"class"} if tag in CLASSES else set())
        if tag not in TAGS or any(name not in allowed for name, _ in attrs):
            self.drops = True
        if tag == "img" and "src" not in dict(attrs):
            self.drops = True  # a picture without a source is removed whole
        for name, value in attrs:
            scheme = urlsplit((value or "").strip()).scheme.lower()
            if name == "href" and scheme and scheme not in URL_SCHEMES:
                self.drops = True
            if tag == "img" and not _img_attribute_ok(name, (value or "").strip()):
                self.drops = True

    def handle_comment(self, data):
        self.drops = True


def strips_markup(html: str | None) -> bool:
    """Whether cleaning removes any tag, attribute or link the admin wrote."""
    if not html or "<" not in html:
        return False
    audit = _Audit()
    audit.feed(html)
    audit.close()
    return audit.drops
