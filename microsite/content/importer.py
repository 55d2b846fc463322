"""Parse a saved page in the seed's text format and store it: settings, article, headlines.

The whole file is parsed before anything is stored, and storing happens in one transaction,
so a malformed file leaves the database as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from sqlalchemy import select

from ..extensions import db
from . import taxonomy
from .models import CLEARED, PUBLISHED, Article, RelatedLink, User
from .site import save_settings

HOTLINE = re.compile(r"^客服热线[:：]\s*(?P<number>\S.*)$")
BYLINE = re.compile(
    r"^(?P<display>\S.*?) - (?P<username>\S+) 于(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日发表$"
)
HEADLINE = re.compile(r"^(?P<number>\d+)\.\s+(?P<text>\S.*)$")
CLEARED_ENTRY = re.compile(r"^标题和内容已经清空\s*(?P<at>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})$")
# A trailing "(张谦 李家鸣 郑娜)": the reporters' names closing the last paragraph.
REPORTERS = re.compile(r"(?P<names>[(（][\u4e00-\u9fff·]{2,4}(?:\s+[\u4e00-\u9fff·]{2,4})*[)）])$")
SENTENCE_END = set("。！？!?…；;：:，,")
# The text dump lost the space between two adjacent category links (…信息兼职…).
GLUED_LINKS = re.compile(r"(?<=信息)(?=\S)")

KNOWN_LINKS = {
    "关于我们": "/pages/about",
    "加入我们": "/pages/join",
    "人力资讯TOP500": "/top",
    "网站地图": "/sitemap",
}
DEFAULT_CATEGORY = "人力资讯"


class PageFormatError(ValueError):
    """The file is not a page in the seed's format; names the offending line."""

    def __init__(self, line_no: int, message: str) -> None:
        super().__init__(f"line {line_no}: {message}")
        self.line_no = line_no


@dataclass
class Headline:
    position: int
    title: str = ""
    cleared_at: datetime | None = None


@dataclass
class ParsedPage:
    hotline: str
    title: str
    display_name: str
    username: str
    published_at: datetime
    paragraphs: list[str]
    disclaimer: str
    reporters: str = ""
    footer_links: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)


class _Lines:
    """Non-blank lines with their 1-based numbers, consumed in order."""

    def __init__(self, text: str) -> None:
        self.items = [(n, line.rstrip()) for n, line in enumerate(text.splitlines(), 1)]
        self.items = [(n, line) for n, line in self.items if line.strip()]
        self.pos = 0

    def peek(self) -> tuple[int, str] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self, what: str) -> tuple[int, str]:
        item = self.peek()
        if item is None:
            last = self.items[-1][0] if self.items else 0
            raise PageFormatError(last + 1, f"the page ends before its {what}")
        self.pos += 1
        return item


def is_subheading(text: str) -> bool:
    """Short lines without sentence punctuation are the article's sub-headings."""
    return len(text) <= 20 and text[-1] not in SENTENCE_END and not SENTENCE_END & set(text)


def _split_reporters(paragraphs: list[str]) -> tuple[list[str], str]:
    """The body paragraphs and the reporters' names that close the last one, if any."""
    match = REPORTERS.search(paragraphs[-1])
    if not match or match.start() == 0:
        return paragraphs, ""
    return [*paragraphs[:-1], paragraphs[-1][: match.start()]], match.group("names")


def parse_page(text: str) -> ParsedPage:
    """Parse the page text; raises PageFormatError naming the first bad line."""
    # Saved pages carry &nbsp; as U+00A0 in bylines and indents: layout, not content.
    lines = _Lines(text.replace("\ufeff", "").replace("\u00a0", " "))
    n, line = lines.take("hotline")
    hotline = HOTLINE.match(line.strip())
    if not hotline:
        raise PageFormatError(n, f"expected '客服热线:<number>', found {line.strip()[:40]!r}")
    _, title_line = lines.take("title")
    n, line = lines.take("byline")
    byline = BYLINE.match(line.strip())
    if not byline:
        raise PageFormatError(n, "expected the byline '显示名 - 用户名 于YYYY年MM月DD日发表'")
    try:
        published_at = datetime(*(int(byline.group(k)) for k in ("y", "m", "d")))
    except ValueError as exc:
        raise PageFormatError(n, f"the byline's date is not a date ({exc})") from None

    paragraphs = []
    while (item := lines.peek()) and item[1][:1].isspace():
        paragraphs.append(lines.take("body")[1].strip())
    if not paragraphs:
        raise PageFormatError(lines.take("body")[0], "expected indented body paragraphs")

    _, disclaimer = lines.take("source disclaimer")
    paragraphs, reporters = _split_reporters(paragraphs)
    page = ParsedPage(
        hotline=hotline.group("number").strip(),
        title=title_line.strip(),
        display_name=byline.group("display"),
        username=byline.group("username"),
        published_at=published_at,
        paragraphs=paragraphs,
        disclaimer=disclaimer.strip(),
        reporters=reporters,
    )
    link_lines = []
    while (item := lines.peek()) and not HEADLINE.match(item[1].strip()):
        link_lines.append(lines.take("links")[1].split())
    if len(link_lines) > 2:
        raise PageFormatError(lines.items[lines.pos - 1][0], "unexpected text before the list")
    if link_lines:
        page.footer_links = [p for word in link_lines[0] for p in GLUED_LINKS.split(word) if p]
    if len(link_lines) > 1:
        # A bare number closing the keyword line is the page's pager, not a keyword.
        page.keywords = [w for w in link_lines[1] if not w.isdigit()]
    page.headlines = _parse_headlines(lines)
    return page


def _parse_headlines(lines: _Lines) -> list[Headline]:
    headlines = []
    while lines.peek():
        n, line = lines.take("headline")
        match = HEADLINE.match(line.strip())
        if not match:
            raise PageFormatError(n, f"expected a numbered headline, found {line.strip()[:40]!r}")
        expected = len(headlines) + 1
        if int(match.group("number")) != expected:
            raise PageFormatError(n, f"headline numbered {match.group('number')}, not {expected}")
        text = match.group("text").strip()
        cleared = CLEARED_ENTRY.match(text)
        if cleared:
            at = datetime.strptime(cleared.group("at"), "%Y-%m-%d %H:%M:%S")
            headlines.append(Headline(expected, cleared_at=at))
        else:
            headlines.append(Headline(expected, title=text))
    return headlines


def body_html(paragraphs: list[str], reporters: str = "") -> str:
    """Paragraphs as HTML, sub-headings as <h2>, the reporters' names in a closing paragraph."""
    parts = [
        f"<h2>{escape(p)}</h2>" if is_subheading(p) else f"<p>{escape(p)}</p>" for p in paragraphs
    ]
    if reporters:
        parts.append(f'<p class="reporters">{escape(reporters)}</p>')
    return "\n".join(parts)


def _get_or_create(model, **where):
    row = db.session.scalar(select(model).filter_by(**where))
    if row is None:
        row = model(**where)
        db.session.add(row)
    return row


def _upsert_article(key: str, **fields) -> Article:
    article = db.session.scalar(select(Article).filter_by(import_key=key))
    if article is None:
        article = Article(import_key=key)
        db.session.add(article)
    for name, value in fields.items():
        if getattr(article, name) != value:
            setattr(article, name, value)
    return article


def store_page(page: ParsedPage, category_name: str = DEFAULT_CATEGORY) -> Article:
    """Store a parsed page in one transaction; re-importing updates rather than duplicates."""
    try:
        article = _store(page, category_name)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return article


def _store(page: ParsedPage, category_name: str) -> Article:
    footer = [{"label": label, "href": KNOWN_LINKS.get(label)} for label in page.footer_links]
    for link in footer:
        if link["href"] is None:
            link["href"] = f"/categories/{taxonomy.category(link['label']).slug}"
    save_settings(
        hotline=page.hotline,
        disclaimer=page.disclaimer,
        footer_links=footer,
        keyword_links=page.keywords,
    )
    author = _get_or_create(User, username=page.username)
    author.display_name = page.display_name
    category = taxonomy.category(category_name)
    tags = taxonomy.tags(page.keywords)
    key = f"article:{page.username}:{page.published_at:%Y-%m-%d}:{page.title}"
    common = {"category": category, "author": author, "published_at": page.published_at}
    # Headlines first and in reverse, so a latest-first list shows them in the page's order.
    targets = {}
    for item in reversed(page.headlines):
        if item.cleared_at:
            targets[item.position] = _upsert_article(
                f"cleared:{key}:{item.position}",
                status=CLEARED,
                cleared_at=item.cleared_at,
                **common,
            )
        else:
            targets[item.position] = _upsert_article(
                f"headline:{item.title}", title=item.title, status=PUBLISHED, **common
            )
    article = _upsert_article(
        key,
        title=page.title,
        body=body_html(page.paragraphs, page.reporters),
        source_note=page.disclaimer,
        status=PUBLISHED,
        **common,
    )
    article.tags = tags
    db.session.flush()
    db.session.query(RelatedLink).filter_by(article_id=article.id).delete()
    seen = set()
    for position, target in sorted(targets.items()):
        if target.id in seen or target.id == article.id:
            continue
        seen.add(target.id)
        db.session.add(RelatedLink(article_id=article.id, position=position, target_id=target.id))
    return article
