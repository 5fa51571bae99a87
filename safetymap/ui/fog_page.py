"""团雾台账: each fog segment's yearly fog-event count from the event log (or entered by hand), and the
ledger of segments averaging 3 or more a year."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from .. import stats
from ..fog import FogRule
from ..ledger import shown
from ..store import Store
from .common import cached_by_revision, get_store, sample_banner


@cached_by_revision
def fog_table(store: Store) -> pd.DataFrame:
    """Every fog segment's counts and whether it is in the ledger (``stats.IN_LEDGER``), once per revision
    and day: the fog segments' fields read column-wise, not the whole ledger."""
    fog = store.schema.fog_category
    segments = store.read_columns(store.schema.category(fog).keys, category=fog)
    return stats.fog_ledger_table(segments, store.fog_events(), store.schema, every_segment=True)


def render() -> None:
    store = get_store()
    st.title("团雾多发路段台账")
    sample_banner(store)
    table = fog_table(store)
    in_ledger = table[stats.IN_LEDGER]
    table = table.drop(columns=stats.IN_LEDGER)
    rule = FogRule.of(store.schema)
    st.caption(rule.describe())
    only = st.toggle(f"只看年均 {rule.threshold:g} 次以上（列入台账）", value=True)
    st.metric("列入台账的团雾路段", int(in_ledger.sum()), help=f"年均发生{rule.threshold:g}次以上团雾路段")
    listed = in_ledger.map({True: "是", False: "否"})
    st.dataframe(shown(table[in_ledger.to_numpy()] if only else table.assign(**{stats.IN_LEDGER: listed})),
                 hide_index=True, width="stretch")
    st.caption("记录年数：从该路段首次记录团雾的年份到事件记录中的最近年份；无事件记录时采用人工填报的年均次数。")
