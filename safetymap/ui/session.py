"""Who is signed in to this browser session. The account and the session record are re-read on every run
(a disabled account is signed out at once, a new role applies at once); the session itself lives in the
database and the browser's HttpOnly cookie (``safetymap.sessions``), so a refresh keeps it."""
from __future__ import annotations

import json
import time
from urllib.parse import urlencode, urlsplit

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from .. import sessions
from ..auth import User
from ..errors import SessionEnded
from .common import get_store, setting

DEFAULT_IDLE_MINUTES = sessions.DEFAULT_IDLE_MINUTES
HANDOFF_ROUTE = "/api/session"
TOKEN_KEY = "session_token"


def idle_limit_seconds() -> float:
    return float(setting("session_idle_minutes", DEFAULT_IDLE_MINUTES)) * 60


def client_address() -> str:
    """The browser's address as the server sees it (a reverse proxy's ``X-Forwarded-For`` is not trusted:
    any client could send one)."""
    address = st.context.ip_address
    return address if isinstance(address, str) else ""


def _token() -> str | None:
    """This tab's token (set at sign-in), else the browser's cookie (a refresh or a bookmarked link), unless
    this tab has found that cookie dead already (its cookies are fixed when the tab connects)."""
    if TOKEN_KEY in st.session_state:
        return st.session_state[TOKEN_KEY]
    if st.session_state.get("ignore_cookie"):
        return None
    cookie = st.context.cookies.get(sessions.COOKIE)
    return cookie if isinstance(cookie, str) else None  # (AppTest's context has no real cookies)


def _user_activity() -> bool:
    """A run the user caused. A fragment's timed rerun is not, so it does not keep the session alive."""
    ctx = get_script_run_ctx()
    return not (ctx and ctx.fragment_ids_this_run)


def signed_in_user() -> User | None:
    """The session's user as the account is now, or None (signed out, idle past the limit, disabled)."""
    token = _token()
    if token is None:
        return None
    if time.time() - st.session_state.get("last_active", time.time()) > idle_limit_seconds():
        sign_out("长时间未操作，已自动退出，请重新登录。")
        return None
    store, idle = get_store(), idle_limit_seconds()
    touch = _user_activity()
    try:
        user = sessions.resolve(store, token, idle, touch=touch)
    except SessionEnded as exc:
        _forget(str(exc) if TOKEN_KEY in st.session_state or st.session_state.get("user") else None)
        return None
    if touch:
        st.session_state["last_active"] = time.time()
    user = User(user.name, user.role, recheck=_rechecker(store, token, idle))
    st.session_state["user"] = user
    return user


def _rechecker(store, token: str, idle: float):
    """Asked by the core at every write and export (also from a download built on another thread)."""
    return lambda: sessions.resolve(store, token, idle, touch=False)


def sign_in(user: User) -> None:
    """Start a server-side session for ``user`` and hand it to the browser as an HttpOnly cookie."""
    token = sessions.start(get_store(), user, idle_limit_seconds(), client_address())
    st.session_state[TOKEN_KEY] = token
    st.session_state["user"] = user
    st.session_state["last_active"] = time.time()
    st.session_state["handoff"] = token


def hand_off() -> None:
    """Post this tab's new token to the cookie route once, coming back to the page (and its query) the user
    asked for. Rendered right after sign-in; without JavaScript the tab simply stays signed in."""
    code = st.session_state.pop("handoff", None)
    if not code:
        return
    target = st.session_state.pop("wanted_url", None) or _return_path(st.context.url, {})
    fields = json.dumps({"code": code, "next": target})
    st.html(f"""<script>(() => {{
  const form = document.createElement("form"); form.method = "post"; form.action = {json.dumps(HANDOFF_ROUTE)};
  for (const [name, value] of Object.entries({fields})) {{
    const input = document.createElement("input"); input.type = "hidden"; input.name = name; input.value = value;
    form.appendChild(input);
  }}
  document.body.appendChild(form); form.submit();
}})();</script>""", unsafe_allow_javascript=True, width="content")


def remember_wanted_url() -> None:
    """Before sign-in: the page and query the browser asked for (a bookmark), to return to afterwards."""
    if "wanted_url" not in st.session_state:
        st.session_state["wanted_url"] = _return_path(st.context.url, st.query_params.to_dict())


def _return_path(url: str | None, query: dict) -> str:
    """Only a path on this server (never another host), with the query."""
    path = "/" + urlsplit(url or "/").path.lstrip("/")
    return path + (f"?{urlencode(query)}" if query else "")


def has_user() -> bool:
    return st.session_state.get("user") is not None


def sign_out(message: str | None = None) -> None:
    sessions.end(get_store(), _token())
    _forget(message)


def _forget(message: str | None) -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state["ignore_cookie"] = True
    if message:
        st.session_state["signed_out_message"] = message
