"""The map's own context, built from the ledger's data so the map reads without a basemap: the route
network (centrelines from ``store.routes()``) with label points for the route codes, kilometre stake
points (K marks) along each route, and township areas with their names.

No township boundaries could be obtained offline (see ``data/SOURCES.md``): the areas here are a
Voronoi partition of the district around the sample's township seats, clipped to the district
boundary, and are labelled 示意 (schematic) wherever they are shown. Plain data out, no drawing.
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import shapely

from .geo import district_boundary, to_metric, to_storage
from .schema import DATA_DIR

TOWNSHIP_SEATS_PATH = DATA_DIR / "township_seats_schematic.csv"
KM = 1000.0
ROUTE_CODE_RE = re.compile(r"^([GSXYCZ])(\d{1,4})")
LABEL_SPACING_M = 5_000.0  # one route-code label per this much road (at least one per route) ...
MAJOR_LABEL_EVERY = 4  # ... of which every 4th is shown at every zoom, the others only close up


@dataclass(frozen=True)
class Township:
    code: str
    name: str
    seat: shapely.Point  # EPSG:4490
    area: shapely.Geometry  # EPSG:4490, schematic


def route_class(code: str) -> str:
    """Road class from the route code: expressway (G + 1–2 or 4 digits), national (G + 3 digits),
    provincial (S), county (X), rural (Y, C, Z) or other."""
    match = ROUTE_CODE_RE.match(str(code or "").strip().upper())
    if not match:
        return "other"
    letter, digits = match.groups()
    if letter == "G":
        return "national" if len(digits) == 3 else "expressway"
    return {"S": "provincial", "X": "county"}.get(letter, "rural")


def label_points(metric_line) -> tuple[list[shapely.Point], list[bool]]:
    """Where a route's code is written: evenly along it, one per ``LABEL_SPACING_M`` (EPSG:4551); and
    whether each is a major one (shown at every zoom; the middle one of a short route)."""
    count = max(1, int(metric_line.length // LABEL_SPACING_M))
    points = [metric_line.interpolate((i + 0.5) / count, normalized=True) for i in range(count)]
    first = (count // 2) % MAJOR_LABEL_EVERY if count < MAJOR_LABEL_EVERY else MAJOR_LABEL_EVERY // 2
    return points, [(i - first) % MAJOR_LABEL_EVERY == 0 for i in range(count)]


def km_marks(metric_line, start_stake_m: float) -> tuple[list[int], list[shapely.Point]]:
    """Every whole kilometre stake on a route (its first vertex is at ``start_stake_m``): the
    kilometre numbers and their points (EPSG:4551)."""
    start = 0.0 if start_stake_m is None or pd.isna(start_stake_m) else float(start_stake_m)
    first, last = math.ceil(start / KM), math.floor((start + metric_line.length) / KM)
    kms = list(range(first, last + 1))
    return kms, [metric_line.interpolate(k * KM - start) for k in kms]


def route_context(routes: pd.DataFrame) -> dict:
    """Lines, code labels and K marks of the route network, in EPSG:4490 (plain lists)."""
    roads, labels, marks = [], [], []
    routes = routes[~(routes.geometry.isna() | routes.geometry.is_empty)] if len(routes) else routes
    metric = to_metric(routes.geometry.values) if len(routes) else []
    for (_, row), line in zip(routes.iterrows(), metric):
        code, kind = str(row["route_code"]), route_class(row["route_code"])
        roads.append({"code": code, "kind": kind, "geometry": to_storage([line])[0]})
        points, major = label_points(line)
        labels += [{"code": code, "kind": kind, "point": p, "major": m} for p, m in zip(to_storage(points), major)]
        kms, points = km_marks(line, row.get("start_stake_m"))
        marks += [{"code": code, "km": k, "point": p} for k, p in zip(kms, to_storage(points))]
    return {"roads": roads, "labels": labels, "marks": marks}


def read_seats() -> list[tuple[str, str, float, float]]:
    with open(TOWNSHIP_SEATS_PATH, encoding="utf-8") as fh:
        return [(r["code"], r["name"], float(r["lon"]), float(r["lat"])) for r in csv.DictReader(fh)]


@lru_cache(maxsize=1)
def townships() -> tuple[Township, ...]:
    """Schematic township areas: the Voronoi cell of each seat, clipped to the district (EPSG:4551 for
    the geometry, so cells are fair in metres)."""
    seats = read_seats()
    points = to_metric([shapely.Point(lon, lat) for _, _, lon, lat in seats])
    district = to_metric([district_boundary()])[0]
    cells = shapely.voronoi_polygons(shapely.MultiPoint(list(points)), extend_to=district).geoms
    out = []
    for (code, name, lon, lat), point in zip(seats, points):
        cell = next(c for c in cells if c.contains(point))
        area = to_storage([shapely.intersection(cell, district)])[0]
        out.append(Township(code, name, shapely.Point(lon, lat), area))
    return tuple(out)


def township_frame() -> pd.DataFrame:
    """The schematic townships as a frame (code, name, seat, geometry)."""
    rows = townships()
    return pd.DataFrame({"code": [t.code for t in rows], "name": [t.name for t in rows],
                         "seat": np.array([t.seat for t in rows], dtype=object),
                         "geometry": np.array([t.area for t in rows], dtype=object)})
