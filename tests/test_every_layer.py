"""Every category and facility layer of the schema appears everywhere — the map legend, the layer
control, the filters, every export format, the statistics and the report (page and workbook) — with
no code naming a layer: the layers are counted from the schema."""
import datetime as dt
import re

import openpyxl
import pandas as pd
import pytest

from safetymap import mapview, report, report_files, stats
from safetymap.schema import DEFAULT_SCHEMA_PATH, load_schema
from safetymap.seed import init_database
from safetymap.filters import filter_patches
from safetymap.io.export import FORMATS, export
from safetymap.io.importer import preview_import
from safetymap.validation import clean_frame


def test_the_schema_declares_risk_and_facility_layers(schema):
    facilities = [c for c in schema.categories if c.is_facility]
    assert len(schema.risk_categories) >= 9 and len(facilities) >= 3
    for c in facilities:
        assert not {"risk_grade", "likelihood", "rect_status", "five_in_place"} & set(c.keys), c.key
        assert c.symbol and "Point" in c.geometry


def test_every_layer_is_in_the_legend_and_the_layer_control(store):
    schema, frame = store.schema, store.read()
    legend = mapview.legend_html(schema)
    groups = mapview.patch_groups(frame, schema)
    names = [g.layer_name for g in groups if g.control]
    for c in schema.categories:
        assert c.label in legend
        assert sum(c.label in name for name in names) == 1, c.label
    assert mapview.FACILITY_HEADING in legend and schema.ungraded_label in legend


def test_every_layer_can_be_filtered_and_has_sample_patches(store):
    frame = store.read()
    for c in store.schema.categories:
        for name in (c.key, c.label):
            part = filter_patches(frame, store.schema, category=name)
            assert len(part) > 0 and set(part["category"]) == {c.key}, name


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_layer_goes_out_in_every_format_and_back(store, tmp_path, fmt):
    frame = store.read()
    out = export(frame, fmt, tmp_path / f"all{FORMATS[fmt].suffix}", store.schema).path
    assert out.stat().st_size > 0
    if FORMATS[fmt].reader is None:
        return
    preview = preview_import(store, out)
    assert not preview.problems, preview.problem_table().head()
    assert preview.unchanged == len(frame) and not len(preview.updates), preview.updates.head()


def test_statistics_count_risks_by_layer_and_facilities_apart(store):
    schema = store.schema
    data = stats.load(store)
    counts = stats.category_grade(data.patches, schema).set_index(stats.CATEGORY)
    assert [c.label for c in schema.risk_categories] == list(counts.index[:-1])
    every = store.read()
    for c in schema.risk_categories:
        assert counts.loc[c.label, stats.TOTAL] == (every["category"] == c.key).sum() > 0
    facilities = stats.facility_counts(data.all_patches, schema).set_index(stats.CATEGORY)
    for c in schema.categories:
        if c.is_facility:
            assert facilities.loc[c.label, stats.TOTAL] == (every["category"] == c.key).sum() > 0
    assert not set(data.patches["category"]) & set(schema.facility_keys)


def test_a_facility_point_needs_no_grade_and_refuses_risk_fields(schema):
    camera = schema.category("camera")
    raw = pd.DataFrame([{"code": "SP-101", "name": "测试监控点", "route_code": "X024", "start_stake": "K3+000",
                         "township": "湾沟镇", "device_code": "SP101", "run_status": "正常"}])
    clean, problems = clean_frame(camera, raw, schema)
    assert problems == [] and clean["run_status"].iloc[0] == "正常"
    _, problems = clean_frame(camera, raw.assign(risk_grade="重大"), schema)
    assert [p.field for p in problems] == ["risk_grade"]


def test_shared_blocks_are_declared_once_and_reused(schema):
    bridges = [c for c in schema.categories if "bridge_code" in c.keys]
    assert len(bridges) >= 3
    first = bridges[0].field("center_stake")
    assert all(c.field("center_stake") is first for c in bridges)  # the same declaration, not a copy
    assert schema.category("tunnel").field("tech_class") is bridges[0].field("tech_class")


def test_townships_are_units_and_villages_belong_to_their_township(schema):
    fog = schema.category("fog")
    base = {"code": "TW-901", "name": "测试", "route_code": "Y012", "start_stake": "K1+000", "rect_status": "待整改",
            "township": "湾沟镇", "resp_unit": "湾沟镇人民政府", "lead_unit": "湾沟镇人民政府",
            "coop_units": "公路事业发展中心、江源街道办事处", "tech_grade": "四级", "remarks": "备注文字"}
    village = next(v for v, towns in schema.parents.items() if "湾沟镇" in towns)
    elsewhere = next(v for v, towns in schema.parents.items() if "湾沟镇" not in towns)
    clean, problems = clean_frame(fog, pd.DataFrame([base | {"village": village}]), schema)
    assert problems == [] and clean["village"].iloc[0] == village
    _, problems = clean_frame(fog, pd.DataFrame([base | {"village": elsewhere}]), schema)
    assert [p.field for p in problems] == ["所在行政村"] and "湾沟镇" in problems[0].message
    _, problems = clean_frame(fog, pd.DataFrame([base | {"tech_grade": "五级"}]), schema)
    assert [p.field for p in problems] == ["技术等级"] and "等外" in problems[0].message
    assert len(schema.field("village").values) == 91


# ---------------------------------------------------------------- the report
RISK_TABLE, FACILITY_TABLE = "分类分级图斑数", "设施点位统计"


def page_rows(page: str, title: str) -> list[str]:
    """The first cell of each row of the page's table titled ``title``."""
    table = re.search(rf'<table[^>]*data-title="{re.escape(title)}"[^>]*>(.*?)</table>', page, re.S).group(1)
    return re.findall(r"<tr[^>]*><td[^>]*>([^<]*)</td>", table)


def sheet_rows(path, title: str) -> list[str]:
    ws = openpyxl.load_workbook(path)[title]
    return [row[0] for row in ws.iter_rows(min_row=report_files.HEADER_ROW + 1, values_only=True)]


def assert_every_layer_in_the_report(store, tmp_path):
    """Risk layers in the category × grade table, facility layers in theirs, each counted, none mixed."""
    schema, every = store.schema, store.read()
    built = report.build_report(store, stats.Period.month(2026, 11), dt.date(2026, 11, 28))
    page = report_files.save(built, tmp_path / "月报.html").read_text(encoding="utf-8")
    book = report_files.save(built, tmp_path / "月报.xlsx")
    risks = [c.label for c in schema.risk_categories]
    facilities = [c.label for c in schema.categories if c.is_facility]
    for rows in (page_rows(page, RISK_TABLE), sheet_rows(book, RISK_TABLE)):
        assert rows == [*risks, stats.TOTAL]
    for rows in (page_rows(page, FACILITY_TABLE), sheet_rows(book, FACILITY_TABLE)):
        assert rows == [*facilities, stats.TOTAL]
    tables = {t.title: t.frame.set_index(t.frame.columns[0]) for t in built.tables}
    for c in schema.categories:
        count = int((every["category"] == c.key).sum())
        assert count > 0, c.label
        assert tables[FACILITY_TABLE if c.is_facility else RISK_TABLE].loc[c.label, stats.TOTAL] == count, c.label


def test_every_layer_is_in_the_report_page_and_workbook(store, tmp_path):
    assert_every_layer_in_the_report(store, tmp_path)


def test_renamed_layers_are_in_the_report_under_their_new_names(tmp_path, monkeypatch):
    """No code names a layer: every layer renamed in a copy of the schema shows under its new name."""
    text = DEFAULT_SCHEMA_PATH.read_text(encoding="utf-8")
    for c in load_schema().categories:
        assert text.count(f'label = "{c.label}"') == 1, c.label
        text = text.replace(f'label = "{c.label}"', f'label = "{c.label}（改）"')
    path = tmp_path / "schema.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("SAFETYMAP_SCHEMA", str(path))
    schema = load_schema()
    assert all(c.label.endswith("（改）") for c in schema.categories)
    store = init_database(tmp_path / "renamed.gpkg", sample=True, schema=schema)
    try:
        assert_every_layer_in_the_report(store, tmp_path)
    finally:
        store.close()
