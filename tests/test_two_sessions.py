"""Two browser sessions edit the same patch at once: one save wins, the other is told and keeps its input."""

from safetymap.store import open_store
from conftest import page_test


def session(name):
    return page_test("edit_page", name, "editor")


def text_input(at, label):
    return next(w for w in at.text_input if w.label.startswith(label))


def test_one_save_wins_the_other_is_told_and_keeps_its_input(sample_db, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    store = open_store(sample_db)
    code = store.read("waterside").iloc[0]["code"]
    first, second = session("张工"), session("李工")
    for at in (first, second):
        at.run()
        at.selectbox[0].set_value(code).run()
    text_input(first, "责任人").set_value("张三")
    text_input(second, "责任人").set_value("李四")
    for at in (first, second):  # 保存 lists the changes, 确认保存 writes them
        at.button[0].click().run()
    for at in (first, second):
        next(b for b in at.button if b.label == "确认保存").click().run()
    assert any("已保存" in s.value for s in first.success)
    assert any("张工" in e.value and "版本" in e.value for e in second.error)
    assert text_input(second, "责任人").value == "李四"
    assert store.get(code)["resp_person"] == "张三"
    history = store.history(code)
    accepted = history[history["field_key"] == "resp_person"]
    assert list(accepted["user"]) == ["张工"] and list(accepted["after"]) == ["张三"]
