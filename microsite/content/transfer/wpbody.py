"""WordPress post text → the HTML our sanitizer receives.

WordPress stores classic posts as text whose blank lines are paragraphs (its `wpautop` adds the
<p> tags when it shows them), sprinkles `[shortcodes]`, and wraps block-editor posts in
`<!-- wp:… -->` comments. This works on WordPress's raw input, before sanitizing; the result
always goes through `sanitize.clean_html`, which has the last word on what survives.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from html.parser import HTMLParser

BLOCK_COMMENT = re.compile(r"<!--\s*/?wp:.*?-->", re.DOTALL)
# WordPress's own shortcodes; a plugin's shortcode is recognised by its closing tag.
CORE_SHORTCODES = "caption|wp_caption|gallery|audio|video|playlist|embed"
CAPTION = re.compile(r"\[(?:wp_)?caption\b[^\]]*\](.*?)\[/(?:wp_)?caption\]", re.DOTALL)
ENCLOSING = re.compile(r"\[([A-Za-z_][\w-]*)\b[^\]]*\](.*?)\[/\1\]", re.DOTALL)
SELF_CLOSING = re.compile(rf"\[/?(?:{CORE_SHORTCODES})\b[^\]]*\]")
# wpautop's list of blocks that are never wrapped in a paragraph.
BLOCK_START = re.compile(
    r"^\s*<(?:p|div|h[1-6]|ul|ol|li|blockquote|pre|table|thead|tbody|tr|td|th|figure|"
    r"figcaption|hr|dl|dt|dd|address|section|article|aside|header|footer|nav|form|iframe)\b",
    re.IGNORECASE,
)
CAPTION_IMAGE = re.compile(r"^(.*(?:<img\b[^>]*>|</a>))(.*)$", re.DOTALL | re.IGNORECASE)


def convert(content: str, image: Callable[[str, str], tuple[str, str] | None]) -> str:
    """The post's text as HTML: block comments dropped, shortcodes reduced, paragraphs made,
    and each picture passed to `image(src, alt)`, which answers the new (src, alt) or None to
    leave the picture out."""
    is_blocks = "<!-- wp:" in content
    text = BLOCK_COMMENT.sub("", content.replace("\r\n", "\n").replace("\r", "\n"))
    text = CAPTION.sub(_caption, text)
    while ENCLOSING.search(text):
        text = ENCLOSING.sub(lambda m: m.group(2), text)
    text = SELF_CLOSING.sub("", text)
    if not is_blocks:
        text = autop(text)
    return _rewrite_images(text, image)


def _caption(match: re.Match) -> str:
    """[caption]<img …> 说明[/caption] → the picture, then its caption as a paragraph."""
    parts = CAPTION_IMAGE.match(match.group(1).strip())
    if not parts:
        return match.group(1)
    picture, caption = parts.group(1).strip(), parts.group(2).strip()
    return f"\n\n<p>{picture}</p>\n\n" + (f"<p>{caption}</p>\n\n" if caption else "")


def autop(text: str) -> str:
    """wpautop in short: blank-line-separated chunks become paragraphs, single newlines <br>,
    chunks that already start with a block element are left as they are."""
    chunks = [chunk.strip() for chunk in re.split(r"\n\s*\n", text)]
    html = []
    for chunk in chunks:
        if not chunk:
            continue
        if BLOCK_START.match(chunk):
            html.append(chunk)
        else:
            html.append("<p>" + chunk.replace("\n", "<br>\n") + "</p>")
    return "\n".join(html)


class _Pictures(HTMLParser):
    """Finds each <img> start tag as written, with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.found.append((self.get_starttag_text() or "", {k: v or "" for k, v in attrs}))

    handle_startendtag = handle_starttag


def _rewrite_images(html: str, image: Callable[[str, str], tuple[str, str] | None]) -> str:
    finder = _Pictures()
    finder.feed(html)
    finder.close()
    for written, attrs in finder.found:
        found = image(attrs.get("src", ""), attrs.get("alt", ""))
        if found is None:
            replacement = ""
        else:
            src, alt = found
            replacement = f'<img src="{escape(src)}" alt="{escape(alt)}">'
        html = html.replace(written, replacement, 1)
    return html
