"""What every page shares: the store (one per process, shared by sessions) and the sample banner."""
from __future__ import annotations

import streamlit as st

from ..seed import default_db_path, init_database
from ..store import Store


@st.cache_resource(show_spinner="正在打开台账数据库…")
def get_store() -> Store:
    """The ledger database; created and seeded with the sample (示例数据) on first run."""
    path = default_db_path()
    if not path.exists():
        return init_database(path, sample=True)
    return Store(path)


def sample_banner(store: Store) -> None:
    if store.meta("sample"):
        st.caption("⚠️ 当前数据库含 **示例数据**：路线、桩号、桥梁和各项数值均为虚构，仅用于演示，不得用于实际决策。")
