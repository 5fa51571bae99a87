"""Turn raw values (typed by a user, read from a file) into clean typed columns, column by column,
collecting every problem with its row and the field's Chinese label; then derive computed fields."""
from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from .errors import Problem
from .geo import lengths_m, parse_stake
from .schema import Category, Field, Schema

TRUE_WORDS = {"是", "true", "1", "y", "yes", "t", "有", "√"}
FALSE_WORDS = {"否", "false", "0", "n", "no", "f", "无", "×"}
MULTI_SPLIT = re.compile(r"[、,，;；/]")
FIVE_PARTS = {"责任": "resp", "措施": "measures", "资金": "funding", "时限": "deadline", "预案": "plan"}


def is_blank(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _blank_mask(series: pd.Series) -> np.ndarray:
    return np.array([is_blank(v) for v in series], dtype=bool)


def _coerce_text(f: Field, s: pd.Series, blank: np.ndarray):
    out = pd.Series([None if b else str(v).strip() for v, b in zip(s, blank)], index=s.index, dtype=object)
    bad = np.zeros(len(s), bool)
    if f.pattern:
        rx = re.compile(f.pattern)
        bad = np.array([(not b) and rx.match(v) is None for v, b in zip(out, blank)], dtype=bool)
    hint = f"，{f.pattern_hint}" if f.pattern_hint else ""
    return out, bad, lambda v: f"「{v}」格式不对{hint}"


def _coerce_number(f: Field, s: pd.Series, blank: np.ndarray):
    as_text = s.map(lambda v: v.strip().replace(",", "") if isinstance(v, str) else v)
    if as_text.dtype == bool or any(isinstance(v, (bool, np.bool_)) for v in as_text):
        as_text = as_text.map(lambda v: "bool" if isinstance(v, (bool, np.bool_)) else v)
    num = pd.to_numeric(as_text, errors="coerce").astype(float)
    bad = ~blank & np.isnan(num.to_numpy())
    messages = {}
    if f.type == "int":
        frac = ~blank & ~bad & (np.abs(num.to_numpy() - np.round(num.to_numpy())) > 1e-9)
        bad |= frac
    lo, hi = f.min, f.max
    values = num.to_numpy()
    with np.errstate(invalid="ignore"):
        out_of_range = ~blank & ~bad & (((values < lo) if lo is not None else False) | ((values > hi) if hi is not None else False))
    bad |= out_of_range
    range_text = f"{'' if lo is None else lo:g}–{'' if hi is None else hi:g}" if (lo is not None and hi is not None) else (
        f"不小于 {lo:g}" if lo is not None else (f"不大于 {hi:g}" if hi is not None else ""))
    kind = "整数" if f.type == "int" else "数值"

    def message(v):
        return f"「{v}」不是{kind}" + (f"（范围 {range_text}）" if range_text else "")

    out = num.round().astype("Int64") if f.type == "int" else num
    out = out.where(~pd.Series(blank | bad, index=s.index))
    return out, bad, message


def _coerce_bool(f: Field, s: pd.Series, blank: np.ndarray):
    values, bad = [], np.zeros(len(s), bool)
    for i, (v, b) in enumerate(zip(s, blank)):
        if b:
            values.append(pd.NA)
            continue
        word = str(v).strip().lower() if not isinstance(v, (bool, np.bool_)) else ("true" if v else "false")
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            word = "1" if v == 1 else ("0" if v == 0 else word)
        if word in TRUE_WORDS:
            values.append(True)
        elif word in FALSE_WORDS:
            values.append(False)
        else:
            values.append(pd.NA)
            bad[i] = True
    return pd.Series(values, index=s.index, dtype="boolean"), bad, lambda v: f"「{v}」应为 是/否"


def _coerce_date(f: Field, s: pd.Series, blank: np.ndarray):
    def one(v):
        if isinstance(v, (dt.date, pd.Timestamp, np.datetime64)):
            return pd.Timestamp(v)
        text = str(v).strip().replace("/", "-").replace(".", "-")
        if f.type == "date":
            return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        return pd.to_datetime(text, errors="coerce", format="ISO8601")

    parsed = [pd.NaT if b else one(v) for v, b in zip(s, blank)]
    out = pd.to_datetime(pd.Series(parsed, index=s.index, dtype=object), errors="coerce", utc=False)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    if f.type == "date":
        out = out.dt.normalize()
    out = out.astype("datetime64[ms]")
    bad = ~blank & out.isna().to_numpy()
    kind = "日期（如 2026-11-28）" if f.type == "date" else "日期时间"
    return out, bad, lambda v: f"「{v}」不是有效的{kind}"


def _coerce_enum(f: Field, s: pd.Series, blank: np.ndarray, separator: str):
    allowed = set(f.values)
    values, bad = [], np.zeros(len(s), bool)
    for i, (v, b) in enumerate(zip(s, blank)):
        if b:
            values.append(None)
            continue
        if f.multiple:
            parts = [p.strip() for p in MULTI_SPLIT.split(str(v)) if p.strip()]
            bad[i] = any(p not in allowed for p in parts)
            values.append(None if bad[i] else separator.join(parts))
        else:
            text = str(v).strip()
            bad[i] = text not in allowed
            values.append(None if bad[i] else text)
    return pd.Series(values, index=s.index, dtype=object), bad, lambda v: f"「{v}」不在可选值中（{'、'.join(f.values)}）"


def _coerce_stake(f: Field, s: pd.Series, blank: np.ndarray):
    values, bad, reasons = [], np.zeros(len(s), bool), {}
    for i, (v, b) in enumerate(zip(s, blank)):
        if b:
            values.append(np.nan)
            continue
        try:
            values.append(parse_stake(v))
        except ValueError as exc:
            values.append(np.nan)
            bad[i] = True
            reasons[str(v)] = str(exc)
    return pd.Series(values, index=s.index, dtype=float), bad, lambda v: reasons.get(str(v), f"桩号「{v}」无效")


def coerce_column(f: Field, s: pd.Series, schema: Schema):
    """(typed series, bad-row mask, message-for-a-raw-value) for one field."""
    blank = _blank_mask(s)
    if f.type in ("str", "text"):
        return _coerce_text(f, s, blank)
    if f.type in ("int", "float"):
        return _coerce_number(f, s, blank)
    if f.type == "bool":
        return _coerce_bool(f, s, blank)
    if f.type in ("date", "datetime"):
        return _coerce_date(f, s, blank)
    if f.type == "enum":
        return _coerce_enum(f, s, blank, schema.separator)
    if f.type == "stake":
        return _coerce_stake(f, s, blank)
    raise AssertionError(f.type)


def empty_column(f: Field, n: int, index) -> pd.Series:
    """A column of ``n`` missing values of the field's clean dtype."""
    if f.type in ("date", "datetime"):
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ms]")
    if f.type in ("float", "stake"):
        return pd.Series(np.nan, index=index, dtype=float)
    if f.type == "int":
        return pd.Series(pd.NA, index=index, dtype="Int64")
    if f.type == "bool":
        return pd.Series(pd.NA, index=index, dtype="boolean")
    return pd.Series([None] * n, index=index, dtype=object)


def clean_frame(category: Category, raw: pd.DataFrame, schema: Schema, *, file: str | None = None,
                first_row: int = 1) -> tuple[pd.DataFrame, list[Problem]]:
    """Clean the editable fields of ``raw`` (columns named by field key). Computed and system columns
    are ignored; a column that is not a field is a problem. Rows are numbered from ``first_row``."""
    problems: list[Problem] = []
    known = set(category.keys) | {"category", "geometry", "source_geometry", "archived"}
    for col in raw.columns:
        if col not in known:
            problems.append(Problem(str(col), f"「{category.label}」没有这个字段", file=file))
    rows = np.arange(first_row, first_row + len(raw))
    clean = {}
    for f in category.editable_fields:
        if f.key not in raw.columns:
            clean[f.key] = empty_column(f, len(raw), raw.index)
            blank = np.ones(len(raw), bool)
        else:
            typed, bad, message = coerce_column(f, raw[f.key], schema)
            clean[f.key] = typed
            for i in np.flatnonzero(bad):
                problems.append(Problem(f.label, message(raw[f.key].iloc[i]), row=int(rows[i]), file=file))
            blank = _blank_mask(raw[f.key])
        if f.required:
            for i in np.flatnonzero(blank):
                problems.append(Problem(f.label, "必填，不能为空", row=int(rows[i]), file=file))
    frame = pd.DataFrame(clean, index=raw.index)
    problems += _cross_field_problems(category, frame, rows, file)
    return frame, problems


def _cross_field_problems(category: Category, frame: pd.DataFrame, rows, file) -> list[Problem]:
    problems = []
    if {"start_stake", "end_stake"} <= set(frame.columns):
        start, end = frame["start_stake"].to_numpy(float), frame["end_stake"].to_numpy(float)
        with np.errstate(invalid="ignore"):
            backwards = end < start
        label = category.field("end_stake").label
        for i in np.flatnonzero(backwards):
            problems.append(Problem(label, "止点桩号小于起点桩号", row=int(rows[i]), file=file))
    return problems


def five_in_place_parts(frame: pd.DataFrame) -> pd.DataFrame:
    """The five checks of 责任、措施、资金、时限、预案五到位, one boolean column each."""
    def present(col):
        if col not in frame.columns:
            return pd.Series(False, index=frame.index)
        return pd.Series(~_blank_mask(frame[col]), index=frame.index)

    funding = pd.to_numeric(frame.get("funding_wan", pd.Series(np.nan, index=frame.index)), errors="coerce")
    return pd.DataFrame({
        "责任": present("resp_unit") & present("resp_person"),
        "措施": present("list_measures"),
        "资金": (funding > 0).fillna(False).astype(bool),
        "时限": present("rect_deadline"),
        "预案": present("plan"),
    }, index=frame.index)


def derive(category: Category, frame: pd.DataFrame, source_geoms, schema: Schema) -> pd.DataFrame:
    """Add the computed fields: length, risk score, grade from the L×C matrix when none was entered,
    and the five-in-place flag."""
    out = frame.copy()
    keys = set(category.keys)
    if "length_m" in keys:
        out["length_m"] = lengths_m(source_geoms)
    if {"likelihood", "consequence"} <= keys:
        L = out["likelihood"].astype("Float64")
        C = out["consequence"].astype("Float64")
        out["risk_score"] = (L * C).astype("Int64")
        if "risk_grade" in keys:
            from_matrix = [schema.grade_from_matrix(int(l), int(c)) if not (pd.isna(l) or pd.isna(c)) else None
                           for l, c in zip(L, C)]
            missing = _blank_mask(out["risk_grade"])
            out["risk_grade"] = [m if miss else g for g, m, miss in zip(out["risk_grade"], from_matrix, missing)]
    if "five_in_place" in keys:
        out["five_in_place"] = five_in_place_parts(out).all(axis=1).astype("boolean")
    return out


def grade_problems(category: Category, frame: pd.DataFrame, rows, file=None) -> list[Problem]:
    """A patch needs a grade: entered, or computable from L and C."""
    if "risk_grade" not in frame.columns:
        return []
    label = category.field("risk_grade").label
    return [Problem(label, "必填：请选择风险等级，或填写可能性L和后果C以计算", row=int(r), file=file)
            for r, g in zip(rows, frame["risk_grade"]) if is_blank(g)]
