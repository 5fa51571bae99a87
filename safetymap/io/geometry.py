"""Geometry of an import: the CRS a file has or the user names, reprojection to CGCS2000 (keeping Z so
that 3D input is reported), points and lines from 经度/纬度 columns, segments from route + stakes on
the centreline, and the checks of every source geometry."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from ..errors import Problem
from ..geo import GEOMETRY_LABEL, geometry_problems, segment_from_stakes, transformer
from ..schema import Category
from ..values import blank_mask
from .reader import RawLayer

GEOMETRY_TOLERANCE = 1e-7  # degrees, about 1 cm: closer than this is the same geometry
CRS_HINT = "请指明坐标系（命令行 --crs，如 4490 国家2000经纬度、4551 国家2000 3度带126°E）"


def parse_crs(text: str | int | None) -> CRS | None:
    """``4490``, ``EPSG:4490`` or any pyproj input; ValueError with a Chinese message if unknown."""
    if text is None or str(text).strip() == "":
        return None
    value = str(text).strip()
    if value.isdigit():
        value = f"EPSG:{value}"
    try:
        crs = CRS.from_user_input(value)
    except CRSError:
        raise ValueError(f"未知坐标系「{text}」；请用 EPSG 编号，如 4490（国家2000经纬度）、4551（国家2000 3度带126°E）") from None
    if not (crs.is_geographic or crs.is_projected):
        raise ValueError(f"坐标系「{crs.name}」不是地理或投影坐标系，无法换算")
    return crs


@functools.lru_cache(maxsize=8)
def _crs(text: str) -> CRS:
    return CRS.from_user_input(text)


def reproject(geoms: np.ndarray, crs: CRS, storage: str) -> np.ndarray:
    """Source CRS -> storage CRS, lon/lat order, keeping Z (so that 3D input is reported, not hidden)."""
    target = _crs(storage)
    if crs.equals(target):
        return geoms
    t = transformer(crs.to_wkt(), target.to_wkt())

    def move(coords):
        x, y = t.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y, coords[:, 2:]])

    return shapely.transform(geoms, move, include_z=None)


def single_parts(geoms: np.ndarray) -> np.ndarray:
    """A Multi* geometry of one part (shapefiles and GDAL often give them) as that part."""
    out = geoms.copy()
    present = ~shapely.is_missing(out)
    multi = np.zeros(len(out), bool)
    multi[present] = np.isin(shapely.get_type_id(out[present]), (4, 5, 6)) & (shapely.get_num_geometries(out[present]) == 1)
    if multi.any():
        out[multi] = shapely.get_geometry(out[multi], 0)
    return out


def layer_geometry(layer: RawLayer, specials: dict, user_crs: CRS | None, storage: str):
    """(geometries in the storage CRS or all None, problems) for one layer."""
    n = len(layer.frame)
    none = np.full(n, None, dtype=object)
    if layer.geometry is not None:
        crs = user_crs or layer.crs
        if user_crs is None and layer.crs_problem:
            return none, [Problem("", f"{layer.crs_problem}；{CRS_HINT}", file=layer.file)]
        if crs is None:
            return none, [Problem("", f"文件没有坐标系（如缺少 .prj）；{CRS_HINT}", file=layer.file)]
        return single_parts(reproject(np.asarray(layer.geometry, dtype=object), crs, storage)), []
    return _table_geometry(layer, specials, user_crs, storage)


def _numbers(layer: RawLayer, column: str, label: str, problems: list) -> np.ndarray:
    values = layer.frame[column]
    present = ~blank_mask(values)
    numbers = pd.to_numeric(values.astype(object).where(present), errors="coerce").to_numpy(dtype=float)
    for i in np.flatnonzero(np.isnan(numbers) & present):
        problems.append(Problem(label, f"「{values.iloc[i]}」不是数值", row=int(layer.rows[i]), file=layer.file))
    return numbers


def _table_geometry(layer: RawLayer, specials: dict, user_crs: CRS | None, storage: str):
    """Points from 经度/纬度, or lines from 起点/止点 经纬度, in a table; all None without such columns."""
    n = len(layer.frame)
    geoms = np.full(n, None, dtype=object)
    pairs = [("lon", "lat")] if {"lon", "lat"} <= set(specials) else []
    if {"start_lon", "start_lat", "end_lon", "end_lat"} <= set(specials):
        pairs = [("start_lon", "start_lat"), ("end_lon", "end_lat")]
    if not pairs:
        return geoms, []
    problems: list[Problem] = []
    coords = [(_numbers(layer, specials[x], specials[x], problems), _numbers(layer, specials[y], specials[y], problems))
              for x, y in pairs]
    ok = np.logical_and.reduce([~np.isnan(v) for xy in coords for v in xy])
    if not ok.any():
        return geoms, problems
    if user_crs is None:
        return geoms, problems + [Problem("", "表格中有经纬度，但没有坐标系；" + CRS_HINT +
                                          "。高德、腾讯地图坐标为 GCJ-02 偏移坐标，须先转换", file=layer.file)]
    if len(coords) == 1:
        geoms[ok] = shapely.points(coords[0][0][ok], coords[0][1][ok])
    else:
        xy = np.stack([np.column_stack([x[ok], y[ok]]) for x, y in coords], axis=1)
        geoms[ok] = shapely.linestrings(xy)
    return reproject(geoms, user_crs, storage), problems


def stake_geometries(clean: pd.DataFrame, positions: np.ndarray, routes: dict):
    """Segments on the route centreline for the rows at ``positions``: (geometries, messages, True where
    there is no centreline to follow)."""
    geoms = np.full(len(positions), None, dtype=object)
    messages = np.full(len(positions), None, dtype=object)
    no_centreline = np.zeros(len(positions), bool)
    for j, i in enumerate(positions):
        route, start, end = clean["route_code"].iloc[i], clean["start_stake"].iloc[i], clean["end_stake"].iloc[i]
        if pd.isna(route) or pd.isna(start) or route not in routes:
            no_centreline[j] = True
        if pd.isna(route) or pd.isna(start):
            messages[j] = "缺少几何：请提供几何，或 经度/纬度 列，或 路线编码 + 起止桩号"
        elif route not in routes:
            messages[j] = f"缺少几何，且路线「{route}」没有中心线，无法按桩号生成；请提供几何或经纬度"
        elif not pd.isna(end) and end < start:
            continue  # reported with the stakes
        else:
            line, route_start = routes[route]
            try:
                geoms[j] = segment_from_stakes(line, route_start, float(start), float(start if pd.isna(end) else end))
            except ValueError as exc:
                messages[j] = f"无法按桩号生成几何：{exc}"
    return geoms, messages, no_centreline


def check_geometries(c: Category, geoms: np.ndarray, check: np.ndarray, rows: np.ndarray, file: str) -> list[Problem]:
    """Problems of the source geometries at ``check``: missing, empty, wrong type, 3D, not lon/lat,
    invalid or crossing itself, outside the district (``geo.geometry_problems``)."""
    idx = np.flatnonzero(check)
    return [Problem(GEOMETRY_LABEL, msg, row=int(rows[idx[i]]), file=file)
            for i, msg in geometry_problems(geoms[idx], c.geometry)]


def same_geometry(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True where both geometries are there and equal within about a centimetre."""
    out = np.zeros(len(a), bool)
    both = ~shapely.is_missing(a) & ~shapely.is_missing(b)
    out[both] = shapely.equals_exact(a[both], b[both], tolerance=GEOMETRY_TOLERANCE)
    return out
