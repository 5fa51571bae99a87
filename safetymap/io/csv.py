"""CSV export: one table of every patch with 类别 and the Chinese column names, UTF-8 with BOM so that
Excel on Chinese Windows opens it correctly, and any table (dashboard downloads) the same way; text
that would run as a formula is made inert (``cells.neutralise``). The ledger carries each patch's place
for GIS (QGIS opens it as delimited text): 中心经度/中心纬度 of a point inside the patch (EPSG:4490), or
its polygon as WKT on request. Reading: UTF-8 (with or without BOM) or, failing that,
GBK — what Excel saves as "CSV" on Chinese Windows — unless the user names the encoding."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from ..schema import Schema
from .cells import QUOTE, neutralise_frame, restore
from .tables import CENTRE_COLUMNS, WKT_COLUMN, by_category, centre_lonlat, one_table

CSV_ENCODING = "utf-8-sig"
FALLBACK_ENCODING = "gbk"


def csv_frame(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    return one_table(by_category(frame, schema), "text")


def csv_bytes(table: pd.DataFrame) -> bytes:
    """A table as CSV in UTF-8 with a BOM, so that Excel opens the Chinese text correctly. Lines end in
    CRLF (RFC 4180), which also makes the writer quote a field holding a lone carriage return."""
    return neutralise_frame(table).to_csv(index=False, lineterminator="\r\n").encode(CSV_ENCODING)


def with_location(table: pd.DataFrame, geoms: np.ndarray, location: str = "centre") -> pd.DataFrame:
    """The table with the patches' place for GIS: centre lon/lat columns, or the polygon as WKT."""
    out = table.copy()
    if location == "wkt":
        out[WKT_COLUMN] = shapely.to_wkt(geoms, rounding_precision=8, output_dimension=2)
    else:
        coords = centre_lonlat(geoms)
        for i, name in enumerate(CENTRE_COLUMNS):
            out[name] = coords[:, i]
    return out


def export_csv(frame: pd.DataFrame, out: str | Path, schema: Schema, *, location: str = "centre") -> list[str]:
    """``location``: "centre" (中心经度/中心纬度) or "wkt" (the patch polygon, EPSG:4490)."""
    geoms = np.concatenate([part.geometry.to_numpy() for _, part in by_category(frame, schema)])
    Path(out).write_bytes(csv_bytes(with_location(csv_frame(frame, schema), geoms, location)))
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
    return restore_frame(frame), used


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells (all str) with the apostrophe of ``neutralise`` taken off, where it put one."""
    out = frame.rename(columns=restore)
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        quoted = column.str.startswith(QUOTE)
        if quoted.any():
            out.isetitem(i, column.where(~quoted, column[quoted].map(restore)))
    return out
