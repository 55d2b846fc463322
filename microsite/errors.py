"""Error pages in the site's style, for every status a reader or admin can meet."""

from __future__ import annotations

from flask import Flask, has_request_context, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from .extensions import db

TITLES = {
    400: "请求有误",
    401: "需要登录",
    403: "没有权限",
    404: "页面不存在",
    405: "不支持的请求方式",
    410: "内容已经清空",
    413: "提交的内容太大",
    429: "请求过于频繁",
    500: "服务器出错了",
}
DEFAULT_MESSAGES = {
    400: "请求的参数有误，请检查后重试。",
    401: "请先登录后台。",
    403: "您没有权限执行此操作。",
    404: "您要找的页面不存在，可能已被移动或网址有误。",
    405: "此网址不接受这种请求方式。",
    410: "该文章的标题和内容已经清空。",
    413: "提交的内容超过了大小限制，请删减后再提交。",
    429: "您的请求过于频繁，请稍后再试。",
    500: "服务器遇到了意外错误，我们会尽快修复。请稍后再试。",
}


# An oversized upload up to this size is read and dropped before the 413 is sent; past it the
# connection is simply closed.
DRAIN_LIMIT = 32 * 1024 * 1024
DRAIN_CHUNK = 256 * 1024


def _drain_upload() -> None:
    """Read the rest of a refused request body. gunicorn closes the connection after the
    response; unread bytes in the socket make the kernel reset it, and the client then sees a
    broken connection instead of the 413 page (found by tests/test_hostile_admin.py)."""
    length = request.content_length
    if length is not None and length > DRAIN_LIMIT:
        return
    stream = request.environ.get("wsgi.input")
    if stream is None:
        return
    drained = 0
    try:
        while drained < DRAIN_LIMIT:
            chunk = stream.read(DRAIN_CHUNK)
            if not chunk:
                break
            drained += len(chunk)
    except OSError:
        pass  # the client went away: nothing to answer


def _message(error: HTTPException) -> str:
    described = error.description
    # Werkzeug's stock English descriptions are replaced; our own (Chinese) ones are kept.
    if not described or described == type(error).description:
        return DEFAULT_MESSAGES.get(error.code, "")
    return described


def render_error(error: HTTPException):
    code = error.code or 500
    if code == 413 and has_request_context():
        _drain_upload()
    body = render_template(
        "errors/error.html", code=code, title=TITLES.get(code, "出错了"), message=_message(error)
    )
    response = error.get_response()
    response.set_data(body)
    response.mimetype = "text/html"
    if "Cache-Control" not in response.headers:
        # Chromium keeps a bare 410 fresh forever: a restored article would stay "gone".
        response.cache_control.no_cache = True
    return response


def _internal_error(error: Exception):
    # The session may hold a failed transaction; the error page must still be able to render.
    db.session.rollback()
    return render_error(InternalServerError())


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(InternalServerError, _internal_error)
