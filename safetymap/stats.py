"""Statistics as DataFrames (counts and lengths by category, grade, status, township, unit, route)."""
from __future__ import annotations

import pandas as pd

from .ledger import overdue
from .schema import Schema


def counts(frame: pd.DataFrame, by: str, schema: Schema) -> pd.DataFrame:
    """Number of patches and total length (km) per value of ``by``, in schema order where there is one."""
    grouped = frame.groupby(by, dropna=False).agg(数量=("code", "size"), 长度km=("length_m", "sum"))
    grouped["长度km"] = (grouped["长度km"] / 1000).round(2)
    order = _order(by, schema)
    if order:
        grouped = grouped.reindex([v for v in order if v in grouped.index] + [v for v in grouped.index if v not in order])
    return grouped


def _order(by: str, schema: Schema) -> list:
    if by == "category":
        return schema.category_keys
    fields = schema.all_fields()
    return list(fields[by].values) if by in fields and fields[by].values else []


def summary(frame: pd.DataFrame, schema: Schema) -> dict:
    """Counts by category, grade and rectification status, plus overdue: what `safetymap stats` prints."""
    labels = {c.key: c.label for c in schema.categories}
    by_cat = frame["category"].value_counts()
    by_grade = frame["risk_grade"].value_counts()
    by_status = frame["rect_status"].value_counts()
    return {
        "total": int(len(frame)),
        "by_category": {labels[k]: int(by_cat.get(k, 0)) for k in schema.category_keys},
        "by_grade": {g: int(by_grade.get(g, 0)) for g in schema.grade_labels},
        "by_status": {s: int(by_status.get(s, 0)) for s in _statuses(schema)},
        "overdue": int(overdue(frame).sum()) if len(frame) else 0,
    }


def _statuses(schema: Schema) -> list[str]:
    return list(next(f for f in schema.common_fields if f.key == "rect_status").values)
