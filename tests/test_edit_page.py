"""The edit form through AppTest against a real database: save, stale save, invalid values."""
import pytest
import streamlit as st

from conftest import database_dump, page_test
from safetymap.store import open_store



def edit_app(db, monkeypatch, name="编辑员甲"):
    monkeypatch.setenv("SAFETYMAP_DB", str(db))
    at = page_test("edit_page", name, "editor")
    return at


def widget(at, label, kind="selectbox"):
    for w in getattr(at, kind):
        if w.label.startswith(label):
            return w
    raise AssertionError(f"no {kind} {label}")


@pytest.fixture(autouse=True)
def fresh_cache():
    yield
    st.cache_resource.clear()


def open_patch(at, code):
    at.run()
    widget(at, "图斑").set_value(code).run()
    assert not at.exception
    return at


def test_edit_and_save_a_patch(sample_db, monkeypatch):
    store = open_store(sample_db)
    code = store.read("fog").iloc[0]["code"]
    at = open_patch(edit_app(sample_db, monkeypatch), code)
    new_grade = "较小" if store.get(code)["risk_grade"] != "较小" else "重大"
    widget(at, "评定方式").set_value("直接判定")
    widget(at, "风险等级").set_value(new_grade)
    widget(at, "判定依据", "text_area").set_value("专家组现场研判")
    widget(at, "名称", "text_input").set_value("新的名称")
    at.button[0].click().run()  # the form's save button comes first
    assert not at.exception
    assert any("已保存" in s.value for s in at.success)
    saved = store.get(code)
    assert saved["risk_grade"] == new_grade and saved["name"] == "新的名称" and saved["version"] == 2
    assert saved["updated_by"] == "编辑员甲"


def test_stale_save_is_refused_and_the_input_stays(sample_db, monkeypatch):
    store = open_store(sample_db)
    code = store.read("fog").iloc[0]["code"]
    at = open_patch(edit_app(sample_db, monkeypatch), code)
    widget(at, "名称", "text_input").set_value("我的输入")
    store.update(code, {"hazard": "别人先保存的隐患描述"}, 1, "编辑员乙")  # someone else saves first
    at.button[0].click().run()
    assert any("编辑员乙" in e.value for e in at.error), [e.value for e in at.error]
    assert widget(at, "名称", "text_input").value == "我的输入"  # nothing typed is lost
    assert store.get(code)["name"] != "我的输入" and store.get(code)["version"] == 2
    retry = next(b for b in at.button if b.label.startswith("在最新版本上保存"))
    retry.click().run()
    saved = store.get(code)
    assert saved["name"] == "我的输入" and saved["hazard"] == "别人先保存的隐患描述" and saved["version"] == 3


def test_invalid_values_show_errors_beside_fields_and_write_nothing(sample_db, monkeypatch):
    store = open_store(sample_db)
    code = store.read("fog").iloc[0]["code"]
    at = open_patch(edit_app(sample_db, monkeypatch), code)
    before = database_dump(sample_db)
    widget(at, "起点桩号", "text_input").set_value("K12+35a")
    widget(at, "路线编码", "text_input").set_value("Q1")
    at.button[0].click().run()
    messages = [e.value for e in at.error]
    assert any("K12+35a" in m for m in messages) and any("Q1" in m for m in messages)
    assert database_dump(sample_db) == before


def test_new_patch_from_route_and_stakes(sample_db, monkeypatch):
    store = open_store(sample_db)
    route = store.routes().iloc[0]
    at = edit_app(sample_db, monkeypatch)
    at.run()
    at.selectbox(key="new:category").set_value("downhill").run()
    p = "new:downhill:"
    start = route["start_stake_m"] + 1000
    at.text_input(key=p + "code").set_value("CX-900")
    at.text_input(key=p + "name").set_value("新增长大下坡示例")
    at.text_input(key=p + "route_code").set_value(route["route_code"])
    at.text_input(key=p + "start_stake").set_value(f"K{int(start // 1000)}+000")
    at.text_input(key=p + "end_stake").set_value(f"K{int(start // 1000) + 1}+500")
    at.selectbox(key=p + "township").set_value("湾沟镇")
    at.selectbox(key=p + "grade_method").set_value("直接判定")
    at.selectbox(key=p + "risk_grade").set_value("一般")
    at.text_area(key=p + "grade_basis").set_value("专家组现场研判")
    at.selectbox(key=p + "rect_status").set_value("待整改")
    next(b for b in at.button if b.label == "新增").click().run()
    assert not at.exception
    record = store.get("CX-900")
    assert abs(record["length_m"] - 1500) < 1 and record["updated_by"] == "编辑员甲"
    assert record["geometry"].geom_type == "Polygon"
