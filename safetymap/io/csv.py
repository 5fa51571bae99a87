"""CSV export: one table of every patch with 类别 and the Chinese column names, UTF-8 with BOM so that
Excel on Chinese Windows opens it correctly. Reading: UTF-8 (with or without BOM) or, failing that,
GBK — what Excel saves as "CSV" on Chinese Windows — unless the user names the encoding."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from ..schema import Schema
from .tables import CATEGORY_COLUMN, by_category, labelled, union_columns

CSV_ENCODING = "utf-8-sig"
FALLBACK_ENCODING = "gbk"


def csv_frame(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    parts = by_category(frame, schema)
    pieces = []
    for c, part in parts:
        table = labelled(c, part, "text")
        table.insert(0, CATEGORY_COLUMN, c.label)
        pieces.append(table)
    columns = [CATEGORY_COLUMN, *union_columns([c for c, _ in parts])]
    return pd.concat(pieces, ignore_index=True).reindex(columns=columns)


def export_csv(frame: pd.DataFrame, out: str | Path, schema: Schema) -> list[str]:
    csv_frame(frame, schema).to_csv(out, index=False, encoding=CSV_ENCODING)
    return ["csv"]


def read_csv_text(path: str | Path, encoding: str | None = None) -> tuple[pd.DataFrame, str]:
    """The CSV as text cells (no type guessing: codes and phone numbers keep their leading zeros) and
    the encoding it was read with. Raises UnicodeDecodeError when the named encoding does not fit."""
    data = Path(path).read_bytes()
    if encoding:
        text, used = data.decode(encoding), encoding
    else:
        try:
            text, used = data.decode(CSV_ENCODING), "utf-8"
        except UnicodeDecodeError:
            text, used = data.decode(FALLBACK_ENCODING), FALLBACK_ENCODING
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    return frame, used
