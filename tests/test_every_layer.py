"""Every category and facility layer of the schema appears everywhere — the map legend, the layer
control, the filters, every export format and the statistics — with no code naming a layer: the
layers are counted from the schema."""
import pandas as pd
import pytest

from safetymap import mapview, stats
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
