"""The filter inputs the map, ledger and files pages share: one widget per part of a ``PatchFilter``,
labelled and filled from the schema."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ..filters import PatchFilter
from ..ledger import FOG_LEDGER_THRESHOLD
from ..schema import Schema

PARTS = ("category", "grade", "status", "township", "route", "overdue", "fog_ledger", "text")
KEY_SUFFIX = {"fog_ledger": "fog"}  # widget keys the pages have always used (map_f_fog)


def filter_form(schema: Schema, frame: pd.DataFrame, *, key: str, parts: tuple[str, ...] = PARTS, per_row: int = 3,
                overdue_label: str = "仅显示整改逾期") -> PatchFilter:
    """Draw the inputs of ``parts``, ``per_row`` to a row (1 in the sidebar), and return the filter."""
    chosen = {}
    cols: list = []
    for i, part in enumerate(parts):
        if i % per_row == 0:
            cols = st.columns(per_row) if per_row > 1 else [st.container()]
        with cols[i % per_row]:
            chosen[part] = _widget(part, schema, frame, f"{key}_{KEY_SUFFIX.get(part, part)}", overdue_label)
    return PatchFilter.from_args(schema, **chosen)


def _widget(part: str, schema: Schema, frame: pd.DataFrame, key: str, overdue_label: str):
    if part == "category":
        labels = {c.key: c.label for c in schema.categories}
        return st.multiselect("类别", schema.category_keys, format_func=labels.get, key=key, placeholder="全部类别")
    if part == "grade":
        return st.multiselect(schema.label("risk_grade"), schema.grade_labels, key=key, placeholder="全部等级")
    if part in ("status", "township"):
        f = schema.field("rect_status" if part == "status" else "township")
        return st.multiselect(f.label, list(f.values), key=key, placeholder=f"全部{f.label}")
    if part == "route":
        routes = sorted(frame["route_code"].dropna().unique()) if "route_code" in frame else []
        return st.multiselect(schema.label("route_code"), routes, key=key, placeholder="全部路线")
    if part == "overdue":
        return st.checkbox(overdue_label, key=key)
    if part == "fog_ledger":
        return st.checkbox(f"仅显示团雾台账路段（年均≥{FOG_LEDGER_THRESHOLD:g}次）", key=key)
    if part == "text":
        return st.text_input(f"{schema.label('code')}或{schema.label('name')}含", key=key)
    raise AssertionError(part)
