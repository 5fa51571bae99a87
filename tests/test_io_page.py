"""The 导入导出 page through AppTest against a real database: download buttons, upload, preview, confirm."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from conftest import database_dump, page_test
from safetymap.auth import User
from safetymap.filters import PatchFilter
from safetymap.io.export import FORMATS, export
from safetymap.store import open_store


def files_app(db, monkeypatch, name="导入员", role="editor"):
    monkeypatch.setenv("SAFETYMAP_DB", str(db))
    at = page_test("files_page", name, role)
    at.run()
    assert not at.exception, at.exception
    return at


def csv_bytes(db, change=None) -> bytes:
    store = open_store(db)
    buffer = io.BytesIO()
    path = db.parent / "page.csv"
    export(store.read(), "csv", path, store.schema)
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if change:
        change(table)
    table.to_csv(buffer, index=False, encoding="utf-8-sig")
    store.close()
    return buffer.getvalue()


def test_a_download_button_per_format_and_filters(sample_db, monkeypatch):
    at = files_app(sample_db, monkeypatch)
    labels = [b.label for b in at.get("download_button")]
    assert sorted(labels) == sorted(f.label for f in FORMATS.values())
    total = at.metric[0].value
    at.multiselect[1].set_value(["重大"]).run()
    assert not at.exception and 0 < int(at.metric[0].value) < int(total)


def test_upload_preview_and_confirm(sample_db, monkeypatch):
    at = files_app(sample_db, monkeypatch)

    def rename(table):
        table.at[0, "名称"] = "页面导入的新名称"
    data = csv_bytes(sample_db, rename)
    code = pd.read_csv(io.BytesIO(data), dtype=str, encoding="utf-8-sig").at[0, "图斑编号"]
    before = database_dump(sample_db)
    at.file_uploader[0].set_value(("修改.csv", data, "text/csv")).run()
    assert not at.exception, at.exception
    assert any("更新 1 个" in s.value for s in at.success)
    assert database_dump(sample_db) == before  # the preview writes nothing
    confirm = next(b for b in at.button if b.label == "确认导入")
    assert not confirm.disabled
    confirm.click().run()
    assert any("已导入" in s.value for s in at.success)
    record = open_store(sample_db).get(code)
    assert record["name"] == "页面导入的新名称" and record["updated_by"] == "导入员"


def test_a_bad_upload_shows_every_problem_and_cannot_be_confirmed(sample_db, monkeypatch):
    at = files_app(sample_db, monkeypatch)

    def break_it(table):
        table.at[0, "整改时限"] = "2026-02-30"
    at.file_uploader[0].set_value(("坏.csv", csv_bytes(sample_db, break_it), "text/csv")).run()
    assert any("不能导入" in e.value for e in at.error)
    problems = at.dataframe[0].value
    assert list(problems.columns) == ["文件", "行", "字段", "问题"] and problems.iloc[0]["字段"] == "整改时限"
    assert next(b for b in at.button if b.label == "确认导入").disabled


def test_a_viewer_can_neither_import_nor_export(sample_db, monkeypatch):
    at = files_app(sample_db, monkeypatch, name="查看员", role="viewer")
    assert not at.get("download_button") and not at.file_uploader
    assert sum("不能" in i.value for i in at.info) == 2


@pytest.mark.parametrize("fmt, magic", [("shp", b"PK"), ("xlsx", b"PK"), ("gpkg", b"SQLite format 3"), ("csv", b"\xef\xbb\xbf")])
def test_download_data_is_built_on_click(store, fmt, magic):
    from safetymap.ui.files_page import _export_bytes
    data = _export_bytes(store, PatchFilter(), len(store.read()), fmt, {}, User("编辑员", "editor"))()
    assert data.startswith(magic)


def test_the_geojson_download_holds_as_many_features_as_the_page_counts(sample_db, monkeypatch, tmp_path):
    """A fog-only GeoJSON held each patch twice (its polygon and its source line as a second feature);
    the page counts patches and says what the file holds: one polygon per patch."""
    import pyogrio

    from safetymap.ui.files_page import _export_bytes
    at = files_app(sample_db, monkeypatch)
    at.multiselect(key="export_f_category").set_value(["fog"]).run()
    count = int(at.metric[0].value)
    assert 0 < count < len(open_store(sample_db).read())
    assert any(f"每个图斑一个面要素（共 {count} 个）" in c.value for c in at.caption)
    out = tmp_path / "fog.geojson"
    out.write_bytes(_export_bytes(open_store(sample_db), PatchFilter(categories=("fog",)), count, "geojson", {},
                                  User("编辑员", "editor"))())
    got = pyogrio.read_dataframe(out)
    assert len(got) == count and got["图斑编号"].is_unique and (got.geom_type == "Polygon").all()
    assert set(got["类别"]) == {open_store(sample_db).schema.category("fog").label}
