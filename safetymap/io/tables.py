"""Patches as tables with Chinese column names (字段中文名, with the unit), shared by the exports:
stakes as ``K12+350``, booleans as 是/否, dates as dates (or ISO text for CSV)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import Problem, ValidationError
from ..geo import format_stake
from ..schema import Category, Field, Schema

DATE32 = pd.ArrowDtype(pa.date32())
CATEGORY_COLUMN = "类别"
EMPTY_MESSAGE = "没有可导出的图斑（筛选结果为空）"


def format_stakes(values) -> np.ndarray:
    """Vectorised ``geo.format_stake``: metres -> ``K12+350`` (two decimals kept when present), None for NaN."""
    v = np.round(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float), 2)
    out = np.full(len(v), None, dtype=object)
    ok = ~np.isnan(v)
    if not ok.any():
        return out
    v = v[ok]
    km = np.floor(v / 1000)
    m = np.round(v - km * 1000, 2)
    carry = m >= 1000
    km[carry] += 1
    m[carry] = 0.0
    whole = m == np.round(m)
    m_text = np.where(whole, np.char.zfill(np.round(m).astype(np.int64).astype(str), 3),
                      np.char.rstrip(np.char.mod("%06.2f", m), "0"))
    out[ok] = np.char.add(np.char.add("K", km.astype(np.int64).astype(str)), np.char.add("+", m_text))
    raw = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    halves = np.flatnonzero(np.abs(np.abs(raw * 100 - np.trunc(raw * 100)) - 0.5) < 1e-6)
    out[halves] = [format_stake(x) for x in raw[halves]]  # half a centimetre: round as Python does
    return out


def date32(values: pd.Series) -> pd.Series:
    """Dates as Arrow date32 (written as real dates by GDAL), vectorised."""
    days = pd.to_datetime(values).to_numpy("datetime64[D]")
    return pd.Series(pa.array(days, type=pa.date32(), from_pandas=True), index=values.index, dtype=DATE32)


def column_name(f: Field) -> str:
    return f.label_with_unit


def bool_text(values: pd.Series) -> pd.Series:
    """True/False/missing -> 是/否/None."""
    flags = values.astype("boolean")
    out = np.where(flags.fillna(False).to_numpy(dtype=bool), "是", "否").astype(object)
    out[flags.isna().to_numpy()] = None
    return pd.Series(out, index=values.index, dtype=object)


def _column(f: Field, values: pd.Series, mode: str) -> pd.Series:
    """One field's values for an export ``mode``: "gis" (GeoPackage, GeoJSON), "excel" or "text" (CSV, KML)."""
    if f.type == "stake":
        return pd.Series(format_stakes(values), index=values.index, dtype=object)
    if f.type == "bool":
        return bool_text(values)
    if f.type in ("date", "datetime"):
        stamps = pd.to_datetime(values)
        if mode == "text":
            fmt = "%Y-%m-%d" if f.type == "date" else "%Y-%m-%d %H:%M:%S"
            return stamps.dt.strftime(fmt).astype(object).where(stamps.notna(), None)
        if mode == "gis" and f.type == "date":
            return date32(stamps)
        return stamps.astype("datetime64[ms]")
    return values


def labelled(category: Category, frame: pd.DataFrame, mode: str = "gis") -> pd.DataFrame:
    """The category's fields of ``frame`` (keys) under their Chinese names."""
    out = {}
    for f in category.fields:
        values = frame[f.key] if f.key in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        out[column_name(f)] = _column(f, values, mode)
    return pd.DataFrame(out, index=frame.index)


def by_category(frame: pd.DataFrame, schema: Schema) -> list[tuple[Category, pd.DataFrame]]:
    """(category, its rows) for each category present, in schema order; refuses an empty frame."""
    parts = [(c, frame[frame["category"] == c.key]) for c in schema.categories]
    parts = [(c, p) for c, p in parts if len(p)]
    if not parts:
        raise ValidationError([Problem("", EMPTY_MESSAGE)])
    return parts


def union_columns(schema: Schema, categories: list[Category]) -> list[str]:
    """Every Chinese column name of these categories, common fields first, without repeats."""
    names: list[str] = []
    for c in categories:
        for f in c.fields:
            if column_name(f) not in names:
                names.append(column_name(f))
    return names
