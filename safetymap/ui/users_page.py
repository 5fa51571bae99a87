"""用户管理 (admins): add users, reset passwords, change roles, disable, enable and unlock accounts."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from .. import accounts
from ..auth import ROLES
from ..clock import now_local, utc_text, utc_text_to_local
from ..errors import PermissionDenied, ValidationError
from ..text import md_escape, md_format
from .common import current_user, get_store

DONE = "users_done"  # messages of the last action, shown after the rerun that refreshes the table
STATE_CHOICES = ["不变", "停用", "启用", "解锁"]


def _when(value) -> str:
    return "" if pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M}"


def is_locked(users: pd.DataFrame, now=None) -> pd.Series:
    """True where wrong passwords have locked the account, or a wait before the next try is running."""
    now = pd.Timestamp(now or now_local())
    return (pd.to_datetime(users["locked_until"]) > now) | (pd.to_datetime(users["not_before"]) > now)


def state_text(row, now=None) -> str:
    """正常, 已停用, 已锁定至 … (or several of them)."""
    now = pd.Timestamp(now or now_local())
    parts = ["已停用"] if row["disabled"] else []
    if pd.notna(row["locked_until"]) and pd.Timestamp(row["locked_until"]) > now:
        parts.append(f"已锁定至 {_when(row['locked_until'])}")
    elif pd.notna(row["not_before"]) and pd.Timestamp(row["not_before"]) > now:
        parts.append(f"密码多次错误，{_when(row['not_before'])} 前不能登录")
    return "；".join(parts) or "正常"


def with_locks(users: pd.DataFrame, locks: dict) -> pd.DataFrame:
    """``users`` with the locks wrong passwords left from any address (accounts.locks) as locked_until."""
    until = users["name"].map(lambda n: utc_text_to_local([utc_text(locks[n])])[0] if n in locks else pd.NaT)
    stored = pd.to_datetime(users["locked_until"])
    return users.assign(locked_until=pd.concat([stored, pd.to_datetime(until)], axis=1).max(axis=1))


def users_table(users: pd.DataFrame, now=None) -> pd.DataFrame:
    """The users as shown: Chinese headers, a state for everyone, times as text, nothing empty shown as None."""
    return pd.DataFrame({
        "用户名": users["name"].astype(str),
        "角色": users["role"].map(lambda r: ROLES.get(r, r)).astype(str),
        "状态": [state_text(r, now) for _, r in users.iterrows()],
        "连续失败": users["failed_logins"].fillna(0).astype(int),
        "创建时间": users["created_at"].map(_when),
        "最近登录": users["last_login"].map(_when),
    })


def render() -> None:
    store = get_store()
    admin = current_user()
    st.title("用户管理")
    if not admin.can("users"):
        st.warning("只有管理员可以管理用户。")
        return
    for kind, message in st.session_state.pop(DONE, []):
        (st.success if kind == "ok" else st.error)(message)
    users = store.user_rows()
    users = with_locks(users, accounts.locks(store, users["name"]))
    st.dataframe(users_table(users), hide_index=True, width="stretch")
    locked = users[is_locked(users)]
    if len(locked):
        st.warning("以下账户因密码连续错误被锁定。解锁后可立即用原密码登录（重置密码也会解锁）。")
        for name in locked["name"]:
            if st.button(md_format("解锁 {}", name), key=f"unlock_{name}"):
                _act([(lambda n=name: accounts.unlock(store, n, admin), md_format("{} 已解锁", name))])
    left, right = st.columns(2)
    with left.form("add_user", clear_on_submit=True, enter_to_submit=False):
        st.subheader("添加用户")
        name = st.text_input("用户名")
        role = st.selectbox("角色", list(ROLES), format_func=ROLES.get, index=None, placeholder="请选择角色…")
        password = st.text_input("初始密码（至少 8 位）", type="password")
        if st.form_submit_button("添加"):
            if not role:
                st.error("请选择角色。")
                return
            _act([(lambda: accounts.add_user(store, name.strip(), role or "", password, admin),
                   md_format("已添加用户 {}", name.strip()))])
    with right.form("change_user", enter_to_submit=False):
        st.subheader("修改用户")
        name = st.selectbox("用户", list(users["name"]), index=None, placeholder="请选择用户…")
        new_role = st.selectbox("新角色", list(ROLES), format_func=ROLES.get, index=None, placeholder="不改")
        new_password = st.text_input("新密码（不改则留空；重置密码同时解锁）", type="password")
        state = st.selectbox("账户状态", STATE_CHOICES, help="停用：不能再登录；启用：恢复停用的账户并解除锁定；"
                                                          "解锁：解除密码错误造成的锁定")
        if st.form_submit_button("保存修改"):
            if not name:
                st.error("请先选择用户。")
                return
            actions = []
            if new_role:
                actions.append((lambda: accounts.set_role(store, name, new_role, admin),
                                md_format("{} 的角色已改为 {}", name, ROLES[new_role])))
            if new_password:
                actions.append((lambda: accounts.set_password(store, name, new_password, admin),
                                md_format("{} 的密码已重置", name)))
            if state in ("停用", "启用"):
                actions.append((lambda: accounts.set_disabled(store, name, state == "停用", admin),
                                md_format("{} 已{}", name, state)))
            if state == "解锁" or (state == "启用" and name in set(locked["name"])):
                actions.append((lambda: accounts.unlock(store, name, admin), md_format("{} 已解锁", name)))
            if not actions:
                st.info("没有修改。")
                return
            _act(actions)


def _act(actions) -> None:
    """Run the actions, keep their results for the next run and rerun, so the table shows the change."""
    results = []
    for action, message in actions:
        try:
            action()
        except (ValidationError, PermissionDenied) as exc:
            results.append(("error", md_escape(exc)))
        else:
            results.append(("ok", message))
    st.session_state[DONE] = results
    st.rerun()
