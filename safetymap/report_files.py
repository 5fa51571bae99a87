"""Statistics tables and reports as files: each table a sheet of the one workbook writer (title row
naming the bureau and the table, a note row, the header on row 3), the report as Excel or as its
printable page, chosen by the file's extension."""
from __future__ import annotations

from pathlib import Path

from . import stats
from .errors import Problem, RequestError
from .io.excel import Sheet, workbook_bytes
from .report import Report, Table
from .report_page import html_page

FORMATS = {".xlsx": "excel", ".html": "html", ".htm": "html"}
HEADER_ROW = 3  # title, note, header


def table_sheet(table: Table, heading: str, subtitle: str) -> Sheet:
    titles = (f"{heading}　{table.title}".strip("　"), "　".join(filter(None, [subtitle, table.note])))
    return Sheet(table.sheet or table.title, table.frame, titles, total=stats.TOTAL)


def tables_workbook(tables: list[Table], heading: str, subtitle: str) -> bytes:
    """An Excel workbook with one sheet per table."""
    return workbook_bytes([table_sheet(t, heading, subtitle) for t in tables])


def excel_bytes(report: Report) -> bytes:
    return tables_workbook(report.tables, report.bureau, f"{report.title}　{report.subtitle}")


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
