"""The core of editing, without Streamlit: what a form changed, and restoring an older value."""
import pytest
import shapely

from safetymap.editing import changed_values, next_code, restore_value
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
