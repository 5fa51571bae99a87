"""台账: the ledger as a table, filtered by category, grade and status."""
from __future__ import annotations

import streamlit as st

from ..ledger import ledger_table
from .common import get_store, sample_banner


def render() -> None:
    store = get_store()
    schema = store.schema
    st.title("风险图斑台账")
    sample_banner(store)
    frame = store.read()
    cols = st.columns(3)
    labels = {c.key: c.label for c in schema.categories}
    cats = cols[0].multiselect("类别", schema.category_keys, format_func=labels.get, placeholder="全部类别")
    grades = cols[1].multiselect("风险等级", schema.grade_labels, placeholder="全部等级")
    statuses = cols[2].multiselect("整改状态", list(schema.field("rect_status").values), placeholder="全部状态")
    if cats:
        frame = frame[frame["category"].isin(cats)]
    if grades:
        frame = frame[frame["risk_grade"].isin(grades)]
    if statuses:
        frame = frame[frame["rect_status"].isin(statuses)]
    st.metric("图斑数量", len(frame))
    table = ledger_table(frame, schema)
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"长度(m)": st.column_config.NumberColumn(format="%.0f")})
