"""台账: the ledger as a table, filtered by category, grade and status."""
from __future__ import annotations

import streamlit as st

from ..ledger import ledger_table
from .common import get_store, sample_banner
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
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={schema.field("length_m").label_with_unit: st.column_config.NumberColumn(format="%.0f")})
