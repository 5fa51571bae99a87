import re
import tomllib

import pandas as pd
import pyogrio
import pytest
import shapely

from safetymap.io.shapefile import export_shapefile
from safetymap.schema import DEFAULT_SCHEMA_PATH, load_schema
from safetymap.seed import init_database
from safetymap.validation import clean_frame

FIVE = ["团雾多发路段", "独柱墩桥梁", "急弯陡坡路段", "临水临崖路段", "长大下坡路段"]
MORE = ["危桥", "上跨铁路及干线桥梁", "隧道", "地质灾害路段"]
FACILITIES = ["视频监控点", "雾区诱导设施", "应急物资储备点"]


def test_the_plan_s_categories_facility_layers_four_grades_and_the_matrix(schema):
    assert [c.label for c in schema.categories] == FIVE + MORE + FACILITIES
    assert [c.label for c in schema.categories if c.is_facility] == FACILITIES
    assert {g.label: g.color for g in schema.grades} == {"重大": "#E60012", "较大": "#FF8C00", "一般": "#FFD700", "较小": "#0070C0"}
    assert schema.grade_from_matrix(5, 5) == "重大" and schema.grade_from_matrix(1, 1) == "较小"


def test_every_field_has_a_short_ascii_shapefile_name_unique_in_its_layer(schema):
    for c in schema.categories:
        names = [f.shp.upper() for f in c.fields]
        assert len(names) == len(set(names)), c.key
        assert all(re.fullmatch(r"[A-Z][A-Z0-9_]{0,9}", n) for n in names), names
        assert all(f.label for f in c.fields)


def test_validation_reports_every_problem_by_chinese_label(schema):
    raw = pd.DataFrame([{"code": "TW-001", "name": "", "route_code": "Q12", "start_stake": "K1+20",
                         "township": "北京", "risk_grade": "特大", "likelihood": "高", "rect_status": "待整改",
                         "rect_deadline": "2026-02-30"}])
    _, problems = clean_frame(schema.category("fog"), raw, schema)
    fields = {p.field for p in problems}
    assert {"名称", "路线编码", "起点桩号", "乡镇", "风险等级", "可能性L", "整改时限"} <= fields
    assert all(p.row == 1 for p in problems)


def test_a_category_added_to_the_schema_file_appears_everywhere(tmp_path, monkeypatch):
    data = tomllib.loads(DEFAULT_SCHEMA_PATH.read_text(encoding="utf-8"))
    text = DEFAULT_SCHEMA_PATH.read_text(encoding="utf-8") + """
[[categories]]
key = "culvert"
label = "涵洞"
code_prefix = "HD"
geometry = ["LineString"]
buffer_m = 20
outline = "#000000"
  [[categories.fields]]
  key = "tunnel_length_m"
  label = "涵洞长度"
  type = "float"
  unit = "m"
  shp = "TUN_LEN"
"""
    path = tmp_path / "schema.toml"
    path.write_text(text, encoding="utf-8")
    assert "culvert" not in [c["key"] for c in data["categories"]]
    schema = load_schema(path)
    assert schema.category("涵洞").key == "culvert"
    store = init_database(tmp_path / "t.gpkg", sample=False, schema=schema)
    line = shapely.LineString([(126.70, 42.00), (126.705, 42.002)])
    store.insert("culvert", {"code": "SD-001", "name": "示例涵洞", "route_code": "X024", "start_stake": "K3+000",
                            "end_stake": "K3+450", "township": "湾沟镇", "risk_grade": "一般", "rect_status": "待整改",
                            "tunnel_length_m": 450}, line, "tester")
    layers = dict(pyogrio.list_layers(store.path))
    assert layers["patch_culvert"] == "Polygon"
    assert store.get("SD-001")["tunnel_length_m"] == 450
    result = export_shapefile(store.read(), tmp_path / "out.zip", schema)
    assert "culvert_patch" in result.layers
    table = pyogrio.read_dataframe(f"/vsizip/{tmp_path / 'out.zip'}/culvert_patch.shp")
    assert table["TUN_LEN"].tolist() == [450]


def test_schema_errors_name_the_field(tmp_path):
    bad = DEFAULT_SCHEMA_PATH.read_text(encoding="utf-8").replace('shp = "BR_LEN"', 'shp = "BRIDGE_LENGTH_M"')
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ValueError, match="bridge_length_m"):
        load_schema(path)


@pytest.mark.parametrize("change, problem", [({"fields": ["resp_unit", "nope"]}, "nope 不是公共字段"),
                                             ({"route_prefixes": ["Q"]}, "前缀 Q"),
                                             ({"units": "no_such_list"}, "no_such_list")])
def test_a_wrong_township_unit_rule_is_refused_naming_the_entry(change, problem):
    from safetymap.errors import SchemaError
    from safetymap.schema import parse_schema
    data = tomllib.loads(DEFAULT_SCHEMA_PATH.read_text(encoding="utf-8"))
    data["township_unit_rule"] |= change
    with pytest.raises(SchemaError, match="township_unit_rule") as caught:
        parse_schema(data)
    assert problem in str(caught.value)
