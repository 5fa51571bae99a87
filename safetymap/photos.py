"""Photos from the field: checked, EXIF orientation applied, resized and re-encoded as JPEG before
they are stored with the database."""
from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import Problem, ValidationError

MAX_UPLOAD_BYTES = 15 * 1024 * 1024
MAX_EDGE_PX = 1600
JPEG_QUALITY = 85
Image.MAX_IMAGE_PIXELS = 60_000_000  # refuse decompression bombs early


def prepare_photo(data: bytes, name: str) -> tuple[bytes, str, int, int]:
    """(JPEG bytes, mime, width, height) of an uploaded photo; ValidationError naming the file otherwise."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError([Problem("照片", f"{len(data) / 1048576:.1f} MB，超过 {MAX_UPLOAD_BYTES // 1048576} MB 上限",
                                       file=name)])
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
