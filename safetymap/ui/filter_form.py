"""The filter inputs the map, ledger and files pages share: one widget per part of a ``PatchFilter``,
labelled and filled from the schema."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ..filters import PatchFilter
from ..fog import FogRule
from ..schema import Schema
from . import addresses

PARTS = ("category", "grade", "status", "township", "route", "overdue", "fog_ledger", "text")
KEY_SUFFIX = {"fog_ledger": "fog"}  # widget keys the pages have always used (map_f_fog)


def filter_form(schema: Schema, frame: pd.DataFrame, *, key: str, parts: tuple[str, ...] = PARTS, per_row: int = 3,
                overdue_label: str = "仅显示整改逾期") -> PatchFilter:
    """Draw the inputs of ``parts``, ``per_row`` to a row (1 in the sidebar), and return the filter. Their
    values come from a link (the URL) or from the session, so they persist across pages, and go back into
    the URL (``safetymap.ui.addresses``)."""
    keys = {part: f"{key}_{KEY_SUFFIX.get(part, part)}" for part in parts}
    linked = {part: k for part, k in keys.items() if part in addresses.FILTER_PARAMS}
    addresses.bind_filters(linked, _options(schema, frame))
    chosen = {}
    cols: list = []
    for i, part in enumerate(parts):
        if i % per_row == 0:
            cols = st.columns(per_row) if per_row > 1 else [st.container()]
        with cols[i % per_row]:
            chosen[part] = _widget(part, schema, frame, keys[part], overdue_label)
    addresses.keep_filters({part: chosen[part] for part in linked})
    return PatchFilter.from_args(schema, **chosen)


def _options(schema: Schema, frame: pd.DataFrame) -> dict[str, list]:
    return {"category": schema.category_keys, "grade": schema.grade_labels,
            "status": list(schema.field("rect_status").values), "township": list(schema.field("township").values),
            "route": _routes(frame)}


def _routes(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["route_code"].dropna().unique()) if "route_code" in frame else []


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
        return st.multiselect(schema.label("route_code"), _routes(frame), key=key, placeholder="全部路线")
    if part == "overdue":
        return st.checkbox(overdue_label, key=key)
    if part == "fog_ledger":
        return st.checkbox(f"仅显示团雾台账路段（年均≥{FogRule.of(schema).threshold:g}次）", key=key)
    if part == "text":
        return st.text_input(f"{schema.label('code')}或{schema.label('name')}含", key=key)
    raise AssertionError(part)
