"""One schema field's values: blank-testing, converting and formatting them for display, SQL and
files. Everything above this module (validation, the store, io, pages) formats values through here."""
from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import infer_dtype

from .clock import CHINA_TZ, local_series_to_utc_text, utc_text, utc_text_to_local
from .geo import format_stake
from .schema import Field

ARROW_STRING = pd.StringDtype("pyarrow")
MULTI_SPLIT = re.compile(r"[、,，;；/]")  # what may stand between the values of a multiple enum
BOOL_TEXT = {True: "是", False: "否"}


# ---------------------------------------------------------------- blank
def is_blank(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def split_multi(value) -> list[str]:
    """The values of a multiple enum, however they were separated."""
    return [part.strip() for part in MULTI_SPLIT.split(str(value)) if part.strip()]


def is_text_kind(series: pd.Series) -> bool:
    """True when the column holds only strings (and missing values): the vectorised path applies."""
    if isinstance(series.dtype, pd.StringDtype):
        return True
    return series.dtype == object and infer_dtype(series, skipna=True) in ("string", "empty")


def as_str(series: pd.Series) -> pd.Series:
    """A column of strings as pandas' string dtype (Arrow-backed: its ``.str`` methods run in C)."""
    return series if isinstance(series.dtype, pd.StringDtype) else series.astype(ARROW_STRING)


def _blank_texts(text: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), ""), True).to_numpy(zero_copy_only=False)


def blank_mask(series: pd.Series) -> np.ndarray:
    """Missing values and texts that are empty after stripping, as a boolean array."""
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        return _blank_texts(pa.array(series))  # the column's own Arrow data, no copy
    if is_text_kind(series):  # straight to Arrow: a pandas string column costs ~0.4 ms even for a few rows
        return _blank_texts(pa.array(series.to_numpy(dtype=object), from_pandas=True, type=pa.string()))
    mask = series.isna().to_numpy(dtype=bool, copy=True)
    if series.dtype == object and infer_dtype(series, skipna=True) in ("mixed", "mixed-integer"):
        mask |= (series.str.strip() == "").fillna(False).to_numpy(dtype=bool)
    return mask


# ---------------------------------------------------------------- display
STAKE_PREFIX_KEY = "stake_prefix"  # the patch field holding its stakes' chain prefix (桩号冠号)


def display_value(f: Field | None, value, record=None) -> str:
    """A value as text for history, messages and files: stakes as K12+350 with the chain prefix of
    ``record`` (the patch the value belongs to: ZK12+350), dates ISO, booleans 是/否."""
    if is_blank(value):
        return ""
    if f is not None and f.type == "stake":
        prefix = None if record is None else record.get(STAKE_PREFIX_KEY)
        return format_stake(value, None if is_blank(prefix) else prefix)
    if f is not None and f.type == "bool":
        return BOOL_TEXT[bool(value)]
    if f is not None and f.type == "date":
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if f is not None and f.type == "datetime":
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_python(f: Field | None, value):
    """One clean value as a plain Python value for a record dict."""
    if is_blank(value):
        return None
    if f is not None and f.type == "date":
        return pd.Timestamp(value).date()
    if f is not None and f.type == "datetime":
        return pd.Timestamp(value).to_pydatetime()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def differs(f: Field, old, new) -> bool:
    """Whether a stored value and a new one are different values of ``f`` (blank equals blank)."""
    if is_blank(old) and is_blank(new):
        return False
    if is_blank(old) != is_blank(new):
        return True
    if f.type in ("float", "stake"):
        return abs(float(old) - float(new)) > 1e-9
    return old != new


# ---------------------------------------------------------------- SQL
def to_sql(f: Field, series: pd.Series) -> list:
    """A clean column -> values a database driver stores (dates as GeoPackage text, NA as NULL)."""
    return sql_array(f, series).to_pylist()


def sql_array(f: Field, series: pd.Series) -> pa.Array:
    """A clean column -> the values ``to_sql`` gives, as one Arrow array (nulls for NULL) that C code
    can write without a Python object per value: dates as GeoPackage text, booleans as booleans (stored
    1/0 by SQLite), integers and floats as such, texts with blanks as NULL."""
    if f.type == "date":
        values = pd.to_datetime(series).dt.strftime("%Y-%m-%d")
    elif f.type == "datetime":
        values = local_series_to_utc_text(series)
    elif f.type in ("bool", "int"):
        kind = pa.bool_() if f.type == "bool" else pa.int64()
        if series.dtype.kind not in ("b" if f.type == "bool" else "iu"):  # e.g. floats or objects: as Python does
            series = series.astype(object).map(bool if f.type == "bool" else int, na_action="ignore")
        return pa.array(series, kind, from_pandas=True)
    elif f.type in ("float", "stake"):
        return pa.array(series.astype(float), pa.float64(), from_pandas=True)
    else:
        return _sql_text(series)
    return pa.array(values, pa.string(), from_pandas=True)


def _sql_text(series: pd.Series) -> pa.Array:
    """Texts, blanks as NULL; other values as ``str`` makes them. A column of strings (and missing values)
    is converted and tested in Arrow, with no Python object per value (as ``blank_mask`` tests it)."""
    if is_text_kind(series):
        text = pa.array(series, pa.string(), from_pandas=True)
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), ""), True)
    else:
        text = pa.array(series.astype(object).map(str, na_action="ignore"), pa.string(), from_pandas=True)
        blank = pa.array(blank_mask(series))
    return pc.if_else(blank, pa.scalar(None, pa.string()), text)


def from_sql(f: Field, values: list) -> pd.Series:
    """Stored values of ``f`` -> a typed column (the inverse of ``to_sql``)."""
    if f.type == "date":
        return pd.to_datetime(pd.Series(values, dtype=object), errors="coerce",
                              format="%Y-%m-%d").astype("datetime64[ms]")
    if f.type == "datetime":
        return utc_text_to_local(values)
    if f.type == "int":
        return pd.Series(values, dtype="Int64")
    if f.type == "bool":
        return pd.Series([None if v is None else bool(v) for v in values], dtype="boolean")
    if f.type in ("float", "stake"):
        return pd.Series([np.nan if v is None else v for v in values], dtype=float)
    return pd.Series(values, dtype=object)


def value_from_sql(f: Field, value):
    """One stored value of ``f`` as a record value: the same as ``to_python(f, from_sql(f, [value])[0])``,
    without building a column (the plain-row path of ``Store.get`` and ``Store.update``)."""
    if value is None:
        return None
    kind = f.type
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.datetime.strptime(str(value), "%Y-%m-%d").date()
        except ValueError:
            return None
    if kind == "datetime":
        if not isinstance(value, dt.datetime):
            try:
                value = dt.datetime.fromisoformat(str(value).strip())
            except ValueError:
                return to_python(f, from_sql(f, [value]).iloc[0])
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        local = value.astimezone(CHINA_TZ).replace(tzinfo=None)
        return local.replace(microsecond=local.microsecond // 1000 * 1000)
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(value)
    if kind in ("float", "stake"):
        value = float(value)
        return None if math.isnan(value) else value
    return None if isinstance(value, str) and not value.strip() else value


def value_to_sql(f: Field, value):
    """One record value of ``f`` as stored: the same as ``to_sql(f, column)`` of a column holding it,
    without building a column (the plain-row path of ``Store.update``)."""
    if is_blank(value):
        return None
    if f.type == "date":
        return value.strftime("%Y-%m-%d")
    if f.type == "datetime":
        return utc_text(value)
    if f.type == "bool":
        return bool(value)
    if f.type == "int":
        return int(value)
    if f.type in ("float", "stake"):
        return float(value)
    return str(value)
