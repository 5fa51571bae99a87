"""Coordinates and geometry: CRS, stakes (桩号), patch polygons, lengths, linear referencing and the
district check. Storage is CGCS2000 lon/lat (EPSG:4490); metres are computed in EPSG:4551.
Functions take and return shapely geometry arrays, vectorised."""
from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.ops import substring

from .schema import STAKE_PREFIXES, District, load_schema

STORAGE_CRS = "EPSG:4490"
METRIC_CRS = "EPSG:4551"
GEOMETRY_LABEL = "几何"

# ---------------------------------------------------------------- stakes (桩号)
# A stake is a chain prefix (冠号) and the metres from the chain's origin: K12+350 on the main line,
# ZK/YK on the left/right carriageway, AK…HK on ramps A…H of an interchange. The metres are stored as
# a number (sortable, and stakes stored before prefixes existed stay valid); the prefix is the patch's
# ``stake_prefix`` field, blank meaning K. The allowed prefixes are the schema's ``STAKE_PREFIXES``.
STAKE_PATTERN = (r"^(?P<prefix>" + "|".join(sorted(STAKE_PREFIXES, key=len, reverse=True)) + r")"
                 r"(?P<km>\d{1,4})\+(?P<m>\d{3}(?:\.\d{1,3})?)$")  # validation uses it column-wise
STAKE_RE = re.compile(STAKE_PATTERN)
MAIN_PREFIX = STAKE_PREFIXES[0]
STAKE_FORM = (f"{'/'.join(STAKE_PREFIXES[:3])}/{STAKE_PREFIXES[3]}…{STAKE_PREFIXES[-1]} 冠号+公里+米"
              "（米为三位数），如 K12+350、ZK12+350、AK0+125、K7+814.19")


def stake_text(text) -> str:
    """A typed stake as parsed: upper case, spaces removed."""
    return re.sub(r"\s+", "", str(text)).upper()


def parse_stake_parts(text: str | float | int) -> tuple[str, float]:
    """``AK0+125`` -> ("AK", 125.0). A number is metres already, with no prefix stated ("")."""
    if isinstance(text, (int, float, np.integer, np.floating)) and not isinstance(text, bool):
        value = float(text)
        if math.isnan(value) or value < 0:
            raise ValueError(f"桩号 {text} 无效（须为非负米数）")
        return "", value
    match = STAKE_RE.match(stake_text(text))
    if not match:
        raise ValueError(f"桩号「{text}」格式不对，应为 {STAKE_FORM}")
    return match["prefix"], round(int(match["km"]) * 1000 + float(match["m"]), 3)


def parse_stake(text: str | float | int) -> float:
    """``K12+350`` (or ``ZK12+350``, ``AK0+125`` …) -> its metres, 12350.0."""
    return parse_stake_parts(text)[1]


def _prefix(prefix) -> str:
    return prefix if isinstance(prefix, str) and prefix else MAIN_PREFIX


def format_stake(metres: float | None, prefix: str | None = None) -> str:
    """12350.0 -> ``K12+350`` (``prefix`` ZK -> ``ZK12+350``); keeps up to two decimals when present."""
    if metres is None or (isinstance(metres, float) and math.isnan(metres)):
        return ""
    metres = round(float(metres), 2)
    km, m = divmod(metres, 1000)
    m = round(m, 2)
    if m >= 1000:  # float rounding at a kilometre boundary
        km, m = km + 1, 0.0
    m_text = f"{int(m):03d}" if float(m).is_integer() else f"{m:06.2f}".rstrip("0")
    return f"{_prefix(prefix)}{int(km)}+{m_text}"


def format_stake_column(values, prefixes=None) -> np.ndarray:
    """``format_stake`` of a whole column, vectorised: metres -> ``K12+350`` (two decimals kept when
    present; ``prefixes``: each row's chain prefix, blank meaning K), None for NaN."""
    v = np.round(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float), 2)
    out = np.full(len(v), None, dtype=object)
    ok = ~np.isnan(v)
    if not ok.any():
        return out
    v = v[ok]
    km = np.floor(v / 1000)
    m = np.round(v - km * 1000, 2)
    carry = m >= 1000
    km[carry] += 1
    m[carry] = 0.0
    whole = m == np.round(m)
    m_text = np.where(whole, np.char.zfill(np.round(m).astype(np.int64).astype(str), 3),
                      np.char.rstrip(np.char.mod("%06.2f", m), "0"))
    chains = _prefix_column(prefixes, len(out))
    out[ok] = np.char.add(np.char.add(chains[ok], km.astype(np.int64).astype(str)), np.char.add("+", m_text))
    raw = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    halves = np.flatnonzero(np.abs(np.abs(raw * 100 - np.trunc(raw * 100)) - 0.5) < 1e-6)
    out[halves] = [format_stake(x, chains[i]) for i, x in zip(halves, raw[halves])]  # round as Python does
    return out


def _prefix_column(prefixes, n: int) -> np.ndarray:
    """Each row's chain prefix as text, K where blank or not given."""
    if prefixes is None:
        return np.full(n, MAIN_PREFIX, dtype=object).astype(str)
    return np.array([_prefix(p) for p in prefixes], dtype=str)


def format_stakes(start: float | None, end: float | None, prefix: str | None = None) -> str:
    """``K12+350–K13+000``; one stake when there is no end or it reads the same as the start."""
    first, last = format_stake(start, prefix), format_stake(end, prefix)
    return f"{first}–{last}" if last and last != first else first


def stake_column(frame: pd.DataFrame, key: str) -> np.ndarray:
    """The stakes of column ``key`` of a patch frame as text, each with its patch's ``stake_prefix``."""
    return format_stake_column(frame[key], frame["stake_prefix"] if "stake_prefix" in frame else None)


def stake_ranges(frame: pd.DataFrame) -> list[str]:
    """``format_stakes`` of every patch of a frame, each with its ``stake_prefix``."""
    none = [None] * len(frame)
    columns = [frame[k] if k in frame else none for k in ("start_stake", "end_stake", "stake_prefix")]
    return [format_stakes(s, e, p) for s, e, p in zip(*columns)]


# ---------------------------------------------------------------- CRS
@lru_cache(maxsize=16)
def transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def reproject(geoms, src: str, dst: str):
    """Reproject an array of shapely geometries (vectorised; lon/lat order)."""
    geoms = np.asarray(geoms, dtype=object)
    if src == dst:
        return geoms
    t = transformer(src, dst)
    return shapely.transform(geoms, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def to_metric(geoms):
    return reproject(geoms, STORAGE_CRS, METRIC_CRS)


def to_storage(geoms):
    return reproject(geoms, METRIC_CRS, STORAGE_CRS)


# ---------------------------------------------------------------- patches and lengths
def patch_polygons(source_geoms, buffer_m) -> np.ndarray:
    """The patch polygon (图斑) of each source geometry: a flat-capped buffer of the line (a round one
    around a point), ``buffer_m`` metres each side, computed in EPSG:4551, returned in EPSG:4490."""
    metric = to_metric(source_geoms)
    width = np.broadcast_to(np.asarray(buffer_m, dtype=float), metric.shape)
    is_point = shapely.get_type_id(metric) == 0
    polys = np.empty(metric.shape, dtype=object)
    if (~is_point).any():
        polys[~is_point] = shapely.buffer(metric[~is_point], width[~is_point], cap_style="flat", quad_segs=4)
    if is_point.any():
        polys[is_point] = shapely.buffer(metric[is_point], width[is_point], quad_segs=8)
    return to_storage(polys)


def lengths_m(source_geoms) -> np.ndarray:
    """Length in metres of each geometry (0 for points), rounded to centimetres."""
    return np.round(shapely.length(to_metric(source_geoms)), 2)


def round_coords(geoms, decimals: int = 7):
    """Round lon/lat to ``decimals`` (7 decimals is about 1 cm)."""
    return shapely.set_precision(np.asarray(geoms, dtype=object), 10.0 ** -decimals)


# ---------------------------------------------------------------- linear referencing
def segment_from_stakes(route_line, route_start_m: float, start_m: float, end_m: float):
    """The part of a route centreline (EPSG:4490) between two stakes, given the stake of the
    route's first vertex. Raises ValueError naming the problem."""
    if end_m < start_m:
        raise ValueError(f"止点桩号 {format_stake(end_m)} 小于起点桩号 {format_stake(start_m)}")
    metric = to_metric([route_line])[0]
    route_end_m = route_start_m + metric.length
    if start_m < route_start_m - 0.5 or end_m > route_end_m + 0.5:
        raise ValueError(
            f"桩号 {format_stake(start_m)}–{format_stake(end_m)} 超出路线范围 "
            f"{format_stake(route_start_m)}–{format_stake(route_end_m)}"
        )
    if end_m == start_m:
        piece = metric.interpolate(start_m - route_start_m)
    else:
        piece = substring(metric, start_m - route_start_m, end_m - route_start_m)
    return to_storage([piece])[0]


def stake_at(route_line, route_start_m: float, point) -> float:
    """The stake (metres) of the route point nearest to ``point`` (EPSG:4490)."""
    metric_route, metric_point = to_metric([route_line, point])
    return round(route_start_m + metric_route.project(metric_point), 2)


# ---------------------------------------------------------------- district check (the district: schema [meta.district])
SWAP_MARGIN_DEG = 2.0  # how far around the district a swapped lat/lon pair is still recognised


def _district(district: District | None) -> District:
    return district or load_schema().district


def district_boundary(district: District | None = None):
    """The district polygon (EPSG:4490), from the boundary file the schema names."""
    return _district(district).boundary


@lru_cache(maxsize=4)
def _district_with_tolerance(district: District, tolerance_m: float):
    metric = to_metric([district.boundary])[0].buffer(tolerance_m)
    geom = to_storage([metric])[0]
    shapely.prepare(geom)
    return geom


def in_district(geoms, tolerance_m: float | None = None, district: District | None = None) -> np.ndarray:
    """True for each geometry lying inside the district boundary (with the schema's tolerance)."""
    district = _district(district)
    tolerance = district.tolerance_m if tolerance_m is None else tolerance_m
    return shapely.covers(_district_with_tolerance(district, tolerance), np.asarray(geoms, dtype=object))


def coordinate_problems(geoms, district: District | None = None) -> np.ndarray:
    """A message (or None) per geometry for coordinates that are not lon/lat degrees of this district:
    projected metres given as degrees, or latitude and longitude swapped."""
    lon_lo, lat_lo, lon_hi, lat_hi = _district(district).bounds
    m = SWAP_MARGIN_DEG
    geoms = np.asarray(geoms, dtype=object)
    bounds = shapely.bounds(geoms)
    out = np.full(len(geoms), None, dtype=object)
    with np.errstate(invalid="ignore"):
        projected = (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1) | (np.abs(bounds[:, [1, 3]]) > 90).any(axis=1)
        swapped = ((bounds[:, 0] > lat_lo - m) & (bounds[:, 2] < lat_hi + m)
                   & (bounds[:, 1] > lon_lo - m) & (bounds[:, 3] < lon_hi + m))
    out[projected & ~swapped] = "坐标超出经纬度范围，像是投影坐标（米）；请指明坐标系（如 EPSG:4551）"
    out[swapped] = (f"经纬度似乎颠倒（经度应约为{lon_lo:.1f}–{lon_hi:.1f}°，纬度约为{lat_lo:.1f}–{lat_hi:.1f}°）")
    return out


def geometry_problems(geoms, allowed_types: tuple[str, ...], check_district: bool = True) -> list[tuple[int, str]]:
    """(index, message) for each source geometry that cannot be stored: missing, empty, of a type the
    category does not take, 3D, invalid or a line crossing itself, not lon/lat, or outside the district."""
    geoms = np.asarray(geoms, dtype=object)
    problems: list[tuple[int, str]] = []
    missing = shapely.is_missing(geoms)
    present = ~missing
    empty = np.zeros(len(geoms), bool)
    empty[present] = shapely.is_empty(geoms[present])
    ok = present & ~empty
    types = np.full(len(geoms), "", dtype=object)
    types[ok] = shapely.get_type_id(geoms[ok])
    names = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString", 6: "MultiPolygon"}
    coord_msgs = np.full(len(geoms), None, dtype=object)
    district = _district(None)
    coord_msgs[ok] = coordinate_problems(geoms[ok], district)
    valid = np.zeros(len(geoms), bool)
    valid[ok] = shapely.is_valid(geoms[ok])
    crossing = np.zeros(len(geoms), bool)  # GEOS calls a self-crossing line valid; it is not a road
    lines = ok & (types == 1)
    crossing[lines] = ~shapely.is_simple(geoms[lines].astype(object))
    has_z = np.zeros(len(geoms), bool)
    has_z[ok] = shapely.has_z(geoms[ok])
    inside = np.ones(len(geoms), bool)
    if check_district and ok.any():
        inside[ok] = in_district(geoms[ok], district=district)
    for i in range(len(geoms)):
        if missing[i]:
            problems.append((i, "缺少几何"))
        elif empty[i]:
            problems.append((i, "几何为空"))
        elif names.get(types[i], "?") not in allowed_types:
            problems.append((i, f"几何类型 {names.get(types[i], types[i])} 不可用，本类别只接受 {'/'.join(allowed_types)}"))
        elif has_z[i]:
            problems.append((i, "几何含高程(Z)坐标，请导出为二维"))
        elif coord_msgs[i]:
            problems.append((i, coord_msgs[i]))
        elif not valid[i]:
            problems.append((i, f"几何无效：{shapely.is_valid_reason(geoms[i])}"))
        elif crossing[i]:
            problems.append((i, "线自相交（路段线不能与自身交叉），请修正几何"))
        elif not inside[i]:
            problems.append((i, f"几何不在{district.name}范围内（容差 {district.tolerance_m:.0f} 米）"))
    return problems

