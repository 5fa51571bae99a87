"""Which patches to show or export: one filter object, built and checked against the schema once, used by
the map, the ledger page, the files page and the CLI. An unknown value is an error naming it (请求有误),
not an empty result."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from .errors import Problem, RequestError
from .ledger import OVERDUE_KEYS, overdue as overdue_mask
from .schema import Schema

SQL_PARTS = {"grades": "risk_grade", "statuses": "rect_status", "townships": "township", "routes": "route_code"}
# ^ the parts a database selects on, by the field each one tests; categories choose the layers read
VALUE_PARTS = {"categories": "category", "grades": "risk_grade", "statuses": "rect_status", "townships": "township"}
# ^ the parts ``mask`` tests as "value is one of", by the column each one tests
MASK_KEYS = ("code", "name", *VALUE_PARTS.values(), "route_code", *OVERDUE_KEYS)  # every column ``mask`` may read


@dataclass(frozen=True)
class PatchFilter:
    """Every part is optional; the parts given must all hold (AND); several values of one part are OR."""

    categories: tuple[str, ...] = ()  # category keys
    grades: tuple[str, ...] = ()  # grade labels
    statuses: tuple[str, ...] = ()  # rectification statuses
    townships: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()  # route codes, upper case
    overdue: bool = False  # rectification past its deadline
    fog_ledger: bool = False  # fog segments in the fog ledger (年均≥3次)
    text: str = ""  # part of the code or the name, any case

    @classmethod
    def from_args(cls, schema: Schema, *, category=None, grade=None, status=None, township=None, route=None,
                  overdue: bool = False, fog_ledger: bool = False, text: str | None = None) -> PatchFilter:
        """A filter from loose input (one value or a list each; categories by key or label, grades by
        label or key). Raises RequestError listing every unknown value."""
        problems: list[Problem] = []
        categories = _choose(_as_list(category), _category_names(schema), "类别", problems)
        grades = _choose(_as_list(grade), _grade_names(schema), schema.label("risk_grade"), problems)
        statuses = _choose(_as_list(status), _values(schema, "rect_status"), schema.label("rect_status"), problems)
        townships = _choose(_as_list(township), _values(schema, "township"), schema.label("township"), problems)
        if problems:
            raise RequestError(problems)
        routes = tuple(str(r).strip().upper() for r in _as_list(route))
        return cls(categories, grades, statuses, townships, routes, bool(overdue), bool(fog_ledger),
                   (text or "").strip())

    @property
    def empty(self) -> bool:
        """True when nothing is filtered out."""
        return self == PatchFilter()

    def mask(self, frame: pd.DataFrame, *, on: dt.date | None = None, fog_codes=None) -> np.ndarray:
        """True for each row of ``frame`` (patches as read from the store) that passes. Overdue is judged
        on ``on`` (today by default, or the frame's ``overdue`` column when it has one and ``on`` is not
        given); the fog ledger from ``fog_codes`` or the frame's ``fog_ledger`` column."""
        keep = np.ones(len(frame), dtype=bool)
        for part, key in VALUE_PARTS.items():
            if chosen := getattr(self, part):
                keep &= frame[key].isin(chosen).to_numpy()
        if self.routes:
            keep &= frame["route_code"].astype(str).str.upper().isin(self.routes).to_numpy()
        if self.overdue:
            keep &= _overdue(frame, on)
        if self.fog_ledger:
            keep &= _in_fog_ledger(frame, fog_codes)
        if self.text:
            keep &= _contains(frame, self.text)
        return keep

    def sql_filters(self) -> dict[str, tuple[str, ...]]:
        """What a store selects in SQL: {field key: allowed values} for the parts that are set (the
        categories are not among them: they choose the layers to read)."""
        return {key: getattr(self, part) for part, key in SQL_PARTS.items() if getattr(self, part)}

    def row_parts(self) -> PatchFilter:
        """The parts SQL does not select (overdue, fog ledger, text), to ``apply`` to the rows read."""
        return PatchFilter(overdue=self.overdue, fog_ledger=self.fog_ledger, text=self.text)

    def apply(self, frame: pd.DataFrame, *, on: dt.date | None = None, fog_codes=None) -> pd.DataFrame:
        """The rows that pass, renumbered from 0."""
        return frame[self.mask(frame, on=on, fog_codes=fog_codes)].reset_index(drop=True)

    def as_args(self) -> dict:
        """The filter's parts by name (for logs and URLs)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def filter_patches(frame: pd.DataFrame, schema: Schema, *, on: dt.date | None = None, **parts) -> pd.DataFrame:
    """``PatchFilter.from_args(schema, **parts).apply(frame, on=on)`` in one call."""
    return PatchFilter.from_args(schema, **parts).apply(frame, on=on)


def _as_list(value) -> list:
    if value is None or value == "" or value == []:
        return []
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _choose(values: list, names: dict[str, str], label: str, problems: list[Problem]) -> tuple[str, ...]:
    """Each value's canonical form (``names`` maps every accepted spelling to it); problems for the rest."""
    choices = "、".join(dict.fromkeys(names.values()))
    for v in values:
        if v not in names:
            problems.append(Problem(label, f"「{v}」不是可选值（{choices}）"))
    return tuple(dict.fromkeys(names[v] for v in values if v in names))


def _category_names(schema: Schema) -> dict[str, str]:
    return {**{c.key: c.key for c in schema.categories}, **{c.label: c.key for c in schema.categories}}


def _grade_names(schema: Schema) -> dict[str, str]:
    return {**{g.key: g.label for g in schema.grades}, **{g.label: g.label for g in schema.grades}}


def _values(schema: Schema, key: str) -> dict[str, str]:
    return {v: v for v in schema.field(key).values}


def _overdue(frame: pd.DataFrame, on: dt.date | None) -> np.ndarray:
    if on is None and "overdue" in frame.columns:
        return frame["overdue"].fillna(False).astype(bool).to_numpy()
    return overdue_mask(frame, on).to_numpy()


def _in_fog_ledger(frame: pd.DataFrame, fog_codes) -> np.ndarray:
    if fog_codes is not None:
        return frame["code"].isin(set(fog_codes)).to_numpy()
    if "fog_ledger" not in frame.columns:
        raise RequestError([Problem("团雾台账", "筛选团雾台账路段需要团雾事件记录（fog_codes）")])
    return frame["fog_ledger"].fillna(False).astype(bool).to_numpy()


def _contains(frame: pd.DataFrame, text: str) -> np.ndarray:
    code = frame["code"].astype(str)
    name = frame["name"].fillna("").astype(str)
    return (code.str.contains(text, case=False, regex=False) | name.str.contains(text, case=False, regex=False)).to_numpy()
