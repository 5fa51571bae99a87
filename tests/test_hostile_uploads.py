"""Hostile uploads (issue 15, findings 2 and 3): each ends within its limit in a Chinese message naming
the file and the cause, nothing is written, and the server keeps serving other sessions meanwhile."""
from __future__ import annotations

import threading
import time
import tracemalloc

import pyogrio
import pytest

from conftest import database_dump
from hostile_files import (ENDLESS_VIEW, duplicate_code_csv, handmade_xlsx, nested_kml, plain_gpkg,
                           recursive_view_gpkg, row_xml, trigger_gpkg)
from safetymap.errors import ImportRefused
from safetymap.io.importer import MAX_PROBLEMS, preview_import
from safetymap.io.sandbox import run_bounded
from safetymap.io.uploads import MB, UploadLimits
from safetymap.store import open_store

pytestmark = pytest.mark.timeout(60)


def messages(preview) -> str:
    return "\n".join(str(p) for p in preview.problems)


# ---------------------------------------------------------------- the reading process
def test_a_read_that_never_ends_is_stopped_at_the_time_limit():
    start = time.monotonic()
    with pytest.raises(ImportRefused, match="文件 慢.gpkg：读取超时（超过 2 秒），已停止"):
        run_bounded(time.sleep, 30, name="慢.gpkg", seconds=2, memory=512 * MB)
    assert time.monotonic() - start < 15


def test_a_read_that_takes_too_much_memory_is_stopped():
    with pytest.raises(ImportRefused, match="文件 大.xlsx：.*内存超限"):
        run_bounded(bytearray, 4096 * MB, name="大.xlsx", seconds=30, memory=256 * MB)


def test_gdal_spinning_on_a_recursive_view_is_killed_by_the_time_limit(tmp_path):
    """The check below keeps such a file from GDAL; if anything like it gets through, the limit holds."""
    path = recursive_view_gpkg(tmp_path / "视图.gpkg")
    with pytest.raises(ImportRefused, match="读取超时"):
        run_bounded(pyogrio.read_info, path, layer=ENDLESS_VIEW, name="视图.gpkg", seconds=3, memory=1024 * MB)


def test_the_reading_process_returns_the_frames(store, tmp_path):
    path = plain_gpkg(tmp_path / "正常.gpkg")
    preview = preview_import(store, path)
    assert "几何" in messages(preview) or preview.n_added == 1  # read and checked (geometry may be off-route)


# ---------------------------------------------------------------- GeoPackages
def test_a_geopackage_with_a_recursive_view_is_refused_before_gdal_opens_it(store, tmp_path):
    path = recursive_view_gpkg(tmp_path / "视图.gpkg")
    before = database_dump(store.path)
    start = time.monotonic()
    preview = preview_import(store, path)
    assert time.monotonic() - start < 30
    assert f"文件 视图.gpkg：GeoPackage 含有视图「{ENDLESS_VIEW}」" in messages(preview)
    assert database_dump(store.path) == before


def test_a_geopackage_with_its_own_trigger_is_refused(store, tmp_path):
    preview = preview_import(store, trigger_gpkg(tmp_path / "触发器.gpkg"))
    assert "含有触发器「sneaky」" in messages(preview)


def test_our_own_geopackage_export_is_not_refused(store, tmp_path):
    from safetymap.io.export import export
    out = tmp_path / "导出.gpkg"
    export(store.read(), "gpkg", out, store.schema)
    assert preview_import(store, out).ok


# ---------------------------------------------------------------- KML and Excel
def test_deeply_nested_kml_is_refused_not_a_recursion_error(store, tmp_path):
    path = tmp_path / "嵌套.kml"
    path.write_bytes(nested_kml(5000))
    preview = preview_import(store, path)
    assert "嵌套超过 32 层" in messages(preview)


def test_kml_nested_within_the_bound_is_read(store, tmp_path):
    path = tmp_path / "浅嵌套.kml"
    path.write_bytes(nested_kml(3))
    assert "嵌套超过" not in messages(preview_import(store, path))


def test_xlsx_without_dimension_and_rows_wider_than_the_header(store, tmp_path):
    rows = [row_xml(["类别", "图斑编号", "名称"]),
            row_xml(["团雾多发路段", "TW-901", "宽行", "多余1", "多余2"])]
    path = handmade_xlsx(tmp_path / "宽行.xlsx", rows)
    preview = preview_import(store, path)  # no ValueError
    assert "列4" in " ".join(preview.warnings) and "多余" not in messages(preview)


def test_a_sheet_over_the_row_limit_is_refused_while_streaming(store, tmp_path):
    header = row_xml(["类别", "图斑编号", *[f"列{i}" for i in range(58)]])
    body = row_xml(["团雾多发路段", "TW-901", *range(58)])
    path = handmade_xlsx(tmp_path / "大表.xlsx", [header, *[body] * 5000])
    limits = UploadLimits(max_rows=1000)
    start = time.monotonic()
    preview = preview_import(store, path, limits=limits)
    assert time.monotonic() - start < 30
    assert "工作表「团雾多发路段」超过 1000 行的上限" in messages(preview)


def test_a_sheet_over_the_column_limit_is_refused(store, tmp_path):
    path = handmade_xlsx(tmp_path / "宽表.xlsx", [row_xml(["类别", "图斑编号", *range(300)])])
    assert "超过 200 列的上限" in messages(preview_import(store, path))


# ---------------------------------------------------------------- bounded problem lists
def test_ten_thousand_rows_sharing_a_code_stay_linear(store, tmp_path):
    path = duplicate_code_csv(store, tmp_path / "重复.csv", 10_000)
    tracemalloc.start()
    try:
        preview = preview_import(store, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * MB, f"{peak / MB:.0f} MB"
    dupes = [p for p in preview.problems if "出现" in p.message]
    assert len(dupes) == 1
    assert "编号「TW-900」在文件中出现 10000 次（第 2、3、4" in dupes[0].message
    assert "…" in dupes[0].message and len(dupes[0].message) < 300


def test_a_long_problem_list_is_capped_with_the_rest_counted(store, tmp_path):
    path = duplicate_code_csv(store, tmp_path / "等级.csv", 3000)
    text = path.read_text(encoding="utf-8-sig").splitlines()
    header = text[0].split(",")
    column = header.index("风险等级")
    rows = [line.split(",") for line in text[1:]]
    for i, row in enumerate(rows):
        row[header.index("图斑编号")] = f"TW-9{i:04d}"
        row[column] = "超大"
    path.write_text("\n".join([text[0], *(",".join(r) for r in rows)]), encoding="utf-8-sig")
    preview = preview_import(store, path)
    assert len(preview.problems) == MAX_PROBLEMS + 1
    assert preview.problems[-1].message.startswith("另有 ") and "处问题" in preview.problems[-1].message
    assert f"发现 {preview.n_problems} 处问题" in preview.summary() and preview.n_problems >= 3000


# ---------------------------------------------------------------- other sessions are served
def test_other_sessions_are_served_while_a_hostile_read_runs(sample_db, tmp_path):
    path = recursive_view_gpkg(tmp_path / "视图.gpkg")
    outcome = {}

    def hostile():
        try:
            run_bounded(pyogrio.read_info, path, layer=ENDLESS_VIEW, name="视图.gpkg", seconds=8, memory=1024 * MB)
        except ImportRefused as exc:
            outcome["message"] = str(exc)

    worker = threading.Thread(target=hostile)
    worker.start()
    time.sleep(1.0)
    start = time.monotonic()
    other = open_store(sample_db)
    try:
        assert len(other.read()) > 0
    finally:
        other.close()
    served_in = time.monotonic() - start
    assert worker.is_alive(), "the hostile read should still be running"
    worker.join(30)
    assert served_in < 5, f"another session waited {served_in:.1f} s"
    assert "读取超时（超过 8 秒）" in outcome["message"]
