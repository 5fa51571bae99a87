"""Every export format read back with pyogrio or openpyxl: counts, Chinese text, CRS and every value
equal the database."""
from __future__ import annotations

import datetime as dt
import io
import re
import sqlite3
import zipfile

import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook

from io_support import assert_same_values
from safetymap.errors import ValidationError
from safetymap.io.csv import export_csv
from safetymap.io.excel import SUMMARY_SHEET, TABLE_SHEET
from safetymap.io.export import FORMATS, export, related_tables
from safetymap.filters import filter_patches
from safetymap.io.geojson import SOURCE_WKT_COLUMN
from safetymap.io.geopackage import SOURCE_SUFFIX, TABLE_NAMES
from safetymap.io.kml import kml_color
from safetymap.io.shapefile import GLOSSARY_NAME

TODAY = dt.date(2026, 11, 28)


def by_category(frame, c):
    return frame[frame["category"] == c.key]


def test_shapefile_every_field_equals_the_database(store, tmp_path):
    frame = store.read()
    out = tmp_path / "ledger.zip"
    result = export(frame, "shp", out, store.schema)
    assert result.count == len(frame) and GLOSSARY_NAME in zipfile.ZipFile(out).namelist()
    total = 0
    for c in store.schema.categories:
        expected = by_category(frame, c)
        patch = pyogrio.read_dataframe(f"/vsizip/{out}/{c.key}_patch.shp")
        assert pyogrio.read_info(f"/vsizip/{out}/{c.key}_patch.shp")["crs"] == "EPSG:4490"
        assert_same_values(patch, expected, c, name=lambda f: f.shp)
        total += len(patch)
    assert total == len(frame)


def test_geopackage_layers_tables_crs_and_values(store, tmp_path):
    frame = store.read()
    out = tmp_path / "ledger.gpkg"
    export(frame, "gpkg", out, store.schema, tables=related_tables(store, frame["code"]))
    layers = dict(pyogrio.list_layers(out))
    for c in store.schema.categories:
        expected = by_category(frame, c)
        assert layers[c.label] == "Polygon"
        patch = pyogrio.read_dataframe(out, layer=c.label)
        source = pyogrio.read_dataframe(out, layer=c.label + SOURCE_SUFFIX)
        assert pyogrio.read_info(out, layer=c.label)["crs"] == "EPSG:4490"
        assert_same_values(patch, expected, c)
        assert_same_values(source, expected, c)
        stored = expected.set_index("code")
        for code, geom in zip(source["图斑编号"], source.geometry):
            assert shapely.equals_exact(geom, stored.at[code, "source_geometry"], 1e-9)
        for code, geom in zip(patch["图斑编号"], patch.geometry):
            assert shapely.equals_exact(geom, stored.at[code, "geometry"], 1e-9)
    history = pyogrio.read_dataframe(out, layer=TABLE_NAMES["history"])
    assert len(history) == len(store.history()) and "图斑编号" in history.columns
    fog = pyogrio.read_dataframe(out, layer=TABLE_NAMES["fog_events"])
    assert len(fog) == len(store.fog_events()) > 0
    assert set(fog["图斑编号"]) <= set(frame["code"])
    assert TABLE_NAMES["inspections"] in layers


@pytest.mark.parametrize("rfc7946, crs", [(False, "EPSG:4490"), (True, "EPSG:4326")])
@pytest.mark.parametrize("only", [None, "fog"])
def test_geojson_holds_one_polygon_per_patch_with_its_source_as_wkt(store, tmp_path, rfc7946, crs, only):
    """One layer, one feature per patch (a fog-only export held each patch twice: its polygon and its source
    line as a second feature, 26 features for the 13 patches the page counted)."""
    frame = store.read()
    if only:
        frame = frame[frame["category"] == only]
    out = tmp_path / "ledger.geojson"
    result = export(frame, "geojson", out, store.schema, rfc7946=rfc7946)
    text = out.read_text(encoding="utf-8")
    assert ('"crs"' in text) is not rfc7946 and "团雾多发路段" in text
    assert len(pyogrio.list_layers(out)) == 1
    got = pyogrio.read_dataframe(out, DATE_AS_STRING="YES")  # as the importer reads: GDAL would take 高发时段 "00:00–07:00" for a time
    assert pyogrio.read_info(out)["crs"] == crs
    assert len(got) == result.count == len(frame)
    assert sorted(got["图斑编号"]) == sorted(frame["code"])
    assert (got.geom_type == "Polygon").all()
    for c in store.schema.categories:
        if (frame["category"] == c.key).any():
            assert_same_values(got[got["类别"] == c.label], by_category(frame, c), c)
    stored = frame.set_index("code")
    sources = shapely.from_wkt(got[SOURCE_WKT_COLUMN].to_numpy())
    for code, patch, source in zip(got["图斑编号"], got.geometry, sources):
        assert shapely.equals_exact(source, stored.at[code, "source_geometry"], 1e-7)
        assert shapely.hausdorff_distance(patch, stored.at[code, "geometry"]) < 1e-6  # RFC 7946: 7 decimals, rings turned


@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_kml_placemarks_with_name_description_style_and_values(store, tmp_path, fmt):
    frame = store.read()
    code = frame["code"].iloc[0]
    store.update(code, {"hazard": "<script>alert(1)</script> & ${x}"}, 1, "测试员")
    frame = store.read()
    out = tmp_path / f"ledger.{fmt}"
    export(frame, fmt, out, store.schema)
    path = f"/vsizip/{out}/doc.kml" if fmt == "kmz" else out
    layers = dict(pyogrio.list_layers(path))
    total = 0
    for c in store.schema.categories:
        expected = by_category(frame, c)
        sources = [name for name in layers if name.startswith(c.label + "_")]
        assert sources
        read = {layer: pyogrio.read_dataframe(path, layer=layer) for layer in [c.label, *sources]}  # each read once
        for layer, got in read.items():
            assert got.crs.to_string() == "EPSG:4326", layer
            assert len(set(got.geom_type)) == 1  # one geometry type per placemark and per folder
            assert set(got["code"]) <= set(expected["code"])
        got = read[c.label]
        assert set(got.geom_type) == {"Polygon"}
        total += len(got)
        assert sorted(got["Name"]) == sorted(f"{r.code} {r.name}" for r in expected.itertuples())
        assert_same_values(got.rename(columns={"patch_name": "name"}), expected, c, name=lambda f: f.key)
        assert sum(len(read[s]) for s in sources) == len(expected)
    assert total == len(frame)
    document = zipfile.ZipFile(out).read("doc.kml").decode() if fmt == "kmz" else out.read_text(encoding="utf-8")
    assert "<script>" not in document and "&amp;lt;script&amp;gt;" in document  # escaped in the HTML table
    for g in store.schema.grades:
        assert f"<color>{kml_color(g.color)}</color>" in document


def test_excel_sheets_title_headers_dates_and_values(store, tmp_path):
    frame = store.read()
    out = tmp_path / "ledger.xlsx"
    export(frame, "xlsx", out, store.schema, on=TODAY)
    wb = load_workbook(out)
    assert wb.sheetnames == [SUMMARY_SHEET] + [c.label for c in store.schema.categories] + [TABLE_SHEET]
    summary = wb[SUMMARY_SHEET]
    assert store.schema.meta["bureau"] in summary["A1"].value and "2026-11-28" in summary["A1"].value
    rows = list(summary.iter_rows(min_row=3, values_only=True))
    assert rows[-1][0] == "合计" and rows[-1][1] == len(frame)
    for c in store.schema.categories:
        ws = wb[c.label]
        assert store.schema.meta["bureau"] in ws["A1"].value and c.label in ws["A1"].value
        assert ws.freeze_panes == "A3" and ws.auto_filter.ref.startswith("A2:")
        headers = [cell.value for cell in ws[2]]
        assert headers == [f.label_with_unit for f in c.fields]
        assert all(ws.column_dimensions[col].width >= 8 for col in ("A", "B", "C"))
        body = pd.DataFrame(list(ws.iter_rows(min_row=3, values_only=True)), columns=headers)
        assert_same_values(body, by_category(frame, c), c)
        if "整改时限" not in headers:  # a facility layer has no rectification
            continue
        deadline = headers.index("整改时限") + 1
        cell = next(ws.iter_rows(min_row=3, min_col=deadline, max_col=deadline))[0]
        assert isinstance(cell.value, dt.datetime) and cell.number_format == "yyyy-mm-dd"  # a real Excel date
        updated = headers.index("更新时间") + 1
        stamp = ws.cell(row=3, column=updated).value
        assert isinstance(stamp, dt.datetime) and stamp.tzinfo is None


def test_csv_utf8_with_bom_and_every_value(store, tmp_path):
    frame = store.read()
    out = tmp_path / "ledger.csv"
    export(frame, "csv", out, store.schema)
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    got = pyogrio.read_dataframe(out)
    assert len(got) == len(frame)
    for c in store.schema.categories:
        assert_same_values(got[got["类别"] == c.label], by_category(frame, c), c)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_filtered_export_has_only_the_chosen_patches(store, tmp_path, fmt):
    frame = filter_patches(store.read(), store.schema, category="独柱墩桥梁", grade=["重大", "较大"])
    assert 0 < len(frame) and set(frame["category"]) == {"bridge"} and set(frame["risk_grade"]) <= {"重大", "较大"}
    result = export(frame, fmt, tmp_path / f"part{FORMATS[fmt].suffix}", store.schema)
    assert result.count == len(frame) and result.path.stat().st_size > 0


def test_filters_by_township_route_status_and_overdue(store):
    schema = store.schema
    frame = store.read()
    one = frame.iloc[0]
    part = filter_patches(frame, schema, township=one["township"], route=one["route_code"].lower(),
                          status=one["rect_status"])
    assert one["code"] in set(part["code"]) and (part["township"] == one["township"]).all()
    late = filter_patches(frame, schema, overdue=True, on=TODAY)
    assert (pd.to_datetime(late["rect_deadline"]) < pd.Timestamp(TODAY)).all()
    assert set(late["rect_status"]) <= {"待整改", "整改中"}
    with pytest.raises(ValidationError, match="不是可选值"):
        filter_patches(frame, schema, township="北京")
    with pytest.raises(ValidationError, match="风险等级"):
        filter_patches(frame, schema, grade="特大")


def test_an_empty_selection_is_refused_clearly(store, tmp_path):
    frame = filter_patches(store.read(), store.schema, route="Z999")
    for fmt in FORMATS:
        with pytest.raises(ValidationError, match="没有可导出的图斑"):
            export(frame, fmt, tmp_path / f"x{FORMATS[fmt].suffix}", store.schema)


def test_glossary_csv_in_the_zip_opens_in_excel(store, tmp_path):
    out = tmp_path / "g.zip"
    export(store.read(), "shp", out, store.schema, encoding="gbk")
    glossary = pd.read_csv(io.BytesIO(zipfile.ZipFile(out).read(GLOSSARY_NAME)), encoding="utf-8-sig")
    assert {"短字段名", "字段键", "中文名"} <= set(glossary.columns)
    assert zipfile.ZipFile(out).read("fog_patch.cpg").decode() == "CP936"


def _inside_own_patch(frame, table, lon="中心经度", lat="中心纬度") -> bool:
    patches = frame.set_index("code").geometry
    points = shapely.points(table[lon].astype(float), table[lat].astype(float))
    return all(patches[code].contains(p) for code, p in zip(table["图斑编号"], points))


def test_excel_plain_table_sheet_reads_as_a_gis_table(store, tmp_path):
    frame = store.read()
    out = tmp_path / "ledger.xlsx"
    export(frame, "xlsx", out, store.schema, on=TODAY)
    table = pyogrio.read_dataframe(out, layer=TABLE_SHEET, read_geometry=False)  # GDAL: header in row 1
    assert len(table) == len(frame) and table.columns[0] == "类别"
    assert str(table["中心经度"].dtype) == "float64" and _inside_own_patch(frame, table)
    for c in store.schema.categories:
        assert_same_values(table[table["类别"] == c.label], by_category(frame, c), c)


def test_geopackage_is_version_1_2_with_conformant_dates(store, tmp_path):
    out = tmp_path / "ledger.gpkg"
    export(store.read(), "gpkg", out, store.schema, tables=related_tables(store, store.read()["code"]))
    assert int.from_bytes(out.read_bytes()[60:64], "big") == 10200  # user_version: GeoPackage 1.2.0
    con = sqlite3.connect(out)
    try:
        moments = [v for (v,) in con.execute(f'SELECT "录入时间" FROM "{TABLE_NAMES["fog_events"]}"')]
        days = [v for (v,) in con.execute(f'SELECT "日期" FROM "{TABLE_NAMES["fog_events"]}"')]
        updated = [v for (v,) in con.execute('SELECT "更新时间" FROM "团雾多发路段"')]
    finally:
        con.close()
    assert moments and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", v) for v in moments + updated)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", v) for v in days)


@pytest.mark.parametrize("location", ["centre", "wkt"])
def test_csv_carries_the_patch_place_for_gis(store, tmp_path, location):
    frame = store.read()
    out = tmp_path / "ledger.csv"
    export_csv(frame, out, store.schema, location=location)
    table = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    if location == "centre":
        assert _inside_own_patch(frame, table)
    else:
        patches = frame.set_index("code").geometry
        for code, wkt in zip(table["图斑编号"], table["WKT"]):
            assert shapely.equals_exact(shapely.from_wkt(wkt), patches[code], 1e-7)
