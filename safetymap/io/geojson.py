"""GeoJSON export: one FeatureCollection holding, for every patch, its polygon (图斑) and its source
line/point (源几何) as two features with the same Chinese properties plus 类别. In the stored CRS
(CGCS2000, named in the file) by default, or RFC 7946 (WGS 84 lon/lat, no ``crs`` member) on request."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from ..schema import Schema
from .tables import CATEGORY_COLUMN, by_category, labelled, union_columns

PART_COLUMN = "几何部分"
PATCH_PART, SOURCE_PART = "图斑", "源几何"


def geojson_frame(frame: gpd.GeoDataFrame, schema: Schema) -> gpd.GeoDataFrame:
    parts = by_category(frame, schema)
    columns = [CATEGORY_COLUMN, PART_COLUMN, *union_columns([c for c, _ in parts])]
    pieces = []
    for c, part in parts:
        attrs = labelled(c, part, "text")
        attrs.insert(0, CATEGORY_COLUMN, c.label)
        for name, geoms in ((PATCH_PART, part.geometry), (SOURCE_PART, part["source_geometry"])):
            piece = attrs.assign(**{PART_COLUMN: name})
            pieces.append(gpd.GeoDataFrame(piece, geometry=gpd.GeoSeries(geoms.to_numpy(), index=piece.index),
                                           crs=frame.crs))
    out = pd.concat(pieces, ignore_index=True)
    return gpd.GeoDataFrame(out.reindex(columns=[*columns, "geometry"]), geometry="geometry", crs=frame.crs)


def export_geojson(frame: gpd.GeoDataFrame, out: str | Path, schema: Schema, *, rfc7946: bool = False) -> list[str]:
    gdf = geojson_frame(frame, schema)
    options = {"RFC7946": "YES"} if rfc7946 else {"WRITE_NAME": "NO"}
    pyogrio.write_dataframe(gdf, out, driver="GeoJSON", geometry_type="Unknown", layer_options=options)
    return ["patches"]
