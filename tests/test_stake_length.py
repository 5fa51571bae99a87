"""桩号长度核对: stakes that disagree with the geometry's length are a warning in the form, a column of
the ledger and a row of an import preview; never silent, never a refusal."""
import json


from conftest import page_test
from safetymap.io.export import export
from safetymap.io.importer import preview_import
from safetymap.ledger import ledger_table
from safetymap.store import open_store

COLUMN = "桩号长度核对"


def _stretch(store, code="JW-001"):
    """Stakes K1+000–K9+000 on a patch whose geometry stays 412 m long (the issue's case)."""
    record = store.get(code)
    store.update(code, {"start_stake": "K1+000", "end_stake": "K9+000"}, record["version"], "测试")
    return store.get(code)


def test_the_sample_ledger_has_no_mismatch(store):
    assert set(ledger_table(store.read(), store.schema)[COLUMN]) == {""}


def test_a_mismatch_is_a_column_of_the_ledger(store):
    saved = _stretch(store)
    assert saved["version"] == 2 and round(saved["length_m"]) == 412  # saved: a warning, not a refusal
    frame = store.read()
    table = ledger_table(frame, store.schema).set_index("图斑编号")
    assert "8000" in table.loc["JW-001", COLUMN] and "412" in table.loc["JW-001", COLUMN]
    assert (table.drop(index="JW-001")[COLUMN] == "").all()


def test_a_mismatch_is_a_row_of_the_import_preview(store, tmp_path):
    frame = store.read()
    curve = frame[frame["code"] == "JW-001"]
    out = export(curve, "geojson", tmp_path / "jw.geojson", store.schema).path
    data = json.loads(out.read_text(encoding="utf-8"))
    for feature in data["features"]:
        feature["properties"]["止点桩号"] = "K48+000"
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    preview = preview_import(store, out)
    assert preview.ok and preview.notices, preview.problems
    table = preview.problem_table()
    assert table["问题"].str.contains("警告：桩号差").any() and (table["字段"] == "止点桩号").any()
    assert any("桩号差" in w for w in preview.warnings)


def test_a_mismatch_is_a_warning_beside_the_stakes_in_the_form(sample_db, monkeypatch):
    _stretch(open_store(sample_db))
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    at = page_test("edit_page", "编辑员甲", "editor")
    at.run()
    next(w for w in at.selectbox if w.label.startswith("图斑")).set_value("JW-001").run()
    assert not at.exception
    assert any("桩号差 8000 m" in w.value and "412" in w.value for w in at.warning), [w.value for w in at.warning]
