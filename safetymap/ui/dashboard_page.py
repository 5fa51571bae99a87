"""统计看板: the figures for the safety section and the bureau's meetings — distribution by category,
grade, township, unit and route; rectification and overdue; five-in-place; fog; changes over time —
each chart with its numbers beside it and every table downloadable; deadline reminders; and the
monthly or annual report. All figures come from ``stats``; this page only lays them out."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from .. import reminders, report, report_files, report_page, stats, svgmap
from ..io.csv import csv_bytes
from ..fog import FogRule
from ..ledger import shown, today
from ..schema import Schema
from ..text import is_missing
from ..stats import LedgerData, Period
from .common import cached_by_revision, checked_download, current_user, get_store, sample_banner
from .widgets import kept

REMINDER_COLORS = ("#C00000", "#F0A30A")  # overdue, due soon
OTHER_COLOR = "#5B7DB1"
REMINDER_DAYS = 30  # 到期提醒's days ahead until a user changes them
CHANGE_COLORS = ("#5B7DB1", "#2E8B57", "#8C8C8C", "#C9A227")  # 新增, 整改完成, 销号, 归档
PART_COLORS = ("#1F4E79", "#2E75B6", "#5B9BD5", "#9DC3E6", "#BDD7EE")  # 责任, 措施, 资金, 时限, 预案
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class View:
    """What every part of the page needs: the schema, the date figures are counted at, and whether
    the database holds the sample (then every download says so)."""

    schema: Schema
    on: dt.date
    sample: bool
    can_export: bool = True  # downloads are exports: viewers see the figures but cannot download them

    @property
    def note(self) -> str:
        return f"统计日期 {self.on:%Y-%m-%d}" + ("　示例数据（虚构）" if self.sample else "")


def render() -> None:
    store = get_store()
    st.title("统计看板")
    sample_banner(store)
    data = cached_by_revision(stats.load)(store)
    view = View(store.schema, today(), data.sample, current_user().can("export"))
    st.caption(f"统计日期 {view.on:%Y-%m-%d}。已归档的图斑不计入；长度单位为公里。")
    headlines(data, view, cached_by_revision(last_month_figures)(store))
    tabs = {  # tab title -> what it shows, in order
        "分类分级": lambda: category_section(data.patches, view),
        "地区·单位·路线": lambda: group_section(data.patches, view),
        "整改": lambda: rectification_section(data.patches, view),
        "重大风险": lambda: major_section(data.patches, view),
        "隐患": lambda: hazard_section(data, view),
        "巡查": lambda: inspection_section(data.patches, view),
        "五到位·资金": lambda: five_section(data.patches, view),
        "团雾": lambda: fog_section(data, view),
        "设施": lambda: facility_section(data, view),
        "动态": lambda: changes_section(data, view),
        "到期提醒": lambda: reminders_section(data, view),
        "月报·年报": lambda: report_section(data, view, store.routes()),
    }
    absent = {"隐患": view.schema.hazard is None, "设施": not view.schema.facility_keys}
    shown = [name for name in tabs if not absent.get(name)]
    for tab, name in zip(st.tabs(shown), shown):
        with tab:
            tabs[name]()


# ---------------------------------------------------------------- building blocks
def headline_names(schema: Schema) -> tuple[str, ...]:
    """The figures of ``stats.overview`` shown as metrics: the highest grade's open risks, not every grade's."""
    return ("图斑总数", "总长度(km)", f"{schema.grade_labels[0]}风险图斑", stats.OPEN_COUNT, stats.LATE_COUNT,
            stats.LATE_INSPECTION_COUNT, stats.FIVE_RATE, stats.fog_ledger_label(schema))


def hazard_headline_names(schema: Schema) -> tuple[str, ...]:
    """The hazard figures shown as metrics, on a row of their own (none without [hazard])."""
    if schema.hazard is None:
        return ()
    return (*(f"未销号{level}" for level in stats.hazard_levels(schema)),
            *(f"{s}隐患" for s in stats.hazard_statuses(schema, "pending")), stats.HAZARD_LATE,
            stats.SUPERVISED_OPEN, f"隐患{stats.CLOSE_RATE}")


def last_month_figures(store) -> dict:
    """The headline figures as they stood at the end of last month (rebuilt from history): 环比."""
    data, on = cached_by_revision(stats.load)(store), today()
    last_month = Period.month(on.year, on.month).previous
    then_on, then, _ = report.as_of(data, store.schema, last_month, on)
    return stats.headline(then, store.schema, then_on)


def change_text(value, before) -> str | None:
    """The change since last month as the metric shows it (+2, -1.5), or None when not a number."""
    if is_missing(value) or is_missing(before):
        return None
    change = round(float(value) - float(before), 2)
    return f"{change:+g}"


def headlines(data: LedgerData, view: View, before: dict) -> None:
    """The headline figures, each with its change since the end of last month (环比)."""
    overview = stats.overview(data, view.schema, view.on)
    figures = dict(zip(overview["项目"], overview["数值"]))
    for names in (headline_names(view.schema), hazard_headline_names(view.schema)):
        for column, name in zip(st.columns(len(names)) if names else [], names):
            value = figures.get(name)
            column.metric(name, "—" if is_missing(value) else value, delta=change_text(value, before.get(name)),
                          delta_color="off")
    st.caption("数字下方为与上月末相比的增减（环比，上月末的台账按变更历史重建）。")


def chart_data(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A statistics table without its 合计 row, indexed by its first column: what a chart draws."""
    rows = table[table.iloc[:, 0] != stats.TOTAL]
    return rows.set_index(rows.columns[0])[columns]


def downloads(title: str, table: pd.DataFrame, key: str, view: View) -> None:
    """CSV and Excel of one table, generated when clicked."""
    if not view.can_export:
        return
    stamp = f"{view.on:%Y%m%d}"
    left, right = st.columns(2)
    left.download_button("下载 CSV", data=checked_download(f"{title}.csv", lambda: csv_bytes(table)),
                         file_name=f"{title}_{stamp}.csv",
                         mime="text/csv", key=f"{key}_csv", on_click="ignore", icon=":material/download:")
    right.download_button("下载 Excel", data=checked_download(f"{title}.xlsx", lambda: table_excel(title, table, view)), file_name=f"{title}_{stamp}.xlsx",
                          mime=XLSX, key=f"{key}_xlsx", on_click="ignore", icon=":material/download:")


def table_excel(title: str, table: pd.DataFrame, view: View) -> bytes:
    return report_files.tables_workbook([report.Table(title, table)], view.schema.bureau, view.note)


def for_display(table: pd.DataFrame) -> pd.DataFrame:
    """Missing values shown blank rather than as None, dates as dates (``ledger.shown``)."""
    return shown(table)


def show_table(title: str, table: pd.DataFrame, key: str, view: View) -> None:
    st.dataframe(for_display(table), hide_index=True, width="stretch")
    downloads(title, table, key, view)


def chart(data: pd.DataFrame, plot=st.bar_chart, **options) -> None:
    """A native chart of ``data``, or a note when there is nothing to draw."""
    if data.empty or not data.to_numpy().any():
        st.caption("（暂无数据）")
    else:
        plot(data, **options)


def chart_and_table(title: str, table: pd.DataFrame, key: str, view: View, data: pd.DataFrame, **options) -> None:
    """A subheader, the chart on the left and its numbers (downloadable) on the right."""
    st.subheader(title)
    left, right = st.columns([3, 2])
    with left:
        chart(data, **options)
    with right:
        show_table(title, table, key, view)


def grade_chart(title: str, table: pd.DataFrame, key: str, view: View, y_label: str, horizontal: bool = False) -> None:
    """A table of patches by grade with its stacked bar chart in the grade colours."""
    grades = [c for c in table.columns if c in view.schema.grade_labels or c == view.schema.ungraded_label]
    chart_and_table(title, table, key, view, chart_data(table, grades), color=[view.schema.grade_color(g) for g in grades],
                    y_label=y_label, sort=False, horizontal=horizontal, x_label="" if horizontal else None)


# ---------------------------------------------------------------- sections
def category_section(frame: pd.DataFrame, view: View) -> None:
    grade_chart("分类分级图斑数", stats.category_grade(frame, view.schema), "cat_count", view, stats.COUNT)
    grade_chart("分类分级长度(km)", stats.category_grade(frame, view.schema, "km"), "cat_km", view, stats.KM)


def group_section(frame: pd.DataFrame, view: View) -> None:
    for key, title in (("township", "按乡镇统计"), ("resp_unit", "按责任单位统计"), ("route_code", "按路线统计")):
        table = stats.by_group(frame, key, view.schema, view.on)
        grade_chart(title, table, f"group_{key}", view, stats.COUNT, horizontal=True)


def rectification_section(frame: pd.DataFrame, view: View) -> None:
    table = stats.rect_status_table(frame, view.schema, view.on)
    names = stats.statuses(view.schema)
    chart_and_table("整改状态", table, "rect", view, chart_data(table, names), y_label=stats.COUNT, sort=False,
                    color=[view.schema.status_colors.get(s, OTHER_COLOR) for s in names])
    late = stats.overdue_list(frame, view.schema, view.on)
    st.subheader(f"逾期未整改清单（{len(late)} 个）")
    st.caption("整改时限已过、整改状态仍为待整改或整改中的图斑，按逾期天数从多到少排列。")
    show_table("逾期未整改清单", late, "overdue", view)
    for key, title in (("resp_unit", "按责任单位整改完成率和销号率"), ("township", "按乡镇整改完成率和销号率")):
        st.subheader(title)
        st.caption(report.COMPLETION_NOTE)
        show_table(title, stats.completion_by(frame, key, view.schema), f"completion_{key}", view)


def major_section(frame: pd.DataFrame, view: View) -> None:
    top = view.schema.grade_labels[0]
    table = stats.major_risk_list(frame, view.schema, view.on)
    st.subheader(f"{top}风险清单（{len(table)} 个）")
    st.caption(f"未销号的{top}风险图斑，含防控措施、责任单位、责任人和整改时限。")
    show_table(f"{top}风险清单", table, "major", view)


def hazard_section(data: LedgerData, view: View) -> None:
    schema, on = view.schema, view.on
    hazards, frame = stats.current_hazards(data), data.patches
    major = stats.hazard_levels(schema)[0]
    table = stats.major_hazard_list(hazards, frame, schema, on)
    st.subheader(f"{major}清单（{len(table)} 个）")
    st.caption(f"未销号的{major}，含整改措施、牵头单位、责任人、整改时限和状态。")
    show_table(f"{major}清单", table, "major_hazards", view)
    table = stats.supervised_hazard_list(hazards, frame, schema, on)
    st.subheader(f"挂牌督办隐患清单（{len(table)} 个）")
    st.caption("未销号的挂牌督办隐患，含督办级别、文号和状态。")
    show_table("挂牌督办隐患清单", table, "supervised_hazards", view)
    table = stats.hazard_status_table(hazards, schema, on)
    names = list(schema.hazard.status_labels)
    colors = {s.label: s.color for s in schema.hazard.statuses}
    chart_and_table("隐患整改状态", table, "hazard_status", view, chart_data(table, names), y_label=stats.HAZARD_COUNT,
                    sort=False, color=[colors.get(s, OTHER_COLOR) for s in names])
    for key, title in (("lead_unit", "按牵头单位隐患整改完成率和销号率"), ("township", "按乡镇隐患整改完成率和销号率")):
        st.subheader(title)
        st.caption(report.HAZARD_COMPLETION_NOTE)
        show_table(title, stats.hazard_completion_by(hazards, frame, key, schema), f"hazard_completion_{key}", view)
    table = stats.hazard_funding_by_source(hazards, schema)
    money = stats.hazard_label(schema, "fund_wan")
    chart_and_table("隐患资金按来源统计", table, "hazard_funding", view, chart_data(table, [money]), y_label=money,
                    sort=False, color=OTHER_COLOR)
    st.caption("全部隐患（含已销号）的资金金额，按资金来源合计。")


def facility_section(data: LedgerData, view: View) -> None:
    table = stats.facility_counts(data.all_patches, view.schema)
    chart_and_table("设施点位统计", table, "facilities", view, chart_data(table, [stats.TOTAL]), y_label="点位数",
                    sort=False, color=OTHER_COLOR)
    st.caption(report.facility_note(view.schema) + "。")


def inspection_section(frame: pd.DataFrame, view: View) -> None:
    st.subheader("逾期未巡查按等级统计")
    st.caption(report.inspection_note(view.schema))
    show_table("逾期未巡查按等级统计", stats.inspection_overdue_by_grade(frame, view.schema, view.on), "inspect_grade", view)
    late = stats.inspection_overdue_list(frame, view.schema, view.on)
    st.subheader(f"逾期未巡查清单（{len(late)} 个）")
    show_table("逾期未巡查清单", late, "inspect_late", view)


def five_section(frame: pd.DataFrame, view: View) -> None:
    table = stats.five_in_place_table(frame, view.schema)
    parts = [c for c in table.columns if c.endswith("到位") and c != stats.FIVE_OK]
    chart_and_table("五到位落实情况", table, "five", view, chart_data(table, parts), y_label=stats.COUNT, sort=False,
                    stack=False, color=list(PART_COLORS[:len(parts)]))
    gaps = stats.five_in_place_gaps(frame, view.schema)
    st.subheader(f"五到位缺项清单（{len(gaps)} 个）")
    st.caption("责任、措施、资金、时限、预案五到位：缺项为尚未落实的部分。")
    show_table("五到位缺项清单", gaps, "five_gaps", view)
    st.subheader("资金落实情况")
    st.caption(report.FUNDING_NOTE)
    show_table("资金落实情况", stats.funding_table(frame, view.schema), "funding", view)


def fog_section(data: LedgerData, view: View) -> None:
    schema = view.schema
    ledger = stats.fog_ledger_table(data.patches, data.events, schema)
    st.subheader(f"团雾多发路段台账（{len(ledger)} 段）")
    st.caption(FogRule.of(schema).describe())
    show_table("团雾多发路段台账", ledger, "fog_ledger", view)
    monthly = stats.fog_events_by_month(data.events, data.patches)
    chart_and_table("团雾事件按月统计", monthly, "fog_month", view, chart_data(monthly, ["团雾次数"]),
                    y_label="团雾次数", sort=False, color=schema.category(schema.fog_category).outline)


def changes_section(data: LedgerData, view: View) -> None:
    table = stats.changes_by_month(data.history, schema=view.schema)
    chart_and_table("各月动态", table, "changes", view, chart_data(table, list(stats.CHANGE_KINDS)),
                    y_label=stats.COUNT, sort=False, stack=False, color=list(CHANGE_COLORS))
    st.caption("新增：新建或导入的图斑；整改完成、销号：整改状态改为已整改、已销号；每个图斑每月每项计一次。")


def reminders_section(data: LedgerData, view: View) -> None:
    schema, on = view.schema, view.on
    st.subheader("整改到期提醒")
    days = st.number_input("提前天数", min_value=0, max_value=365, step=1, key=kept("reminder_days", REMINDER_DAYS),
                           width=220, help="列出整改时限在今后这些天内的图斑，以及已逾期的图斑")
    days = REMINDER_DAYS if days is None else days  # the field emptied: the default, as the caption below says
    table = reminders.due(data.patches, schema, int(days), on)
    summary = reminders.by_unit(table, schema)
    st.caption(reminders.title(int(days), on))
    left, right = st.columns([3, 2])
    with left:
        chart(chart_data(summary, [reminders.LATE, reminders.DUE_SOON]), color=list(REMINDER_COLORS),
              y_label=stats.COUNT, sort=False)
    right.dataframe(for_display(summary), hide_index=True, width="stretch")
    st.dataframe(for_display(table), hide_index=True, width="stretch")
    st.download_button("下载提醒（Excel，按责任单位分表）", key="reminders_xlsx", mime=XLSX, on_click="ignore",
                       data=checked_download("整改到期提醒.xlsx", lambda: reminders.excel_bytes(table, schema, int(days), on, data.sample)),
                       file_name=f"整改到期提醒_{on:%Y%m%d}_{int(days)}天.xlsx", icon=":material/download:",
                       disabled=not len(table) or not view.can_export)


def report_years(data: LedgerData, on) -> list[int]:
    """From the first year with history or fog events to this year, newest first."""
    years = [on.year]
    for times in (data.history["at"], data.events["date"]):
        if len(times):
            years.append(int(pd.to_datetime(times).dt.year.min()))
    return list(range(on.year, min(years) - 1, -1))


def report_section(data: LedgerData, view: View, routes) -> None:
    schema, on = view.schema, view.on
    st.subheader("月报·年报")
    st.caption("供安全例会使用：Excel 为各统计表；可打印页面含风险图斑分布图和各统计表，在浏览器中打开后按 Ctrl+P 打印或另存为 PDF（A4）。")
    cols = st.columns(3)  # the period and the notes below are kept across pages (``kept``)
    kinds, years = ["月报", "年报"], report_years(data, on)
    kind = cols[0].radio("报告类型", kinds, horizontal=True, key=kept("report_kind", kinds[0]))
    year = cols[1].selectbox("年份", years, key=kept("report_year", years[0]))
    month = cols[2].selectbox("月份", list(range(1, 13)), format_func=lambda m: f"{m}月",
                              key=kept("report_month", on.month), disabled=kind == "年报")
    period = Period.month(year, month) if kind == "月报" else Period.year(year)

    st.caption("存在问题和下步工作：写在这里的文字列在可打印页面的最后（不保存到台账）。")
    notes = report.Notes(st.text_area("存在问题", key=kept("report_problems", ""), height=120),
                         st.text_area("下步工作", key=kept("report_next_steps", ""), height=120))

    def build() -> report.Report:
        return report.compose(data, schema, period, on, routes, notes)

    title = report.report_title(period)
    st.markdown(f"**{title}**")
    if not view.can_export:
        st.caption("下载报告需要导出权限（编辑或管理角色）。")
    left, right = st.columns(2)
    left.download_button("下载 Excel", data=checked_download(f"{title}.xlsx", lambda: report_files.excel_bytes(build())),
                         file_name=f"{title}.xlsx", disabled=not view.can_export,
                         mime=XLSX, key="report_xlsx", on_click="ignore", icon=":material/download:")
    right.download_button("下载可打印页面（HTML）",
                          data=checked_download(f"{title}.html", lambda: report_page.html_page(build()).encode("utf-8")),
                          disabled=not view.can_export,
                          file_name=f"{title}.html", mime="text/html", key="report_html", on_click="ignore",
                          icon=":material/download:")
    if st.toggle("预览风险图斑分布图", key="report_map"):
        then = report.as_of(data, schema, period, on)[1]  # a past period's map shows its patches then
        st.image(svgmap.district_map_svg(then.patches, schema, routes=routes, sample=data.sample), width="stretch")
