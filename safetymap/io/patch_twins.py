"""Polygon layers of a zipped export that repeat their source layer byte for byte.

Our shapefile export writes each patch twice: its polygon (``fog_patch``) and its source line or point
(``fog_line``), with the same attribute table. The import copies the polygon rows' attributes onto the
source rows and drops the polygon rows (``batches.take_patch_attributes``), so a polygon layer whose
.dbf is the source layer's, byte for byte, adds nothing but its row count: it is not read again (at
100,000 patches that was half of the reading). Its rows stand as empty polygons beside the source
layer's attributes, and every later step treats them as before."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .shapefile import GEOMETRY_PARTS, sidecar

PATCH_SUFFIX = "_patch"
SOURCE_SUFFIXES = tuple(f"_{kind}" for kind in GEOMETRY_PARTS if kind != "patch")
SHP_POLYGON = 5  # shapefile shape type: 2D polygon
SHP_HEADER = 100
COMPARE_CHUNK = 1 << 20


def twin_sources(zip_path: Path, in_zip: set[str], root: Path) -> dict[str, str]:
    """Polygon layer .shp member -> the source layer .shp member whose .dbf, .cpg and .prj it repeats
    exactly, when every one of its shapes is a polygon (so each of its rows is dropped for its source)."""
    found = {}
    with zipfile.ZipFile(zip_path) as zf:
        infos = {info.filename: info for info in zf.infolist()}
        for member in sorted(m for m in in_zip if m.endswith(f"{PATCH_SUFFIX}.shp")):
            stem = member[:-len(f"{PATCH_SUFFIX}.shp")]
            for suffix in SOURCE_SUFFIXES:
                source = f"{stem}{suffix}.shp"
                if source in in_zip and _same_parts(zf, infos, member, source, root) and _all_polygons(zf, member):
                    found[member] = source
                    break
    return found


def _same_parts(zf: zipfile.ZipFile, infos: dict, member: str, source: str, root: Path) -> bool:
    """The same .dbf (compressed bytes compared) and the same .cpg and .prj (unpacked beside ``root``)."""
    if not _same_member(zf, infos[f"{member[:-4]}.dbf"], infos[f"{source[:-4]}.dbf"]):
        return False
    for suffix in (".cpg", ".prj"):
        a, b = sidecar(root / member, suffix), sidecar(root / source, suffix)
        if (a is None) != (b is None) or (a is not None and a.read_bytes() != b.read_bytes()):
            return False
    return sidecar(root / member, ".prj") is not None  # a layer without a CRS is reported on its own


def _same_member(zf: zipfile.ZipFile, a: zipfile.ZipInfo, b: zipfile.ZipInfo) -> bool:
    if (a.compress_type, a.compress_size, a.file_size, a.CRC) != (b.compress_type, b.compress_size, b.file_size, b.CRC):
        return False
    with open(zf.filename, "rb") as fa, open(zf.filename, "rb") as fb:
        fa.seek(_data_offset(fa, a))
        fb.seek(_data_offset(fb, b))
        left = a.compress_size
        while left:
            n = min(left, COMPARE_CHUNK)
            if fa.read(n) != fb.read(n):
                return False
            left -= n
    return True


def _data_offset(fh, info: zipfile.ZipInfo) -> int:
    """Where the member's compressed bytes start: after its local header, name and extra field."""
    fh.seek(info.header_offset)
    header = fh.read(zipfile.sizeFileHeader)
    name_length = int.from_bytes(header[26:28], "little")
    extra_length = int.from_bytes(header[28:30], "little")
    return info.header_offset + zipfile.sizeFileHeader + name_length + extra_length


def _all_polygons(zf: zipfile.ZipFile, member: str) -> bool:
    """Every record of the .shp (found through the .shx) a 2D polygon with parts and points, one per
    .dbf record: GDAL gives each row a polygon, never a missing geometry."""
    shx, shp = zf.read(f"{member[:-4]}.shx"), zf.read(member)
    with zf.open(f"{member[:-4]}.dbf") as dbf:
        records = int.from_bytes(dbf.read(8)[4:8], "little")
    if len(shx) < SHP_HEADER or (len(shx) - SHP_HEADER) % 8 or (len(shx) - SHP_HEADER) // 8 != records:
        return False
    offsets = np.frombuffer(shx, ">i4", offset=SHP_HEADER)[0::2].astype(np.int64) * 2
    if len(offsets) and (offsets.min() < SHP_HEADER or offsets.max() + 52 > len(shp)):
        return False
    data = np.frombuffer(shp, np.uint8)

    def int32_at(where: np.ndarray) -> np.ndarray:
        return data[where[:, None] + np.arange(4)].copy().view("<i4").ravel()
    return bool(np.all(int32_at(offsets + 8) == SHP_POLYGON) and np.all(int32_at(offsets + 44) > 0)
                and np.all(int32_at(offsets + 48) > 0))
