"""One spreadsheet cell's value, shared by the Excel and CSV writers: text a spreadsheet would run as a
formula made inert, a value as the text a table shows, how wide that text is in Excel."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..text import is_missing

# Excel, LibreOffice and WPS start a formula (or DDE) at these; OWASP's list for CSV injection.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _looks_like_formula(text: str) -> bool:
    # Leading apostrophes are looked through, so that a text which already starts with one is quoted
    # once more and ``restore`` gives every text back exactly.
    return text.lstrip(QUOTE).startswith(FORMULA_START)


def neutralise(value):
    """A text that would start a formula, with an apostrophe in front; any other value as it is."""
    if isinstance(value, str) and _looks_like_formula(value):
        return QUOTE + value
    return value


def restore(value):
    """The inverse of ``neutralise``, for reading back a file this app wrote."""
    if isinstance(value, str) and value.startswith(QUOTE) and _looks_like_formula(value[1:]):
        return value[1:]
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text cell and column name neutralised; numeric, date and bool columns untouched."""
    out = frame.copy()
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            out.isetitem(i, column.map(neutralise))
    out.columns = [neutralise(c) for c in out.columns]
    return out


def decimals(column: str) -> int:
    """Rates and hours with one decimal, other fractional numbers (km, averages) with two."""
    return 1 if column.endswith(("(%)", "(h)")) else 2


def text_of(value, column: str = "", fixed: bool = True) -> str:
    """A cell as text: numbers of a float column with fixed decimals, others as short as they go."""
    if is_missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    if isinstance(value, (float, np.floating)):
        text = f"{value:.{decimals(column)}f}"
        return text if fixed else text.rstrip("0").rstrip(".")
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def display_width(text: str) -> int:
    """Columns a text takes in Excel: a CJK character counts two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
