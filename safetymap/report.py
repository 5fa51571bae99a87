"""Monthly and annual reports for the bureau's safety meeting (安全例会月报/年报): what they say, as
tables of figures from ``stats`` in sections, plus what the district map is drawn from. How they look
lives apart: ``report_page`` (printable HTML), ``svgmap`` (the map), ``report_files`` (Excel, saving),
``cli_report`` (``python -m safetymap report``)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from . import stats
from .asof import ledger_as_of, moment_after
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
class Notes:
    """The 存在问题 and 下步工作 the safety section writes for the printable page (plain text)."""

    problems: str = ""
    next_steps: str = ""

    @property
    def parts(self) -> list[tuple[str, str]]:
        """(heading, text) of each part written."""
        return [(h, t.strip()) for h, t in (("存在问题", self.problems), ("下步工作", self.next_steps)) if t and t.strip()]


@dataclass(frozen=True)
class Report:
    title: str  # 公路安全风险图斑月报（2026年11月）
    bureau: str
    period: Period
    on: dt.date  # the date the ledger is shown as of (the period's last day for a past period)
    generated_at: dt.datetime
    sample: bool
    sections: list[Section] = field(default_factory=list)
    map: MapData | None = field(default=None, compare=False)
    rebuilt: bool = False  # the ledger of a past period, rebuilt from history
    notes: Notes = field(default_factory=Notes)

    @property
    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    @property
    def notes_heading(self) -> str:
        """存在问题和下步工作, numbered after the last section."""
        return f"{numeral(len(self.sections) + 1)}、{NOTES_TITLE}"

    @property
    def subtitle(self) -> str:
        state = f"台账状态截至 {self.on:%Y-%m-%d}" + ("（按变更历史重建）" if self.rebuilt else "")
        parts = [f"报告期 {self.period.label}", state,
                 f"生成于 {self.generated_at:%Y-%m-%d %H:%M}"]
        return "　".join(parts + (["示例数据（虚构）"] if self.sample else []))


def report_title(period: Period) -> str:
    return f"公路安全风险图斑{'月报' if period.kind == 'month' else '年报'}（{period.label}）"


def period_from(month: str | None = None, year: int | None = None) -> Period:
    if (month is None) == (year is None):
        raise RequestError([Problem("报告期", "请给出月份（--month 2026-11）或年份（--year 2026）之一")])
    return Period.parse_month(month) if month is not None else Period.year(year)


def build_report(store: Store, period: Period, on: dt.date | None = None, notes: Notes | None = None) -> Report:
    """The report of ``period`` from the database, made on ``on`` (default today): the ledger as it
    stood at the period's end (or on ``on`` while the period runs) and what happened within it."""
    return compose(stats.load(store), store.schema, period, on or today(), store.routes(), notes)


def as_of(data: LedgerData, schema: Schema, period: Period, on: dt.date) -> tuple[dt.date, LedgerData, bool]:
    """The date the report shows the ledger at, the ledger then, and whether it was rebuilt: a period
    over by ``on`` shows its last day, rebuilt from history; a running one shows the ledger on ``on``."""
    if period.end > on:
        return on, data, False
    return period.last_day, ledger_as_of(data, schema, moment_after(period.last_day)), True


def figures_of(data: LedgerData, schema: Schema, period: Period, on: dt.date) -> dict:
    """The headline figures on ``on`` and what happened within ``period``: what 环比 compares."""
    return stats.headline(data, schema, on) | stats.period_figures(data, schema, period)


def compose(data: LedgerData, schema: Schema, period: Period, on: dt.date, routes=None,
            notes: Notes | None = None) -> Report:
    state_on, then, rebuilt = as_of(data, schema, period, on)
    previous_on, previous, _ = as_of(data, schema, period.previous, on)
    change = stats.month_on_month(figures_of(then, schema, period, state_on),
                                  figures_of(previous, schema, period.previous, previous_on))
    return Report(report_title(period), schema.bureau, period, state_on, now_local(), data.sample,
                  sections(then, schema, period, state_on, change), MapData(then.patches, routes, schema),
                  rebuilt, notes or Notes())


FUNDING_NOTE = "图斑的落实资金只计合计；按来源统计见隐患资金（隐患记录资金金额和来源）。"
COMPLETION_NOTE = "整改完成率 =（已整改 + 已销号）÷ 图斑数；销号率 = 已销号 ÷ 图斑数"
HAZARD_COMPLETION_NOTE = "隐患整改完成率 =（待验收 + 已销号）÷ 隐患数；销号率 = 已销号 ÷ 隐患数"
NUMERALS = "一二三四五六七八九十"


def numeral(n: int) -> str:
    """1 -> 一, 10 -> 十, 11 -> 十一 … (section numbers up to 99)."""
    tens, ones = divmod(n, 10)
    return (NUMERALS[tens - 1] if tens > 1 else "") + ("十" if tens else "") + (NUMERALS[ones - 1] if ones else "")


def numbered(parts: list[Section]) -> list[Section]:
    return [Section(f"{numeral(i + 1)}、{s.heading}", s.tables, s.map) for i, s in enumerate(parts)]


def sections(data: LedgerData, schema: Schema, period: Period, on: dt.date, change: pd.DataFrame) -> list[Section]:
    frame, trend = data.patches, period.trend_months
    top = schema.grade_labels[0]
    previous = "上月" if period.kind == "month" else "上年"
    return numbered([
        Section("总体情况", [
            Table("总体情况", stats.overview(data, schema, on, period),
                  f"风险图斑数只计未销号的图斑，隐患数只计未销号的隐患；统计日期 {on:%Y-%m-%d}"),
            Table("主要指标环比", change, f"上期为{previous}（{period.previous.label}），按当时的台账计")]),
        Section("风险图斑分布图", [], map=True),
        Section(f"{top}风险清单", [Table(f"{top}风险清单", stats.major_risk_list(frame, schema, on),
                                    f"未销号的{top}风险图斑，含防控措施、责任单位、责任人和整改时限")]),
        *hazard_sections(data, schema, period, on),
        Section("分类分级统计", [Table("分类分级图斑数", stats.category_grade(frame, schema)),
                             Table("分类分级长度(km)", stats.category_grade(frame, schema, "km"))]),
        Section("整改情况", [
            Table("整改状态", stats.rect_status_table(frame, schema, on)),
            Table("逾期未整改清单", stats.overdue_list(frame, schema, on), "按逾期天数从多到少"),
            Table("按责任单位整改完成率和销号率", stats.completion_by(frame, "resp_unit", schema), COMPLETION_NOTE,
                  sheet="按单位完成率"),
            Table("按乡镇整改完成率和销号率", stats.completion_by(frame, "township", schema), COMPLETION_NOTE,
                  sheet="按乡镇完成率")]),
        Section("五到位和资金落实情况", [
            Table("五到位落实情况", stats.five_in_place_table(frame, schema)),
            Table("五到位缺项清单", stats.five_in_place_gaps(frame, schema)),
            Table("资金落实情况", stats.funding_table(frame, schema), FUNDING_NOTE)]),
        Section("巡查情况", [
            Table("逾期未巡查按等级统计", stats.inspection_overdue_by_grade(frame, schema, on), inspection_note(schema)),
            Table("逾期未巡查清单", stats.inspection_overdue_list(frame, schema, on), "未销号的图斑，按等级、超期天数排列")]),
        Section("团雾多发路段", [
            Table("团雾多发路段台账", stats.fog_ledger_table(frame, data.events, schema, on=on), FogRule.of(schema).describe()),
            Table("团雾事件按月统计", stats.fog_events_by_month(data.events, frame, trend), f"{period.start.year}年1月起"),
            Table("本期团雾事件", stats.fog_event_list(data.events, frame, schema, period))]),
        Section("动态跟踪", [
            Table("各月动态", stats.changes_by_month(data.history, trend, schema),
                  f"{period.start.year}年1月起；整改完成、销号指整改状态改为已整改、已销号"),
            Table("本期动态清单", stats.change_list(data.history, data.all_patches, schema, period))]),
        Section("分布统计", [Table("按乡镇统计", stats.by_group(frame, "township", schema, on)),
                          Table("按责任单位统计", stats.by_group(frame, "resp_unit", schema, on)),
                          Table("按路线统计", stats.by_group(frame, "route_code", schema, on))]),
        *facility_sections(data, schema),
    ])


def hazard_sections(data: LedgerData, schema: Schema, period: Period, on: dt.date) -> list[Section]:
    """隐患排查治理: the named 重大隐患 and 挂牌督办 lists, states by level, rates by lead unit and township,
    funding by source (none when the schema declares no hazards)."""
    if schema.hazard is None:
        return []
    hazards, frame = stats.current_hazards(data), data.patches
    major = stats.hazard_levels(schema)[0]
    listed = f"未销号的和本期（{period.label}）销号的"
    return [Section("隐患排查治理", [
        Table(f"{major}清单", stats.major_hazard_list(hazards, frame, schema, on, period),
              f"{listed}{major}，含整改措施、牵头单位、责任人、整改时限和状态"),
        Table("挂牌督办隐患清单", stats.supervised_hazard_list(hazards, frame, schema, on, period),
              f"{listed}挂牌督办隐患，含督办级别和文号", sheet="挂牌督办清单"),
        Table("本期销号隐患", stats.closed_hazard_list(hazards, frame, schema, period),
              f"销号日期在本期（{period.label}）内的隐患，含验收人、验收日期和验收意见"),
        Table("隐患整改状态", stats.hazard_status_table(hazards, schema, on), "逾期未整改：整改时限已过、尚未整改完成"),
        Table("按牵头单位隐患整改完成率和销号率", stats.hazard_completion_by(hazards, frame, "lead_unit", schema),
              HAZARD_COMPLETION_NOTE, sheet="按单位隐患完成率"),
        Table("按乡镇隐患整改完成率和销号率", stats.hazard_completion_by(hazards, frame, "township", schema),
              HAZARD_COMPLETION_NOTE, sheet="按乡镇隐患完成率"),
        Table("隐患资金按来源统计", stats.hazard_funding_by_source(hazards, schema), "全部隐患（含已销号）的资金金额",
              sheet="隐患资金按来源")])]


def facility_sections(data: LedgerData, schema: Schema) -> list[Section]:
    """设施点位, counted apart from the risks (none when the schema declares no facility layer)."""
    if not schema.facility_keys:
        return []
    return [Section("设施点位", [Table("设施点位统计", stats.facility_counts(data.all_patches, schema), facility_note(schema))])]


def facility_note(schema: Schema) -> str:
    labels = "、".join(c.label for c in schema.categories if c.is_facility)
    return f"设施点位（{labels}）不定级，不计入风险图斑"


NOTES_TITLE = "存在问题和下步工作"


def inspection_note(schema: Schema) -> str:
    days = "，".join(f"{g} {d} 天" for g, d in stats.inspection_days(schema).items())
    return f"巡查频次：{days}；最近巡查日期早于此（或从未巡查）即逾期"
