"""Monthly and annual reports for the bureau's safety meeting (安全例会月报/年报): what they say, as
tables of figures from ``stats`` in sections, plus what the district map is drawn from. How they look
lives apart: ``report_page`` (printable HTML), ``svgmap`` (the map), ``report_files`` (Excel, saving),
``cli_report`` (``python -m safetymap report``)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from . import stats
from .clock import now_local
from .errors import Problem, RequestError
from .fog import FogRule
from .ledger import today
from .schema import Schema
from .stats import LedgerData, Period
from .store import Store

SAMPLE_NOTE = "示例数据：路线、桩号、桥梁和各项数值均为虚构，仅用于演示，不得用于实际决策。"


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
    map: bool = False  # the district map is shown before the tables


@dataclass(frozen=True)
class MapData:
    """What the district map is drawn from: the current patches and the route centrelines."""

    patches: pd.DataFrame = field(repr=False)
    routes: pd.DataFrame | None = field(repr=False)
    schema: Schema = field(repr=False)


@dataclass(frozen=True)
class Report:
    title: str  # 公路安全风险图斑月报（2026年11月）
    bureau: str
    period: Period
    on: dt.date  # the date overdue is counted at
    generated_at: dt.datetime
    sample: bool
    sections: list[Section] = field(default_factory=list)
    map: MapData | None = field(default=None, compare=False)

    @property
    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    @property
    def subtitle(self) -> str:
        parts = [f"报告期 {self.period.label}", f"台账状态截至 {self.on:%Y-%m-%d}",
                 f"生成于 {self.generated_at:%Y-%m-%d %H:%M}"]
        return "　".join(parts + (["示例数据（虚构）"] if self.sample else []))


def report_title(period: Period) -> str:
    return f"公路安全风险图斑{'月报' if period.kind == 'month' else '年报'}（{period.label}）"


def period_from(month: str | None = None, year: int | None = None) -> Period:
    if (month is None) == (year is None):
        raise RequestError([Problem("报告期", "请给出月份（--month 2026-11）或年份（--year 2026）之一")])
    return Period.parse_month(month) if month is not None else Period.year(year)


def build_report(store: Store, period: Period, on: dt.date | None = None) -> Report:
    """The report of ``period`` from the database: the ledger as it stands on ``on`` (default
    today) and what happened within the period."""
    return compose(stats.load(store), store.schema, period, on or today(), store.routes())


def compose(data: LedgerData, schema: Schema, period: Period, on: dt.date, routes=None) -> Report:
    return Report(report_title(period), schema.bureau, period, on, now_local(), data.sample,
                  sections(data, schema, period, on), MapData(data.patches, routes, schema))


def sections(data: LedgerData, schema: Schema, period: Period, on: dt.date) -> list[Section]:
    frame, trend = data.patches, period.trend_months
    return [
        Section("一、总体情况", [Table("总体情况", stats.overview(data, schema, on, period))]),
        Section("二、风险图斑分布图", [], map=True),
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
