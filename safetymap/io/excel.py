"""Excel files. One writer for every workbook the app gives out — the 台账, reports, reminders, the
audit log, dashboard tables: per sheet title rows, Chinese headers (frozen), filters, column widths from
the content, real Excel dates (never timezone-aware: Excel has none, times are China local time), A4
print setup, and text that would run as a formula made inert (``cells.neutralise``).

The 台账 itself: a summary sheet and a sheet per category, titled with the bureau and the date, the
grade cell in its grade colour; last a plain table for GIS (QGIS/GDAL take row 1 as the header): every
patch, 类别, the fields and 中心经度/中心纬度 (EPSG:4490). Reading: every sheet's rows as values, for the
importer."""
from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..clock import CHINA_TZ
from ..ledger import overdue, today
from ..schema import Category, Schema
from ..text import is_missing
from .cells import decimals, display_width, neutralise, text_of
from .tables import CATEGORY_COLUMN, CENTRE_COLUMNS, by_category, centre_lonlat, labelled, one_table

SUMMARY_SHEET = "汇总"
TABLE_SHEET = "GIS表"  # the plain table; not read on import (the category sheets hold the same rows)
TOTAL = "合计"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
MINUTE_FORMAT = "yyyy-mm-dd hh:mm"
WIDTH_SAMPLE = 2000  # rows looked at for a column's width
MIN_WIDTH, MAX_WIDTH = 8, 60
TITLE_FONT = Font(bold=True, size=14)
NOTE_FONT = Font(italic=True, size=9, color="666666")
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="E7ECF3")
TOTAL_FILL = PatternFill("solid", fgColor="F3F3F3")
THIN = Side(style="thin", color="999999")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTRED = Alignment(horizontal="center", vertical="center", wrap_text=True)
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Sheet:
    """One sheet: ``titles`` are the rows above the header (the first is the title, the rest notes)."""

    name: str
    frame: pd.DataFrame
    titles: tuple[str, ...] = ()
    formats: Mapping[str, str] | None = None  # number format by column; None: chosen from each column's type
    fills: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # column -> cell value -> colour
    total: str | None = TOTAL  # a row whose first cell is this is a total row (bold, shaded)
    grid: bool = True  # borders round the data cells (left out of the 台账's large sheets, for speed)

    @property
    def header_row(self) -> int:
        return len(self.titles) + 1


# ---------------------------------------------------------------- values
def excel_value(value):
    """A cell as a value openpyxl writes: plain numbers, naive dates, 是/否, None, inert text."""
    if is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return _naive(pd.Timestamp(value)).to_pydatetime()
    return neutralise(value)


def _naive(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_convert(CHINA_TZ).tz_localize(None) if stamp.tzinfo is not None else stamp


def column_values(series: pd.Series) -> list:
    """A column as values for openpyxl; dates column-wise, an aware one as China local time."""
    if pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert(CHINA_TZ).dt.tz_localize(None)
        return [None if pd.isna(v) else v.to_pydatetime() for v in series]
    return [excel_value(v) for v in series.astype(object)]


def number_format(series: pd.Series) -> str | None:
    """The Excel format of a column: fixed decimals for floats, dates without a time."""
    if pd.api.types.is_float_dtype(series):
        return "0." + "0" * decimals(str(series.name))
    if pd.api.types.is_datetime64_any_dtype(series):
        return MINUTE_FORMAT
    present = series.dropna()
    if len(present) and all(isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in present):
        return DATE_FORMAT
    return None


def _width(header: str, values: list, fmt: str | None) -> float:
    shown = [len(fmt) if fmt and isinstance(v, dt.date) else display_width(text_of(v, header)) for v in values[:WIDTH_SAMPLE]]
    return min(max([display_width(header), *shown]) + 2, MAX_WIDTH)


# ---------------------------------------------------------------- the writer
def sheet_name(title: str, taken: set[str]) -> str:
    """A valid, unused sheet name (at most 31 characters, none of []:*?/\\)."""
    name = SHEET_NAME_BAD.sub("_", title)[:31] or "表"
    base, n = name, 2
    while name in taken:
        suffix = f"({n})"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def _print_setup(ws, sheet: Sheet, ncols: int) -> None:
    ws.print_title_rows = f"{sheet.header_row}:{sheet.header_row}"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if ncols > 8 else "portrait"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _styled(ws, value, font=None, fill=None, border=None, fmt=None, alignment=None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    for name, style in (("font", font), ("fill", fill), ("border", border), ("number_format", fmt),
                        ("alignment", alignment)):
        if style is not None:
            setattr(cell, name, style)
    return cell


def _titles(ws, sheet: Sheet, ncols: int) -> None:
    for i, text in enumerate(sheet.titles, start=1):
        ws.append([_styled(ws, neutralise(text), TITLE_FONT if i == 1 else NOTE_FONT)])
        if ncols > 1:
            ws.merged_cells.add(f"A{i}:{get_column_letter(ncols)}{i}")


def _data_style(wb: Workbook, fmt: str | None, fill: str | None, total: bool, grid: bool) -> str | None:
    """The name of a data cell's style, registered once per workbook (styling every cell one by one
    hashes its border and fill again each time: a large 台账 took half as long again); None: no style."""
    if not (fmt or fill or total or grid):
        return None
    name = f"safetymap {'合计' if total else '数据'} {fill or '-'} {fmt or 'General'} {'grid' if grid else '-'}"
    if name not in wb.named_styles:
        background = TOTAL_FILL if total else PatternFill("solid", fgColor=fill.lstrip("#")) if fill else PatternFill()
        wb.add_named_style(NamedStyle(name, font=BOLD if total else Font(), fill=background,
                                      border=BORDER if grid else Border(), number_format=fmt or "General"))
    return name


def _rows(wb: Workbook, ws, sheet: Sheet, columns: list[list], formats: list[str | None]) -> None:
    fills = [sheet.fills.get(name, {}) for name in sheet.frame.columns]
    plain = [_data_style(wb, fmt, None, False, sheet.grid) for fmt in formats]
    for row in zip(*columns):
        total = sheet.total is not None and row[0] == sheet.total
        cells = []
        for value, fmt, fill, style in zip(row, formats, fills, plain):
            if total or value in fill:
                style = _data_style(wb, fmt, fill.get(value), total, sheet.grid)
            if style is None or value is None and not sheet.grid:
                cells.append(value)
            else:
                cell = WriteOnlyCell(ws, value=value)
                cell.style = style
                cells.append(cell)
        ws.append(cells)


def _write_sheet(wb: Workbook, sheet: Sheet, name: str) -> None:
    frame = sheet.frame
    headers = [str(c) for c in frame.columns]
    columns = [column_values(frame.iloc[:, i]) for i in range(frame.shape[1])]
    formats = [(sheet.formats or {}).get(h) if sheet.formats is not None else number_format(frame.iloc[:, i])
               for i, h in enumerate(headers)]
    ws = wb.create_sheet(name)
    ncols = max(1, len(headers))
    ws.freeze_panes = f"A{sheet.header_row + 1}"
    for i, (header, values, fmt) in enumerate(zip(headers, columns, formats), start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(_width(header, values, fmt), MIN_WIDTH)
    _print_setup(ws, sheet, ncols)
    _titles(ws, sheet, ncols)
    ws.append([_styled(ws, neutralise(h), BOLD, HEADER_FILL, BORDER, alignment=CENTRED) for h in headers])
    _rows(wb, ws, sheet, columns, formats)
    last = sheet.header_row + max(len(frame), 1)
    ws.auto_filter.ref = f"A{sheet.header_row}:{get_column_letter(ncols)}{last}"


def write_workbook(sheets: list[Sheet], out) -> list[str]:
    """Write the sheets to ``out`` (a path or a binary file); returns the sheet names used."""
    wb = Workbook(write_only=True)
    taken: set[str] = set()
    for sheet in sheets:
        _write_sheet(wb, sheet, sheet_name(sheet.name, taken))
    if not sheets:
        wb.create_sheet("说明").append(["无数据"])
    wb.save(out)
    return list(wb.sheetnames)


def workbook_bytes(sheets: list[Sheet]) -> bytes:
    out = io.BytesIO()
    write_workbook(sheets, out)
    return out.getvalue()


# ---------------------------------------------------------------- the 台账
def summary_table(frame: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.DataFrame:
    """Per category: patches, each grade, each rectification status, overdue, total length; then 合计."""
    statuses = schema.field("rect_status").values
    late = overdue(frame, on)
    rows = []
    for c in schema.categories:
        part = frame["category"] == c.key
        row = {CATEGORY_COLUMN: c.label, "图斑数": int(part.sum())}
        row.update({g: int((part & (frame["risk_grade"] == g)).sum()) for g in schema.grade_labels})
        row.update({s: int((part & (frame["rect_status"] == s)).sum()) for s in statuses})
        row["逾期未整改"] = int((part & late).sum())
        row["总长度(km)"] = round(float(frame.loc[part, "length_m"].sum()) / 1000, 2)
        rows.append(row)
    table = pd.DataFrame(rows)
    total = {CATEGORY_COLUMN: TOTAL, **{k: table[k].sum() for k in table.columns if k != CATEGORY_COLUMN}}
    total["总长度(km)"] = round(float(total["总长度(km)"]), 2)
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def _category_sheet(c: Category, part: pd.DataFrame, schema: Schema, title: str) -> Sheet:
    table = labelled(c, part, "excel")
    formats = {name: DATE_FORMAT if f.type == "date" else DATETIME_FORMAT
               for name, f in zip(table.columns, c.fields) if f.type in ("date", "datetime")}
    fills = {}
    if "risk_grade" in c.keys:
        fills[table.columns[c.keys.index("risk_grade")]] = {g.label: g.color for g in schema.grades}
    return Sheet(c.label, table, (title,), formats, fills, total=None, grid=False)


def _plain_sheet(parts: list[tuple[Category, pd.DataFrame]]) -> Sheet:
    """Header in row 1, one row per patch, nothing else: what GIS reads as a table."""
    table = one_table(parts, "excel")
    coords = centre_lonlat(pd.concat([part.geometry for _, part in parts]).to_numpy())
    for i, name in enumerate(CENTRE_COLUMNS):
        table[name] = coords[:, i]
    return Sheet(TABLE_SHEET, table, (), total=None, grid=False)


def export_excel(frame: pd.DataFrame, out: str | Path, schema: Schema, *, on: dt.date | None = None) -> list[str]:
    parts = by_category(frame, schema)
    on = on or today()
    bureau = schema.meta.get("bureau", "")
    summary = Sheet(SUMMARY_SHEET, summary_table(frame, schema, on),
                    (f"{bureau} 风险图斑台账汇总（导出日期：{on:%Y-%m-%d}）",), formats={})
    sheets = [_category_sheet(c, part, schema, f"{bureau} {c.label}台账（导出日期：{on:%Y-%m-%d}）") for c, part in parts]
    return write_workbook([summary, *sheets, _plain_sheet(parts)], out)
