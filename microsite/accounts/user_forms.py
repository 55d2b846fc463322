"""Forms for user management (admins only): create a user, change a role, reset a password."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

try:
    from wtforms import SelectChoice
except ImportError:  # WTForms before 3.3 takes (value, label) tuples, which 3.3 deprecates

    def SelectChoice(value: str, label: str) -> tuple[str, str]:
        return (value, label)


from ..forms import LineField
from .auth import ADMIN, EDITOR
from .usernames import normalize

ROLE_LABELS = {ADMIN: "管理员", EDITOR: "编辑"}
MIN_PASSWORD = 8
# Letters (Chinese included), digits and . _ - : usernames appear in bylines and URLs of logs.
_USERNAME = re.compile(r"^[\w.-]+$")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _role_choices() -> list:
    return [SelectChoice(role, label) for role, label in ROLE_LABELS.items()]


def _password_field(label: str) -> PasswordField:
    return PasswordField(
        label,
        [
            DataRequired("请输入密码。"),
            Length(MIN_PASSWORD, 200, f"密码需要 {MIN_PASSWORD} 到 200 个字符。"),
        ],
    )


class NewUserForm(FlaskForm):
    username = StringField(
        "用户名",
        [DataRequired("请填写用户名。"), Length(max=64, message="用户名最多 64 个字符。")],
        # NFKC: ａｄｍｉｎ typed in full-width mode is stored, and signs in, as admin.
        [normalize],
    )
    display_name = LineField(
        "显示名",
        [DataRequired("请填写显示名。"), Length(max=64, message="显示名最多 64 个字。")],
        [_strip],
    )
    role = SelectField("角色", choices=_role_choices(), default=EDITOR)
    password = _password_field("初始密码")

    def validate_username(self, field) -> None:
        if not _USERNAME.match(field.data or ""):
            raise ValidationError("用户名只能包含字母、数字、汉字和 . _ -，不能有空格。")


class RoleForm(FlaskForm):
    role = SelectField("角色", choices=_role_choices())


class ResetPasswordForm(FlaskForm):
    password = _password_field("新密码")
