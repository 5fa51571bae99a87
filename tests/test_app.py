"""The app through Streamlit's AppTest against a real seeded database: sign-in, first run, pages."""
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, page_test
from safetymap import accounts
from safetymap.store import open_store


@pytest.fixture
def app(sample_db, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    yield at


def shown_patches(at) -> int | None:
    """The map page's count of patches shown, or None when the map page is not showing."""
    for m in at.metric:
        if m.label == "显示图斑":
            return int(str(m.value).replace(",", ""))
    return None


def sign_in(at, name, password):
    at.run()
    at.text_input[0].set_value(name)
    at.text_input[1].set_value(password)
    at.button[0].click().run()
    assert not at.exception, at.exception


def test_first_run_form_makes_the_first_admin_and_then_closes(app, sample_db):
    app.run()
    assert any("第一个管理员" in i.value for i in app.info)
    assert not app.dataframe  # no ledger data before sign-in
    app.text_input[0].set_value("管理员")
    app.text_input[1].set_value("correct-horse")
    app.text_input[2].set_value("correct-horse")
    app.button[0].click().run()
    assert open_store(sample_db).user_rows()["name"].tolist() == ["管理员"]
    assert shown_patches(app) == len(open_store(sample_db).read())  # signed in: the map page shows the ledger
    with pytest.raises(Exception, match="首次设置已关闭"):
        accounts.create_first_admin(open_store(sample_db), "second", "password2")


def test_ledger_page_shows_the_sample_ledger_and_filters(sample_db, store, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    app = page_test("ledger_page", "查看员", "viewer")
    app.run()
    assert not app.exception
    assert any("示例数据" in c.value for c in app.caption)
    table = app.dataframe[0].value
    assert len(table) == len(store.read())
    assert {"图斑编号", "类别", "风险等级", "起点桩号"} <= set(table.columns)
    app.multiselect[1].set_value(["重大"]).run()
    filtered = app.dataframe[0].value
    assert 0 < len(filtered) < len(table) and set(filtered["风险等级"]) == {"重大"}


def test_wrong_password_shows_an_error_and_no_data(app, store):
    accounts.add_user(store, "编辑员", "editor", "editor-pass", "命令行")
    sign_in(app, "编辑员", "wrong-password")
    assert any("用户名或密码错误" in e.value for e in app.error)
    assert not app.dataframe and shown_patches(app) is None


def test_idle_session_is_signed_out(app, store, monkeypatch):
    accounts.add_user(store, "编辑员", "editor", "editor-pass", "命令行")
    sign_in(app, "编辑员", "editor-pass")
    assert shown_patches(app) == len(store.read())
    app.session_state["last_active"] = 0.0  # long ago
    app.run()
    assert shown_patches(app) is None and any("未操作" in i.value for i in app.info)
