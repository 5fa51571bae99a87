"""Who is signed in to this browser session, and for how long without activity."""
from __future__ import annotations

import time

import streamlit as st

from ..auth import User
from .common import setting

DEFAULT_IDLE_MINUTES = 30


def idle_limit_seconds() -> float:
    return float(setting("session_idle_minutes", DEFAULT_IDLE_MINUTES)) * 60


def signed_in_user() -> User | None:
    """The session's user, or None (also once the session was idle longer than the limit)."""
    user = st.session_state.get("user")
    if user is None:
        return None
    last = st.session_state.get("last_active", 0.0)
    if time.time() - last > idle_limit_seconds():
        sign_out("长时间未操作，已自动退出，请重新登录。")
        return None
    st.session_state["last_active"] = time.time()
    return user


def sign_in(user: User) -> None:
    st.session_state["user"] = user
    st.session_state["last_active"] = time.time()


def sign_out(message: str | None = None) -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if message:
        st.session_state["signed_out_message"] = message
