"""The admin pages through AppTest against a real database: users and the audit log."""
import io

import openpyxl

from safetymap import accounts
from safetymap.store import open_store
from conftest import page_test


def page_app(db, monkeypatch, page, role="admin", name="管理员"):
    monkeypatch.setenv("SAFETYMAP_DB", str(db))
    at = page_test(page, name, role)
    at.run()
    assert not at.exception, at.exception
    return at


def test_admin_adds_a_user_who_can_then_sign_in(sample_db, monkeypatch):
    at = page_app(sample_db, monkeypatch, "users_page")
    at.text_input[0].set_value("新编辑")
    at.selectbox[0].set_value("editor")
    at.text_input[1].set_value("new-editor-pass")
    next(b for b in at.button if b.label == "添加").click().run()
    assert any("已添加用户 新编辑" in s.value for s in at.success)
    store = open_store(sample_db)
    assert accounts.authenticate(store, "新编辑", "new-editor-pass").role == "editor"
    assert "user_add" in set(store.audit()["action"])


def test_users_page_is_closed_to_editors(sample_db, monkeypatch):
    at = page_app(sample_db, monkeypatch, "users_page", role="editor", name="编辑员")
    assert any("只有管理员" in w.value for w in at.warning)
    assert not at.dataframe


def test_audit_page_lists_who_did_what_and_exports_excel(sample_db, monkeypatch):
    store = open_store(sample_db)
    code = store.read().iloc[0]["code"]
    store.update(code, {"hazard": "审计测试"}, 1, "张工")
    accounts.add_user(store, "李工", "viewer", "viewer-pass", "管理员")
    at = page_app(sample_db, monkeypatch, "audit_page")
    table = at.dataframe[0].value
    assert {"时间", "用户", "操作", "对象", "内容"} <= set(table.columns)
    assert ((table["用户"] == "张工") & (table["对象"] == code) & table["内容"].str.contains("审计测试")).any()
    assert ((table["操作"] == "添加用户") & (table["用户"] == "管理员")).any()
    at.multiselect[0].set_value(["张工"]).run()
    assert set(at.dataframe[0].value["用户"]) == {"张工"}
    assert at.get("download_button")[0].proto.label == "导出 Excel"
    from safetymap.ui.audit_page import audit_excel, audit_table
    book = openpyxl.load_workbook(io.BytesIO(audit_excel(audit_table(store.history(), store.audit()))))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0] == ("时间", "用户", "操作", "对象", "内容") and any("张工" in r for r in rows[1:])


def test_admin_sees_external_changes_and_undoes_a_delete_made_in_qgis(sample_db, monkeypatch):
    import sqlite3

    from safetymap.backends import gpkg
    from safetymap.text import md_escape
    store = open_store(sample_db)
    patch = store.get(store.read().iloc[0]["code"])
    other = sqlite3.connect(sample_db, isolation_level=None)  # another program, as GDAL would write
    gpkg.register_functions(other)
    other.execute(f'DELETE FROM "patch_{patch["category"]}" WHERE code = ?', (patch["code"],))
    assert store.get(patch["code"])["archived"]
    at = page_app(sample_db, monkeypatch, "audit_page")
    assert any(md_escape(patch["code"]) in m.value and "外部删除" in m.value for m in at.markdown)
    next(b for b in at.button if b.label.startswith("撤销")).click().run()
    assert not at.exception
    assert not store.get(patch["code"])["archived"]
    assert any("没有待处理的外部变更" in i.value for i in at.info)
