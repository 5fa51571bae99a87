"""From a file's raw layers to batches: the rows of one category from one layer, with the columns
renamed to field keys and the source geometries in the storage CRS. A row's category comes from a
类别 column, the category the user names, the layer's name (``fog_line``, ``团雾多发路段_源几何``) or
the 图斑编号 prefix (TW-001), in that order."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS

from ..errors import Problem
from ..schema import Category, Schema
from ..values import blank_mask
from .columns import all_field_names, field_names, match_columns, normal, special_columns
from .geometry import layer_geometry
from .reader import RawLayer
from .tables import CATEGORY_COLUMN

POLYGON_TYPES = (3, 6)


@dataclass
class Batch:
    """Rows of one category from one layer, columns renamed to field keys."""
    category: Category
    file: str
    raw: pd.DataFrame
    rows: np.ndarray
    geoms: np.ndarray  # source geometries in the storage CRS; None where the file gives none


def _category_lookup(schema: Schema) -> dict[str, str]:
    """Normalised category key or label -> key."""
    return {normal(name): c.key for c in schema.categories for name in (c.key, c.label)}


def _hint_category(layer_name: str | None, schema: Schema) -> str | None:
    """A layer, sheet or folder named after a category (``fog_line``, ``团雾多发路段_源几何``)."""
    if not layer_name:
        return None
    name = normal(layer_name)
    for prefix, key in sorted(_category_lookup(schema).items(), key=lambda t: -len(t[0])):
        if name == prefix or name.startswith(prefix + "_") or (not prefix.isascii() and name.startswith(prefix)):
            return key
    return None


def _code_column(columns, schema: Schema) -> str | None:
    names = {n for c in schema.categories for n, key in field_names(c).items() if key == "code"}
    return next((col for col in columns if normal(col) in names), None)


def _row_categories(layer: RawLayer, specials: dict, schema: Schema, user_category: str | None):
    """The category key of each row (None where unknown), and problems."""
    n = len(layer.frame)
    cats = np.full(n, None, dtype=object)
    problems = []
    if "category" in specials:
        values = layer.frame[specials["category"]]
        blank = blank_mask(values)
        lookup = _category_lookup(schema)  # once, not once per row
        found = values.astype(object).map(lambda v: lookup.get(normal(v))).to_numpy(dtype=object)
        choices = "、".join(c.label for c in schema.categories)
        for i in np.flatnonzero(~blank & pd.isna(found)):
            problems.append(Problem(CATEGORY_COLUMN, f"未知类别「{values.iloc[i]}」（可选：{choices}）",
                                    row=int(layer.rows[i]), file=layer.file))
        if user_category:
            for i in np.flatnonzero(~blank & ~pd.isna(found) & (found != user_category)):
                problems.append(Problem(CATEGORY_COLUMN, f"「{values.iloc[i]}」与指定的类别「"
                                        f"{schema.category(user_category).label}」不符", row=int(layer.rows[i]), file=layer.file))
        cats[~blank] = found[~blank]
        cats[~blank & pd.isna(found)] = ""  # reported above
    fallback = user_category or _hint_category(layer.name, schema)
    unset = pd.isna(cats)
    if fallback:
        cats[unset] = fallback
    else:
        _categories_from_codes(layer, schema, cats)
    for i in np.flatnonzero(pd.isna(cats)):
        problems.append(Problem(CATEGORY_COLUMN, "无法判断类别：请增加「类别」列，或指明类别（命令行 --category）",
                                row=int(layer.rows[i]), file=layer.file))
    return cats, problems


def _categories_from_codes(layer: RawLayer, schema: Schema, cats: np.ndarray) -> None:
    """Fill unknown categories from the 图斑编号 prefix (TW-001 -> 团雾多发路段)."""
    column = _code_column(layer.frame.columns, schema)
    if column is None:
        return
    prefixes = {c.code_prefix.upper(): c.key for c in schema.categories}
    guessed = layer.frame[column].astype(object).map(
        lambda v: prefixes.get(str(v).strip().split("-")[0].upper()) if isinstance(v, str) else None).to_numpy(dtype=object)
    unset = pd.isna(cats)
    cats[unset] = guessed[unset]


def _other_category_values(layer: RawLayer, positions: np.ndarray, c: Category, columns: list[str]) -> list[Problem]:
    """Values in columns that belong to another category's fields: they cannot be imported here."""
    problems = []
    for col in columns:
        values = layer.frame[col].iloc[positions]
        for i in np.flatnonzero(~blank_mask(values)):
            problems.append(Problem(str(col), f"「{c.label}」没有这个字段，值「{values.iloc[i]}」不能导入",
                                    row=int(layer.rows[positions[i]]), file=layer.file))
    return problems


def layer_batches(layer: RawLayer, schema: Schema, user_category: str | None, user_crs: CRS | None):
    specials = special_columns(layer.frame.columns)
    geoms, problems = layer_geometry(layer, specials, user_crs, schema.storage_crs)
    cats, more = _row_categories(layer, specials, schema, user_category)
    problems += more
    batches, unknown = [], None
    all_fields = all_field_names(schema)
    for c in schema.categories:
        positions = np.flatnonzero(cats == c.key)
        if not len(positions):
            continue
        matched = match_columns(layer.frame.columns, c)
        problems += [Problem(c.field(key).label, f"列「{col}」和「{other}」对应同一字段，请删去一列",
                             file=layer.file) for col, other, key in matched.clashes]
        problems += _other_category_values(layer, positions, c, [u for u in matched.unknown if normal(u) in all_fields])
        unknown = [u for u in matched.unknown if normal(u) not in all_fields]
        raw = layer.frame.iloc[positions][list(matched.fields)].rename(columns=matched.fields).reset_index(drop=True)
        batches.append(Batch(c, layer.file, raw, layer.rows[positions], geoms[positions]))
    warnings = [f"{layer.file}：未识别的列 {'、'.join(unknown)}，已忽略"] if unknown else []
    return batches, problems, warnings


MAX_LISTED = 10  # differences named one by one in a warning
PATCH_RULE = ("{layers}：图斑面图层中的属性修改已采用；几何仍取自路段线、桥梁点图层（图斑面由它们缓冲生成）；"
              "同一图斑在面图层和线、点图层中的属性不同时，以面图层为准")


def _codes(b: Batch) -> np.ndarray:
    if "code" not in b.raw:
        return np.full(len(b.raw), None, dtype=object)
    codes = b.raw["code"].astype(object).to_numpy()
    return np.array([c.strip() if isinstance(c, str) else c for c in codes], dtype=object)


def _polygons(b: Batch) -> np.ndarray:
    present = ~shapely.is_missing(b.geoms)
    out = np.zeros(len(b.geoms), bool)
    out[present] = np.isin(shapely.get_type_id(b.geoms[present]), POLYGON_TYPES)
    return out


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise equal, blank equal to blank (pd.NA cannot be compared); numpy's object loop, not
    a Python one."""
    blank_a, blank_b = pd.isna(a), pd.isna(b)
    same = blank_a & blank_b
    both = ~blank_a & ~blank_b
    same[both] = np.asarray(a[both] == b[both], dtype=bool)
    return same


def _same_columns(a: pd.Series, b: pd.Series) -> bool:
    """True when two columns are equal value by value (blank equal to blank), for Arrow-backed text and
    plain numeric or date columns compared without a Python object per value; False when they differ
    or are of other kinds (then compared value by value)."""
    if all(isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow" for s in (a, b)):
        left, right = pa.array(a), pa.array(b)
        both_null = pc.and_(pc.is_null(left), pc.is_null(right))
        return bool(pc.all(pc.or_(pc.fill_null(pc.equal(left, right), False), both_null)).as_py())
    if a.dtype == b.dtype and isinstance(a.dtype, np.dtype) and a.dtype.kind in "iufbM":
        return bool(np.array_equal(a.to_numpy(), b.to_numpy(), equal_nan=a.dtype.kind in "fM"))
    return False


def _same_rows(a: pd.DataFrame, at: np.ndarray, b: pd.DataFrame, rows: np.ndarray, columns: list) -> bool:
    """True when rows ``at`` of ``a`` equal rows ``rows`` of ``b`` in ``columns``, dtypes included (blank
    equal to blank): one block-wise comparison instead of one per column."""
    left = a.iloc[at][columns].reset_index(drop=True)
    return left.equals(b.iloc[rows][columns].reset_index(drop=True))


def _shown(value) -> str:
    return "（空）" if pd.isna(value) else str(value)


def _take_values(source: Batch, at: np.ndarray, patch: Batch, rows: np.ndarray) -> list[str]:
    """Copy the patch rows' attributes onto the source rows ``at`` (in place); describe each difference."""
    columns = [c for c in patch.raw.columns if c in source.raw.columns and c != "code"]
    if _same_rows(source.raw, at, patch.raw, rows, columns):  # our own export, unedited: one comparison
        return []
    notes = []
    codes = _codes(source)[at]
    for col in columns:
        old_s, new_s = source.raw[col].iloc[at], patch.raw[col].iloc[rows]
        if _same_columns(old_s, new_s):  # the usual case: our own export, unedited: left as it is
            continue
        old_at, new = old_s.to_numpy(dtype=object), new_s.to_numpy(dtype=object)
        differ = ~_same(old_at, new)
        if not differ.any():
            continue
        label = source.category.field(col).label if col in source.category.keys else col
        notes += [f"{code} 的「{label}」面图层为「{_shown(n)}」、线/点图层为「{_shown(o)}」" for code, n, o in
                  zip(codes[differ], new[differ], old_at[differ])]
        merged = source.raw[col].to_numpy(dtype=object).copy()
        merged[at] = new
        source.raw[col] = pd.Series(merged, index=source.raw.index, dtype=object)
    return notes


def take_patch_attributes(batches: list[Batch]) -> tuple[list[Batch], list[str]]:
    """Our exports carry each patch twice: its polygon (derived from the source geometry) and its source
    line/point, and desktop users edit the polygon layer. The polygon rows' attributes are copied onto
    the source rows of the same code and category, then the polygon rows are dropped; a polygon without
    a source stays and is reported by the geometry checks. Returns the batches and the preview's notes."""
    polygons = [_polygons(b) for b in batches]
    if not any(p.any() for p in polygons):
        return batches, []
    codes_of = [_codes(b) for b in batches]
    sources = {}
    for bi, (b, polygon, codes) in enumerate(zip(batches, polygons, codes_of)):
        for pos in np.flatnonzero(~polygon):
            sources.setdefault((b.category.key, codes[pos]), (bi, pos))
    batches = [dataclasses.replace(b, raw=b.raw.copy(deep=False)) for b in batches]  # columns replaced, not written into
    taken, files, notes = [], set(), []
    for b, polygon, codes in zip(batches, polygons, codes_of):
        targets = [sources.get((b.category.key, code)) if is_polygon else None
                   for code, is_polygon in zip(codes, polygon)]
        found = np.array([t is not None for t in targets], dtype=bool)
        for target in {t[0] for t in targets if t is not None}:
            rows = np.array([i for i, t in enumerate(targets) if t is not None and t[0] == target])
            notes += _take_values(batches[target], np.array([targets[i][1] for i in rows]), b, rows)
            files.add(b.file)
        taken.append(found)
    kept = [Batch(b.category, b.file, b.raw[~found].reset_index(drop=True), b.rows[~found], b.geoms[~found])
            for b, found in zip(batches, taken) if not found.all()]
    warnings = [PATCH_RULE.format(layers="、".join(sorted(files)))] if files else []
    if notes:
        listed = "；".join(notes[:MAX_LISTED]) + ("……" if len(notes) > MAX_LISTED else "")
        warnings.append(f"面图层与线、点图层有 {len(notes)} 处属性不同，已取面图层的值：{listed}")
    return kept, warnings
