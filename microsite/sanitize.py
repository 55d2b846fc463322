"""Article HTML, sanitized on save: an allow-list of tags and attributes (nh3)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
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
    # The cleaner's output is never edited as a string (a pattern can cut a tag in half, as
    # one did when nh3 left ">" unescaped in attribute values): it is parsed into a tree,
    # pruned, and written out again with every text and attribute value escaped by us.
    fragment = Fragment.parse(_cleaner.clean(html))
    fragment.prune(_is_refused_image)
    # A paragraph whose only content was stripped (a <script> line) leaves no empty gap.
    fragment.prune(_is_empty_paragraph)
    return fragment.serialize().strip()


# A few dozen bodies: the page cache answers most repeat views, and a body may be 200,000
# characters, so a larger cache could hold tens of megabytes per worker.
@lru_cache(maxsize=32)
def balanced_html(html: str) -> str:
    """Stored HTML as it may be put inside a page: every element closed where it began, stray
    end tags dropped, every attribute value escaped.

    Saved bodies already are (they went through clean_html); this is for markup that reached
    the database another way. Its end tags could otherwise close the hx-disable container
    around it and put what follows outside.
    """
    return Fragment.parse(html).serialize()


def _is_refused_image(node: Element) -> bool:
    # The filter dropped a source that is not one of our uploads: the picture goes whole.
    return node.tag == "img" and "src" not in node.attrs


def _is_empty_paragraph(node: Element) -> bool:
    return node.tag == "p" and not any(
        isinstance(child, Element) or child.strip() for child in node.children
    )


def images_missing_alt(html: str | None) -> int:
    """How many pictures the cleaned body would show without alternative text."""
    if not html or "<img" not in html.lower():
        return 0
    images = Fragment.parse(clean_html(html)).find_all("img")
    return sum(1 for image in images if not (image.attrs.get("alt") or "").strip())


# The tree the cleaner's output is read into. Void elements have no end tag and no children.
_VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip
# A browser adds the attributes of a stray <html> or <body> tag to the page's own element,
# outside any container: such tags are unwrapped (their content kept, the tag dropped).
_DOCUMENT_TAGS = {"html", "head", "body"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    children: list[Element | str] = field(default_factory=list)


class Fragment(HTMLParser):
    """An HTML fragment as a tree of elements and text (html.parser does the tokenizing)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("", {})
        self._open = [self.root]

    @classmethod
    def parse(cls, html: str) -> Fragment:
        fragment = cls()
        fragment.feed(html)
        fragment.close()
        return fragment

    def handle_starttag(self, tag, attrs):
        if tag in _DOCUMENT_TAGS:
            return
        element = Element(tag, dict(attrs))
        self._open[-1].children.append(element)
        if tag not in _VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        if tag not in _DOCUMENT_TAGS:
            self._open[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag):
        # Close the innermost open element of that name; a stray end tag is ignored.
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data):
        self._open[-1].children.append(data)

    def find_all(self, tag: str) -> list[Element]:
        found, pending = [], [self.root]
        while pending:
            node = pending.pop()
            found += [node] if node.tag == tag else []
            pending += [child for child in node.children if isinstance(child, Element)]
        return found

    def prune(self, unwanted) -> None:
        """Remove every element for which unwanted(element) holds, children first, and the
        line break written after it."""
        _prune(self.root, unwanted)

    def serialize(self) -> str:
        return "".join(_serialize(child) for child in self.root.children)


def _prune(node: Element, unwanted) -> None:
    kept: list[Element | str] = []
    dropped_last = False
    for child in node.children:
        if isinstance(child, Element):
            _prune(child, unwanted)
            dropped_last = unwanted(child)
            if not dropped_last:
                kept.append(child)
            continue
        kept.append(child.removeprefix("\n") if dropped_last else child)
        dropped_last = False
    node.children = [child for child in kept if child != ""]


# What html5ever (nh3's serializer) escapes, plus "<" and ">" in attribute values always.
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\xa0": "&nbsp;"})
_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", '"': "&quot;", "<": "&lt;", ">": "&gt;", "\xa0": "&nbsp;"}
)


def _serialize(node: Element | str) -> str:
    if isinstance(node, str):
        return node.translate(_TEXT_ESCAPES)
    attrs = "".join(
        f' {name}="{(value or "").translate(_ATTRIBUTE_ESCAPES)}"'
        for name, value in node.attrs.items()
    )
    if node.tag in _VOID:
        return f"<{node.tag}{attrs}>"
    inner = "".join(_serialize(child) for child in node.children)
    return f"<{node.tag}{attrs}>{inner}</{node.tag}>"


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
