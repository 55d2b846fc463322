"""Uploaded pictures: read by content, re-encoded without metadata, stored under random names.

Nothing the browser says about a file is trusted: its name, extension and declared type are
ignored. Pillow reads the bytes; only JPEG, PNG and WebP are accepted, and what is stored is a
fresh encoding of the pixels (EXIF with GPS, XMP, comments and anything appended after the
image data are gone), turned upright by its EXIF orientation and at most MAX_SIDE pixels long.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

from ..extensions import db
from .models import Image as ImageRecord

# Pillow's format name -> (content type, file extension).
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
CONTENT_TYPES = {extension: content_type for content_type, extension in FORMATS.values()}
# The only names /media serves: 32 hex digits from secrets.token_hex(16) and our extension.
NAME = re.compile(r"[0-9a-f]{32}\.(?:jpg|png|webp)")
# Decoding cost grows with pixels, not bytes: a 50 KB PNG can hold a 20000 x 20000 canvas, and a
# 40-megapixel one held a worker for 2.5 s. 25 megapixels takes a 24-megapixel camera's
# 6000 x 4000 and every phone's default photo; what is stored is at most MAX_SIDE long anyway.
MAX_PIXELS = 25_000_000
# The article column is ~45em wide; 2000 px covers it at 2x density.
MAX_SIDE = 2000
ALT_MAX = 300

NOT_AN_IMAGE = "只能上传 JPEG、PNG 或 WebP 图片"
TOO_LARGE = "文件太大"
TOO_MANY_PIXELS = "图片像素过多{size}：最多 {limit} 万像素，请缩小后再上传"
DAMAGED = "图片文件已损坏或不完整，无法读取"


class UploadError(ValueError):
    """A file we refuse, with the message shown next to the file field."""


def too_many_pixels(size: tuple[int, int] | None = None) -> UploadError:
    """The refusal for a canvas over MAX_PIXELS: says the limit, and the picture's size if known."""
    shown = f"（这张为 {size[0]}×{size[1]}）" if size else ""
    return UploadError(TOO_MANY_PIXELS.format(size=shown, limit=f"{MAX_PIXELS / 10_000:g}"))


@dataclass(frozen=True)
class Encoded:
    data: bytes
    format: str
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return FORMATS[self.format][0]

    @property
    def extension(self) -> str:
        return FORMATS[self.format][1]


def upload_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def max_bytes() -> int:
    return int(current_app.config["UPLOAD_MAX_BYTES"])


def _open(data: bytes) -> Image.Image:
    """The picture in `data`, header read; refuses anything but JPEG, PNG and WebP."""
    # Pillow warns (DecompressionBombWarning) past Image.MAX_IMAGE_PIXELS and raises past twice
    # that. Our own, lower limit is checked below; the warning is made an error here so that a
    # huge canvas is refused the same way whether or not warnings are errors (pytest).
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            picture = Image.open(io.BytesIO(data), formats=list(FORMATS))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise too_many_pixels() from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise UploadError(NOT_AN_IMAGE) from None
    if picture.format not in FORMATS:
        raise UploadError(NOT_AN_IMAGE)
    width, height = picture.size
    if width < 1 or height < 1:
        raise UploadError(DAMAGED)
    # Checked from the header alone: nothing has been decoded yet.
    if width * height > MAX_PIXELS:
        raise too_many_pixels((width, height))
    return picture


def _decode(picture: Image.Image) -> Image.Image:
    """All pixels decoded (a truncated file fails here), upright and at most MAX_SIDE long."""
    try:
        picture.load()
        upright = ImageOps.exif_transpose(picture)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        raise UploadError(DAMAGED) from None
    if max(upright.size) > MAX_SIDE:
        upright.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return upright


def _pixels_for(picture: Image.Image, format: str) -> Image.Image:
    """The picture in a mode the encoder takes (JPEG has no alpha, WebP no palette)."""
    if format == "JPEG":
        return picture if picture.mode in {"RGB", "L"} else picture.convert("RGB")
    if format == "WEBP":
        if picture.mode in {"RGB", "RGBA"}:
            return picture
        has_alpha = picture.has_transparency_data
        return picture.convert("RGBA" if has_alpha else "RGB")
    if picture.mode in {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}:
        return picture
    return picture.convert("RGBA" if picture.has_transparency_data else "RGB")


def encode(data: bytes) -> Encoded:
    """Check `data` by its content and re-encode it in the same format, metadata dropped.

    The ICC colour profile is the one thing carried over: without it a wide-gamut photo
    shows washed out, and it says nothing about who took the picture or where.
    """
    if len(data) > max_bytes():
        raise UploadError(TOO_LARGE)
    picture = _open(data)
    format = picture.format
    icc = picture.info.get("icc_profile")
    pixels = _pixels_for(_decode(picture), format)
    # Some encoders fall back to the source's info (EXIF, XMP, text chunks): keep only the
    # transparency a palette or grey PNG needs.
    pixels.info = {k: v for k, v in pixels.info.items() if k == "transparency"}
    options: dict = {"icc_profile": icc} if icc else {}
    if format == "JPEG":
        options.update(quality=85, optimize=True, progressive=True)
    elif format == "WEBP":
        options.update(quality=85, method=4)
    else:
        options.update(compress_level=6)
    out = io.BytesIO()
    try:
        pixels.save(out, format=format, **options)
    except (OSError, ValueError):
        raise UploadError(DAMAGED) from None
    return Encoded(out.getvalue(), format, pixels.width, pixels.height)


def random_name(extension: str) -> str:
    return f"{secrets.token_hex(16)}.{extension}"


def _write(directory: Path, name: str, data: bytes) -> Path:
    """Write atomically: readers see the whole file under its name or nothing."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    temporary = directory / f".{name}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def write_file(name: str, data: bytes) -> Path:
    """Store an encoded picture under its name in the upload directory; its path."""
    return _write(upload_dir(), name, data)


def stage(encoded: Encoded, alt: str, user_id: int | None) -> tuple[ImageRecord, Path]:
    """Write the encoded picture under a new random name and add its record to the session
    (the caller commits, and removes the file again if that fails)."""
    name = random_name(encoded.extension)
    path = write_file(name, encoded.data)
    record = ImageRecord(
        name=name,
        content_type=encoded.content_type,
        width=encoded.width,
        height=encoded.height,
        byte_size=len(encoded.data),
        alt=alt,
        uploaded_by=user_id,
    )
    db.session.add(record)
    return record, path


def store(data: bytes, alt: str, user_id: int | None) -> ImageRecord:
    """Re-encode, write the file, then record it; a failed commit takes the file away again."""
    record, path = stage(encode(data), alt, user_id)
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    return record
