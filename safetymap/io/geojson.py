"""GeoJSON export: one FeatureCollection, one layer, one feature per patch: its polygon (图斑, what the map
draws) with the Chinese properties plus 类别, and its source line/point as WKT text in 源几何WKT (a GeoJSON
layer holds one geometry per feature, and a file mixing polygons with lines and points opens in QGIS as
several sublayers and counts each patch twice). The import takes the geometry from 源几何WKT and derives
the polygon again, as from every other format. In the stored CRS (CGCS2000, named in the file) by
default, or RFC 7946 (WGS 84 lon/lat, no ``crs`` member) on request."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from ..schema import Schema
from .tables import CATEGORY_COLUMN, by_category, labelled, union_columns

SOURCE_WKT_COLUMN = "源几何WKT"
RFC7946_CRS = "EPSG:4326"  # WGS 84 lon/lat
# Our exports before one feature per patch: each patch as two features, told apart by this column.
PART_COLUMN = "几何部分"


def geojson_frame(frame: gpd.GeoDataFrame, schema: Schema) -> gpd.GeoDataFrame:
    """One row per patch: its polygon, its fields under their Chinese names, its source geometry as WKT."""
    parts = by_category(frame, schema)
    columns = [CATEGORY_COLUMN, *union_columns([c for c, _ in parts]), SOURCE_WKT_COLUMN]
    pieces = []
    for c, part in parts:
        attrs = labelled(c, part, "text")
        attrs.insert(0, CATEGORY_COLUMN, c.label)
        attrs[SOURCE_WKT_COLUMN] = shapely.to_wkt(part["source_geometry"].to_numpy(), rounding_precision=-1)
        pieces.append(gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(part.geometry.to_numpy(), index=attrs.index),
                                       crs=frame.crs))
    out = pd.concat(pieces, ignore_index=True)
    return gpd.GeoDataFrame(out.reindex(columns=[*columns, "geometry"]), geometry="geometry", crs=frame.crs)


def export_geojson(frame: gpd.GeoDataFrame, out: str | Path, schema: Schema, *, rfc7946: bool = False) -> list[str]:
    if rfc7946:  # here, not by GDAL: the source WKT must be in the coordinates the file states
        frame = _to_wgs84(frame)
    gdf = geojson_frame(frame, schema)
    options = {"RFC7946": "YES"} if rfc7946 else {"WRITE_NAME": "NO"}
    pyogrio.write_dataframe(gdf, out, driver="GeoJSON", geometry_type="Unknown", layer_options=options)
    return ["patches"]


def _to_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The patches and their source geometries in WGS 84."""
    sources = gpd.GeoSeries(frame["source_geometry"], crs=frame.crs).to_crs(RFC7946_CRS)
    return frame.to_crs(RFC7946_CRS).assign(source_geometry=sources)
