"""What every page shares: the store (one per process, shared by sessions) and the sample banner."""
from __future__ import annotations

import os
from functools import wraps

import streamlit as st

from ..auth import User
from ..errors import PermissionDenied
from ..ledger import today
from ..seed import default_db_path, init_database
from ..store import Store, open_store
from ..backends import is_database_url


@st.cache_resource(show_spinner="正在打开台账数据库…")
def get_store() -> Store:
    """The ledger database; a new file is created and seeded with the sample (示例数据) on first run.
    A PostgreSQL ledger (``SAFETYMAP_DB=postgresql://…``) is opened as it is: made once with
    ``init`` or ``migrate``, never by one of several servers starting at once."""
    path = default_db_path()
    if is_database_url(path):
        return open_store(path)
    if not path.exists():
        return init_database(path, sample=True)
    return open_store(path)


def sample_banner(store: Store) -> None:
    if store.meta("sample"):
        st.caption("⚠️ 当前数据库含 **示例数据**：路线、桩号、桥梁和各项数值均为虚构，仅用于演示，不得用于实际决策。")


def current_user() -> User:
    """The signed-in user of this browser session (pages run only after sign-in: see ``session``)."""
    user = st.session_state.get("user")
    if user is None:
        raise PermissionDenied("未登录")
    return user


def checked_download(detail: str, build):
    """``data=`` for ``st.download_button``: the file is built on click, only after the store has checked
    the user again (role, account, session) and written the export to the audit log."""
    store, user = get_store(), current_user()

    def data() -> bytes:
        store.exporting(user, f"{detail}（网页下载）")
        return build()
    return data


def setting(name: str, default: str | None = None) -> str | None:
    """A setting from ``.streamlit/secrets.toml`` or the environment (``SAFETYMAP_<NAME>``)."""
    env = os.environ.get(f"SAFETYMAP_{name.upper()}")
    if env:
        return env
    try:
        return st.secrets.get(name, default)
    except FileNotFoundError:
        return default


@st.cache_data(max_entries=8, show_spinner=False)
def _by_revision(_func, _store: Store, name: str, location: str, revision: tuple[int, ...], day):
    """(The underscored arguments are not hashed: the name, ledger, revision and day are the key.)"""
    return _func(_store)


def cached_by_revision(func):
    """Cache ``func(store)`` until the ledger changes (``store.revision()``) or the day does (逾期), so a
    rerun for a filter, a pan or a tab does not read the whole ledger again."""
    @wraps(func)
    def wrapper(store: Store):
        return _by_revision(func, store, f"{func.__module__}.{func.__qualname__}", store.location, store.revision(),
                            today())
    return wrapper
