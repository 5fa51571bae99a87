"""Shapefile and CSV encodings on import: a wrong declaration (the user's, a .cpg's) or none (ArcGIS's
"ANSI" language driver 0x57 without a .cpg) is detected by trying the declared encoding, then GBK /
GB18030, then UTF-8; the preview says which one worked, and what no encoding can read is refused with a
Chinese message naming the file. Never a pyarrow crash, never Latin-1 garbage."""
from __future__ import annotations

import zipfile

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


def layer_zip(tmp_path, files: dict[str, bytes], name="layer.zip", **replace) -> "Path":
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
