"""团雾台账: each fog segment's yearly fog-event count from the event log (or entered by hand), and the
ledger of segments averaging 3 or more a year."""
from __future__ import annotations

import streamlit as st

from ..ledger import FOG_LEDGER_THRESHOLD, fog_counts
from .common import get_store, sample_banner


def render() -> None:
    store = get_store()
    st.title("团雾多发路段台账")
    sample_banner(store)
    fog = store.read("fog")
    counts = fog_counts(fog, store.fog_events())
    names = dict(zip(fog["code"], fog["name"]))
    table = counts.rename(columns={"code": "图斑编号", "years": "统计年数", "events": "事件总数",
                                   "per_year": "年均次数", "source": "数据来源", "in_ledger": "列入台账"})
    table.insert(1, "名称", table["图斑编号"].map(names))
    table.columns = [f"{c}年" if isinstance(c, int) else c for c in table.columns]
    only = st.toggle(f"只看年均 {FOG_LEDGER_THRESHOLD:g} 次以上（列入台账）", value=True)
    shown = table[table["列入台账"]] if only else table
    st.metric("列入台账的团雾路段", int(table["列入台账"].sum()), help="年均发生3次以上团雾路段")
    st.dataframe(shown, hide_index=True, width="stretch",
                 column_config={"年均次数": st.column_config.NumberColumn(format="%.2f")})
    st.caption("统计年数：从该路段首次记录团雾的年份到事件记录中的最近年份；无事件记录时采用人工填报的年均次数。")
