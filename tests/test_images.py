"""Picture uploads: read by content, re-encoded without metadata, stored under random names,
served for a year; every bad file refused with a clear message and nothing stored."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select

from microsite.content import images
from microsite.content.models import Article
from microsite.content.models import Image as ImageRecord
from microsite.extensions import db
from microsite.sanitize import clean_html, images_missing_alt, strips_markup
from tests.support.app import FreshContextClient, make_app, soup
from tests.support.factories import make_user, picture
from tests.support.forms import csrf_token_of, sign_in

ALT = "社区工作人员在核酸检测点引导居民排队"
NAME = "0123456789abcdef0123456789abcdef.png"


# --- making pictures -----------------------------------------------------------------------


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (39.0, 54.0, 27.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (116.0, 23.0, 17.0)
    return exif


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def desk(sign_in_as):
    """A client signed in as an editor (editors may upload: pictures belong to articles)."""
    return sign_in_as("editor")


def upload(client, data: bytes, filename="photo.jpg", alt=ALT, mimetype="image/jpeg", **kw):
    form = {"image": (io.BytesIO(data), filename, mimetype), "alt": alt}
    return client.post("/admin/images", data=form, content_type="multipart/form-data", **kw)


def uploaded_name(response) -> str:
    return re.search(r"/media/([0-9a-f]{32}\.(?:jpg|png|webp))", response.get_data(as_text=True))[1]


def fetch(client, url: str):
    """GET a file and close the response (send_file leaves it open otherwise)."""
    with client.get(url) as response:
        response.get_data()
    return response


def stored_files(app) -> list[Path]:
    directory = Path(app.config["UPLOAD_DIR"])
    return sorted(directory.iterdir()) if directory.exists() else []


def image_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(ImageRecord))


def nothing_stored(app) -> bool:
    return stored_files(app) == [] and image_rows() == 0


def field_error(response, field_id: str) -> str:
    error = soup(response).find(id=f"{field_id}-error")
    return error.get_text(strip=True) if error else ""


# --- uploads that work ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "format, content_type, extension",
    [("JPEG", "image/jpeg", "jpg"), ("PNG", "image/png", "png"), ("WEBP", "image/webp", "webp")],
)
def test_an_upload_is_stored_and_served_with_its_type_and_a_year_of_cache(
    desk, app, format, content_type, extension
):
    response = upload(desk, picture(format), filename="anything.bin", mimetype="text/plain")
    assert response.status_code == 200
    name = uploaded_name(response)
    assert name.endswith(f".{extension}")
    record = db.session.scalar(select(ImageRecord))
    assert (record.name, record.content_type, record.alt) == (name, content_type, ALT)
    assert (record.width, record.height) == (64, 48)
    assert record.uploaded_by is not None
    assert stored_files(app) == [Path(app.config["UPLOAD_DIR"]) / name]
    assert Path(app.config["UPLOAD_DIR"]).parent == Path(app.instance_path)

    served = fetch(desk, f"/media/{name}")
    assert served.status_code == 200
    assert served.mimetype == content_type
    assert served.cache_control.public and served.cache_control.immutable
    assert served.cache_control.max_age == 31536000
    assert not served.cache_control.no_store  # signed in, yet cacheable: the picture is public
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(served.data)).format == format
    assert record.byte_size == len(served.data)


def test_the_answer_offers_the_img_to_insert(desk):
    response = upload(desk, picture(), alt='图 "一" <b>')
    page = soup(response)
    snippet = page.select_one("textarea#image-html").get_text()
    name = uploaded_name(response)
    assert snippet == (
        f'<img src="/media/{name}" alt="图 &#34;一&#34; &lt;b&gt;" width="64" height="48">'
    )
    assert page.select_one("[data-insert-image]").get_text() == "插入正文"
    assert page.select_one(f"img[src='/media/{name}']")["alt"] == '图 "一" <b>'
    assert response.headers["Cache-Control"] == "no-store"


def test_htmx_gets_the_panel_and_a_browser_without_javascript_a_page(desk):
    fragment = upload(desk, picture(), headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    assert fragment.get_data(as_text=True).lstrip().startswith("<section")
    page = upload(desk, picture())
    assert soup(page).find("h1").get_text() == "插入图片"
    assert soup(page).select_one("#image-upload form")


def test_the_edit_page_holds_the_upload_form_and_its_script(desk, app):
    article = Article(title="t", body="<p>b</p>")
    db.session.add(article)
    db.session.commit()
    page = soup(desk.get(f"/admin/articles/{article.id}/edit"))
    form = page.select_one("#image-upload form")
    assert form["action"] == "/admin/images" and form["enctype"] == "multipart/form-data"
    assert form.select_one("input[name=article]")["value"] == str(article.id)
    assert page.select_one("label[for=image-alt]").get_text() == "图片说明（替代文字）"
    assert page.select_one("script[src^='/static/js/admin-images.js']")
    assert not page.select("script:not([src])")


def test_exif_with_gps_and_comments_is_gone_after_re_encoding(desk):
    original = picture("JPEG", exif=gps_exif(), comment=b"secret-note")
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    name = uploaded_name(upload(desk, original))
    served = fetch(desk, f"/media/{name}").data
    reopened = Image.open(io.BytesIO(served))
    assert not reopened.getexif()
    assert "exif" not in reopened.info and "comment" not in reopened.info
    assert b"SpyCam" not in served and b"secret-note" not in served


@pytest.mark.parametrize("format", ["PNG", "WEBP"])
def test_png_and_webp_metadata_is_gone_too(desk, format):
    original = picture(format, exif=gps_exif())
    assert b"SpyCam" in original
    served = fetch(desk, f"/media/{uploaded_name(upload(desk, original))}").data
    assert b"SpyCam" not in served
    assert not Image.open(io.BytesIO(served)).getexif()


def test_exif_orientation_is_applied_before_it_is_dropped(desk):
    sideways = picture("JPEG", size=(60, 20), exif=gps_exif(orientation=6))
    name = uploaded_name(upload(desk, sideways))
    assert Image.open(io.BytesIO(fetch(desk, f"/media/{name}").data)).size == (20, 60)
    record = db.session.scalar(select(ImageRecord))
    assert (record.width, record.height) == (20, 60)


def test_a_huge_picture_is_scaled_to_the_longest_side_limit(desk):
    name = uploaded_name(upload(desk, picture("PNG", size=(3000, 150))))
    assert Image.open(io.BytesIO(fetch(desk, f"/media/{name}").data)).size == (2000, 100)


def test_the_same_file_twice_gets_two_random_names(desk, app):
    data = picture()
    first, second = (uploaded_name(upload(desk, data)) for _ in range(2))
    assert first != second
    assert len(stored_files(app)) == 2 and image_rows() == 2


def test_a_jpeg_with_html_appended_is_stored_without_it(desk):
    polyglot = picture("JPEG") + b"<html><script>alert(1)</script></html>"
    response = upload(desk, polyglot)
    assert response.status_code == 200
    served = fetch(desk, f"/media/{uploaded_name(response)}").data
    assert b"<script" not in served


def test_an_upload_larger_than_the_text_form_limit_gets_through(tmp_path):
    """The site-wide MAX_CONTENT_LENGTH stops big text forms; an upload has its own limit."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=False, MAX_CONTENT_LENGTH=20_000)
    app.test_client_class = FreshContextClient
    noise = Image.effect_noise((200, 200), 100).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    assert 20_000 < len(buffer.getvalue()) < app.config["UPLOAD_MAX_BYTES"]
    with app.app_context():
        make_user()
        client = app.test_client()
        sign_in(client)
        assert upload(client, buffer.getvalue()).status_code == 200
        # Signed out, the site-wide limit stands (or the sign-in check answers first).
        assert upload(app.test_client(), buffer.getvalue()).status_code in {302, 413}
        assert image_rows() == 1
        db.session.remove()


# --- files refused ---------------------------------------------------------------------------

GIF_JS_POLYGLOT = b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=alert(1);//" + b"\x00" * 20 + b";"
FORGED = {
    "text": "这不是图片，只是一段文字。".encode(),
    "html": b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
    "gif-js polyglot": GIF_JS_POLYGLOT,
    "gif": picture("GIF"),
    "bmp": picture("BMP"),
    "pdf": b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF",
    "jpeg magic only": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"<script>alert(1)</script>",
    "empty": b"",
}


@pytest.mark.parametrize("data", FORGED.values(), ids=FORGED.keys())
def test_a_forged_file_type_is_rejected_and_nothing_stored(desk, app, data):
    response = upload(desk, data, filename="photo.jpg", mimetype="image/jpeg")
    assert response.status_code == 422
    assert field_error(response, "image-file") == images.NOT_AN_IMAGE
    assert soup(response).select_one("#image-file")["aria-invalid"] == "true"
    assert soup(response).select_one("#image-alt")["value"] == ALT  # what was typed is kept
    assert nothing_stored(app)


@pytest.mark.parametrize("format", ["PNG", "JPEG", "WEBP"])
def test_a_truncated_picture_is_rejected(desk, app, format):
    whole = Image.effect_noise((120, 120), 80).convert("RGB")
    buffer = io.BytesIO()
    whole.save(buffer, format=format)
    cut = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    response = upload(desk, cut, filename="x.png")
    assert response.status_code == 422
    assert field_error(response, "image-file") in {images.DAMAGED, images.NOT_AN_IMAGE}
    assert nothing_stored(app)


def test_a_file_over_the_size_limit_gets_a_clear_error_and_nothing_stored(desk, app):
    app.config["UPLOAD_MAX_BYTES"] = 10_000
    noise = Image.effect_noise((200, 200), 100).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    assert len(buffer.getvalue()) > 10_000
    response = upload(desk, buffer.getvalue())
    assert response.status_code == 422
    assert field_error(response, "image-file").startswith("文件太大")
    assert nothing_stored(app)


def test_a_body_far_over_the_limit_gets_the_styled_413_page(desk, app):
    # Up to the site-wide limit or four times the upload limit, whichever is larger, the file
    # is read and refused next to its field; past that the body is not read at all.
    app.config.update(UPLOAD_MAX_BYTES=10_000, MAX_CONTENT_LENGTH=20_000)
    response = upload(desk, b"\xff" * 200_000)
    assert response.status_code == 413
    assert soup(response).find("h1").get_text() == "提交的内容太大"
    assert nothing_stored(app)


def test_a_decompression_bomb_is_refused_before_it_is_decoded(desk, app, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 1_000)
    response = upload(desk, picture(size=(50, 50)))
    assert (
        field_error(response, "image-file")
        == "图片像素过多（这张为 50×50）：最多 0.1 万像素，请缩小后再上传"
    )
    # Past Pillow's own limit its warning is caught, not leaked (warnings are errors here).
    monkeypatch.setattr(images, "MAX_PIXELS", 10**9)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    response = upload(desk, picture(size=(40, 40)))
    assert field_error(response, "image-file").startswith("图片像素过多：最多 100000 万像素")
    response = upload(desk, picture(size=(50, 50)))  # over twice the limit: Pillow raises
    assert field_error(response, "image-file").startswith("图片像素过多")
    assert nothing_stored(app)


def test_a_40_megapixel_png_is_refused_from_its_header_with_the_limit(desk, app, monkeypatch):
    # 8000 x 5000 of one colour: 40 megapixels in about 40 KB, which once cost a worker 2.5 s.
    bomb = picture(size=(8000, 5000), mode="1")
    assert len(bomb) < 100_000
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda image: decoded.append(image.size))
    response = upload(desk, bomb, filename="huge.png", mimetype="image/png")
    assert response.status_code == 422
    assert field_error(response, "image-file") == (
        "图片像素过多（这张为 8000×5000）：最多 2500 万像素，请缩小后再上传"
    )
    assert decoded == []
    assert nothing_stored(app)
    # A 24-megapixel camera's 6000 x 4000 still goes in, scaled to the longest-side limit.
    monkeypatch.undo()
    response = upload(desk, picture(size=(6000, 4000), mode="1"), mimetype="image/png")
    assert response.status_code == 200
    assert db.session.scalar(select(ImageRecord.width)) == images.MAX_SIDE


def test_no_file_chosen_is_an_error_next_to_the_file_field(desk, app):
    response = desk.post("/admin/images", data={"alt": ALT}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert field_error(response, "image-file") == "请选择要上传的图片。"
    assert nothing_stored(app)


@pytest.mark.parametrize("alt", ["", "   \n "])
def test_missing_alt_text_is_an_error_next_to_its_field(desk, app, alt):
    response = upload(desk, picture(), alt=alt)
    assert response.status_code == 422
    assert field_error(response, "image-alt") == "请填写图片说明（替代文字）"
    assert nothing_stored(app)


def test_alt_text_has_a_length_limit(desk, app):
    response = upload(desk, picture(), alt="长" * 301)
    assert field_error(response, "image-alt") == "图片说明最多 300 个字。"
    assert nothing_stored(app)


def test_a_failed_database_commit_leaves_no_file(app, monkeypatch):
    def refuse():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", refuse)
    with pytest.raises(RuntimeError):
        images.store(picture(), ALT, None)
    assert stored_files(app) == []
    assert not any(p.name.endswith(".tmp") for p in stored_files(app))


# --- who may upload --------------------------------------------------------------------------


def test_signed_out_uploads_go_to_the_login_page(client, app):
    response = upload(client, picture())
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")
    htmx = upload(client, picture(), headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and "HX-Redirect" in htmx.headers
    assert nothing_stored(app)


def test_an_upload_needs_the_csrf_token(tmp_path):
    app = make_app(tmp_path)  # CSRF on
    app.test_client_class = FreshContextClient
    with app.app_context():
        make_user(role="editor")
        article = Article(title="t", body="<p>b</p>")
        db.session.add(article)
        db.session.commit()
        client = app.test_client()
        sign_in(client)
        refused = upload(client, picture())
        assert refused.status_code == 400
        assert nothing_stored(app)
        token = csrf_token_of(client.get(f"/admin/articles/{article.id}/edit"))
        form = {"image": (io.BytesIO(picture()), "a.png"), "alt": ALT, "csrf_token": token}
        accepted = client.post("/admin/images", data=form, content_type="multipart/form-data")
        assert accepted.status_code == 200
        assert image_rows() == 1
        db.session.remove()


# --- serving ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        NAME,  # the right shape, but no such file
        "0123456789ABCDEF0123456789ABCDEF.png",
        "0123456789abcdef0123456789abcdef.svg",
        "0123456789abcdef0123456789abcdef.png.html",
        "0123456789abcdef.png",
        ".0123456789abcdef0123456789abcdef.png.tmp",
        "..%2Fsecret_key",
        "%2E%2E%2Finstance%2Fsecret_key",
        "secret_key",
    ],
)
def test_bad_media_names_are_404(client, app, name):
    Path(app.config["UPLOAD_DIR"]).mkdir(parents=True, exist_ok=True)
    (Path(app.config["UPLOAD_DIR"]) / ".0123456789abcdef0123456789abcdef.png.tmp").write_bytes(
        b"half"
    )
    assert fetch(client, f"/media/{name}").status_code == 404


def test_media_answers_conditional_requests(desk):
    name = uploaded_name(upload(desk, picture()))
    first = fetch(desk, f"/media/{name}")
    with desk.get(f"/media/{name}", headers={"If-None-Match": first.headers["ETag"]}) as again:
        assert again.status_code == 304


# --- the article body ------------------------------------------------------------------------

LOCAL = f'<img src="/media/{NAME}" alt="图" width="64" height="48">'


@pytest.mark.parametrize(
    "dirty",
    [
        '<img src="https://evil.example/pixel.png" alt="x">',
        '<img src="//evil.example/pixel.png" alt="x">',
        '<img src="javascript:alert(1)" alt="x">',
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="x">',
        f'<img src="/media/{NAME}/../../secret_key" alt="x">',
        f'<img src="/media/{NAME}?x=1" alt="x">',
        '<img src="/media/0123456789abcdef0123456789abcdef.svg" alt="x">',
        '<img alt="x">',
    ],
)
def test_sanitizer_drops_pictures_from_anywhere_else(dirty):
    assert clean_html(dirty) == ""
    assert strips_markup(dirty)


def test_sanitizer_keeps_a_local_picture_with_its_alt_and_size():
    assert clean_html(LOCAL) == f"<p>{LOCAL}</p>"
    assert not strips_markup(LOCAL)
    hostile = f'<img src="/media/{NAME}" alt="图" width="9e9" height="48" onerror="alert(1)">'
    assert clean_html(hostile) == f'<p><img src="/media/{NAME}" alt="图" height="48"></p>'
    assert strips_markup(hostile)


def test_a_picture_between_typed_lines_keeps_the_lines_as_paragraphs():
    body = f"第一段。\n{LOCAL}\n第二段。"
    assert clean_html(body) == f"<p>第一段。</p>\n<p>{LOCAL}</p>\n<p>第二段。</p>"


def test_pictures_without_alt_text_are_counted():
    assert images_missing_alt(LOCAL) == 0
    assert images_missing_alt(f'<img src="/media/{NAME}">') == 1
    assert images_missing_alt(f'<p><img src="/media/{NAME}" alt=" "></p>') == 1
    assert images_missing_alt('<img src="https://evil.example/a.png">') == 0  # dropped anyway


def test_the_article_form_refuses_a_picture_without_alt_text(desk, app):
    article = Article(title="t", body="<p>b</p>")
    db.session.add(article)
    db.session.commit()
    response = desk.post(
        f"/admin/articles/{article.id}/edit",
        data={
            "title": "t",
            "body": f'第一段。\n<img src="/media/{NAME}">',
            "category": "人力资讯",
            "status": "published",
            "version": article.version,
            "save": "保存",
        },
    )
    assert response.status_code == 422
    assert field_error(response, "body").startswith("图片缺少替代文字")
    db.session.refresh(article)
    assert "img" not in article.body
