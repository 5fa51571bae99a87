"""Photos (issue 15, finding 9): the pixel count is checked from the header before decoding; HEIC from
iPhones is read and stored as JPEG."""
from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from hostile_files import blank_png, heic_photo
from safetymap.errors import ValidationError
from safetymap.photos import MAX_PHOTO_PIXELS, prepare_photo

pytestmark = pytest.mark.timeout(60)
MB = 1024 * 1024


def test_a_huge_png_is_refused_before_decoding():
    data = blank_png(10_900, 10_900)
    assert len(data) < 1 * MB
    start = time.monotonic()
    with pytest.raises(ValidationError, match="10900×10900") as caught:
        prepare_photo(data, "大图.png")
    assert "文件 大图.png" in str(caught.value) and "超过上限 4000 万像素" in str(caught.value)
    assert time.monotonic() - start < 2  # decoding it took seconds and 1.4 GB


def test_the_limit_is_forty_megapixels():
    assert MAX_PHOTO_PIXELS == 40_000_000
    with pytest.raises(ValidationError, match="像素"):
        prepare_photo(blank_png(8000, 5001), "刚超.png")
    jpeg, mime, width, height = prepare_photo(blank_png(8000, 5000), "刚好.png")
    assert mime == "image/jpeg" and max(width, height) == 1600


def test_a_heic_photo_is_stored_as_jpeg():
    jpeg, mime, width, height = prepare_photo(heic_photo(64, 48), "IMG_0001.HEIC")
    assert mime == "image/jpeg" and jpeg.startswith(b"\xff\xd8")
    with Image.open(io.BytesIO(jpeg)) as img:
        assert img.format == "JPEG" and img.size == (width, height) == (64, 48)
