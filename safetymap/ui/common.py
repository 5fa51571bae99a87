"""What every page shares: the store (one per process, shared by sessions) and the sample banner."""
from __future__ import annotations

import os
import threading
from functools import wraps

import pandas as pd
import streamlit as st

from ..auth import User
from ..errors import PermissionDenied
from ..ledger import today
from ..memory import trim_memory
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


_LATEST: dict[tuple[str, str], tuple[tuple, object]] = {}  # (function, ledger) -> (revision and day, value)
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_GUARD = threading.Lock()


def _by_revision(func, store: Store, name: str, location: str, revision: tuple[int, ...], day, update=None):
    """``func(store)`` for this revision and day, one object for the whole process, shared by every
    session and rerun: never pickled or copied (``st.cache_data`` unpickled a copy of the whole ledger
    on every rerun). Only the newest revision is kept, so a busy ledger holds one copy in memory; a
    session still asking for an older one gets it computed but not kept. With ``update``, a newer
    revision's value is ``update(store, previous)`` from the older one kept, unless that returns None."""
    slot, key = (name, location), (tuple(revision), str(day))
    hit = _LATEST.get(slot)
    if hit is not None and hit[0] == key:
        return hit[1]
    with _GUARD:
        lock = _LOCKS.setdefault(slot, threading.Lock())
    with lock:  # sessions arriving together compute it once
        hit = _LATEST.get(slot)
        if hit is not None and hit[0] == key:
            return hit[1]
        newer = hit is None or key >= hit[0]
        value = None
        if newer:  # the older value is let go before the new one is built: never both held by the cache
            previous = _LATEST.pop(slot, (None, None))[1]
            hit = None
            if update is not None and previous is not None:
                value = update(store, previous)
            del previous
            trim_memory()
        if value is None:
            value = func(store)
        if newer:
            _LATEST[slot] = (key, value)
            trim_memory()  # what the build freed back to the system
        return value


def clear_revision_cache() -> None:
    """Forget every cached result (tests)."""
    _LATEST.clear()


def cached_by_revision(func=None, *, update=None):
    """Cache ``func(store)`` until the ledger changes (``store.revision()``) or the day does (逾期), so a
    rerun for a filter, a pan or a tab does not read the whole ledger again. The result is shared
    between sessions: a frame is handed out as a shallow copy (pandas copy-on-write keeps the shared
    one unchanged when a caller assigns to its copy); callers must not change other results in place.
    With ``update`` (``@cached_by_revision(update=f)``), the next revision's result is ``f(store, previous)``
    from the one cached for an older revision or day, or ``func(store)`` where ``f`` returns None."""
    if func is None:
        return lambda f: cached_by_revision(f, update=update)

    @wraps(func)
    def wrapper(store: Store):
        out = _by_revision(func, store, f"{func.__module__}.{func.__qualname__}", store.location, store.revision(),
                           today(), update)
        return out.copy(deep=False) if isinstance(out, pd.DataFrame) else out
    return wrapper
