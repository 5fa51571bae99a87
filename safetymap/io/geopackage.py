"""GeoPackage export: per category a layer of patch polygons (图斑) and a layer of source lines/points
(源几何), both with the full Chinese field names; plus the history, inspection and fog-event tables.
Written with pyogrio to a new file — never the live database — as GeoPackage 1.2 (GDAL ≥3.7 writes
1.4 by default, which QGIS 3.22 and GDAL 3.6 warn about on every open), with dates as DATE and moments
as UTC DATETIME text ending in ``Z``, as the standard asks."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ..clock import CHINA_TZ
from ..schema import Category, Schema
from ..styles import description, qml, sld
from .tables import CATEGORY_COLUMN, by_category, date32, labelled

SOURCE_SUFFIX = "_源几何"
TABLE_NAMES = {"history": "变更历史", "inspections": "巡查记录", "fog_events": "团雾事件"}
# Columns that are not fields of a category or an event in the schema (those take their declared label).
TABLE_COLUMNS = {
    "category": CATEGORY_COLUMN, "action": "操作", "field_key": "字段键",
    "field_label": "字段", "before": "修改前", "after": "修改后", "user": "用户", "at": "时间",
    "created_at": "录入时间", "created_by": "录入人", "inspector": "巡查人",
    "status_before": "整改状态(前)", "status_after": "整改状态(后)",
}
GEOMETRY_TYPES = {0: "Point", 1: "LineString", 3: "Polygon"}
GPKG_VERSION = {"VERSION": "1.2"}
STYLE_TABLE = "layer_styles"  # where QGIS looks for a GeoPackage layer's default style
STYLE_KINDS = {"Polygon": "polygon", "LineString": "line", "Point": "point"}  # a mixed layer gets none


def _geometry_type(geoms) -> str:
    types = set(shapely.get_type_id(geoms).tolist())
    return GEOMETRY_TYPES.get(types.pop(), "Unknown") if len(types) == 1 else "Unknown"


def _write(gdf: pd.DataFrame, out: Path, layer: str, **options) -> None:
    """Append a layer; the first one creates the file (dataset options apply only then)."""
    if isinstance(gdf, gpd.GeoDataFrame):
        options["geometry_type"] = _geometry_type(gdf.geometry.to_numpy())
    dataset = {} if out.exists() else {"dataset_options": GPKG_VERSION}
    pyogrio.write_dataframe(gdf, out, layer=layer, driver="GPKG", append=out.exists(), **dataset, **options)


def utc_moments(frame: pd.DataFrame) -> pd.DataFrame:
    """Every datetime column as UTC (naive values are China time), so GDAL writes ``…Z``."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        naive = isinstance(values.dtype, np.dtype) and values.dtype.kind == "M"
        if naive or isinstance(values.dtype, pd.DatetimeTZDtype):
            if naive:
                values = values.dt.tz_localize(CHINA_TZ)
            out[col] = values.dt.tz_convert("UTC")
    return out


def _table(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    out = frame.drop(columns=["id"], errors="ignore").copy()
    if "category" in out.columns:
        labels = {c.key: c.label for c in schema.categories}
        out["category"] = out["category"].map(lambda v: labels.get(v, v))
    declared = [*schema.all_fields().values(), *(f for e in schema.events.values() for f in e.fields)]
    for f in declared:
        if f.type == "date" and f.key in out.columns:
            out[f.key] = date32(out[f.key])  # written as DATE, not as a moment at midnight
    out = utc_moments(out)
    names = {f.key: f.label_with_unit for f in declared} | TABLE_COLUMNS
    return out.rename(columns=names)


def export_geopackage(frame: gpd.GeoDataFrame, out: str | Path, schema: Schema, *,
                      tables: dict[str, pd.DataFrame] | None = None) -> list[str]:
    """Write ``frame`` (as read from the store) and the related ``tables`` to a new GeoPackage."""
    out = Path(out)
    out.unlink(missing_ok=True)
    layers = []
    styled = []
    for c, part in by_category(frame, schema):
        attrs = labelled(c, part, "gis")
        for layer, geoms in ((c.label, part.geometry), (c.label + SOURCE_SUFFIX, part["source_geometry"])):
            _write(gpd.GeoDataFrame(utc_moments(attrs), geometry=gpd.GeoSeries(geoms.to_numpy(), index=attrs.index),
                                    crs=frame.crs), out, layer, use_arrow=True)
            layers.append(layer)
            styled.append((layer, c, _geometry_type(geoms.to_numpy())))
    for key, table in (tables or {}).items():
        name = TABLE_NAMES.get(key, key)
        _write(_table(table, schema), out, name, use_arrow=True)
        layers.append(name)
    _write(style_table(styled, schema), out, STYLE_TABLE)
    return layers


def style_table(layers: list[tuple[str, Category, str]], schema: Schema) -> pd.DataFrame:
    """QGIS's ``layer_styles`` rows: each (layer, category, geometry type)'s default style, from the schema."""
    rows = []
    for layer, c, geometry_type in layers:
        kind = STYLE_KINDS.get(geometry_type)
        if kind is None:
            continue
        rows.append({"f_table_catalog": "", "f_table_schema": "", "f_table_name": layer, "f_geometry_column": "geom",
                     "styleName": layer, "styleQML": qml(schema, c, kind, name=_column_name),
                     "styleSLD": sld(schema, c, kind, layer, name=_column_name), "useAsDefault": True,
                     "description": description(c), "owner": "", "ui": "",
                     "update_time": pd.Timestamp.now(tz="UTC")})
    return pd.DataFrame(rows)


def _column_name(f) -> str:
    """A field's column in this format (``labelled``'s default): its label with the unit."""
    return f.label_with_unit
