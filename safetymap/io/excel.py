"""Excel 台账 (openpyxl): a summary sheet and a sheet per category; each with a title row naming the
bureau and the date, Chinese headers from the schema, a frozen header, filters, column widths from the
content, real Excel dates, the grade cell in its grade colour. Last, a plain table for GIS (QGIS/GDAL
take row 1 as the header): every patch, 类别, the fields, and 中心经度/中心纬度 (EPSG:4490). No timezone-aware datetimes (Excel has
none): times are China local time. Reading: every sheet's rows as values, for the importer."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ..ledger import overdue, today
from ..report import display_width
from ..schema import Category, Schema
from .tables import CATEGORY_COLUMN, CENTRE_COLUMNS, by_category, centre_lonlat, labelled, union_columns

SUMMARY_SHEET = "汇总"
TABLE_SHEET = "GIS表"  # the plain table; not read on import (the category sheets hold the same rows)
HEADER_ROW = 2  # row 1 is the title
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
WIDTH_SAMPLE = 500


def _widths(headers: list[str], columns: list[list]) -> list[float]:
    widths = []
    for header, values in zip(headers, columns):
        longest = max([display_width(header)] + [display_width(_shown(v)) for v in values[:WIDTH_SAMPLE]])
        widths.append(min(max(longest + 2, 8), 60))
    return widths


def _shown(value) -> str:
    if isinstance(value, dt.datetime):
        return "2026-01-01 00:00:00"
    if isinstance(value, dt.date):
        return "2026-01-01"
    return "" if value is None else str(value)


def _python_values(values: pd.Series, kind: str) -> list:
    """A column as plain Python values for openpyxl: None for missing, date / naive datetime for dates."""
    if kind in ("date", "datetime"):
        stamps = pd.to_datetime(values)
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_localize(None)
        return [None if pd.isna(v) else (v.date() if kind == "date" else v.to_pydatetime()) for v in stamps]
    return [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in values.astype(object)]


def _title(ws, text: str, n_columns: int) -> None:
    cell = WriteOnlyCell(ws, value=text)
    cell.font = Font(bold=True, size=14)
    ws.append([cell])
    if n_columns > 1:
        ws.merged_cells.add(f"A1:{get_column_letter(n_columns)}1")


def _header(ws, headers: list[str]) -> None:
    cells = []
    for name in headers:
        cell = WriteOnlyCell(ws, value=name)
        cell.font, cell.fill = Font(bold=True), HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cells.append(cell)
    ws.append(cells)


def _sheet(wb: Workbook, name: str, title: str, headers: list[str], columns: list[list], kinds: list[str],
           fills: dict[int, dict[str, PatternFill]] | None = None) -> None:
    """One sheet: title, header, rows; frozen below the header, filters over the table."""
    ws = wb.create_sheet(name)
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    for i, width in enumerate(_widths(headers, columns), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    _title(ws, title, len(headers))
    _header(ws, headers)
    fills = fills or {}
    for row in zip(*columns):
        cells = []
        for i, (value, kind) in enumerate(zip(row, kinds)):
            cell = WriteOnlyCell(ws, value=value)
            if kind in ("date", "datetime") and value is not None:
                cell.number_format = DATE_FORMAT if kind == "date" else DATETIME_FORMAT
            if i in fills and value in fills[i]:
                cell.fill = fills[i][value]
            cells.append(cell)
        ws.append(cells)
    n_rows = len(columns[0]) if columns else 0
    ws.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(len(headers))}{HEADER_ROW + max(n_rows, 1)}"


def _category_sheet(wb: Workbook, c: Category, part: pd.DataFrame, schema: Schema, title: str) -> None:
    table = labelled(c, part, "excel")
    kinds = [f.type for f in c.fields]
    columns = [_python_values(table[name], f.type) for name, f in zip(table.columns, c.fields)]
    fills = {}
    if "risk_grade" in c.keys:
        fills[c.keys.index("risk_grade")] = {g.label: PatternFill("solid", fgColor=g.color.lstrip("#")) for g in schema.grades}
    _sheet(wb, c.label, title, list(table.columns), columns, kinds, fills)


def plain_table(parts: list[tuple[Category, pd.DataFrame]]) -> tuple[list[str], list[list], list[str]]:
    """(headers, columns, kinds) of every patch in one table: 类别, the fields, the centre lon/lat."""
    kinds = {CATEGORY_COLUMN: ""} | {f.label_with_unit: f.type for c, _ in parts for f in c.fields}
    tables = []
    for c, part in parts:
        table = labelled(c, part, "excel")
        table.insert(0, CATEGORY_COLUMN, c.label)
        tables.append(table)
    columns = [CATEGORY_COLUMN, *union_columns([c for c, _ in parts])]
    table = pd.concat(tables, ignore_index=True).reindex(columns=columns)
    coords = centre_lonlat(pd.concat([part.geometry for _, part in parts]).to_numpy())
    columns = [_python_values(table[name], kinds[name]) for name in table.columns]
    columns += [[None if pd.isna(v) else float(v) for v in coords[:, i]] for i in range(2)]
    return [*table.columns, *CENTRE_COLUMNS], columns, [*(kinds[name] for name in table.columns), "float", "float"]


def _plain_sheet(wb: Workbook, headers: list[str], columns: list[list], kinds: list[str]) -> None:
    """Header in row 1, one row per patch, nothing else: what GIS reads as a table."""
    ws = wb.create_sheet(TABLE_SHEET)
    ws.freeze_panes = "A2"
    _header(ws, headers)
    for row in zip(*columns):
        cells = []
        for value, kind in zip(row, kinds):
            cell = WriteOnlyCell(ws, value=value)
            if kind in ("date", "datetime") and value is not None:
                cell.number_format = DATE_FORMAT if kind == "date" else DATETIME_FORMAT
            cells.append(cell)
        ws.append(cells)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{1 + max(len(columns[0]), 1)}"


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
    total = {CATEGORY_COLUMN: "合计", **{k: table[k].sum() for k in table.columns if k != CATEGORY_COLUMN}}
    total["总长度(km)"] = round(float(total["总长度(km)"]), 2)
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def export_excel(frame: pd.DataFrame, out: str | Path, schema: Schema, *, on: dt.date | None = None) -> list[str]:
    parts = by_category(frame, schema)
    on = on or today()
    bureau = schema.meta.get("bureau", "")
    wb = Workbook(write_only=True)
    summary = summary_table(frame, schema, on)
    _sheet(wb, SUMMARY_SHEET, f"{bureau} 风险图斑台账汇总（导出日期：{on:%Y-%m-%d}）", list(summary.columns),
           [_python_values(summary[col], "") for col in summary.columns], [""] * len(summary.columns))
    for c, part in parts:
        _category_sheet(wb, c, part, schema, f"{bureau} {c.label}台账（导出日期：{on:%Y-%m-%d}）")
    _plain_sheet(wb, *plain_table(parts))
    wb.save(out)
    return [SUMMARY_SHEET] + [c.label for c, _ in parts] + [TABLE_SHEET]


def read_sheets(path: str | Path) -> list[tuple[str, list[tuple]]]:
    """(sheet name, rows of cell values) for every sheet but the summary and the plain table."""
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        return [(ws.title, list(ws.iter_rows(values_only=True))) for ws in wb.worksheets
                if ws.title not in (SUMMARY_SHEET, TABLE_SHEET)]
    finally:
        wb.close()
