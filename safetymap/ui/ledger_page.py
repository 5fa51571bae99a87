"""台账: the ledger as a table, filtered by category, grade and status."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ..io.csv import csv_bytes
from ..clock import today
from ..filters import MASK_KEYS, PatchFilter
from ..ledger import ledger_table
from ..store import Store
from .common import cached_by_revision, checked_download, current_user, get_store, sample_banner
from .filter_form import filter_form


@dataclass(frozen=True)
class LedgerView:
    """The whole table as the page shows it and, row for row, the values its filters test. Shared by
    every session (``cached_by_revision``): select rows from it, never change it."""
    table: pd.DataFrame
    keys: pd.DataFrame

    def chosen(self, chosen: PatchFilter) -> pd.DataFrame:
        return self.table[chosen.mask(self.keys)].reset_index(drop=True)


@cached_by_revision
def ledger_view(store: Store) -> LedgerView:
    """The table of every current patch, built once per revision and day (逾期) from the common fields
    read column-wise (no geometry): a rerun for a filter only selects rows."""
    frame = store.read_columns([f.key for f in store.schema.common_fields])
    # a copy: a selection may be a view that keeps every column of the read alive
    return LedgerView(ledger_table(frame, store.schema), frame[[k for k in MASK_KEYS if k in frame]].copy())


def render() -> None:
    store = get_store()
    schema = store.schema
    st.title("风险图斑台账")
    sample_banner(store)
    view = ledger_view(store)
    chosen = filter_form(schema, view.keys, key="ledger_f", parts=("category", "grade", "status"))
    table = view.chosen(chosen)
    st.metric("图斑数量", len(table))
    # The table's own CSV/copy controls are off for everyone (client.disableDataExport): downloads are here,
    # for roles with the export right, checked and audited by the store.
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={schema.field("length_m").label_with_unit: st.column_config.NumberColumn(format="%.0f")})
    if current_user().can("export"):
        st.download_button("下载 CSV", data=checked_download(f"台账 {len(table)} 个图斑.csv", lambda: csv_bytes(table)),
                           file_name=f"风险图斑台账_{today():%Y%m%d}.csv", mime="text/csv", on_click="ignore",
                           icon=":material/download:")
