"""Pictures for article bodies: upload (POST a file and its alt text, get the <img> to insert)
and the library (/admin/images: find, insert, re-describe, delete)."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

from ...accounts.auth import editor_allowed
from ...content import images, picture_library
from ...content.models import Image
from ...extensions import db
from ...forms import LineField
from . import bp

# The form around the file (alt text, CSRF token, multipart boundaries) may add this much.
FORM_OVERHEAD = 64 * 1024
# A file up to this many times the limit is read and answered with a form error ("文件太大");
# only a larger body gets the 413 page. Either way nothing is stored.
READ_FACTOR = 4


def alt_field(**options) -> LineField:
    """A picture's alternative text: required, one line, at most ALT_MAX characters."""
    return LineField(
        "图片说明（替代文字）",
        [
            DataRequired("请填写图片说明（替代文字）"),
            Length(max=images.ALT_MAX, message=f"图片说明最多 {images.ALT_MAX} 个字。"),
        ],
        [lambda value: " ".join(value.split()) if isinstance(value, str) else value],
        **options,
    )


class ImageForm(FlaskForm):
    image = FileField("图片文件", [FileRequired("请选择要上传的图片。")], id="image-file")
    alt = alt_field(id="image-alt")
    # The article being edited, only for the link back on the page shown without JavaScript.
    article = IntegerField(widget=HiddenInput(), validators=[Optional()], id="image-article")

    def validate_image(self, field) -> None:
        # Checked again by images.store; here the admin hears it next to the field.
        upload = field.data
        if upload and _size(upload) > images.max_bytes():
            raise ValidationError(f"{images.TOO_LARGE}（最大 {upload_limit_text()}）")


def _size(upload) -> int:
    stream = upload.stream
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


@bp.app_template_global()
def upload_limit_text() -> str:
    """The upload size limit as the form's hint says it, e.g. "5 MB"."""
    size = images.max_bytes()
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    return f"{max(1, size // 1024)} KB"


def _raise_request_limit() -> None:
    """Let a signed-in user's upload past the site-wide MAX_CONTENT_LENGTH (text forms: 2 MiB).

    Registered ahead of every other before_request function: CSRFProtect reads the form in
    its own, and a body over the limit would be refused there, before this view runs.
    """
    if request.endpoint == "admin.upload_image" and current_user.is_authenticated:
        ceiling = images.max_bytes() * READ_FACTOR + FORM_OVERHEAD
        request.max_content_length = max(ceiling, current_app.config["MAX_CONTENT_LENGTH"] or 0)


@bp.record_once
def _register_request_limit(state) -> None:
    state.app.before_request_funcs.setdefault(None, []).insert(0, _raise_request_limit)


def _answer(form: ImageForm, image: Image | None, status: int):
    """The upload panel (for htmx) or a page holding it."""
    context = {"image_form": form, "image": image, "max_bytes": images.max_bytes()}
    if request.htmx:
        response = current_app.make_response(
            (render_template("admin/_images.html", fragment=True, **context), status)
        )
    else:
        article_id = form.article.data
        context["back_article"] = article_id
        response = current_app.make_response(
            (render_template("admin/image.html", **context), status)
        )
    response.vary.add("HX-Request")
    return response


@bp.post("/images")
@editor_allowed
def upload_image():
    """Upload a JPEG, PNG or WebP picture with its alt text; answer the <img> to insert."""
    form = ImageForm()
    if not form.validate_on_submit():
        return _answer(form, None, 422)
    try:
        image = images.store(form.image.data.read(), form.alt.data, current_user.id)
    except images.UploadError as error:
        form.image.errors = [str(error)]
        return _answer(form, None, 422)
    return _answer(new_image_form(form.article.data), image, 200)


@bp.app_template_global()
def new_image_form(article_id: int | None = None) -> ImageForm:
    """An empty upload form, for the panel under the article form."""
    return ImageForm(formdata=None, article=article_id)


# --- the picture library --------------------------------------------------------------------


class AltForm(FlaskForm):
    alt = alt_field()


def _search_args() -> tuple[str, int | None]:
    query = (request.args.get("q") or "").strip()[:100]
    before = request.args.get("before") or None
    if before is not None and not (before.isascii() and before.isdigit()):
        abort(400, "翻页参数无效。")
    return query, int(before) if before else None


def _library(status: int = 200, **context):
    """The library page (or, for the editor's picture button, its picker fragment)."""
    query, before = _search_args()
    entries, next_before = picture_library.page(query, before)
    context.update(entries=entries, query=query, next_before=next_before)
    template = "admin/_picture_picker.html" if request.args.get("picker") else "admin/images.html"
    return render_template(template, **context), status


def _image(image_id: int) -> Image:
    return db.session.get(Image, image_id) or abort(404, "没有这张图片。")


def _back_to_library():
    return redirect(url_for("admin.images_library", q=request.form.get("q") or None))


@bp.get("/images")
@editor_allowed
def images_library():
    """Every uploaded picture with its alt text, size, uploader and the articles using it."""
    return _library()


@bp.get("/images/<int:image_id>/thumbnail")
@editor_allowed
def image_thumbnail(image_id: int):
    """A small copy of the picture for the library and the picker."""
    image = _image(image_id)
    try:
        path = picture_library.thumbnail(image)
    except FileNotFoundError:
        abort(404, "图片文件不见了。")
    return send_file(path, mimetype=image.content_type)


@bp.post("/images/<int:image_id>/alt")
@editor_allowed
def image_alt(image_id: int):
    """Change a picture's alt text (for the library and the next insertions)."""
    image = _image(image_id)
    form = AltForm(prefix=f"image-{image.id}")
    if not form.validate_on_submit():
        return _library(
            422, alt_errors={image.id: form.alt.errors}, alt_typed={image.id: form.alt.data}
        )
    picture_library.set_alt(image, form.alt.data)
    flash(f"图片说明已改为“{form.alt.data}”。")
    return _back_to_library()


@bp.post("/images/<int:image_id>/delete")
@editor_allowed
def image_delete(image_id: int):
    """Delete a picture nobody uses; refused, with the articles using it, otherwise."""
    image = _image(image_id)
    try:
        picture_library.delete(image)
    except picture_library.InUse as refusal:
        return _library(409, refused=picture_library.Entry(image, None, refusal.articles))
    flash("图片已删除。")
    return _back_to_library()
