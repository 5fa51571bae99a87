"""A draft based on a version someone else has replaced (their save came first: another user, or QGIS
through the live GeoPackage) is shown as such, before and after leaving the page and coming back: the
stored values beside the draft's, a note at each field they changed, and three ways on. The draft is kept
(leaving and coming back must not blank the form), but it is never shown as if it were current."""
from __future__ import annotations


from conftest import leave_and_return
from test_edit_page import away_app, confirm_button, open_patch, save_button, widget
from safetymap.store import open_store

THEIR_HAZARD, THEIR_NAME, MY_HAZARD = "别人先保存的隐患描述", "别人改的名称", "我的隐患描述"


def refused_save_then_away_and_back(sample_db, monkeypatch):
    """The user types 隐患描述 and saves; another client saves 隐患描述 and 名称 first; the user's save is
    refused; the user leaves the page and comes back."""
    store = open_store(sample_db)
    code = store.read("fog").iloc[0]["code"]
    at = open_patch(away_app(sample_db, monkeypatch), code)
    widget(at, "隐患描述", "text_area").set_value(MY_HAZARD)
    save_button(at).click().run()
    store.update(code, {"hazard": THEIR_HAZARD, "name": THEIR_NAME}, 1, "编辑员乙")
    confirm_button(at).click().run()
    assert any("编辑员乙" in e.value for e in at.error)
    return store, code, leave_and_return(at)


def button(at, start: str):
    return next(b for b in at.button if b.label.startswith(start))


def shown_text(at) -> str:
    return "\n".join(m.value.replace("\\", "") for m in [*at.warning, *at.markdown, *at.error, *at.info])


def test_coming_back_after_a_refused_save_shows_the_stored_values_beside_the_draft(sample_db, monkeypatch):
    store, code, at = refused_save_then_away_and_back(sample_db, monkeypatch)
    assert widget(at, "隐患描述", "text_area").value == MY_HAZARD  # the draft is kept
    text = shown_text(at)
    assert "草稿未保存" in text and "基于版本 1" in text and "版本 2" in text
    notes = [w.value for w in at.warning]
    assert any(THEIR_HAZARD in n and "版本 2" in n for n in notes), notes  # beside 隐患描述: the stored value
    assert any(THEIR_NAME in n for n in notes), notes  # 名称 untouched by the user: not silently the old one
    table = at.dataframe[0].value
    row = table[table["字段"] == "隐患描述"].iloc[0]
    assert row["台账当前（版本 2）"] == THEIR_HAZARD and row["您的草稿"] == MY_HAZARD
    assert table[table["字段"] == "名称"].iloc[0]["台账当前（版本 2）"] == THEIR_NAME
    assert store.get(code)["version"] == 2  # nothing written


def test_the_draft_carried_onto_the_new_version_keeps_both_sides_and_saves_after_a_check(sample_db, monkeypatch):
    store, code, at = refused_save_then_away_and_back(sample_db, monkeypatch)
    button(at, "把我的修改套用到版本 2").click().run()
    assert not at.exception
    assert widget(at, "隐患描述", "text_area").value == MY_HAZARD
    assert widget(at, "名称", "text_input").value == THEIR_NAME  # their other change, now in the form
    assert "草稿未保存" not in shown_text(at) and any("（版本 2）" in m.value for m in at.markdown)
    assert store.get(code)["version"] == 2  # carried over, not yet saved
    at = leave_and_return(at)
    save_button(at).click().run()
    confirm_button(at).click().run()
    saved = store.get(code)
    assert (saved["hazard"], saved["name"], saved["version"]) == (MY_HAZARD, THEIR_NAME, 3)


def test_taking_the_stored_version_drops_the_draft(sample_db, monkeypatch):
    store, code, at = refused_save_then_away_and_back(sample_db, monkeypatch)
    button(at, "放弃我的修改").click().run()
    assert widget(at, "隐患描述", "text_area").value == THEIR_HAZARD
    assert widget(at, "名称", "text_input").value == THEIR_NAME
    assert "草稿未保存" not in shown_text(at) and not any("有未保存的修改" in i.value for i in at.info)
    assert store.get(code)["version"] == 2


def test_a_save_made_while_the_user_was_away_is_shown_beside_the_draft(sample_db, monkeypatch):
    """No refused save: the user typed, left, and someone saved meanwhile."""
    store = open_store(sample_db)
    code = store.read("fog").iloc[0]["code"]
    at = open_patch(away_app(sample_db, monkeypatch), code)
    widget(at, "隐患描述", "text_area").set_value(MY_HAZARD)
    save_button(at).click().run()  # checked, not confirmed
    at.session_state["away"] = True
    at.run()
    store.update(code, {"hazard": THEIR_HAZARD}, 1, "编辑员乙")
    at.session_state["away"] = False
    at.run()
    assert widget(at, "隐患描述", "text_area").value == MY_HAZARD
    assert any(THEIR_HAZARD in w.value for w in at.warning)
    button(at, "在最新版本上保存我的修改").click().run()
    saved = store.get(code)
    assert saved["hazard"] == MY_HAZARD and saved["version"] == 3
    assert widget(at, "隐患描述", "text_area").value == MY_HAZARD and "草稿未保存" not in shown_text(at)
