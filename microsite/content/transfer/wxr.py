"""Read a WordPress eXtended RSS export (WXR 1.0–1.2) into plain records, safely.

The XML is parsed with defusedxml and any DTD is refused: a WordPress export never has one, and
a DTD is how entity expansion ("billion laughs") and external entities (local files, network
fetches) get in. Nothing is stored here; a file that cannot be read raises WxrError naming the
line, so the importer can refuse it whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse

from ...text import SITE_TZ

WP = "{http://wordpress.org/export/%s/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
VERSIONS = ("1.0", "1.1", "1.2")
NO_DATE = "0000-00-00 00:00:00"


class WxrError(ValueError):
    """The file is not a WordPress export we can import; names the line where known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"第 {line} 行：{message}" if line else message)
        self.line = line


@dataclass
class WpCategory:
    nicename: str
    name: str
    parent: str = ""


@dataclass
class WpAuthor:
    login: str
    display_name: str


@dataclass
class WpItem:
    post_id: int
    post_type: str
    status: str
    title: str
    link: str
    content: str
    creator: str
    slug: str
    published_at: datetime | None
    modified_at: datetime | None
    categories: list[str] = field(default_factory=list)  # nicenames, in the file's order
    tags: list[str] = field(default_factory=list)  # names
    attachment_url: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    line: int | None = None


@dataclass
class WxrExport:
    version: str
    site_url: str
    authors: dict[str, WpAuthor]
    categories: dict[str, WpCategory]
    items: list[WpItem]


def read_export(path: Path) -> WxrExport:
    """Parse the file at `path`; raises WxrError for anything unsafe or malformed."""
    try:
        root = parse(str(path), forbid_dtd=True).getroot()
    except DefusedXmlException:
        raise WxrError(
            "文件含有 DTD 或实体声明，出于安全原因拒绝导入（WordPress 导出文件不含这些）"
        ) from None
    except ParseError as exc:
        line, column = exc.position
        raise WxrError(f"不是格式正确的 XML（第 {column} 列）", line) from None
    except UnicodeDecodeError as exc:
        raise WxrError(f"不是 UTF-8 文本（{exc.reason}）") from None
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise WxrError("不是 WordPress 导出文件（缺少 <rss><channel>）", 1)
    version = _version(channel)
    wp = WP % version
    raw = path.read_text(encoding="utf-8", errors="replace")
    return WxrExport(
        version=version,
        site_url=_text(channel, f"{wp}base_site_url") or _text(channel, "link"),
        authors=_authors(channel, wp),
        categories=_categories(channel, wp),
        items=[_item(node, wp, raw) for node in channel.findall("item")],
    )


def _version(channel: Element) -> str:
    for version in VERSIONS:
        if channel.find(f"{WP % version}wxr_version") is not None:
            return version
    raise WxrError("缺少 wp:wxr_version：不是 WordPress 导出文件（支持 WXR 1.0–1.2）")


def _text(node: Element, tag: str) -> str:
    child = node.find(tag)
    return (child.text or "").strip() if child is not None else ""


def _authors(channel: Element, wp: str) -> dict[str, WpAuthor]:
    authors = {}
    for node in channel.findall(f"{wp}author"):
        login = _text(node, f"{wp}author_login")
        if login:
            authors[login] = WpAuthor(login, _text(node, f"{wp}author_display_name") or login)
    return authors


def _categories(channel: Element, wp: str) -> dict[str, WpCategory]:
    categories = {}
    for node in channel.findall(f"{wp}category"):
        nicename = unquote(_text(node, f"{wp}category_nicename"))
        if nicename:
            categories[nicename] = WpCategory(
                nicename=nicename,
                name=_text(node, f"{wp}cat_name") or nicename,
                parent=unquote(_text(node, f"{wp}category_parent")),
            )
    return categories


def _item(node: Element, wp: str, raw: str) -> WpItem:
    post_id_text = _text(node, f"{wp}post_id")
    line = _line_of(raw, f"<wp:post_id>{post_id_text}</wp:post_id>") if post_id_text else None
    if not post_id_text.isdigit():
        title = _text(node, "title")[:40]
        raise WxrError(f"条目《{title}》缺少有效的 wp:post_id", line)
    item = WpItem(
        post_id=int(post_id_text),
        post_type=_text(node, f"{wp}post_type") or "post",
        status=_text(node, f"{wp}status") or "draft",
        title=_text(node, "title"),
        link=_text(node, "link"),
        content=(node.findtext(CONTENT) or ""),
        creator=_text(node, CREATOR),
        slug=unquote(_text(node, f"{wp}post_name")),
        published_at=_date(node, wp, "post_date", line) or _pub_date(node),
        modified_at=_date(node, wp, "post_modified", line),
        attachment_url=_text(node, f"{wp}attachment_url"),
        line=line,
    )
    for term in node.findall("category"):
        name = (term.text or "").strip()
        if term.get("domain") == "category":
            item.categories.append(unquote(term.get("nicename", "")) or name)
        elif term.get("domain") == "post_tag" and name:
            item.tags.append(name)
    for meta in node.findall(f"{wp}postmeta"):
        item.meta[_text(meta, f"{wp}meta_key")] = _text(meta, f"{wp}meta_value")
    return item


def _line_of(raw: str, needle: str) -> int | None:
    at = raw.find(needle)
    return raw.count("\n", 0, at) + 1 if at >= 0 else None


def _date(node: Element, wp: str, name: str, line: int | None) -> datetime | None:
    """The site-local time of a post date: the GMT copy converted when WordPress wrote one
    (drafts have none), else the local copy as written."""
    gmt, local = _text(node, f"{wp}{name}_gmt"), _text(node, f"{wp}{name}")
    try:
        if gmt and gmt != NO_DATE:
            moment = datetime.strptime(gmt, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            return moment.astimezone(SITE_TZ).replace(tzinfo=None)
        if local and local != NO_DATE:
            return datetime.strptime(local, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise WxrError(f"wp:{name} 不是日期（{gmt or local}）", line) from None
    return None


def _pub_date(node: Element) -> datetime | None:
    text = _text(node, "pubDate")
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(SITE_TZ).replace(tzinfo=None)


ATTACHMENT_SIZE = re.compile(r"-\d+x\d+(?=\.[A-Za-z0-9]+$)")


def uploads_path(url: str) -> str | None:
    """The path below wp-content/uploads of a WordPress media URL, or None."""
    marker = "/wp-content/uploads/"
    at = url.find(marker)
    if at < 0:
        return None
    path = unquote(url[at + len(marker) :].split("?", 1)[0].split("#", 1)[0])
    return path if path and ".." not in path.split("/") else None


def full_size(path: str) -> str:
    """pic-300x200.jpg → pic.jpg: WordPress's resized copies point back to their original."""
    return ATTACHMENT_SIZE.sub("", path)
