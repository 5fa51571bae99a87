"""Deadline reminders (整改到期提醒): open patches whose rectification deadline is within N days or
already past, grouped by responsible unit, as a table and as an Excel workbook ready to send — a
summary sheet, then one sheet per unit."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from . import stats
from .ledger import is_open, today
from .report import Table
from .report_files import tables_workbook
from .schema import Schema

DAYS_LEFT = "剩余天数"
NOTICE = "提醒"
DUE_SOON, LATE = "即将到期", "已逾期"
UNIT_KEYS = ("code", "name", "category", "risk_grade", "route_code", "stakes", "township", "resp_person", "resp_phone")


def due(frame: pd.DataFrame, schema: Schema, within_days: int, on: dt.date | None = None) -> pd.DataFrame:
    """Open patches (待整改/整改中) due on or before ``on + within_days``, overdue ones included:
    责任单位 first, units in the schema's order, then the earliest deadline first."""
    on = pd.Timestamp(on or today())
    deadline = pd.to_datetime(frame["rect_deadline"])
    hit = is_open(frame, schema) & (deadline <= on + pd.Timedelta(days=int(within_days)))
    rows = frame[hit.to_numpy()]
    left = (pd.to_datetime(rows["rect_deadline"]) - on).dt.days.astype(int)
    unit = stats.label(schema, "resp_unit")
    table = stats.patch_columns(rows, schema, UNIT_KEYS)
    table.insert(0, unit, stats.group_values(rows, "resp_unit"))
    table[stats.label(schema, "rect_status")] = rows["rect_status"]
    table[stats.label(schema, "rect_deadline")] = stats.as_dates(rows["rect_deadline"])
    table[DAYS_LEFT] = left
    table[NOTICE] = [notice(d) for d in left]
    order = {u: i for i, u in enumerate(stats.order_of("resp_unit", table[unit], schema))}
    table = table.assign(_unit=table[unit].map(order))
    return table.sort_values(["_unit", DAYS_LEFT, stats.label(schema, "code")]).drop(columns="_unit").reset_index(drop=True)


def notice(days_left: int) -> str:
    if days_left < 0:
        return f"已逾期 {-days_left} 天"
    return "今日到期" if days_left == 0 else f"还剩 {days_left} 天"


def by_unit(table: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Per responsible unit: how many of its patches are overdue, how many due soon, in all."""
    unit = stats.label(schema, "resp_unit")
    late = table[DAYS_LEFT] < 0
    summary = pd.DataFrame({LATE: late.groupby(table[unit], sort=False).sum(),
                            DUE_SOON: (~late).groupby(table[unit], sort=False).sum()})
    summary[stats.TOTAL] = summary[LATE] + summary[DUE_SOON]
    summary = summary.rename_axis(unit).reset_index()
    return stats.with_total(summary).astype({LATE: int, DUE_SOON: int, stats.TOTAL: int})


def title(within_days: int, on: dt.date | None = None) -> str:
    on = on or today()
    return f"整改到期提醒（{on:%Y-%m-%d} 起 {int(within_days)} 天内到期及已逾期）"


def excel_bytes(table: pd.DataFrame, schema: Schema, within_days: int, on: dt.date | None = None,
                sample: bool = False) -> bytes:
    """The reminders as a workbook: 汇总 first, then one sheet per responsible unit."""
    unit = stats.label(schema, "resp_unit")
    sheets = [Table("整改到期提醒汇总", by_unit(table, schema), sheet="汇总")]
    for name, rows in table.groupby(unit, sort=False):
        sheets.append(Table(f"整改到期提醒：{name}", rows.drop(columns=unit).reset_index(drop=True),
                            "请按整改时限完成整改", sheet=str(name)))
    subtitle = title(within_days, on) + ("　示例数据（虚构）" if sample else "")
    return tables_workbook(sheets, schema.bureau, subtitle)
