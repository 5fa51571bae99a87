"""Shapefile and CSV encodings on import: a wrong declaration (the user's, a .cpg's) or none (ArcGIS's
"ANSI" language driver 0x57 without a .cpg) is detected by trying the declared encoding, then GBK /
GB18030, then UTF-8; the preview says which one worked, and what no encoding can read is refused with a
Chinese message naming the file. Never a pyarrow crash, never Latin-1 garbage."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from io_support import assert_refused, zip_files
from safetymap.io.export import export
from safetymap.io.importer import preview_import
from safetymap.io.shapefile import DBF_LDID_OFFSET

SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
ANSI_LDID = 0x57  # what ArcGIS writes: "the system's ANSI code page", i.e. unknown here


def fog_line(store, tmp_path, encoding: str) -> dict[str, bytes]:
    out = tmp_path / f"export-{encoding}.zip"
    export(store.read(), "shp", out, store.schema, encoding=encoding)
    with zipfile.ZipFile(out) as zf:
        return {suffix: zf.read(f"fog_line{suffix}") for suffix in SHP_PARTS}


def with_ldid(dbf: bytes, ldid: int) -> bytes:
    return dbf[:DBF_LDID_OFFSET] + bytes([ldid]) + dbf[DBF_LDID_OFFSET + 1:]


def layer_zip(tmp_path, files: dict[str, bytes], name="layer.zip", **replace) -> Path:
    parts = {f"fog_line{s}": d for s, d in files.items()}
    for suffix, data in replace.items():
        key = f"fog_line.{suffix}"
        if data is None:
            parts.pop(key)
        else:
            parts[key] = data
    return zip_files(tmp_path / name, parts)


def assert_unchanged_with_note(store, path, *fragments, **options):
    """The file imports as the same ledger (Chinese read right), and the preview says how."""
    preview = preview_import(store, path, **options)
    assert preview.ok, preview.problems[:3]
    assert preview.n_updated == 0 and preview.unchanged == len(store.read("fog"))
    text = "\n".join(preview.warnings)
    for fragment in fragments:
        assert fragment in text, text


def test_gbk_shapefile_imported_as_utf8_is_read_as_gbk_and_says_so(store, tmp_path):
    path = layer_zip(tmp_path, fog_line(store, tmp_path, "gbk"), cpg=None)
    assert_unchanged_with_note(store, path, "fog_line.shp", "UTF-8", "GBK", encoding="utf-8")


def test_cpg_saying_utf8_over_gbk_text_is_read_as_gbk_and_says_so(store, tmp_path):
    path = layer_zip(tmp_path, fog_line(store, tmp_path, "gbk"), cpg=b"UTF-8")
    assert_unchanged_with_note(store, path, "fog_line.shp", ".cpg", "UTF-8", "GBK")


@pytest.mark.parametrize("encoding, detected", [("gbk", "GBK"), ("utf-8", "UTF-8")])
def test_ansi_language_driver_without_cpg_is_detected(store, tmp_path, encoding, detected):
    files = fog_line(store, tmp_path, encoding)
    path = layer_zip(tmp_path, files, cpg=None, dbf=with_ldid(files[".dbf"], ANSI_LDID))
    assert_unchanged_with_note(store, path, "fog_line.shp", "0x57", detected)


def test_text_no_encoding_can_read_is_refused_naming_the_file(store, tmp_path):
    files = fog_line(store, tmp_path, "utf-8")
    name = store.read("fog")["name"].iloc[0].encode()
    dbf = files[".dbf"].replace(name, b"\xff\xfe" + name[2:], 1)  # 0xFF is no lead byte in any of them
    path = layer_zip(tmp_path, files, dbf=dbf)
    assert_refused(store, path, "fog_line.shp", "UTF-8", "GBK", "GB18030", "无法解码")


def test_csv_in_another_encoding_than_named_is_read_and_says_which(store, tmp_path):
    out = tmp_path / "ledger.csv"
    export(store.read("fog"), "csv", out, store.schema)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(out.read_text(encoding="utf-8-sig").encode("gbk"))
    preview = preview_import(store, gbk, encoding="utf-8")
    assert preview.ok, preview.problems[:3]
    text = "\n".join(preview.warnings)
    assert "gbk.csv" in text and "UTF-8" in text and "GBK" in text, text


# ---------------------------------------------------------------- edits made to the *_patch layer
def dbf_fields(data: bytes) -> dict[str, tuple[int, int]]:
    """Field name -> (offset in a record, width) from a .dbf header."""
    fields, pos, offset = {}, 32, 1  # a record starts with its deletion flag
    while data[pos] != 0x0D:
        name, width = data[pos:pos + 11].split(b"\0")[0].decode("ascii"), data[pos + 16]
        fields[name] = (offset, width)
        offset, pos = offset + width, pos + 32
    return fields


def edit_dbf(data: bytes, code: str, column: str, value: str) -> bytes:
    """Set ``column`` of the record with CODE ``code`` in place, as QGIS or ArcGIS would (UTF-8)."""
    header, size = int.from_bytes(data[8:10], "little"), int.from_bytes(data[10:12], "little")
    fields, out = dbf_fields(data), bytearray(data)
    (code_at, code_width), (at, width) = fields["CODE"], fields[column]
    for start in range(header, len(data) - size + 1, size):
        if out[start + code_at:start + code_at + code_width].decode().strip() == code:
            out[start + at:start + at + width] = value.encode().ljust(width)
            return bytes(out)
    raise KeyError(code)


def edited_export(store, tmp_path, edits: dict[str, dict]) -> Path:
    """Our shapefile export with ``edits`` ({layer: {column: (code, value)}}) made in its .dbf files."""
    out = tmp_path / "export.zip"
    export(store.read(), "shp", out, store.schema)
    with zipfile.ZipFile(out) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    for layer, changes in edits.items():
        for column, (code, value) in changes.items():
            files[f"{layer}.dbf"] = edit_dbf(files[f"{layer}.dbf"], code, column, value)
    return zip_files(tmp_path / "edited.zip", files)


def test_attribute_edits_in_the_patch_layer_are_taken_with_the_rule_stated(store, tmp_path):
    fog = store.read("fog")
    code, old_geometry = fog["code"].iloc[0], fog["source_geometry"].iloc[0]
    path = edited_export(store, tmp_path, {"fog_patch": {"NAME": (code, "面图层中改的名称"), "RECT_STAT": (code, "整改中")}})
    preview = preview_import(store, path)
    assert preview.ok, preview.problems[:3]
    changed = preview.updates.set_index("字段")
    assert set(preview.updates["图斑编号"]) == {code} and set(changed.index) == {"名称", "整改状态"}
    assert changed.at["名称", "新值"] == "面图层中改的名称"
    assert "几何" not in set(changed.index)  # the geometry still comes from the source line
    assert any("fog_patch" in w and "面图层" in w and "几何" in w for w in preview.warnings), preview.warnings
    preview.commit(store, "测试员")
    after = store.read("fog").set_index("code")
    assert after.at[code, "name"] == "面图层中改的名称"
    assert after.at[code, "source_geometry"].equals(old_geometry)


def test_patch_and_line_layers_that_disagree_are_named_in_the_preview(store, tmp_path):
    code = store.read("fog")["code"].iloc[1]
    path = edited_export(store, tmp_path, {"fog_patch": {"NAME": (code, "面图层名称")},
                                           "fog_line": {"NAME": (code, "线图层名称")}})
    preview = preview_import(store, path)
    assert preview.ok, preview.problems[:3]
    assert preview.updates.set_index("字段").at["名称", "新值"] == "面图层名称"
    assert any(code in w and "线图层名称" in w for w in preview.warnings), preview.warnings
