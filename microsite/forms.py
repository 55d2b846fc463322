"""WTForms for the editorial desk; Flask-WTF adds the CSRF token to each."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

try:
    from wtforms import SelectChoice
except ImportError:  # WTForms before 3.3 takes (value, label) tuples, which 3.3 deprecates

    def SelectChoice(value: str, label: str) -> tuple[str, str]:
        return (value, label)


from .accounts.auth import safe_next
from .content.models import DRAFT, PUBLISHED
from .controls import one_line, without_controls
from .sanitize import images_missing_alt

MAX_TAGS = 20
_KEYWORD_SPLIT = re.compile(r"[\s,，、;；]+")
# Category and keyword names become URL path segments (/categories/<name>, /tags/<name>).
_NOT_IN_URLS = re.compile(r"[/\\?#%]")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class LineField(StringField):
    """One line of text. Control characters are dropped rather than refused: they are
    invisible, so an error naming them would ask for something the admin cannot see; tabs
    and line breaks (only a pasted or forged value has them) become a space."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if isinstance(self.data, str):
            self.data = one_line(self.data)


class ProseField(TextAreaField):
    """Several lines of text: control characters dropped, tabs and line breaks kept."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if isinstance(self.data, str):
            self.data = without_controls(self.data)


def split_keywords(raw: str | None) -> list[str]:
    """Keywords separated by spaces or (Chinese or Latin) commas, duplicates dropped."""
    words = (word.strip() for word in _KEYWORD_SPLIT.split(raw or ""))
    return list(dict.fromkeys(word for word in words if word))


def parse_links(raw: str | None) -> list[dict[str, str]]:
    """Lines of `名称 | 链接` as label/href pairs; raises ValueError naming a bad line."""
    links = []
    for number, line in enumerate((raw or "").splitlines(), 1):
        if not line.strip():
            continue
        label, sep, href = (part.strip() for part in line.partition("|"))
        if not sep or not label or not href:
            raise ValueError(f"第 {number} 行应写成“名称 | 链接”。")
        if not is_safe_href(href):
            raise ValueError(f"第 {number} 行的链接只能是本站路径（/开头）或 http(s) 网址。")
        links.append({"label": label, "href": href})
    return links


def is_safe_href(href: str) -> bool:
    parts = urlsplit(href)
    if parts.scheme in {"http", "https"}:
        return bool(parts.netloc) and "\\" not in href
    return safe_next(href) is not None


class LocalDateTimeField(DateTimeLocalField):
    """A datetime-local input whose parse error is in the admins' language."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError("请按“年-月-日 时:分”填写发表时间。") from None


class LoginForm(FlaskForm):
    username = StringField("用户名", [DataRequired("请输入用户名。"), Length(max=64)], [_strip])
    password = PasswordField("密码", [DataRequired("请输入密码。"), Length(max=200)])
    next = HiddenField()


class PasswordForm(FlaskForm):
    current_password = PasswordField("当前密码", [DataRequired("请输入当前密码。")])
    new_password = PasswordField(
        "新密码", [DataRequired("请输入新密码。"), Length(8, 200, "新密码需要 8 到 200 个字符。")]
    )
    confirm = PasswordField("再次输入新密码", [EqualTo("new_password", "两次输入的新密码不一致。")])


class ArticleForm(FlaskForm):
    title = LineField(
        "标题",
        [DataRequired("请填写标题。"), Length(max=200, message="标题最多 200 个字。")],
        [_strip],
    )
    body = ProseField("正文", [Length(max=200_000, message="正文太长了。")])
    category = LineField(
        "栏目",
        [DataRequired("请选择或填写栏目。"), Length(max=64, message="栏目名最多 64 个字。")],
        [_strip],
    )
    tags = LineField("关键词", [Length(max=1000)], [_strip])
    source_note = ProseField(
        "来源说明", [Length(max=500, message="来源说明最多 500 个字。")], [_strip]
    )
    status = RadioField(
        "状态",
        choices=[SelectChoice(DRAFT, "草稿"), SelectChoice(PUBLISHED, "发表")],
        default=DRAFT,
    )
    published_at = LocalDateTimeField(
        "发表时间",
        [Optional()],
        format=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"],
    )
    version = IntegerField(widget=HiddenInput(), validators=[Optional()])
    preview = SubmitField("预览")
    save = SubmitField("保存")

    def validate_body(self, field) -> None:
        if self.status.data == PUBLISHED and not (field.data or "").strip():
            raise ValidationError("发表前请填写正文。")
        # A picture must say what it shows to readers who cannot see it (screen readers).
        if images_missing_alt(field.data):
            raise ValidationError('图片缺少替代文字：请给每个 <img> 写上 alt="图片说明"。')

    def validate_category(self, field) -> None:
        if _NOT_IN_URLS.search(field.data or ""):
            raise ValidationError("栏目名不能包含 / \\ ? # % 这些字符。")

    def validate_tags(self, field) -> None:
        words = split_keywords(field.data)
        if any(_NOT_IN_URLS.search(word) for word in words):
            raise ValidationError("关键词不能包含 / \\ ? # % 这些字符。")
        if len(words) > MAX_TAGS:
            raise ValidationError(f"关键词最多 {MAX_TAGS} 个。")
        if any(len(word) > 64 for word in words):
            raise ValidationError("每个关键词最多 64 个字。")


class WordForm(FlaskForm):
    word = LineField(
        "屏蔽词",
        [DataRequired("请输入要屏蔽的词。"), Length(max=64, message="最多 64 个字。")],
        [_strip],
    )


class SettingsForm(FlaskForm):
    site_name = LineField("网站名称", [DataRequired("请填写网站名称。"), Length(max=100)], [_strip])
    hotline = LineField("客服热线", [Length(max=64)], [_strip])
    disclaimer = ProseField("来源声明", [Length(max=500)], [_strip])
    footer_links = ProseField("页脚链接", [Length(max=5000)])
    keyword_links = ProseField("关键词链接", [Length(max=5000)])
    icp = LineField("ICP 备案号", [Length(max=64)], [_strip])

    def validate_footer_links(self, field) -> None:
        try:
            parse_links(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class PageForm(FlaskForm):
    title = LineField("标题", [DataRequired("请填写标题。"), Length(max=100)], [_strip])
    body = ProseField("内容", [Length(max=200_000)])
