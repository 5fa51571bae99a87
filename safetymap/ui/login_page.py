"""登录, and the first-run form that makes the first administrator (only while no user exists)."""
from __future__ import annotations

import streamlit as st

from ..text import md_escape
from .. import accounts
from ..errors import PermissionDenied, ValidationError
from .common import get_store
from .session import client_address, sign_in


def render() -> None:
    store = get_store()
    st.title("江源区公路安全风险图斑台账")
    if "signed_out_message" in st.session_state:
        st.info(st.session_state.pop("signed_out_message"))
    if store.user_count() == 0:
        _first_run(store)
    else:
        _login(store)


def _login(store) -> None:
    with st.form("login"):
        st.subheader("登录")
        name = st.text_input("用户名", max_chars=accounts.MAX_NAME_LENGTH)
        password = st.text_input("密码", type="password")
        submitted = st.form_submit_button("登录", type="primary")
    if submitted:
        try:
            user = accounts.authenticate(store, name, password, client=client_address())
        except PermissionDenied as exc:
            st.error(md_escape(exc))
            return
        sign_in(user)
        st.rerun()


def _first_run(store) -> None:
    st.info("这是新数据库，还没有任何用户。请创建第一个管理员账户（此表单仅在没有用户时可用；"
            "也可用命令 `python -m safetymap user add 名字 --role admin --password-stdin` 创建）。")
    with st.form("first_admin"):
        name = st.text_input("管理员用户名", max_chars=accounts.MAX_NAME_LENGTH)
        password = st.text_input("密码（至少 8 位）", type="password")
        again = st.text_input("再次输入密码", type="password")
        submitted = st.form_submit_button("创建管理员并登录", type="primary")
    if not submitted:
        return
    if password != again:
        st.error("两次输入的密码不一致")
        return
    try:
        user = accounts.create_first_admin(store, name.strip(), password)
    except (ValidationError, PermissionDenied) as exc:
        st.error(md_escape(exc))
        return
    sign_in(user)
    st.rerun()
