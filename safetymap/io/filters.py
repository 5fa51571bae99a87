"""Choose the part of the ledger to export: by category, grade, status, township, route or overdue.
Every filter takes one value or a list; an unknown value is an error naming it, not an empty export."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from ..errors import Problem, RequestError
from ..ledger import overdue as overdue_mask
from ..schema import Schema


def _as_list(value) -> list:
    if value is None or value == "" or value == []:
        return []
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _known(values: list, allowed, label: str) -> list[str]:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise RequestError([Problem(label, f"「{v}」不是可选值（{'、'.join(allowed)}）") for v in bad])
    return values


def filter_patches(frame: pd.DataFrame, schema: Schema, *, category=None, grade=None, status=None,
                   township=None, route=None, overdue: bool = False, on: dt.date | None = None) -> pd.DataFrame:
    """The rows of ``frame`` (as read from the store) that pass every given filter."""
    keep = pd.Series(True, index=frame.index)
    categories = [schema.category(c).key for c in _as_list(category)]
    if categories:
        keep &= frame["category"].isin(categories)
    grades = [schema.grade(g).label for g in _as_list(grade)]
    if grades:
        keep &= frame["risk_grade"].isin(grades)
    fields = schema.all_fields()
    statuses = _known(_as_list(status), fields["rect_status"].values, fields["rect_status"].label)
    if statuses:
        keep &= frame["rect_status"].isin(statuses)
    townships = _known(_as_list(township), fields["township"].values, fields["township"].label)
    if townships:
        keep &= frame["township"].isin(townships)
    routes = [str(r).strip().upper() for r in _as_list(route)]
    if routes:
        keep &= frame["route_code"].astype(str).str.upper().isin(routes)
    if overdue:
        keep &= overdue_mask(frame, on).to_numpy()
    return frame[keep.to_numpy()].reset_index(drop=True)
