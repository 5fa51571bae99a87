"""A shapefile with a part cut short (a copy or download that stopped) is refused with one message naming
the part and the counts, before GDAL reads it: GDAL read a cut .dbf only up to where it stops (the
import took half the patches without a word) and a cut .shp as shapes without geometry."""
from __future__ import annotations

import re
import zipfile

import pytest

from safetymap.io.importer import preview_import

from io_support import assert_refused, zip_files
from test_io_import import SHP_PARTS, exported, fog_layer_files

DBF_COUNT, DBF_HEADER, DBF_RECORD = slice(4, 8), slice(8, 10), slice(10, 12)


def records(dbf: bytes) -> int:
    return int.from_bytes(dbf[DBF_COUNT], "little")


def first_records(dbf: bytes, n: int) -> bytes:
    """The .dbf cut after its first ``n`` records (its header still counting them all)."""
    header, record = (int.from_bytes(dbf[s], "little") for s in (DBF_HEADER, DBF_RECORD))
    return dbf[:header + n * record]


def zipped(tmp_path, files: dict[str, bytes], stem: str = "fog_line"):
    return zip_files(tmp_path / "cut.zip", {f"{stem}{suffix}": data for suffix, data in files.items()})


@pytest.mark.parametrize("stem", ["fog_line", "团雾路段"])  # read inside the zip; unpacked first (non-ASCII name)
def test_a_dbf_cut_to_half_its_records_is_refused_naming_the_counts(store, tmp_path, stem):
    files = fog_layer_files(store, tmp_path)
    shapes = records(files[".dbf"])
    half = shapes // 2
    files[".dbf"] = first_records(files[".dbf"], half)
    path = zipped(tmp_path, files, stem)
    problems = assert_refused(store, path, f"{stem}.dbf 只有 {half} 条记录", f"{stem}.shp 有 {shapes} 个图形",
                              "不完整或已损坏")
    assert len(problems) == 1 and problems[0].file == f"cut.zip/{stem}.shp"


def test_a_dbf_cut_in_the_middle_of_a_record(store, tmp_path):
    files = fog_layer_files(store, tmp_path)
    shapes = records(files[".dbf"])
    files[".dbf"] = files[".dbf"][:len(files[".dbf"]) // 2]
    assert_refused(store, zipped(tmp_path, files), "fog_line.dbf 只有", f"fog_line.shp 有 {shapes} 个图形")


def test_a_dbf_with_fewer_records_than_shapes_is_refused(store, tmp_path):
    """A .dbf whose header agrees with its size, but holds fewer records than the .shp has shapes."""
    files = fog_layer_files(store, tmp_path)
    shapes = records(files[".dbf"])
    dbf = bytearray(first_records(files[".dbf"], shapes - 1))
    dbf[DBF_COUNT] = (shapes - 1).to_bytes(4, "little")
    files[".dbf"] = bytes(dbf)
    assert_refused(store, zipped(tmp_path, files), f"fog_line.dbf 只有 {shapes - 1} 条记录，而 fog_line.shp 有 {shapes} 个图形")


def test_a_cut_shx_is_refused(store, tmp_path):
    files = fog_layer_files(store, tmp_path)
    shapes = records(files[".dbf"])
    files[".shx"] = files[".shx"][:100 + 8 * 3]
    assert_refused(store, zipped(tmp_path, files), f"fog_line.shx 只有 3 个图形的索引，而文件头记载 {shapes} 个")


def test_a_cut_shp_is_refused(store, tmp_path):
    files = fog_layer_files(store, tmp_path)
    shapes = records(files[".dbf"])
    files[".shp"] = files[".shp"][:len(files[".shp"]) // 2]
    assert_refused(store, zipped(tmp_path, files), "fog_line.shp 只有前", f"而 fog_line.shx 索引了 {shapes} 个")


def test_a_cut_source_layer_beside_its_polygon_layer_gives_only_the_cut(store, tmp_path):
    """Our export's fog_line.dbf cut short, fog_patch as exported: the polygon layer is read with its own
    geometry. (Read for its attributes alone, with a 1° box in place of each polygon, its rows' stake-length
    notices measured the box: 769,321 m.)"""
    out = exported(store, tmp_path, "shp")
    with zipfile.ZipFile(out) as zf:
        files = {f"{stem}{suffix}": zf.read(f"{stem}{suffix}") for stem in ("fog_line", "fog_patch")
                 for suffix in SHP_PARTS}
    files["fog_line.dbf"] = first_records(files["fog_line.dbf"], records(files["fog_line.dbf"]) // 2)
    path = zip_files(tmp_path / "cut.zip", files)
    assert_refused(store, path, "fog_line.dbf 只有")
    preview = preview_import(store, path)
    lengths = [int(m) for p in preview.notices for m in re.findall(r"几何长度 (\d+) m", p.message)]
    assert max(lengths, default=0) < 20_000  # never a 1° box's 769 km
    assert_no_length_notice_on_a_refused_geometry(preview)


def assert_no_length_notice_on_a_refused_geometry(preview) -> None:
    """Nor is a refused geometry counted as a change: the preview said 更新 15 个 for the 15 fog_patch rows
    standing in for fog_line's, though their attributes equal the ledger's and their geometry is refused."""
    refused = {(p.file, p.row) for p in preview.problems if p.field == "几何"}
    assert refused, "the polygon rows standing in for the source rows are refused for their geometry"
    assert [n for n in preview.notices if (n.file, n.row) in refused] == []
    assert preview.n_updated == 0 and preview.updates.empty


def test_a_source_layer_with_an_unknown_prj_is_named_and_its_polygons_are_not_measured(store, tmp_path):
    """fog_line.prj replaced by a definition nobody knows: the preview names that .prj, and the fog_patch
    rows, refused for their Polygon geometry, get no stake-length notice measured on it (before, 15 such
    notices: e.g. 桩号差 1422 m 与几何长度 3010 m 不符, the polygon's outline)."""
    out = exported(store, tmp_path, "shp")
    with zipfile.ZipFile(out) as zf:
        files = {f"{stem}{suffix}": zf.read(f"{stem}{suffix}") for stem in ("fog_line", "fog_patch")
                 for suffix in SHP_PARTS}
    files["fog_line.prj"] = b'PROJCS["nonsense",GEOGCS["x"]]'
    path = zip_files(tmp_path / "prj.zip", files)
    assert_refused(store, path, "fog_line.shp：未知坐标系")
    assert_no_length_notice_on_a_refused_geometry(preview_import(store, path))
