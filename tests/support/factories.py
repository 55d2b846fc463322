"""Rows the tests need, made the way the site stores them: users, articles, pictures."""

from __future__ import annotations

import io

from PIL import Image

from microsite.content.models import PUBLISHED, Article, User
from microsite.extensions import db
from microsite.text import local_now
from tests.support.app import ADMIN_PASSWORD


def make_user(username: str = "editor", password: str = ADMIN_PASSWORD, **fields) -> User:
    """A user who can sign in; role="admin" unless given (role=None: the model's default)."""
    fields.setdefault("display_name", "编辑部")
    fields.setdefault("role", "admin")
    if fields["role"] is None:
        del fields["role"]  # the model's own default
    user = User(username=username, **fields)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def add_article(title: str, body: str, status: str = PUBLISHED, **fields) -> Article:
    article = Article(
        title=title,
        body=body,
        status=status,
        published_at=fields.pop("published_at", local_now()),
        **fields,
    )
    db.session.add(article)
    db.session.commit()
    return article


def picture(format: str = "PNG", size=(64, 48), mode="RGB", **save) -> bytes:
    """An image file's bytes, made in memory."""
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 128)
    buffer = io.BytesIO()
    image.save(buffer, format=format, **save)
    return buffer.getvalue()


def gradient_png(size=(300, 150)) -> bytes:
    """A PNG of a grey gradient: a photo-like picture that survives resizing and re-encoding."""
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()
