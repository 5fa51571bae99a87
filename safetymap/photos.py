"""Photos from the field: checked, EXIF orientation applied, resized and re-encoded as JPEG before
they are stored with the database. The pixel count is checked from the header before any decoding
(a 400 kB PNG can decode to 1.4 GB); HEIC/HEIF (iPhone gallery photos) are read through pillow-heif."""
from __future__ import annotations

import io
import re
import warnings

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import Problem, ValidationError
from .io.uploads import PHOTO_LIMITS, check_size

MAX_UPLOAD_BYTES = PHOTO_LIMITS.max_bytes  # the one place for upload limits is io.uploads
MAX_EDGE_PX = 1600
JPEG_QUALITY = 85
MAX_PHOTO_PIXELS = 40_000_000  # a 48-megapixel phone camera saves 12 MP by default; more is refused
# Pillow's own backstop, checked at open: above it (a warning, made an error below) the header's size
# is not even handed to us; between our limit and it we refuse naming width × height.
Image.MAX_IMAGE_PIXELS = 4 * MAX_PHOTO_PIXELS
pillow_heif.register_heif_opener()


def _refused(name: str, message: str) -> ValidationError:
    return ValidationError([Problem("照片", message, file=name)])


def _pixels_text(pixels: int) -> str:
    return f"约 {pixels / 10_000:.0f} 万像素"


def _too_big(name: str, width: int, height: int) -> ValidationError:
    return _refused(name, f"图片 {width}×{height} 像素（{_pixels_text(width * height)}），超过上限 "
                          f"{MAX_PHOTO_PIXELS // 10_000} 万像素，已拒绝；请缩小后上传")


def _bomb(name: str, exc: Exception) -> ValidationError:
    """Pillow refused at open, from the header, before we saw the size: its message has the count."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = _pixels_text(int(found.group(1))) if found else "像素过多"
    return _refused(name, f"图片{size}，超过上限 {MAX_PHOTO_PIXELS // 10_000} 万像素，已拒绝；请缩小后上传")


def _as_jpeg(img: Image.Image) -> tuple[bytes, str, int, int]:
    img = ImageOps.exif_transpose(img)
    img = img.convert("RGB")
    img.thumbnail((MAX_EDGE_PX, MAX_EDGE_PX))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), "image/jpeg", img.width, img.height


def prepare_photo(data: bytes, name: str) -> tuple[bytes, str, int, int]:
    """(JPEG bytes, mime, width, height) of an uploaded photo; ValidationError naming the file otherwise."""
    check_size(len(data), name, PHOTO_LIMITS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:  # reads the header only
                if img.width * img.height > MAX_PHOTO_PIXELS:
                    raise _too_big(name, img.width, img.height)
                return _as_jpeg(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(name, exc) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise _refused(name, f"不是可识别的图片（{type(exc).__name__}）") from exc
