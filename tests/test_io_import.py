"""Import: round trips change nothing; updates and additions are previewed then committed with history;
every bad input is refused with a clear Chinese message naming the problem, and the database is unchanged."""
from __future__ import annotations

import os
import shutil
import zipfile

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook

from conftest import both_backends, database_dump
from io_support import GOOD_LINE, assert_refused, fog_feature, write_geojson, zip_files
from test_import_encodings import edited_export
from safetymap.geo import to_metric
from safetymap.io.export import FORMATS, export
from safetymap.io.batches import _same, _same_columns
from safetymap.io.importer import import_file, preview_import
from safetymap.io.reader import read_file, read_here
from safetymap.io.csv import read_csv_text
from safetymap.io.uploads import UploadLimits, zip_members
from safetymap.seed import SAMPLE_ROUTES
from safetymap.store import open_store

ALL = sorted(FORMATS)
SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def exported(store, tmp_path, fmt, frame=None, **options):
    out = tmp_path / "out" / f"exported{FORMATS[fmt].suffix}"
    export(store.read() if frame is None else frame, fmt, out, store.schema, database=store.path, **options)
    return out


def fog_layer_files(store, tmp_path, encoding="utf-8") -> dict[str, bytes]:
    """The members of the fog source-line shapefile of an export, by suffix."""
    out = exported(store, tmp_path, "shp", encoding=encoding)
    with zipfile.ZipFile(out) as zf:
        return {suffix: zf.read(f"fog_line{suffix}") for suffix in SHP_PARTS}


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("fmt", ALL)
def test_export_then_import_changes_nothing(store, tmp_path, fmt):
    path = exported(store, tmp_path, fmt)
    before = database_dump(store.path)
    preview = preview_import(store, path)
    assert preview.ok, preview.problems[:3]
    assert len(preview.adds) == 0 and preview.n_updated == 0 and preview.unchanged == len(store.read())
    assert preview.commit(store, "测试员") == {"added": 0, "updated": 0}
    assert database_dump(store.path) == before


@pytest.mark.parametrize("fmt", ["shp", "gpkg", "geojson", "kmz", "xlsx", "csv"])
def test_import_into_an_empty_ledger_recreates_it(store, empty_store, tmp_path, fmt):
    empty_store.put_routes(pyogrio.read_dataframe(SAMPLE_ROUTES), "测试员")  # tables place patches by stakes
    frame = store.read()
    import_file(empty_store, exported(store, tmp_path, fmt), "测试员")
    copy = empty_store.read().set_index("code")
    assert sorted(copy.index) == sorted(frame["code"])
    for c in store.schema.categories:
        rows = frame[frame["category"] == c.key].set_index("code")
        for f in c.editable_fields[1:]:  # after the code
            for code, old in rows[f.key].items():
                new = copy.at[code, f.key]
                assert (pd.isna(old) and pd.isna(new)) or old == pytest.approx(new) if isinstance(old, float) \
                    else (pd.isna(old) and pd.isna(new)) or old == new, (code, f.key)
    if fmt in ("shp", "gpkg", "geojson", "kmz"):
        for row in frame.itertuples():
            assert shapely.equals_exact(row.source_geometry, copy.at[row.code, "source_geometry"], 1e-7)
    assert set(empty_store.history()["action"]) == {"import"}


@both_backends
def test_an_import_writes_one_history_row_per_new_patch(sample_db, empty_store, tmp_path):
    """The commit's history rows are made by the database from the source rows just written (one
    INSERT … SELECT, not a row bound per patch): one per new patch, as before, on both backends."""
    source = open_store(sample_db)
    path, codes = exported(source, tmp_path, "gpkg"), sorted(source.read()["code"])
    source.close()
    import_file(empty_store, path, "测试员")
    history, stored = empty_store.history(), empty_store.read().set_index("code")
    assert sorted(history["code"]) == codes and history["code"].is_unique
    assert list(history["category"]) == list(stored["category"].reindex(history["code"]))
    assert set(history["version"]) == {1} and set(history["action"]) == {"import"} and set(history["user"]) == {"测试员"}
    assert history[["field_key", "field_label", "before", "after"]].isna().all().all()
    assert history["at"].nunique() == 1
    assert list(history["id"]) == sorted(history["id"])


def test_a_status_the_hazards_forbid_is_a_problem_row_in_the_preview(store, tmp_path):
    """Issue 12: a file setting 已销号 on a patch with open hazards is refused in the preview, by row."""
    path = exported(store, tmp_path, "xlsx")
    wb = load_workbook(path)
    ws = wb["团雾多发路段"]
    headers = [c.value for c in ws[2]]
    assert ws.cell(row=3, column=1).value == "TW-001"
    ws.cell(row=3, column=headers.index("整改状态") + 1).value = "已销号"
    wb.save(path)
    preview = preview_import(store, path)
    assert not preview.ok
    problem = preview.problems[0]
    assert problem.row == 3 and problem.field == "整改状态"  # the row as Excel numbers it and "TW-001-YH01" in problem.message
    assert store.get("TW-001")["rect_status"] == "待整改"


def test_changes_are_previewed_by_field_then_committed_with_history(store, tmp_path):
    path = exported(store, tmp_path, "xlsx")
    wb = load_workbook(path)
    ws = wb["团雾多发路段"]
    headers = [c.value for c in ws[2]]
    code = ws.cell(row=3, column=1).value
    ws.cell(row=3, column=headers.index("名称") + 1).value = "新名称"
    ws.cell(row=3, column=headers.index("整改状态") + 1).value = "整改中"  # TW-001 has an open hazard
    new_row = [cell.value for cell in ws[4]]
    new_row[0] = "TW-950"
    ws.append(new_row)
    wb.save(path)
    preview = preview_import(store, path)
    assert preview.ok, preview.problems
    assert list(preview.adds["图斑编号"]) == ["TW-950"]
    changed = preview.updates.set_index("字段")
    assert set(changed.index) == {"名称", "整改状态"} and set(changed["图斑编号"]) == {code}
    assert changed.at["名称", "新值"] == "新名称"
    assert preview.commit(store, "导入员") == {"added": 1, "updated": 1}
    record = store.get(code)
    assert record["name"] == "新名称" and record["rect_status"] == "整改中" and record["version"] == 2
    history = store.history(code)
    assert set(history[history["version"] == 2]["action"]) == {"import"}
    assert store.get("TW-950")["updated_by"] == "导入员"


def test_a_file_edited_after_someone_else_saved_is_refused(store, tmp_path):
    path = exported(store, tmp_path, "csv")
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    code = table.at[0, "图斑编号"]
    store.update(code, {"hazard": "现场发现新的隐患"}, 1, "李工")
    table.at[0, "名称"] = "离线修改的名称"
    table.to_csv(path, index=False, encoding="utf-8-sig")
    assert_refused(store, path, "李工", "请重新导出")


def test_gbk_csv_from_excel_and_route_stake_geometry(store, tmp_path):
    table = pd.DataFrame([{"类别": "急弯陡坡路段", "图斑编号": "JW-901", "名称": "G201 急弯", "路线编码": "G201",
                           "起点桩号": "K40+100", "止点桩号": "K40+600", "乡镇": "砟子镇", "可能性L": 4, "后果严重性C": 5,
                           "整改状态": "待整改", "整改时限": "2026/12/31"}])
    path = tmp_path / "新增.csv"
    table.to_csv(path, index=False, encoding="gbk")
    preview = preview_import(store, path)
    assert preview.ok, preview.problems
    assert any("GBK" in w for w in preview.warnings)
    preview.commit(store, "测试员")
    record = store.get("JW-901")
    assert record["risk_grade"] == "重大" and record["name"] == "G201 急弯"
    assert to_metric([record["source_geometry"]])[0].length == pytest.approx(500, abs=1)


def test_csv_with_lon_lat_needs_a_crs(store, tmp_path):
    table = pd.DataFrame([{"类别": "独柱墩桥梁", "图斑编号": "DZ-901", "名称": "测试桥", "路线编码": "X024",
                           "起点桩号": "K3+000", "乡镇": "湾沟镇", "风险等级": "一般", "整改状态": "待整改",
                           "经度": 126.70, "纬度": 42.00}])
    path = tmp_path / "bridge.csv"
    table.to_csv(path, index=False, encoding="utf-8-sig")
    assert_refused(store, path, "没有坐标系", "GCJ-02")
    import_file(store, path, "测试员", crs="4490")
    assert store.get("DZ-901")["source_geometry"].equals(shapely.Point(126.70, 42.00))


def test_projected_file_with_its_crs_is_reprojected(store, tmp_path):
    metric = to_metric([shapely.LineString(GOOD_LINE)])[0]
    path = write_geojson(tmp_path / "m.geojson", [fog_feature([list(c) for c in metric.coords])],
                         crs="urn:ogc:def:crs:EPSG::4551")
    import_file(store, path, "测试员")
    assert shapely.equals_exact(store.get("TW-901")["source_geometry"], shapely.LineString(GOOD_LINE), 1e-7)


def test_gbk_member_names_from_a_chinese_windows_zip_tool(store, tmp_path):
    files = fog_layer_files(store, tmp_path)
    stem, placeholder = "团雾路段", "ABCDEFGH"  # 4 characters are 8 bytes in GBK
    plain = zip_files(tmp_path / "plain.zip", {f"{placeholder}{s}": data for s, data in files.items()})
    path = tmp_path / "windows.zip"
    path.write_bytes(plain.read_bytes().replace(placeholder.encode(), stem.encode("gbk")))
    assert all(not info.flag_bits & 0x800 for info in zipfile.ZipFile(path).infolist())  # no UTF-8 flag
    assert {name for _, name in zip_members(path, path.name)} == {f"{stem}{s}" for s in SHP_PARTS}
    preview = preview_import(store, path, category="团雾多发路段")
    assert preview.ok, preview.problems
    assert preview.unchanged == len(store.read("fog")) and preview.n_updated == 0


def test_gbk_shapefile_with_the_encoding_named_imports_chinese(store, tmp_path):
    files = fog_layer_files(store, tmp_path, encoding="gbk")
    path = zip_files(tmp_path / "gbk.zip", {f"fog_line{s}": d for s, d in files.items() if s != ".cpg"})
    preview = preview_import(store, path, encoding="gbk")
    assert preview.ok and preview.unchanged == len(store.read("fog")) and preview.n_updated == 0


# ---------------------------------------------------------------- bad inputs (a test per case)
def test_corrupt_zip(store, tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip file")
    assert_refused(store, path, "broken.zip", "不是有效的 zip")


def test_truncated_zip(store, tmp_path):
    whole = exported(store, tmp_path, "shp").read_bytes()
    path = tmp_path / "truncated.zip"
    path.write_bytes(whole[: len(whole) // 2])
    assert_refused(store, path, "truncated.zip", "zip")


@pytest.mark.parametrize("member", ["../evil.shp", "data/../../evil.csv", "/etc/evil.csv", "C:\\evil.csv"])
def test_zip_member_outside_the_folder(store, tmp_path, member):
    path = zip_files(tmp_path / "evil.zip", {member: b"x", "ok.csv": b"a,b\n"})
    problems = assert_refused(store, path, member)
    assert any("../" in p.message or "绝对路径" in p.message for p in problems)
    assert not (tmp_path / "evil.shp").exists() and not (tmp_path.parent / "evil.csv").exists()


def test_zip_bomb(store, tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.csv", b"0" * (30 * 1024 * 1024))
    assert path.stat().st_size < 100_000
    assert_refused(store, path, "压缩炸弹")  # default limits: compression ratio
    assert_refused(store, path, "解压后", "压缩炸弹", limits=UploadLimits(max_unpacked=10 * 1024 * 1024, max_ratio=1e9))


def test_too_many_zip_members(store, tmp_path):
    path = zip_files(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(30)})
    assert_refused(store, path, "30 个文件", limits=UploadLimits(max_members=20))


@pytest.mark.parametrize("missing, message", [(".shx", ".shx"), (".dbf", ".dbf")])
def test_shapefile_missing_a_part(store, tmp_path, missing, message):
    files = fog_layer_files(store, tmp_path)
    path = zip_files(tmp_path / "part.zip", {f"fog_line{s}": d for s, d in files.items() if s != missing})
    assert_refused(store, path, "part.zip/fog_line", message)


def test_shapefile_missing_prj_needs_a_crs(store, tmp_path):
    files = fog_layer_files(store, tmp_path)
    path = zip_files(tmp_path / "noprj.zip", {f"fog_line{s}": d for s, d in files.items() if s != ".prj"})
    assert_refused(store, path, "没有坐标系", "--crs")
    assert preview_import(store, path, crs="EPSG:4490").ok


def test_unknown_crs_in_prj(store, tmp_path):
    files = fog_layer_files(store, tmp_path)
    files[".prj"] = b'GEOGCS["nonsense",DATUM["nowhere"]]]'
    path = zip_files(tmp_path / "badprj.zip", {f"fog_line{s}": d for s, d in files.items()})
    assert_refused(store, path, "未知坐标系")


def test_unknown_crs_named_by_the_user(store, tmp_path):
    path = write_geojson(tmp_path / "a.geojson", [fog_feature(GOOD_LINE)])
    assert_refused(store, path, "未知坐标系「EPSG:999999」", crs="EPSG:999999")


def test_projected_metres_presented_as_degrees(store, tmp_path):
    metric = to_metric([shapely.LineString(GOOD_LINE)])[0]
    path = write_geojson(tmp_path / "m.geojson", [fog_feature([list(c) for c in metric.coords])],
                         crs="urn:ogc:def:crs:EPSG::4490")
    assert_refused(store, path, "第 1 行", "几何", "投影坐标")


def test_swapped_lat_lon(store, tmp_path):
    path = write_geojson(tmp_path / "s.geojson", [fog_feature([[y, x] for x, y in GOOD_LINE])])
    assert_refused(store, path, "几何", "颠倒")


def test_outside_the_district(store, tmp_path):
    path = write_geojson(tmp_path / "o.geojson", [fog_feature([[116.40, 39.90], [116.41, 39.91]])])
    assert_refused(store, path, "不在江源区范围内")


def test_self_intersecting_line(store, tmp_path):
    bowtie = [[126.700, 42.000], [126.710, 42.010], [126.710, 42.000], [126.700, 42.010]]
    path = write_geojson(tmp_path / "x.geojson", [fog_feature(bowtie)])
    assert_refused(store, path, "自相交")


def test_empty_geometry(store, tmp_path):
    feature = fog_feature(GOOD_LINE)
    feature["geometry"]["coordinates"] = []
    path = write_geojson(tmp_path / "e.geojson", [feature])
    assert_refused(store, path, "几何为空")


def test_duplicate_codes_in_one_file(store, tmp_path):
    path = write_geojson(tmp_path / "d.geojson", [fog_feature(GOOD_LINE), fog_feature(GOOD_LINE, 名称="另一段")])
    assert_refused(store, path, "TW-901", "出现 2 次", "第 1、2 行")


def test_unknown_category(store, tmp_path):
    path = write_geojson(tmp_path / "c.geojson", [fog_feature(GOOD_LINE, 类别="桥头跳车")])
    assert_refused(store, path, "类别", "未知类别「桥头跳车」")


def test_unknown_grade(store, tmp_path):
    path = write_geojson(tmp_path / "g.geojson", [fog_feature(GOOD_LINE, 风险等级="特大")])
    assert_refused(store, path, "风险等级", "「特大」不在可选值中")


def test_bad_stake(store, tmp_path):
    path = write_geojson(tmp_path / "k.geojson", [fog_feature(GOOD_LINE, 起点桩号="K1+20")])
    assert_refused(store, path, "起点桩号", "K1+20", "格式不对")


def test_end_stake_before_start(store, tmp_path):
    path = write_geojson(tmp_path / "b.geojson", [fog_feature(GOOD_LINE, 起点桩号="K10+500", 止点桩号="K10+000")])
    assert_refused(store, path, "止点桩号", "小于起点桩号")


def test_impossible_date(store, tmp_path):
    path = write_geojson(tmp_path / "t.geojson", [fog_feature(GOOD_LINE, 整改时限="2026-02-30")])
    assert_refused(store, path, "整改时限", "2026-02-30", "不是有效的日期")


def test_gbk_shapefile_without_cpg(store, tmp_path):
    files = fog_layer_files(store, tmp_path, encoding="gbk")
    path = zip_files(tmp_path / "gbk.zip", {f"fog_line{s}": d for s, d in files.items() if s != ".cpg"})
    assert_refused(store, path, "缺少 .cpg", "GBK")


def test_geojson_with_3d_coordinates(store, tmp_path):
    path = write_geojson(tmp_path / "z.geojson", [fog_feature([[x, y, 500.0] for x, y in GOOD_LINE])])
    assert_refused(store, path, "高程")


def test_upload_over_the_size_limit(store, tmp_path):
    path = tmp_path / "huge.geojson"
    with open(path, "wb") as fh:
        fh.truncate(51 * 1024 * 1024)  # sparse: the size is checked before anything is read
    assert_refused(store, path, "huge.geojson", "超过上传上限 50 MB")


def test_polygon_only_file_is_refused(store, tmp_path):
    frame = store.read("fog")
    out = tmp_path / "only_patches.gpkg"
    export(frame, "gpkg", out, store.schema)
    import geopandas as gpd
    patches = pyogrio.read_dataframe(out, layer="团雾多发路段")
    gpd.GeoDataFrame(patches).to_file(tmp_path / "patches.geojson", driver="GeoJSON")
    assert_refused(store, tmp_path / "patches.geojson", "几何类型 Polygon 不可用")


def test_unsupported_file_type(store, tmp_path):
    path = tmp_path / "ledger.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    assert_refused(store, path, "另存为 .xlsx")


def test_the_live_database_itself_is_refused(store, tmp_path):
    assert_refused(store, store.path, "数据库文件本身")


def test_a_zip_is_unpacked_only_into_a_temporary_folder(store, tmp_path):
    path = exported(store, tmp_path, "shp")
    shutil.copy(path, tmp_path / "copy.zip")
    before = set(os.listdir(tmp_path))
    preview_import(store, tmp_path / "copy.zip")
    assert set(os.listdir(tmp_path)) == before


def test_kml_from_another_tool_takes_names_and_asks_for_fields(store, tmp_path):
    kml = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
           '<Placemark><name>新发现的急弯</name><LineString><coordinates>126.700,42.000,0 126.704,42.002,0'
           '</coordinates></LineString></Placemark></Document></kml>')
    path = tmp_path / "ovital.kml"
    path.write_text(kml, encoding="utf-8")
    problems = assert_refused(store, path, "图斑编号", "必填", category="急弯陡坡路段")
    assert not any(p.field == "名称" for p in problems) and not any("高程" in p.message for p in problems)


def test_problem_table_for_the_page(store, tmp_path):
    path = write_geojson(tmp_path / "g.geojson", [fog_feature(GOOD_LINE, 风险等级="特大")])
    table = preview_import(store, path).problem_table()
    assert list(table.columns) == ["文件", "行", "字段", "问题"] and table.iloc[0]["行"] == 1


def test_csv_cells_stay_text(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes("图斑编号,联系电话\nTW-001,04393512345\n".encode("utf-8-sig"))
    frame, used = read_csv_text(path)
    assert used == "utf-8" and frame.iloc[0].tolist() == ["TW-001", "04393512345"]  # the leading zero is kept


def test_texts_cut_to_254_bytes_come_back_whole_from_the_shapefile_zip(store, tmp_path):
    code = store.read("fog")["code"].iloc[0]
    store.update(code, {"hazard": "路面结冰，" * 60}, 1, "测试员")  # 900 bytes in UTF-8
    path = exported(store, tmp_path, "shp")
    preview = preview_import(store, path)
    assert preview.ok and preview.n_updated == 0 and preview.unchanged == len(store.read())


# ---------------------------------------------------------------- the fast paths keep the same answers
def test_the_reader_process_hands_back_the_geometries_it_read(tmp_path):
    """The child process returns each layer's geometries as one WKB array (pickling shapely geometries
    one by one was the slowest part of reading 100,000 patches): read there equals read here, Z and
    missing geometries included."""
    features = [fog_feature(GOOD_LINE), fog_feature([[x, y, 500.0] for x, y in GOOD_LINE], 图斑编号="TW-902"),
                fog_feature(GOOD_LINE, 图斑编号="TW-903") | {"geometry": None}]
    path = write_geojson(tmp_path / "three.geojson", features)
    here = read_here(path, path.name, None, None, UploadLimits())
    there = read_file(path, path.name)
    assert len(here.layers) == len(there.layers) == 1
    a, b = here.layers[0].geometry, there.layers[0].geometry
    assert b[2] is None and a[2] is None
    assert shapely.has_z(b[1]) and all(shapely.equals_exact(x, y, 0) for x, y in zip(a[:2], b[:2]))
    assert here.layers[0].frame.equals(there.layers[0].frame)
    assert list(here.layers[0].frame.dtypes) == list(there.layers[0].frame.dtypes)
    assert here.layers[0].frame.index.equals(there.layers[0].frame.index)


def test_patch_and_source_values_compare_blank_equal_to_blank():
    a = np.array(["甲", None, 1.0, pd.NA, "乙", float("nan")], dtype=object)
    b = np.array(["甲", pd.NA, 1, "丙", "乙 ", None], dtype=object)
    assert _same(a, b).tolist() == [True, True, True, False, False, True]


def test_columns_compared_without_python_objects_agree_with_value_by_value():
    text = pd.Series(["甲", None, "乙"], dtype="str")
    assert _same_columns(text, pd.Series(["甲", None, "乙"], dtype="str"))
    assert not _same_columns(text, pd.Series(["甲", "", "乙"], dtype="str"))  # blank text is not missing
    assert not _same_columns(text, pd.Series(["甲", None, "丙"], dtype="str"))
    dates = pd.Series(pd.to_datetime(["2026-01-01", None])).astype("datetime64[ms]")
    assert _same_columns(dates, dates.copy()) and _same_columns(pd.Series([1.0, np.nan]), pd.Series([1.0, np.nan]))
    assert not _same_columns(pd.Series([1, 2]), pd.Series([1.0, 2.0]))  # other kinds: compared value by value
    assert not _same_columns(text.astype(object), text)


@pytest.mark.parametrize("fmt", ["shp", "xlsx", "gpkg"])
def test_every_layer_read_in_the_child_equals_the_layer_read_here(store, tmp_path, fmt):
    path = exported(store, tmp_path, fmt)
    here = read_here(path, path.name, store.schema, None, UploadLimits())
    there = read_file(path, path.name, store.schema)
    assert [layer.file for layer in here.layers] == [layer.file for layer in there.layers]
    for a, b in zip(here.layers, there.layers):
        assert a.frame.equals(b.frame) and list(a.frame.dtypes) == list(b.frame.dtypes), a.file
        assert a.frame.index.equals(b.frame.index) and list(a.frame.columns) == list(b.frame.columns)
        if a.geometry is None:
            assert b.geometry is None
        else:
            assert all(x is None and y is None or shapely.equals_exact(x, y, 0) for x, y in zip(a.geometry, b.geometry))


def _rezipped(path, out):
    """``path`` written again with the polygon layers' .dbf stored uncompressed (the same bytes unpacked,
    other bytes packed)."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            stored = info.filename.endswith("_patch.dbf")
            dst.writestr(info.filename, src.read(info), compress_type=zipfile.ZIP_STORED if stored else None)
    return out


def _shown(preview):
    return (preview.summary(), preview.problems, preview.warnings, preview.notices, preview.updates, preview.adds,
            {k: (f, list(shapely.to_wkb(g))) for k, (f, g) in preview.new.items()})


def _same_preview(a, b):
    for x, y in zip(_shown(a), _shown(b)):
        if isinstance(x, pd.DataFrame):
            assert x.equals(y) and list(x.dtypes) == list(y.dtypes)
        elif isinstance(x, dict):
            assert x.keys() == y.keys() and all(x[k][0].equals(y[k][0]) and x[k][1] == y[k][1] for k in x)
        else:
            assert x == y


@pytest.mark.parametrize("edit", [None, {"fog_patch": {"NAME": (0, "面图层中改的名称")}}])
def test_a_polygon_layer_repeating_its_source_layer_is_not_read_again(store, empty_store, tmp_path, edit):
    """Our export's polygon layers repeat their source layers' attribute tables: taken from the source
    layer as it was read (not read a second time), with the same preview as reading them."""
    from safetymap.io.patch_twins import twin_sources
    from safetymap.io.reader import _shapefile_parts_in_zip
    if edit:
        code = store.read("fog")["code"].iloc[0]
        path = edited_export(store, tmp_path, {layer: {f: (code, v) for f, (_, v) in cols.items()}
                                               for layer, cols in edit.items()})
    else:
        path = exported(store, tmp_path, "shp")
    in_zip = _shapefile_parts_in_zip(zip_members(path, path.name))
    assert {"fog_line.shp", "fog_line.dbf", "fog_patch.shp"} <= in_zip
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(path).extractall(unpacked)
    twins = twin_sources(path, in_zip, unpacked)
    assert ("fog_patch.shp" in twins) == (edit is None) and twins.get("curve_patch.shp") == "curve_line.shp"
    layers = {layer.name: layer for layer in read_file(path, path.name, store.schema).layers}
    assert layers["curve_patch"].frame is layers["curve_line"].frame  # one frame, not read twice
    assert all(shapely.get_type_id(g) == 3 and g.is_empty for g in layers["curve_patch"].geometry)
    packed_apart = _rezipped(path, tmp_path / "apart.zip")
    assert not twin_sources(packed_apart, _shapefile_parts_in_zip(zip_members(packed_apart, path.name)), unpacked)
    for target in (store, empty_store):
        _same_preview(preview_import(target, path), preview_import(target, packed_apart, name=path.name))


def test_only_shapefiles_with_plain_member_names_are_read_inside_the_zip(store, tmp_path):
    from safetymap.io.reader import _shapefile_parts_in_zip
    files = fog_layer_files(store, tmp_path)
    plain = zip_files(tmp_path / "plain.zip", {f"data/fog_line{s}": d for s, d in files.items()}
                      | {"团雾.shp": files[".shp"], "团雾.shx": files[".shx"], "团雾.dbf": files[".dbf"],
                         "lone.shp": files[".shp"], "lone.dbf": files[".dbf"]})
    assert _shapefile_parts_in_zip(zip_members(plain, plain.name)) == {
        "data/fog_line.shp", "data/fog_line.shx", "data/fog_line.dbf"}
