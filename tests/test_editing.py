"""The core of editing, without Streamlit: what a form changed, and restoring an older value."""
import pytest
import shapely

from safetymap.editing import BLANK, change_summary, changed_values, check_changes, emptied, next_code, restore_value
from safetymap.errors import ValidationError


def test_only_the_fields_the_user_changed_are_sent(store):
    record = store.get(store.read("fog").iloc[0]["code"])
    fields = store.schema.category("fog").editable_fields
    form = {f.key: record[f.key] for f in fields}
    form["facilities"] = record["facilities"].split("、") if record["facilities"] else []  # a multiselect's list
    form["start_stake"] = "K" + str(int(record["start_stake"] // 1000)) + "+" + f"{int(record['start_stake'] % 1000):03d}"
    assert changed_values(fields, record, form) == {}
    form["name"] = "新名称"
    form["facilities"] = ["诱导灯", "雾灯"]
    assert changed_values(fields, record, form) == {"name": "新名称", "facilities": "诱导灯、雾灯"}


def test_restore_an_older_value_and_an_older_geometry_as_new_changes(store):
    code = store.read("curve").iloc[0]["code"]
    first = store.get(code)
    store.update(code, {"hazard": "改过的描述"}, 1, "甲")
    line = shapely.LineString(list(first["source_geometry"].coords)[:3])
    store.update(code, {}, 2, "甲", source_geometry=line)
    history = store.history(code)
    hazard_change = int(history.loc[history["field_key"] == "hazard", "id"].iloc[0])
    geometry_change = int(history.loc[history["field_key"] == "source_geometry", "id"].iloc[0])
    restored = restore_value(store, code, hazard_change, "乙")
    assert restored["hazard"] == first["hazard"] and restored["version"] == 4
    restored = restore_value(store, code, geometry_change, "乙")
    assert restored["source_geometry"].equals_exact(first["source_geometry"], 1e-6) and restored["version"] == 5
    assert list(store.history(code)["action"])[-2:] == ["restore_value", "restore_value"]
    insert_row = int(history.loc[history["action"] == "insert", "id"].iloc[0])
    with pytest.raises(ValidationError, match="不是字段修改"):
        restore_value(store, code, insert_row, "乙")
    with pytest.raises(ValidationError, match="没有编号"):
        restore_value(store, code, 10**9, "乙")


def test_next_code_follows_the_highest_of_its_prefix():
    assert next_code(["TW-001", "TW-015", "DZ-020", "TW-x"], "TW") == "TW-016"
    assert next_code([], "SD") == "SD-001"


def test_change_summary_shows_before_and_after_and_names_the_emptied_fields(store):
    record = store.get(store.read("fog").iloc[0]["code"])
    c = store.schema.category("fog")
    assert record["resp_unit"] and record["risk_grade"] != "重大"
    changes = {"resp_unit": None, "risk_grade": "重大", "start_stake": "k1+050", "facilities": []}
    summary = change_summary(c.editable_fields, record, changes)
    label = {key: c.field(key).label for key in changes}
    assert summary[label["resp_unit"]] == (record["resp_unit"], BLANK)
    assert summary[label["risk_grade"]] == (record["risk_grade"], "重大")
    assert summary[label["start_stake"]][1] == "K1+050"
    assert label["resp_unit"] in emptied(summary) and label["risk_grade"] not in emptied(summary)
    assert (label["facilities"] in emptied(summary)) == bool(record["facilities"])


def test_check_changes_lists_every_problem_without_writing(store):
    code = store.read("fog").iloc[0]["code"]
    record = store.get(code)
    c = store.schema.category("fog")
    assert check_changes(c, store.schema, record, {"name": "新名称"}) == []
    problems = check_changes(c, store.schema, record, {"start_stake": "K12+35a", "name": None, "code": None})
    fields = {p.field for p in problems}
    assert {c.field("start_stake").label, c.field("name").label, c.field("code").label} <= fields
    assert all(p.row is None for p in problems)
    assert store.get(code)["version"] == record["version"]
