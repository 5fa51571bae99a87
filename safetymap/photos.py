"""Photos from the field: checked, EXIF orientation applied, resized and re-encoded as JPEG before
they are stored with the database."""
from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import Problem, ValidationError
from .io.uploads import PHOTO_LIMITS, check_size

MAX_UPLOAD_BYTES = PHOTO_LIMITS.max_bytes  # the one place for upload limits is io.uploads
MAX_EDGE_PX = 1600
JPEG_QUALITY = 85
Image.MAX_IMAGE_PIXELS = 60_000_000  # refuse decompression bombs early


def prepare_photo(data: bytes, name: str) -> tuple[bytes, str, int, int]:
    """(JPEG bytes, mime, width, height) of an uploaded photo; ValidationError naming the file otherwise."""
    check_size(len(data), name, PHOTO_LIMITS)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img)
            img = img.convert("RGB")
            img.thumbnail((MAX_EDGE_PX, MAX_EDGE_PX))
            out = io.BytesIO()
            img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
            return out.getvalue(), "image/jpeg", img.width, img.height
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as exc:
        raise ValidationError([Problem("照片", f"不是可识别的图片（{type(exc).__name__}）", file=name)]) from exc
