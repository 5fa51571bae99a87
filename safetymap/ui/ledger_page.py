"""台账: the ledger as a table, filtered by category, grade and status."""
from __future__ import annotations

import streamlit as st

from ..io.csv import csv_bytes
from ..clock import today
from ..ledger import ledger_table
from .common import checked_download, current_user, get_store, sample_banner
from .filter_form import filter_form


def render() -> None:
    store = get_store()
    schema = store.schema
    st.title("风险图斑台账")
    sample_banner(store)
    frame = store.read()
    chosen = filter_form(schema, frame, key="ledger_f", parts=("category", "grade", "status"))
    frame = frame[chosen.mask(frame)]
    st.metric("图斑数量", len(frame))
    table = ledger_table(frame, schema)
    # The table's own CSV/copy controls are off for everyone (client.disableDataExport): downloads are here,
    # for roles with the export right, checked and audited by the store.
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={schema.field("length_m").label_with_unit: st.column_config.NumberColumn(format="%.0f")})
    if current_user().can("export"):
        st.download_button("下载 CSV", data=checked_download(f"台账 {len(table)} 个图斑.csv", lambda: csv_bytes(table)),
                           file_name=f"风险图斑台账_{today():%Y%m%d}.csv", mime="text/csv", on_click="ignore",
                           icon=":material/download:")
