"""The report as one self-contained HTML page that prints on A4: header, a sample-data warning, each
section's map and tables, footer. Every database text is escaped."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import stats
from .io.cells import text_of
from .report import SAMPLE_NOTE, Notes, Report, Table
from .svgmap import district_map_svg
from .text import esc

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
section.notes p { margin: 0 0 1.5mm; text-indent: 2em; white-space: pre-wrap; }
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


def map_figure(report: Report) -> str:
    m = report.map
    svg = district_map_svg(m.patches, m.schema, routes=m.routes, sample=report.sample)
    return f'<figure class="map">{svg}<figcaption>{esc(report.title)} 风险图斑分布图</figcaption></figure>'


def notes_section(notes: Notes, heading: str) -> str:
    """存在问题 / 下步工作 as typed under ``heading``: each line a paragraph, escaped."""
    if not notes.parts:
        return ""
    parts = []
    for heading, text in notes.parts:
        lines = "".join(f"<p>{esc(line)}</p>" for line in text.splitlines() if line.strip())
        parts.append(f"<h3>{esc(heading)}</h3>{lines}")
    return f'<section class="notes"><h2>{esc(heading)}</h2>{"".join(parts)}</section>'


def html_page(report: Report, notes: Notes | None = None) -> str:
    """The report as one self-contained HTML page that prints on A4; ``notes`` (default the report's)
    add the 存在问题 / 下步工作 section at the end."""
    body, n = [], 0
    for section in report.sections:
        body.append(f"<section><h2>{esc(section.heading)}</h2>")
        if section.map:
            body.append(map_figure(report))
        for table in section.tables:
            body.append(html_table(table, table_id(n)))
            n += 1
        body.append("</section>")
    body.append(notes_section(notes or report.notes, report.notes_heading))
    sample = f'<div class="sample">{esc(SAMPLE_NOTE)}</div>' if report.sample else ""
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{esc(report.title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head><body>'
            f'<header><div class="bureau">{esc(report.bureau)}</div><h1>{esc(report.title)}</h1>'
            f'<div class="meta">{esc(report.subtitle)}</div></header>{sample}{"".join(body)}'
            f'<footer>{esc(report.bureau)}　{esc(report.subtitle)}。已归档图斑不计入统计。</footer></body></html>')
