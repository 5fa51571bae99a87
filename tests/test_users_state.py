"""用户管理: a state for every user, 解锁 that lets a locked user sign in, 启用 that does too, a table that
refreshes after an action, Chinese placeholders (issue 17, finding 6)."""
import datetime as dt

import pytest

from conftest import page_test
from safetymap import accounts
from safetymap.store import open_store


def lock(store, name):
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(accounts.MAX_FAILURES):  # a minute apart, so no try is refused for being too soon
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(store, name, "wrong-password", now=now - dt.timedelta(minutes=10 - i))
    with pytest.raises(accounts.LoginRefused, match="锁定"):
        accounts.authenticate(store, name, "right-password")


def users_app(db, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(db))
    at = page_test("users_page", "管理员", "admin")
    at.run()
    assert not at.exception, at.exception
    return at


def state_of(at, name):
    table = at.dataframe[0].value
    return table.set_index("用户名").loc[name, "状态"]


def test_every_user_has_a_state_and_a_locked_one_says_until_when(sample_db, monkeypatch):
    store = open_store(sample_db)
    for name in ("巡查甲", "巡查乙", "巡查丙"):
        accounts.add_user(store, name, "inspector", "right-password", "命令行")
    accounts.set_disabled(store, "巡查乙", True, "命令行")
    lock(store, "巡查丙")
    at = users_app(sample_db, monkeypatch)
    assert state_of(at, "巡查甲") == "正常"
    assert state_of(at, "巡查乙") == "已停用"
    assert state_of(at, "巡查丙").startswith("已锁定至 ")
    assert not at.dataframe[0].value.isna().any().any()


def test_unlock_lets_a_locked_user_sign_in_and_the_table_refreshes(sample_db, monkeypatch):
    store = open_store(sample_db)
    accounts.add_user(store, "巡查丙", "inspector", "right-password", "命令行")
    lock(store, "巡查丙")
    at = users_app(sample_db, monkeypatch)
    next(b for b in at.button if b.label == "解锁 巡查丙").click().run()
    assert not at.exception, at.exception
    assert any("已解锁" in s.value for s in at.success)
    assert state_of(at, "巡查丙") == "正常"  # the table shows the change at once
    assert accounts.authenticate(store, "巡查丙", "right-password").name == "巡查丙"
    assert "user_unlock" in set(store.audit()["action"])


def test_enable_on_a_locked_account_lets_the_user_sign_in(sample_db, monkeypatch):
    store = open_store(sample_db)
    accounts.add_user(store, "巡查丙", "inspector", "right-password", "命令行")
    lock(store, "巡查丙")
    accounts.set_disabled(store, "巡查丙", True, "命令行")
    at = users_app(sample_db, monkeypatch)
    form = [s for s in at.selectbox if s.label in ("用户", "账户状态")]
    form[0].set_value("巡查丙")
    form[1].set_value("启用")
    next(b for b in at.button if b.label == "保存修改").click().run()
    assert not at.exception, at.exception
    assert state_of(at, "巡查丙") == "正常"
    assert accounts.authenticate(store, "巡查丙", "right-password").name == "巡查丙"


def test_select_boxes_have_chinese_placeholders(sample_db, monkeypatch):
    at = users_app(sample_db, monkeypatch)
    for box in at.selectbox:
        assert box.value is not None or box.proto.placeholder, f"{box.label} would show 'Choose an option'"
