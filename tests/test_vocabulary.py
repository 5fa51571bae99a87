"""The bureau's own vocabulary: route codes, stakes with their prefixes (冠号), and how they are
accepted, normalised and refused."""
import pandas as pd
import pytest

from safetymap import geo
from safetymap.validation import clean_frame

ROUTE_CODES = [("G11", "G11"), ("g 11", "G11"), ("G1112", "G1112"), ("G1", "G1"), ("S1", "S1"), ("S99", "S99"),
               ("G201", "G201"), ("s302", "S302"), ("X024", "X024"), ("X024220605", "X024220605"),
               ("y012 220605", "Y012220605"), ("C101", "C101"), ("Z001", "Z001"), ("G11-03A", "G11-03A"),
               ("g11 - 03b", "G11-03B")]
BAD_ROUTE_CODES = ["Q12", "G", "G0", "G12345", "X24", "X0242206", "X024-03A", "G11-3A", "G11-03J", "高速"]


def _row(**values):
    base = {"code": "TW-001", "name": "测试", "route_code": "G201", "start_stake": "K1+000",
            "township": "湾沟镇", "rect_status": "待整改"}
    return pd.DataFrame([base | values])


def _problems(schema, category="fog", **values):
    return clean_frame(schema.category(category), _row(**values), schema)


@pytest.mark.parametrize("typed, stored", ROUTE_CODES)
def test_route_codes_of_every_kind_are_accepted_and_normalised(schema, typed, stored):
    clean, problems = _problems(schema, route_code=typed)
    assert problems == []
    assert clean["route_code"].iloc[0] == stored


@pytest.mark.parametrize("typed", BAD_ROUTE_CODES)
def test_malformed_route_codes_are_refused_naming_the_expected_form(schema, typed):
    _, problems = _problems(schema, route_code=typed)
    messages = [p.message for p in problems if p.field == "路线编码"]
    assert messages and "G11" in messages[0] and "X024220605" in messages[0], messages


def test_the_route_code_examples_of_the_schema_are_valid(schema):
    f = schema.field("route_code")
    assert len(f.examples) >= 6
    for example in f.examples:
        assert _problems(schema, route_code=example)[1] == []


STAKES = [("K12+350", "K", 12350.0), ("k12+350", "K", 12350.0), ("ZK12+350", "ZK", 12350.0),
          ("YK3+007.5", "YK", 3007.5), ("AK0+125", "AK", 125.0), ("BK1+030", "BK", 1030.0),
          ("HK0+000", "HK", 0.0), (" ak 0 + 125 ", "AK", 125.0)]
BAD_STAKES = ["IK0+125", "ZZK1+000", "K12+1500", "12+350", "AK0+12", "K-1+000", "A0+125"]


@pytest.mark.parametrize("text, prefix, metres", STAKES)
def test_stakes_with_every_prefix_parse_and_format_back(text, prefix, metres):
    assert geo.parse_stake_parts(text) == (prefix, pytest.approx(metres))
    assert geo.parse_stake(text) == pytest.approx(metres)
    assert geo.format_stake(metres, prefix) == text.replace(" ", "").upper().replace("+007.5", "+007.5")


@pytest.mark.parametrize("text", BAD_STAKES)
def test_malformed_stakes_are_refused_naming_the_form(text):
    with pytest.raises(ValueError, match="AK0\\+125"):
        geo.parse_stake(text)


@pytest.mark.parametrize("text, prefix, metres", STAKES)
def test_a_stake_prefix_is_kept_by_validation(schema, text, prefix, metres):
    clean, problems = _problems(schema, start_stake=text, end_stake=f"{prefix}99+000")
    assert problems == []
    assert clean["start_stake"].iloc[0] == pytest.approx(metres)
    assert clean["stake_prefix"].iloc[0] == prefix


def test_stakes_of_two_chains_in_one_patch_are_refused(schema):
    _, problems = _problems(schema, start_stake="AK0+100", end_stake="BK0+300")
    assert [p.field for p in problems] == ["止点桩号"] and "冠号" in problems[0].message


def test_a_stake_without_prefix_is_on_the_main_line(schema):
    clean, problems = _problems(schema, start_stake=1200.0)
    assert problems == [] and clean["stake_prefix"].iloc[0] == "K"


@pytest.mark.parametrize("text", BAD_STAKES)
def test_malformed_stakes_are_refused_by_validation(schema, text):
    _, problems = _problems(schema, start_stake=text)
    assert [p.field for p in problems] == ["起点桩号"] and "AK0+125" in problems[0].message


def test_stake_columns_are_formatted_with_their_prefix():
    out = geo.format_stake_column([125.0, 12350.0, None], ["AK", None, "ZK"])
    assert list(out) == ["AK0+125", "K12+350", None]
    assert geo.format_stakes(100.0, 300.0, "BK") == "BK0+100–BK0+300"


def test_changing_only_the_chain_of_a_stake_in_a_form_is_a_change(schema):
    from safetymap.editing import changed_values
    fields = schema.category("bridge").editable_fields
    base = {"start_stake": 125.0, "end_stake": 125.0, "stake_prefix": "AK"}
    assert changed_values(fields, base, {"start_stake": "AK0+125"}) == {}
    assert changed_values(fields, base, {"start_stake": "BK0+125"}) == {"start_stake": "BK0+125"}


def test_ledger_and_exports_show_the_stake_with_its_prefix(schema):
    from safetymap.io.tables import labelled
    from safetymap.ledger import ledger_table
    frame = pd.DataFrame({"code": ["DZ-001"], "category": ["bridge"], "start_stake": [125.0], "end_stake": [300.0],
                          "stake_prefix": ["AK"], "rect_status": ["待整改"], "rect_deadline": [None]})
    assert ledger_table(frame, schema)["起点桩号"].iloc[0] == "AK0+125"
    assert labelled(schema.category("bridge"), frame, "text")["止点桩号"].iloc[0] == "AK0+300"


HOURS = "00:00–07:00"


def test_sample_texts_are_read_as_text_not_as_times():
    from safetymap.seed import read_sample_segments
    hours = read_sample_segments()["fog_peak_hours"].dropna()
    assert HOURS in set(hours) and all(isinstance(v, str) and "–" in v for v in hours)


def test_peak_hours_kept_as_typed_through_load_edit_every_export_and_reimport(store, tmp_path):
    from safetymap.io.export import FORMATS, export
    from safetymap.io.importer import preview_import
    frame = store.read()
    fog = frame[frame["category"] == "fog"]
    assert HOURS in set(fog["fog_peak_hours"])
    code = fog["code"].iloc[0]
    record = store.get(code)
    store.update(code, {"fog_peak_hours": "05:30–08:00"}, record["version"], "测试")
    assert store.get(code)["fog_peak_hours"] == "05:30–08:00"
    frame = store.read()
    fog = frame[frame["category"] == "fog"]
    for fmt in sorted(FORMATS):
        out = export(fog, fmt, tmp_path / f"out{FORMATS[fmt].suffix}", store.schema).path
        if FORMATS[fmt].reader is None:
            continue
        preview = preview_import(store, out)
        changed = preview.updates
        assert not len(changed) or "高发时段" not in set(changed.iloc[:, 1].astype(str)), (fmt, changed)
        assert preview.unchanged == len(fog), (fmt, preview.problems, changed)


def test_the_route_table_has_grade_and_maintenance_unit_also_in_an_older_ledger(tmp_path):
    import shutil
    from pathlib import Path
    from safetymap.store import open_store
    old = tmp_path / "release1.gpkg"
    shutil.copy(Path(__file__).parent / "fixtures" / "release1_sample.gpkg", old)
    store = open_store(old)
    routes = store.routes()
    assert {"tech_grade", "maint_unit"} <= set(routes.columns) and len(routes)
    one = routes.iloc[[0]].assign(tech_grade="二级", maint_unit="公路事业发展中心")
    store.put_routes(one, "测试")
    again = store.routes().set_index("route_code").loc[one["route_code"].iloc[0]]
    assert (again["tech_grade"], again["maint_unit"]) == ("二级", "公路事业发展中心")


def test_the_sample_routes_carry_grade_and_unit(store):
    routes = store.routes()
    assert routes["tech_grade"].notna().all() and routes["maint_unit"].notna().all()


def test_route_facts_come_from_the_route_table_when_left_blank(store):
    from safetymap.editing import route_label, with_route_facts
    routes = store.routes()
    filled = with_route_facts(routes, {"route_code": "x047", "tech_grade": None})
    assert filled["tech_grade"] == "四级" and filled["maint_unit"] == "大阳岔镇人民政府"
    assert filled["route_name"].startswith("大阳岔—葫芦线")
    kept = with_route_facts(routes, {"route_code": "X047", "maint_unit": "交投公司"})
    assert kept["maint_unit"] == "交投公司"
    assert with_route_facts(routes, {"route_code": "Y999"}) == {"route_code": "Y999"}
    label = route_label(routes.set_index("route_code", drop=False).loc["G201"])
    assert label.startswith("G201") and "二级" in label and "公路事业发展中心" in label


def test_a_ramp_bridge_is_stored_with_its_chain_and_kept_by_a_later_edit(store):
    from safetymap.ledger import ledger_table
    bridge = store.get("DZ-002")
    values = {"code": "DZ-901", "name": "匝道桥", "route_code": "g11 - 03a", "start_stake": "ak0+125",
              "end_stake": "AK0+125", "township": bridge["township"], "rect_status": "待整改",
              "risk_grade": "一般", "grade_method": "直接判定", "grade_basis": "测试"}
    store.insert("bridge", values, bridge["source_geometry"], "测试")
    saved = store.get("DZ-901")
    assert (saved["route_code"], saved["stake_prefix"], saved["start_stake"]) == ("G11-03A", "AK", 125.0)
    store.update("DZ-901", {"name": "匝道桥二"}, saved["version"], "测试")
    assert store.get("DZ-901")["stake_prefix"] == "AK"  # an edit of another field keeps the chain
    table = ledger_table(store.read(), store.schema).set_index("图斑编号")
    assert table.loc["DZ-901", "起点桩号"] == "AK0+125"


# ---------------------------------------------------------------- township governments only on 乡道/村道
TOWNSHIP_UNITS = {"resp_unit": "湾沟镇人民政府", "lead_unit": "湾沟镇人民政府",
                  "coop_units": "公路事业发展中心、江源街道办事处"}


@pytest.mark.parametrize("route", ["Y012", "C101", "Y012220605"])
def test_township_governments_are_units_of_township_and_village_roads(schema, route):
    _, problems = _problems(schema, route_code=route, **TOWNSHIP_UNITS)
    assert problems == []


@pytest.mark.parametrize("route", ["X024", "G201", "S1", "Z001"])
def test_township_governments_are_refused_as_units_elsewhere_naming_the_rule(schema, route):
    _, problems = _problems(schema, route_code=route, **TOWNSHIP_UNITS)
    assert [(p.field, p.row) for p in problems] == [("责任单位", 1), ("牵头单位", 1), ("配合单位", 1)]
    assert all("乡道、村道" in p.message and route in p.message for p in problems), problems
    assert "江源街道办事处" in problems[2].message and "公路事业发展中心" not in problems[2].message
    _, problems = _problems(schema, route_code=route, resp_unit="工程科", lead_unit="交投公司")
    assert problems == []  # the district's own units lead any road


def test_the_rule_is_declared_once_in_the_schema(schema):
    rule = schema.township_unit_rule
    assert rule.route_prefixes == ("Y", "C") and set(rule.fields) == {"resp_unit", "lead_unit", "coop_units"}
    assert "湾沟镇人民政府" in rule.units and "江源街道办事处" in rule.units and "工程科" not in rule.units


def test_the_form_refuses_moving_a_township_led_patch_to_a_county_road(schema):
    from safetymap.editing import check_changes
    base = _row(route_code="Y012", **TOWNSHIP_UNITS).iloc[0].to_dict()
    assert check_changes(schema.category("fog"), schema, base, {"name": "改名"}) == []
    problems = check_changes(schema.category("fog"), schema, base, {"route_code": "X024"})
    assert {p.field for p in problems} == {"责任单位", "牵头单位", "配合单位"}


def test_the_store_refuses_a_township_government_on_a_county_road_and_writes_nothing(store):
    from safetymap.errors import ValidationError
    donor = store.get(store.read("fog")["code"].iloc[0])
    before = len(store.history())
    values = {"code": "TW-902", "name": "县道测试", "route_code": "X024", "start_stake": "K1+000",
              "township": "湾沟镇", "rect_status": "待整改", "risk_grade": "一般", "grade_method": "直接判定",
              "grade_basis": "测试", "resp_unit": "湾沟镇人民政府"}
    with pytest.raises(ValidationError, match="乡道、村道"):
        store.insert("fog", values, donor["source_geometry"], "测试")
    assert "TW-902" not in store.codes() and len(store.history()) == before
    saved = store.insert("fog", values | {"route_code": "Y012"}, donor["source_geometry"], "测试")
    with pytest.raises(ValidationError, match="责任单位"):
        store.update("TW-902", {"route_code": "X024"}, saved["version"], "测试")
    assert store.get("TW-902")["route_code"] == "Y012"


def test_an_import_preview_names_file_row_and_field_of_a_township_on_a_county_road(store, tmp_path):
    from safetymap.io.export import export
    from safetymap.io.importer import preview_import
    frame = store.read("fog").iloc[:3].copy()
    frame["resp_unit"] = ["工程科", "湾沟镇人民政府", "工程科"]
    frame["route_code"] = ["G201", "X024", "G201"]
    path = tmp_path / "县道.csv"
    export(frame, "csv", path, store.schema)
    preview = preview_import(store, path)
    ours = [p for p in preview.problems if "乡道、村道" in p.message]
    assert [(p.file, p.row, p.field) for p in ours] == [("县道.csv", 3, "责任单位")], preview.problems[:5]  # line 3
    assert not preview.ok
