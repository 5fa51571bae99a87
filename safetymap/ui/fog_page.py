"""团雾台账: each fog segment's yearly fog-event count from the event log (or entered by hand), and the
ledger of segments averaging 3 or more a year."""
from __future__ import annotations

import streamlit as st

from .. import stats
from ..fog import FogRule
from .common import get_store, sample_banner


def render() -> None:
    store = get_store()
    st.title("团雾多发路段台账")
    sample_banner(store)
    table = stats.fog_ledger_table(store.read(), store.fog_events(), store.schema, every_segment=True)
    in_ledger = table.pop(stats.IN_LEDGER)
    rule = FogRule.of(store.schema)
    st.caption(rule.describe())
    only = st.toggle(f"只看年均 {rule.threshold:g} 次以上（列入台账）", value=True)
    st.metric("列入台账的团雾路段", int(in_ledger.sum()), help=f"年均发生{rule.threshold:g}次以上团雾路段")
    st.dataframe(table[in_ledger.to_numpy()] if only else table.assign(**{stats.IN_LEDGER: in_ledger}),
                 hide_index=True, width="stretch")
    st.caption("记录年数：从该路段首次记录团雾的年份到事件记录中的最近年份；无事件记录时采用人工填报的年均次数。")
