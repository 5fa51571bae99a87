"""用户管理 (admins): add users, reset passwords, change roles, disable accounts."""
from __future__ import annotations

import streamlit as st

from .. import accounts
from ..auth import ROLES
from ..errors import PermissionDenied, ValidationError
from .common import current_user, get_store


def render() -> None:
    store = get_store()
    admin = current_user()
    st.title("用户管理")
    if not admin.can("users"):
        st.warning("只有管理员可以管理用户。")
        return
    users = store.user_rows()
    table = users.assign(role=users["role"].map(ROLES), disabled=users["disabled"].map({True: "停用", False: ""}))
    st.dataframe(table.rename(columns={"name": "用户名", "role": "角色", "disabled": "状态", "failed_logins": "连续失败",
                                       "locked_until": "锁定至", "created_at": "创建时间", "last_login": "最近登录"})
                 .drop(columns=["not_before"]), hide_index=True, width="stretch")
    left, right = st.columns(2)
    with left.form("add_user", clear_on_submit=True):
        st.subheader("添加用户")
        name = st.text_input("用户名")
        role = st.selectbox("角色", list(ROLES), format_func=ROLES.get)
        password = st.text_input("初始密码（至少 8 位）", type="password")
        if st.form_submit_button("添加"):
            _do(lambda: accounts.add_user(store, name.strip(), role, password, admin), f"已添加用户 {name}")
    with right.form("change_user"):
        st.subheader("修改用户")
        name = st.selectbox("用户", list(users["name"]), index=None, placeholder="选择用户")
        new_role = st.selectbox("新角色（不改则留空）", list(ROLES), format_func=ROLES.get, index=None)
        new_password = st.text_input("新密码（不改则留空）", type="password")
        disable = st.selectbox("账户状态", ["不变", "停用", "启用"])
        if st.form_submit_button("保存修改") and name:
            if new_role:
                _do(lambda: accounts.set_role(store, name, new_role, admin), f"{name} 的角色已改为 {ROLES[new_role]}")
            if new_password:
                _do(lambda: accounts.set_password(store, name, new_password, admin), f"{name} 的密码已重置")
            if disable != "不变":
                _do(lambda: accounts.set_disabled(store, name, disable == "停用", admin), f"{name} 已{disable}")


def _do(action, message: str) -> None:
    try:
        action()
    except (ValidationError, PermissionDenied) as exc:
        st.error(str(exc))
    else:
        st.success(message)
