"""台账: the ledger as a table, filtered by category, grade and status."""
from __future__ import annotations

import streamlit as st

from .. import report
from ..clock import today
from ..ledger import ledger_table
from .common import checked_download, current_user, get_store, sample_banner


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
    # The table's own CSV/copy controls are off for everyone (client.disableDataExport): downloads are here,
    # for roles with the export right, checked and audited by the store.
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"长度(m)": st.column_config.NumberColumn(format="%.0f")})
    if current_user().can("export"):
        st.download_button("下载 CSV", data=checked_download(f"台账 {len(table)} 个图斑.csv", lambda: report.csv_bytes(table)),
                           file_name=f"风险图斑台账_{today():%Y%m%d}.csv", mime="text/csv", on_click="ignore",
                           icon=":material/download:")
