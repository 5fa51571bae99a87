"""台账: the ledger as a table, filtered by category, grade and status."""
from __future__ import annotations

import streamlit as st

from ..io.csv import csv_bytes
from ..clock import today
from ..ledger import ledger_table
from . import addresses
from .common import checked_download, current_user, get_store, sample_banner

# filter name -> widget key; the values are kept by ``addresses`` (shared with the map, kept across pages)
FILTER_WIDGETS = {"category": "ledger_f_category", "risk_grade": "ledger_f_grade", "rect_status": "ledger_f_status"}


def render() -> None:
    store = get_store()
    schema = store.schema
    st.title("风险图斑台账")
    sample_banner(store)
    frame = store.read()
    cols = st.columns(3)
    labels = {c.key: c.label for c in schema.categories}
    options = {"category": schema.category_keys, "risk_grade": schema.grade_labels,
               "rect_status": list(schema.field("rect_status").values)}
    addresses.bind_filters(FILTER_WIDGETS, options)
    keys = FILTER_WIDGETS
    cats = cols[0].multiselect("类别", options["category"], format_func=labels.get, placeholder="全部类别",
                               key=keys["category"])
    grades = cols[1].multiselect("风险等级", options["risk_grade"], placeholder="全部等级", key=keys["risk_grade"])
    statuses = cols[2].multiselect("整改状态", options["rect_status"], placeholder="全部状态", key=keys["rect_status"])
    addresses.keep_filters({"category": cats, "risk_grade": grades, "rect_status": statuses})
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
        st.download_button("下载 CSV", data=checked_download(f"台账 {len(table)} 个图斑.csv", lambda: csv_bytes(table)),
                           file_name=f"风险图斑台账_{today():%Y%m%d}.csv", mime="text/csv", on_click="ignore",
                           icon=":material/download:")
