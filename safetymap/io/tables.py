"""Patches as tables with Chinese column names (字段中文名, with the unit), shared by the exports:
stakes as ``K12+350``, booleans as 是/否, dates as dates (or ISO text for CSV)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from ..errors import Problem, RequestError
from ..geo import format_stake_column, stake_column
from ..schema import Category, Field, Schema

DATE32 = pd.ArrowDtype(pa.date32())
CATEGORY_COLUMN = "类别"
EMPTY_MESSAGE = "没有可导出的图斑（筛选结果为空）"
# Where a table export shows a patch for GIS: a point inside its polygon, in the stored CRS (EPSG:4490).
# Not 经度/纬度: an imported table with those columns takes them as the patch's own (point) geometry.
CENTRE_COLUMNS = ("中心经度", "中心纬度")
WKT_COLUMN = "WKT"  # the name QGIS's delimited-text reader looks for
GIS_ONLY_COLUMNS = (*CENTRE_COLUMNS, WKT_COLUMN)  # written for GIS, never imported
CENTRE_DECIMALS = 7  # about 1 cm


def date32(values: pd.Series) -> pd.Series:
    """Dates as Arrow date32 (written as real dates by GDAL), vectorised."""
    days = pd.to_datetime(values).to_numpy("datetime64[D]")
    return pd.Series(pa.array(days, type=pa.date32(), from_pandas=True), index=values.index, dtype=DATE32)


def bool_text(values: pd.Series) -> pd.Series:
    """True/False/missing -> 是/否/None."""
    flags = values.astype("boolean")
    out = np.where(flags.fillna(False).to_numpy(dtype=bool), "是", "否").astype(object)
    out[flags.isna().to_numpy()] = None
    return pd.Series(out, index=values.index, dtype=object)


def _column(f: Field, values: pd.Series, mode: str) -> pd.Series:
    """One field's values for an export ``mode``: "gis" (GeoPackage, GeoJSON), "excel", "text" (CSV, KML)
    or "shp" (dates as dBASE dates, times as text)."""
    if f.type == "stake" and pd.api.types.is_numeric_dtype(values.dtype):
        return pd.Series(format_stake_column(values), index=values.index, dtype=object)
    if f.type == "bool":
        return bool_text(values)
    if f.type in ("date", "datetime"):
        stamps = pd.to_datetime(values)
        if f.type == "date" and mode in ("gis", "shp"):
            return date32(stamps)
        if mode in ("text", "shp"):
            fmt = "%Y-%m-%d" if f.type == "date" else "%Y-%m-%d %H:%M:%S"
            return stamps.dt.strftime(fmt).astype(object).where(stamps.notna(), None)
        return stamps.astype("datetime64[ms]")
    return values


def labelled(category: Category, frame: pd.DataFrame, mode: str = "gis", *,
             name=lambda f: f.label_with_unit) -> pd.DataFrame:
    """The category's fields of ``frame`` (keys) under their Chinese names (or ``name(field)``)."""
    out = {}
    for f in category.fields:
        values = frame[f.key] if f.key in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        if f.type == "stake" and f.key in frame.columns:
            values = pd.Series(stake_column(frame, f.key), index=frame.index, dtype=object)  # with the prefix
        out[name(f)] = _column(f, values, mode)
    return pd.DataFrame(out, index=frame.index)


def by_category(frame: pd.DataFrame, schema: Schema) -> list[tuple[Category, pd.DataFrame]]:
    """(category, its rows) for each category present, in schema order; refuses an empty frame."""
    parts = [(c, frame[frame["category"] == c.key]) for c in schema.categories]
    parts = [(c, p) for c, p in parts if len(p)]
    if not parts:
        raise RequestError([Problem("", EMPTY_MESSAGE)])
    return parts


def union_columns(categories: list[Category]) -> list[str]:
    """Every Chinese column name of these categories, common fields first, without repeats."""
    return list(dict.fromkeys(f.label_with_unit for c in categories for f in c.fields))


def centre_lonlat(geoms) -> np.ndarray:
    """(n, 2) lon/lat of a point on each polygon's surface (the centroid can fall outside a bent
    segment's buffer); NaN for a missing or empty geometry."""
    geoms = np.asarray(geoms, dtype=object)
    out = np.full((len(geoms), 2), np.nan)
    present = ~shapely.is_missing(geoms)
    present[present] = ~shapely.is_empty(geoms[present])
    out[present] = shapely.get_coordinates(shapely.point_on_surface(geoms[present]))
    return np.round(out, CENTRE_DECIMALS)


def one_table(parts: list[tuple[Category, pd.DataFrame]], mode: str) -> pd.DataFrame:
    """Every category's rows in one table under the labels of ``mode``: 类别 first, then every column any
    of them has (a row leaves the others' fields empty)."""
    tables = []
    for c, part in parts:
        table = labelled(c, part, mode)
        table.insert(0, CATEGORY_COLUMN, c.label)
        tables.append(table)
    columns = [CATEGORY_COLUMN, *union_columns([c for c, _ in parts])]
    return pd.concat(tables, ignore_index=True).reindex(columns=columns)
