"""Which field a file's column holds: matched by Chinese label (with or without the unit), field key
or shapefile short name, ignoring letter case, spaces and full-width brackets; plus the columns that
are not fields: 类别, and longitude/latitude for tables."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from ..schema import Category, Field, Schema, per_schema
from .geojson import PART_COLUMN
from .tables import CATEGORY_COLUMN

SPECIAL = {
    "category": (CATEGORY_COLUMN, "category", "图斑类别", "风险类别"),
    "lon": ("经度", "lon", "lng", "longitude", "x坐标"),
    "lat": ("纬度", "lat", "latitude", "y坐标"),
    "start_lon": ("起点经度", "start_lon", "起点x"),
    "start_lat": ("起点纬度", "start_lat", "起点y"),
    "end_lon": ("止点经度", "终点经度", "end_lon", "止点x"),
    "end_lat": ("止点纬度", "终点纬度", "end_lat", "止点y"),
}
# Written by GIS tools or by our own exports; carry nothing to import.
IGNORED = {"fid", "ogc_fid", "objectid", "shape_leng", "shape_length", "shape_area", PART_COLUMN, "geometry"}
_SPACES = re.compile(r"\s+")


def normal(name) -> str:
    text = str(name).replace("（", "(").replace("）", ")")
    return _SPACES.sub("", text).casefold()


def _names(f: Field) -> set[str]:
    """Every way a file may name the field, normalised."""
    return {normal(name) for name in (f.key, f.shp, f.label, f.label_with_unit)}


@functools.lru_cache(maxsize=32)
def field_names(category: Category) -> dict[str, str]:
    """Normalised column name -> field key, for every way a file may name the category's fields
    (cached: asked for every header cell and every layer; callers only read it)."""
    out = {}
    for f in category.fields:
        for name in _names(f):
            out.setdefault(name, f.key)
    return out


@per_schema
def all_field_names(schema: Schema) -> frozenset[str]:
    """Every normalised name of every category's fields (a value in another category's column is named)."""
    return frozenset(n for c in schema.categories for n in field_names(c))


SPECIAL_NAMES = {normal(alias): key for key, aliases in SPECIAL.items() for alias in aliases}


def special_columns(columns) -> dict[str, str]:
    """special key (category, lon, lat, ...) -> the file's column."""
    out = {}
    for col in columns:
        key = SPECIAL_NAMES.get(normal(col))
        if key and key not in out:
            out[key] = col
    return out


@dataclass
class Matched:
    fields: dict[str, str] = field(default_factory=dict)  # file column -> field key
    unknown: list[str] = field(default_factory=list)
    clashes: list[tuple[str, str, str]] = field(default_factory=list)  # (column, other column, field key)


def match_columns(columns, category: Category) -> Matched:
    """Map a file's columns to the category's fields; list those that match nothing."""
    names = field_names(category)
    out = Matched()
    taken: dict[str, str] = {}
    for col in columns:
        n = normal(col)
        key = names.get(n)
        if key is None:
            if n not in SPECIAL_NAMES and n not in IGNORED:
                out.unknown.append(str(col))
            continue
        if key in taken:
            out.clashes.append((str(col), taken[key], key))
            continue
        taken[key] = str(col)
        out.fields[str(col)] = key
    return out


def known_column(name, schema: Schema) -> bool:
    """True if any category has a field of this name, or it is a special column (finds header rows)."""
    n = normal(name)
    return n in SPECIAL_NAMES or n in all_field_names(schema)


def derived_columns(columns, schema: Schema) -> set[str]:
    """Columns holding computed or bookkeeping fields (长度, 风险值, 更新时间 …) that an import never
    reads: the store derives them again. 版本 is kept: it tells a file based on an older version."""
    names = _derived_names(schema)
    return {col for col in columns if normal(col) in names}


@per_schema
def _derived_names(schema: Schema) -> frozenset[str]:
    """The normalised names of computed and bookkeeping fields that no field read on import shares."""
    derived, read = set(), set()
    for c in schema.categories:
        for f in c.fields:
            (derived if (f.computed or f.system) and f.key != "version" else read).update(_names(f))
    return frozenset(derived - read)
