"""Chinese text helpers: local time and dates, masking, plain-text extraction."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from html import escape, unescape
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import rjieba
from flask import current_app, has_app_context

SITE_TZ = ZoneInfo("Asia/Shanghai")
MASK = "***"
# Words this short are masked only where the segmenter sees them as a word of their own,
# so 口交 does not mask the middle of 路口交通 (路口 / 交通).
SHORT_WORD = 2
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TAG_SPLIT = re.compile(r"(<[^>]*>)")


def system_clock() -> datetime:
    """The machine's clock, aware UTC: the default for the `CLOCK` setting."""
    return datetime.now(UTC)


def utc_now() -> datetime:
    """Now, aware UTC, from this app's `CLOCK` setting (tests give an app one they move, e.g.
    to let a scheduled article come due without waiting); outside an app, the machine's clock.
    Every time the site stamps or compares is read through here."""
    clock = current_app.config.get("CLOCK") if has_app_context() else None
    return (clock or system_clock)()


def local_now() -> datetime:
    """The site's local wall-clock time, naive, to the second."""
    return utc_now().astimezone(SITE_TZ).replace(tzinfo=None, microsecond=0)


def cn_date(value: datetime | None) -> str:
    """2022年09月02日"""
    return value.strftime("%Y年%m月%d日") if value else ""


def stamp(value: datetime | None) -> str:
    """2022-09-09 11:48:22, as the seed shows clearing times."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def w3c_time(value: datetime | None) -> str:
    """2022-09-02T00:00:00+08:00, for sitemaps, feeds and structured data."""
    return value.replace(tzinfo=SITE_TZ).isoformat() if value else ""


def _is_short_cjk(word: str) -> bool:
    return len(word) <= SHORT_WORD and bool(_CJK.search(word))


@lru_cache(maxsize=64)
def _masker(words: tuple[str, ...]):
    long_words = sorted((w for w in words if not _is_short_cjk(w)), key=len, reverse=True)
    short_words = frozenset(w for w in words if _is_short_cjk(w))
    pattern = (
        re.compile("|".join(map(re.escape, long_words)), re.IGNORECASE) if long_words else None
    )

    def mask_text(text: str) -> str:
        if pattern is not None:
            text = pattern.sub(MASK, text)
        if short_words and any(w in text for w in short_words):
            text = "".join(MASK if tok in short_words else tok for tok in rjieba.cut(text))
        return text

    return mask_text


def mask(text: str | None, words: tuple[str, ...]) -> str:
    """Plain text with every masked word shown as ***."""
    if not text or not words:
        return text or ""
    return _masker(words)(text)


def mask_html(html: str | None, words: tuple[str, ...]) -> str:
    """Sanitized HTML with masked words replaced in its text, never inside tags."""
    if not html or not words:
        return html or ""
    mask_text = _masker(words)
    return "".join(
        _mask_alt(part, mask_text) if part.startswith("<") else mask_text(part)
        for part in _TAG_SPLIT.split(html)
    )


_ALT_VALUE = re.compile(r'(\salt=")([^"]*)(")')


def _mask_alt(tag: str, mask_text) -> str:
    """A picture's alt text is text too (read aloud, shown when the picture fails): masked."""
    if not tag.startswith("<img"):
        return tag
    return _ALT_VALUE.sub(
        lambda m: m.group(1) + escape(mask_text(unescape(m.group(2)))) + m.group(3), tag
    )


class _TextExtractor(HTMLParser):
    _BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def plain_text(html: str | None) -> str:
    """The readable text of an HTML body, one line per block."""
    if not html:
        return ""
    if "<" not in html:
        return unescape(html).strip()
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (line.strip() for line in "".join(extractor.parts).splitlines())
    return "\n".join(line for line in lines if line)


def excerpt(html: str | None, length: int = 80) -> str:
    """The first characters of a body's text, for meta descriptions."""
    text = " ".join(plain_text(html).split())
    return text if len(text) <= length else text[: length - 1] + "…"
