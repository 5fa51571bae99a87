"""Statistics as DataFrames, for the dashboard (统计看板), the reports and ``safetymap stats``.

Every table is a plain DataFrame with Chinese headers, its first column naming the row, and (where
it adds up) a last row 合计. Only current patches count (archived ones are left out); the history
and the fog-event log are taken as recorded. Labels and orders come from the schema."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import clock
from .errors import Problem, ValidationError
from .geo import stake_ranges
from .fog import FogRule, fog_counts, fog_ledger
from .ledger import days_late, is_open, overdue
from .schema import Schema, load_schema
from .validation import five_in_place_parts
from .values import is_blank

TOTAL = "合计"
BLANK = "（未填）"
COUNT = "图斑数"
KM = "长度(km)"
OPEN = "未整改"
OVERDUE = "逾期"
CATEGORY = "类别"
MONTH = "月份"
STAKES = "桩号范围"
DAYS_LATE = "逾期天数"
DONE_RATE = "整改完成率(%)"
CLOSE_RATE = "销号率(%)"
FUNDING = "落实资金(万元)"
FUNDING_TOTAL = "落实资金合计(万元)"
FUNDED = "已落实资金图斑"
INSPECT_DAYS = "巡查频次(天)"
INSPECT_LATE = "逾期未巡查"
NEVER_INSPECTED = "从未巡查"
DAYS_PAST_DUE = "超期天数"
FIVE_OK = "五到位"
FIVE_RATE = "五到位率(%)"
MISSING_PARTS = "缺项"
ROUTE_CLASSES = "GSXYCZ"  # 国道、省道、县道、乡道、村道、专用公路: the order routes are listed in
# What changed, from a history row (see ``change_kinds``), in column order.
ADDED, DONE, CLOSED_KIND, ARCHIVED = "新增", "整改完成", "销号", "归档"
CHANGE_KINDS = (ADDED, DONE, CLOSED_KIND, ARCHIVED)
PATCH_KEYS = ("code", "name", "category", "risk_grade", "route_code", "stakes", "township",
              "resp_unit", "resp_person", "resp_phone")



def __getattr__(name: str):
    """``UNGRADED``, ``RECTIFIED``, ``CLOSED``: the (default) schema's words, for callers without a schema."""
    schema = load_schema()
    if name == "UNGRADED":
        return schema.ungraded_label
    if name in ("RECTIFIED", "CLOSED"):
        return schema.statuses_with_role(name.lower())[0]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- the data a dashboard or report needs
@dataclass(frozen=True)
class LedgerData:
    """What the statistics read from the store, read once."""

    patches: pd.DataFrame  # current risk patches (store.read(): not archived, not facility layers)
    all_patches: pd.DataFrame  # every layer, archived ones too (to name history rows and count facilities)
    events: pd.DataFrame  # store.fog_events()
    history: pd.DataFrame  # store.history(), every layer (``risk_history`` keeps the risk layers')
    sample: bool  # the database holds the sample ledger (示例数据)
    hazards: pd.DataFrame = field(default_factory=pd.DataFrame)  # store.hazards(), every patch's
    hazard_history: pd.DataFrame = field(default_factory=pd.DataFrame)  # store.hazard_history()


def load(store) -> LedgerData:
    everything = store.read(include_archived=True)
    risks = ~everything["category"].isin(store.schema.facility_keys)  # facility layers are not risks
    current = everything[~everything["archived"] & risks].reset_index(drop=True)
    hazards = (store.hazards(), store.hazard_history()) if store.schema.hazard is not None else ()
    return LedgerData(current, everything, store.fog_events(), store.history(), bool(store.meta("sample")), *hazards)


def risk_history(history: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The history rows of risk layers: a facility point added or moved is not a risk that changed."""
    return history[~history["category"].isin(schema.facility_keys).to_numpy()]


# ---------------------------------------------------------------- periods
@dataclass(frozen=True)
class Period:
    """A report period: one month or one calendar year, ``start`` inclusive, ``end`` exclusive."""

    start: dt.date
    end: dt.date
    kind: str  # "month" | "year"

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        if not 1 <= int(month) <= 12 or not 1900 <= int(year) <= 2999:
            raise ValidationError([Problem("月份", f"「{year}-{month}」不是有效的月份（如 2026-11）")])
        start = dt.date(int(year), int(month), 1)
        end = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return cls(start, end, "month")

    @classmethod
    def year(cls, year: int) -> Period:
        if not 1900 <= int(year) <= 2999:
            raise ValidationError([Problem("年份", f"「{year}」不是有效的年份（如 2026）")])
        return cls(dt.date(int(year), 1, 1), dt.date(int(year) + 1, 1, 1), "year")

    @classmethod
    def parse_month(cls, text: str) -> Period:
        """``2026-11`` (or ``2026/11``, ``2026.11``) -> that month."""
        parts = str(text).strip().replace("/", "-").replace(".", "-").split("-")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValidationError([Problem("月份", f"「{text}」不是有效的月份，应为 年-月，如 2026-11")])
        return cls.month(int(parts[0]), int(parts[1]))

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def previous(self) -> Period:
        """The month (or year) before."""
        if self.kind == "year":
            return Period.year(self.start.year - 1)
        before = self.start - dt.timedelta(days=1)
        return Period.month(before.year, before.month)

    @property
    def label(self) -> str:
        return f"{self.start.year}年{self.start.month}月" if self.kind == "month" else f"{self.start.year}年"

    @property
    def months(self) -> list[str]:
        """The months of the period, ``YYYY-MM``."""
        return month_range(self.start, self.end - dt.timedelta(days=1))

    @property
    def trend_months(self) -> list[str]:
        """January of the period's year up to the period's last month: the trend a report shows."""
        return month_range(dt.date(self.start.year, 1, 1), self.end - dt.timedelta(days=1))

    def contains(self, times: pd.Series) -> pd.Series:
        times = pd.to_datetime(times)
        return (times >= pd.Timestamp(self.start)) & (times < pd.Timestamp(self.end))


def month_range(first, last) -> list[str]:
    """Every month from ``first`` to ``last`` (dates or ``YYYY-MM``), as ``YYYY-MM``."""
    return [str(p) for p in pd.period_range(pd.Period(first, "M"), pd.Period(last, "M"), freq="M")]


def month_of(times: pd.Series) -> pd.Series:
    return pd.to_datetime(times).dt.strftime("%Y-%m")


# ---------------------------------------------------------------- helpers
def km(metres) -> float:
    return round(float(np.nansum(np.asarray(metres, dtype=float))) / 1000, 2)


def label(schema: Schema, key: str) -> str:
    return schema.all_fields()[key].label


def category_labels(schema: Schema) -> dict[str, str]:
    """The risk categories (facility layers are counted apart, by ``facility_counts``)."""
    return {c.key: c.label for c in schema.risk_categories}


def facility_counts(all_patches: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """设施 (facility layers, not risks): current points by layer and township, with 合计 row and column."""
    current = all_patches[~all_patches["archived"].astype(bool)]
    rows = [{CATEGORY: c.label, **current[current["category"] == c.key]["township"].value_counts().to_dict()}
            for c in schema.categories if c.is_facility]
    table = pd.DataFrame(rows, columns=[CATEGORY, *schema.field("township").values]).fillna(0)
    table.insert(1, TOTAL, table.drop(columns=[CATEGORY]).sum(axis=1))  # beside the name: townships are many
    table = with_total(table)
    return table.astype({c: int for c in table.columns if c != CATEGORY})


def statuses(schema: Schema) -> list[str]:
    return list(schema.field("rect_status").values)


def grade_columns(frame: pd.DataFrame, schema: Schema) -> list[str]:
    """The grade labels, highest first, plus 未定级 when a patch has none."""
    missing = frame["risk_grade"].map(is_blank).any() if len(frame) else False
    return schema.grade_labels + ([schema.ungraded_label] if missing else [])


def grades_of(frame: pd.DataFrame, schema: Schema) -> pd.Series:
    return frame["risk_grade"].map(lambda g: schema.ungraded_label if is_blank(g) else g)


def group_values(frame: pd.DataFrame, key: str) -> pd.Series:
    return frame[key].map(lambda v: BLANK if is_blank(v) else str(v))


def order_of(key: str, values, schema: Schema) -> list[str]:
    """Group labels in the schema's order (townships, units, statuses), routes by class, then the rest."""
    values = list(dict.fromkeys(values))
    fields = schema.all_fields()
    if key == "route_code":
        return sorted(values, key=route_rank)
    declared = list(fields[key].values) if key in fields else []
    return [v for v in declared if v in values] + sorted(v for v in values if v not in declared)


def route_rank(code: str) -> tuple[int, str]:
    """G before S before X … (national road classes), unknown prefixes and （未填） last."""
    rank = ROUTE_CLASSES.find(code[:1])
    return (rank if rank >= 0 else len(ROUTE_CLASSES), code)


def with_total(table: pd.DataFrame) -> pd.DataFrame:
    """Append a 合计 row summing the numeric columns (the first column names the rows)."""
    total = table.iloc[:, 1:].astype(float).sum()
    row = pd.DataFrame([{table.columns[0]: TOTAL, **total.to_dict()}])
    return pd.concat([table, row], ignore_index=True)[table.columns]


def stake_range(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(stake_ranges(frame), index=frame.index, dtype=object)


def as_dates(values: pd.Series) -> pd.Series:
    """Datetimes as plain dates (what tables, Excel and CSV show); missing as None."""
    return pd.Series([None if pd.isna(v) else pd.Timestamp(v).date() for v in values], index=values.index, dtype=object)


def patch_columns(frame: pd.DataFrame, schema: Schema, keys=PATCH_KEYS) -> pd.DataFrame:
    """The columns that identify a patch, under their schema labels (类别 as its label, 桩号 as a range)."""
    out = {}
    for key in keys:
        if key == "category":
            out[CATEGORY] = frame["category"].map(category_labels(schema))
        elif key == "stakes":
            out[STAKES] = stake_range(frame)
        else:
            out[label(schema, key)] = frame[key]
    return pd.DataFrame(out, index=frame.index)


# ---------------------------------------------------------------- distribution
def _grade_pivot(frame: pd.DataFrame, rows: pd.Series, columns: list[str], value: str,
                 schema: Schema) -> pd.DataFrame:
    grades = grades_of(frame, schema)
    if value == "count":
        pivot = frame.groupby([rows, grades]).size()
    else:
        pivot = frame["length_m"].groupby([rows, grades]).sum() / 1000
    return pivot.unstack() if len(pivot) else pd.DataFrame(columns=columns)


def category_grade(frame: pd.DataFrame, schema: Schema, value: str = "count") -> pd.DataFrame:
    """Patches by category × grade: ``value="count"`` the number, ``"km"`` the length in km."""
    labels = category_labels(schema)
    columns = grade_columns(frame, schema)
    pivot = _grade_pivot(frame, frame["category"].map(labels), columns, value, schema)
    pivot = pivot.reindex(index=list(labels.values()), columns=columns).fillna(0)
    pivot[TOTAL] = pivot.sum(axis=1)
    table = with_total(pivot.rename_axis(CATEGORY).reset_index())
    return _finish_numbers(table, columns + [TOTAL], value)


def _finish_numbers(table: pd.DataFrame, columns: list[str], value: str) -> pd.DataFrame:
    if value == "count":
        table[columns] = table[columns].astype(int)
    else:
        table[columns] = table[columns].astype(float).round(2)
    return table


def by_group(frame: pd.DataFrame, key: str, schema: Schema, on: dt.date | None = None) -> pd.DataFrame:
    """Per township, responsible unit, route … (``key``): number, length (km), number per grade,
    open (未整改) and overdue (逾期), in the schema's order, with a 合计 row."""
    groups = group_values(frame, key)
    columns = grade_columns(frame, schema)
    order = order_of(key, groups, schema)
    table = pd.DataFrame({
        COUNT: groups.value_counts(),
        KM: frame["length_m"].groupby(groups).sum() / 1000,
        OPEN: is_open(frame, schema).groupby(groups).sum(),
        OVERDUE: overdue(frame, on, schema).groupby(groups).sum(),
    }).reindex(order).fillna(0)
    grades = _grade_pivot(frame, groups, columns, "count", schema).reindex(index=order, columns=columns).fillna(0)
    table = pd.concat([table[[COUNT, KM]], grades, table[[OPEN, OVERDUE]]], axis=1)
    table = with_total(table.rename_axis(label(schema, key)).reset_index())
    table = _finish_numbers(table, [COUNT, *columns, OPEN, OVERDUE], "count")
    return _finish_numbers(table, [KM], "km")


# ---------------------------------------------------------------- rectification
def rect_status_table(frame: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.DataFrame:
    """Per category: patches in each rectification status, overdue, and the share rectified or closed."""
    labels = category_labels(schema)
    cats = frame["category"].map(labels)
    names = statuses(schema)
    counts = frame.groupby([cats, frame["rect_status"]]).size()
    pivot = (counts.unstack() if len(counts) else pd.DataFrame(columns=names))
    pivot = pivot.reindex(index=list(labels.values()), columns=names).fillna(0)
    pivot[TOTAL] = pivot.sum(axis=1)
    pivot[OVERDUE] = overdue(frame, on, schema).groupby(cats).sum().reindex(pivot.index).fillna(0)
    table = _finish_numbers(with_total(pivot.rename_axis(CATEGORY).reset_index()), [*names, TOTAL, OVERDUE], "count")
    done = [*schema.statuses_with_role("rectified"), *schema.statuses_with_role("closed")]
    table[DONE_RATE] = rate(table[done].sum(axis=1), table[TOTAL])
    return table


def is_closed(frame: pd.DataFrame, schema: Schema) -> pd.Series:
    """True where the rectification status has the role closed (已销号): no longer an open risk."""
    return frame["rect_status"].isin(schema.statuses_with_role("closed"))


CONTROL = "control_status"  # 管控状态: its default (管控中) is a risk under control; any other (已消除) is none


def no_longer_a_risk(frame: pd.DataFrame, schema: Schema) -> pd.Series:
    """True where the patch is no longer a risk the bureau manages: its rectification is closed (已销号)
    or its 管控状态 has left the managed default (已消除)."""
    closed = is_closed(frame, schema)
    if CONTROL not in frame.columns or CONTROL not in schema.all_fields():
        return closed
    control = frame[CONTROL]
    return closed | (~control.map(is_blank).astype(bool) & (control != schema.all_fields()[CONTROL].default))


def open_risks(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The patches that are still risks the bureau manages: not closed (已销号), not eliminated (已消除)."""
    return frame[~no_longer_a_risk(frame, schema).to_numpy()]


def completion_by(frame: pd.DataFrame, key: str, schema: Schema) -> pd.DataFrame:
    """Per responsible unit, township … (``key``): patches, rectified, closed, 整改完成率 (rectified or
    closed) and 销号率 (closed), in the schema's order, with a 合计 row."""
    groups = group_values(frame, key)
    rectified, closed = schema.statuses_with_role("rectified"), schema.statuses_with_role("closed")
    table = pd.DataFrame({
        COUNT: groups.value_counts(),
        **{s: frame["rect_status"].eq(s).groupby(groups).sum() for s in (*rectified, *closed)},
    }).reindex(order_of(key, groups, schema)).fillna(0)
    table = with_total(table.rename_axis(label(schema, key)).reset_index())
    table = _finish_numbers(table, [COUNT, *rectified, *closed], "count")
    table[DONE_RATE] = rate(table[[*rectified, *closed]].sum(axis=1), table[COUNT])
    table[CLOSE_RATE] = rate(table[list(closed)].sum(axis=1), table[COUNT])
    return table


def rate(part: pd.Series, whole: pd.Series) -> pd.Series:
    """Percent, one decimal; empty where the whole is 0."""
    whole = whole.astype(float).replace(0, np.nan)
    return (part.astype(float) / whole * 100).round(1)


def overdue_list(frame: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.DataFrame:
    """Open patches past their deadline, latest first, with the responsible unit and contacts."""
    late = days_late(frame, on, schema)
    rows = frame[late.notna().to_numpy()]
    table = patch_columns(rows, schema)
    table[label(schema, "rect_status")] = rows["rect_status"]
    table[label(schema, "rect_deadline")] = as_dates(rows["rect_deadline"])
    table[DAYS_LATE] = late[late.notna()].astype(int)
    return table.sort_values([DAYS_LATE, label(schema, "code")], ascending=[False, True]).reset_index(drop=True)


# ---------------------------------------------------------------- five in place (五到位)
def five_in_place_table(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Per category: patches, how many have each of 责任、措施、资金、时限、预案 in place, all five, and the rate."""
    labels = category_labels(schema)
    parts = five_in_place_parts(frame)
    flags = parts.rename(columns=lambda p: f"{p}到位").assign(**{FIVE_OK: parts.all(axis=1)}).astype(int)
    flags.insert(0, COUNT, 1)
    table = flags.groupby(frame["category"].map(labels)).sum().reindex(list(labels.values())).fillna(0)
    table = with_total(table.rename_axis(CATEGORY).reset_index())
    table = _finish_numbers(table, list(flags.columns), "count")
    table[FIVE_RATE] = rate(table[FIVE_OK], table[COUNT])
    return table


def five_in_place_gaps(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The patches not yet five-in-place and what each lacks, highest grade first."""
    parts = five_in_place_parts(frame)
    lacking = ~parts.all(axis=1)
    table = patch_columns(frame[lacking], schema, ("code", "name", "category", "risk_grade", "township", "resp_unit"))
    table[MISSING_PARTS] = ["、".join(p for p in parts.columns if not row[p]) for _, row in parts[lacking].iterrows()]
    rank = {g: i for i, g in enumerate(schema.grade_labels)}
    order = frame.loc[lacking, "risk_grade"].map(lambda g: rank.get(g, len(rank)))
    table = table.assign(_rank=order.to_numpy())
    return table.sort_values(["_rank", label(schema, "code")]).drop(columns="_rank").reset_index(drop=True)


# ---------------------------------------------------------------- the named major risks (重大风险清单)
MAJOR_KEYS = ("code", "name", "category", "route_code", "stakes", "township", "list_measures", "resp_unit",
              "resp_person", "resp_phone")


def major_risk_list(frame: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.DataFrame:
    """Every open risk of the highest grade by name, with its measures (防控措施清单), responsible unit,
    person and phone, status, deadline and whether it is overdue, by code."""
    risks = open_risks(frame, schema)
    rows = risks[(risks["risk_grade"] == schema.grade_labels[0]).to_numpy()].sort_values("code")
    table = patch_columns(rows, schema, MAJOR_KEYS)
    table[label(schema, "rect_status")] = rows["rect_status"]
    table[label(schema, "rect_deadline")] = as_dates(rows["rect_deadline"])
    table[OVERDUE] = overdue(rows, on, schema).map({True: OVERDUE, False: ""})
    return table.reset_index(drop=True)


# ---------------------------------------------------------------- funding (落实资金)
def funding_total(frame: pd.DataFrame) -> float:
    return round(float(np.nansum(frame["funding_wan"].to_numpy(dtype=float))), 2)


def funding_table(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Per category: patches, patches with funding, and the funding (万元) added up. Patches have no
    funding source: by source comes with the hazards (``hazard_funding_by_source``)."""
    labels = category_labels(schema)
    cats = frame["category"].map(labels)
    money = frame["funding_wan"].astype(float)
    table = pd.DataFrame({COUNT: cats.value_counts(), FUNDED: (money > 0).groupby(cats).sum(),
                          FUNDING: money.groupby(cats).sum()}).reindex(list(labels.values())).fillna(0)
    table = _finish_numbers(with_total(table.rename_axis(CATEGORY).reset_index()), [COUNT, FUNDED], "count")
    return _finish_numbers(table, [FUNDING], "amount")


# ---------------------------------------------------------------- inspections (巡查频次)
def inspection_days(schema: Schema) -> dict[str, int]:
    """Grade label -> the most days allowed between inspections (schema ``meta.inspection_days``)."""
    days = schema.meta.get("inspection_days", {})
    return {g.label: int(days[g.key]) for g in schema.grades if g.key in days}


def days_past_inspection(frame: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.Series:
    """Days past the inspection due date (last inspection + the grade's frequency) on ``on``; missing
    where not overdue. A patch never inspected is overdue with no day count (see ``never_inspected``)."""
    on = pd.Timestamp(on or clock.today())
    allowed = frame["risk_grade"].map(inspection_days(schema)).astype(float)
    late = (on - pd.to_datetime(frame["last_inspection"])).dt.days - allowed
    return late.where(late > 0).astype("Int64")


def never_inspected(frame: pd.DataFrame, schema: Schema) -> pd.Series:
    has_rule = frame["risk_grade"].isin(list(inspection_days(schema)))
    return has_rule & pd.to_datetime(frame["last_inspection"]).isna()


def inspection_late(frame: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.Series:
    """True for an open risk not inspected within its grade's frequency (or never)."""
    late = days_past_inspection(frame, schema, on).notna() | never_inspected(frame, schema)
    return late & ~no_longer_a_risk(frame, schema)


def inspection_overdue_by_grade(frame: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.DataFrame:
    """Per grade: the inspection frequency, open risks, those overdue for inspection and, of them, never inspected."""
    days = inspection_days(schema)
    risks = open_risks(frame, schema)
    late, never = inspection_late(risks, schema, on), never_inspected(risks, schema)
    rows = [{label(schema, "risk_grade"): g, INSPECT_DAYS: d, COUNT: int((risks["risk_grade"] == g).sum()),
             INSPECT_LATE: int((late & (risks["risk_grade"] == g)).sum()),
             NEVER_INSPECTED: int((never & (risks["risk_grade"] == g)).sum())} for g, d in days.items()]
    table = pd.DataFrame(rows, columns=[label(schema, "risk_grade"), INSPECT_DAYS, COUNT, INSPECT_LATE, NEVER_INSPECTED])
    table = with_total(table.astype({INSPECT_DAYS: float}))
    table = _finish_numbers(table, [COUNT, INSPECT_LATE, NEVER_INSPECTED], "count")
    table[INSPECT_DAYS] = table[INSPECT_DAYS].astype("Int64").mask(table.iloc[:, 0] == TOTAL)
    return table


def inspection_overdue_list(frame: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.DataFrame:
    """Open risks overdue for inspection, highest grade and longest overdue first, with who is responsible."""
    risks = open_risks(frame, schema)
    rows = risks[inspection_late(risks, schema, on).to_numpy()]
    table = patch_columns(rows, schema, ("code", "name", "category", "risk_grade", "township", "resp_unit", "resp_person"))
    table[label(schema, "last_inspection")] = as_dates(rows["last_inspection"])
    table[INSPECT_DAYS] = rows["risk_grade"].map(inspection_days(schema)).astype("Int64")
    table[DAYS_PAST_DUE] = days_past_inspection(rows, schema, on)
    rank = rows["risk_grade"].map({g: i for i, g in enumerate(schema.grade_labels)})
    table = table.assign(_rank=rank.to_numpy(), _late=table[DAYS_PAST_DUE].fillna(10**6).to_numpy())
    order = table.sort_values(["_rank", "_late", label(schema, "code")], ascending=[True, False, True])
    return order.drop(columns=["_rank", "_late"]).reset_index(drop=True)


# ---------------------------------------------------------------- hazards (隐患)
# A hazards frame is ``Store.hazards()``: one row per hazard, the [hazard] fields of the schema by key
# (hazard_code, hazard_level, measures, lead_unit, resp_person, deadline, fund_wan, fund_source,
# supervise_level, supervise_doc, closed_date …) plus code (the patch), status and version. Labels,
# levels, statuses and their roles come from the schema's [hazard] (these functions need one); an
# empty frame is no hazards.
HAZARD_STATUS = "整改状态"
HAZARD_COUNT = "隐患数"
HAZARD_DONE, HAZARD_CLOSED = "已整改", "已销号"  # column heads: rectified (awaiting acceptance or closed), closed
HAZARD_LATE = "逾期未整改隐患"
# the lists' columns, what is read at a glance first (逾期 follows 整改时限)
MAJOR_HAZARD_KEYS = ("hazard_code", "code", "name", "hazard_type", "status", "deadline", "lead_unit", "resp_person",
                     "measures", "description", "closed_date")
SUPERVISED_KEYS = ("hazard_code", "code", "name", "hazard_level", "supervise_level", "supervise_doc", "status",
                   "deadline", "lead_unit", "resp_person", "description", "closed_date")


def hazard_rows(hazards: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """``hazards`` with every column of a hazards frame (missing ones empty), by 隐患编号; plain objects,
    so that a table is the same whether its values came from the store or were rebuilt from history."""
    columns = [*schema.hazard.event.keys, "code", "status", "version"]
    return hazards.reindex(columns=columns).astype(object).sort_values("hazard_code").reset_index(drop=True)


def current_hazards(data: LedgerData) -> pd.DataFrame:
    """The hazards of current risk patches (an archived patch's hazards no longer count)."""
    return data.hazards[data.hazards["code"].isin(data.patches["code"]).to_numpy()] if len(data.hazards) else data.hazards


def hazard_levels(schema: Schema) -> list[str]:
    """隐患等级 as the schema lists them, the gravest first (重大隐患, 一般隐患)."""
    return list(schema.hazard.event.field("hazard_level").values)


def hazard_statuses(schema: Schema, role: str) -> list[str]:
    return list(schema.hazard.statuses_with_role(role))


def hazard_field(schema: Schema, key: str):
    """A hazard's field, or the patch's field of that key (the patch's township …)."""
    return schema.hazard.event.field(key) if key in schema.hazard.event.keys else schema.all_fields()[key]


def hazard_label(schema: Schema, key: str) -> str:
    if key == "status":
        return HAZARD_STATUS
    if key == "name":
        return f"图斑{label(schema, 'name')}"
    return hazard_field(schema, key).label_with_unit


def hazard_closed(rows: pd.DataFrame, schema: Schema) -> pd.Series:
    return rows["status"].isin(hazard_statuses(schema, "closed"))


def hazard_done(rows: pd.DataFrame, schema: Schema) -> pd.Series:
    """Rectified: awaiting acceptance (待验收) or closed."""
    return rows["status"].isin([*hazard_statuses(schema, "pending"), *hazard_statuses(schema, "closed")])


def hazard_overdue(rows: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.Series:
    """Not yet rectified (待整改, 整改中) and past 整改时限 on ``on``."""
    not_done = rows["status"].isin(hazard_statuses(schema, "open"))
    return not_done & (pd.to_datetime(rows["deadline"]) < pd.Timestamp(on or clock.today()))


def listed_hazards(rows: pd.DataFrame, schema: Schema, period: Period | None) -> pd.DataFrame:
    """Hazards not yet closed, and (given a period) those closed within it: what a list names."""
    closed = hazard_closed(rows, schema)
    keep = ~closed | (closed & period.contains(rows["closed_date"]) if period is not None else False)
    return rows[keep.to_numpy()]


def _hazard_table(rows: pd.DataFrame, patches: pd.DataFrame, schema: Schema, keys, on) -> pd.DataFrame:
    rows = rows.assign(name=rows["code"].map(dict(zip(patches["code"], patches["name"]))))
    table = pd.DataFrame({hazard_label(schema, k): rows[k] for k in keys}, index=rows.index)
    for key in ("deadline", "closed_date"):
        table[hazard_label(schema, key)] = as_dates(pd.to_datetime(rows[key]))
    late = hazard_overdue(rows, schema, on).map({True: OVERDUE, False: ""})
    table.insert(table.columns.get_loc(hazard_label(schema, "deadline")) + 1, OVERDUE, late)
    return table.reset_index(drop=True)


def major_hazard_list(hazards: pd.DataFrame, patches: pd.DataFrame, schema: Schema, on: dt.date | None = None,
                      period: Period | None = None) -> pd.DataFrame:
    """The 重大隐患 (the gravest level) not yet closed, and those closed within ``period``, by name: the
    patch, measures, lead unit, person, deadline, state and whether overdue."""
    rows = listed_hazards(hazard_rows(hazards, schema), schema, period)
    rows = rows[(rows["hazard_level"] == hazard_levels(schema)[0]).to_numpy()]
    return _hazard_table(rows, patches, schema, MAJOR_HAZARD_KEYS, on)


def supervised_hazard_list(hazards: pd.DataFrame, patches: pd.DataFrame, schema: Schema, on: dt.date | None = None,
                           period: Period | None = None) -> pd.DataFrame:
    """The hazards under 挂牌督办 not yet closed, and those closed within ``period``, with the level,
    the document and the state."""
    rows = listed_hazards(hazard_rows(hazards, schema), schema, period)
    rows = rows[~rows["supervise_level"].map(is_blank).astype(bool).to_numpy()]
    return _hazard_table(rows, patches, schema, SUPERVISED_KEYS, on)


CLOSED_HAZARD_KEYS = ("hazard_code", "code", "name", "hazard_type", "hazard_level", "status", "accept_by",
                      "accept_date", "accept_opinion", "closed_date")


def closed_hazard_list(hazards: pd.DataFrame, patches: pd.DataFrame, schema: Schema, period: Period) -> pd.DataFrame:
    """The hazards closed (销号日期) within ``period``, with who accepted them, when, and the 验收意见."""
    rows = hazard_rows(hazards, schema)
    rows = rows[(hazard_closed(rows, schema) & period.contains(rows["closed_date"])).to_numpy()]
    rows = rows.assign(name=rows["code"].map(dict(zip(patches["code"], patches["name"]))))
    table = pd.DataFrame({hazard_label(schema, k): rows[k] for k in CLOSED_HAZARD_KEYS}, index=rows.index)
    for key in ("accept_date", "closed_date"):
        table[hazard_label(schema, key)] = as_dates(pd.to_datetime(rows[key]))
    return table.reset_index(drop=True)


def declared_order(groups: pd.Series, values) -> list[str]:
    """The group labels present, in the declared ``values`` order, then the rest sorted."""
    present = set(groups)
    return [v for v in values if v in present] + sorted(present - set(values))


def hazard_funding_by_source(hazards: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Hazard funding (资金金额, 万元) per source (资金来源, in the schema's order) with the number of
    hazards, and a 合计 row: every hazard recorded, closed ones included (their money was spent)."""
    rows = hazard_rows(hazards, schema)
    sources = group_values(rows, "fund_source")
    money = hazard_label(schema, "fund_wan")
    table = pd.DataFrame({HAZARD_COUNT: sources.value_counts(),
                          money: rows["fund_wan"].astype(float).groupby(sources).sum()})
    table = table.reindex(declared_order(sources, hazard_field(schema, "fund_source").values)).fillna(0)
    table = with_total(table.rename_axis(hazard_label(schema, "fund_source")).reset_index())
    return _finish_numbers(_finish_numbers(table, [HAZARD_COUNT], "count"), [money], "amount")


def hazard_status_table(hazards: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.DataFrame:
    """Per 隐患等级: hazards in each state, overdue (not rectified past the deadline) and 销号率."""
    rows = hazard_rows(hazards, schema)
    names = list(schema.hazard.status_labels)
    counts = rows.groupby(["hazard_level", "status"]).size()
    pivot = (counts.unstack() if len(counts) else pd.DataFrame(columns=names))
    pivot = pivot.reindex(index=hazard_levels(schema), columns=names).fillna(0)
    pivot[TOTAL] = pivot.sum(axis=1)
    late = hazard_overdue(rows, schema, on).groupby(rows["hazard_level"]).sum()
    pivot[HAZARD_LATE] = late.reindex(pivot.index).fillna(0)
    table = with_total(pivot.rename_axis(hazard_label(schema, "hazard_level")).reset_index())
    table = _finish_numbers(table, [*names, TOTAL, HAZARD_LATE], "count")
    table[CLOSE_RATE] = rate(table[hazard_statuses(schema, "closed")].sum(axis=1), table[TOTAL])
    return table


def hazard_completion_by(hazards: pd.DataFrame, patches: pd.DataFrame, key: str, schema: Schema) -> pd.DataFrame:
    """Per 牵头单位 (``key="lead_unit"``, a hazard field) or a field of the hazard's patch (``"township"``):
    hazards, rectified (待验收 or 已销号), closed, 整改完成率 and 销号率, in the schema's order, with 合计."""
    rows = hazard_rows(hazards, schema)
    if key not in schema.hazard.event.keys:
        rows[key] = rows["code"].map(dict(zip(patches["code"], patches[key])))
    groups = group_values(rows, key)
    table = pd.DataFrame({HAZARD_COUNT: groups.value_counts(),
                          HAZARD_DONE: hazard_done(rows, schema).groupby(groups).sum(),
                          HAZARD_CLOSED: hazard_closed(rows, schema).groupby(groups).sum()})
    table = table.reindex(declared_order(groups, hazard_field(schema, key).values)).fillna(0)
    table = with_total(table.rename_axis(hazard_label(schema, key)).reset_index())
    table = _finish_numbers(table, [HAZARD_COUNT, HAZARD_DONE, HAZARD_CLOSED], "count")
    table[DONE_RATE] = rate(table[HAZARD_DONE], table[HAZARD_COUNT])
    table[CLOSE_RATE] = rate(table[HAZARD_CLOSED], table[HAZARD_COUNT])
    return table


SUPERVISED_OPEN, HAZARD_FUNDING = "挂牌督办未销号隐患", "隐患资金合计(万元)"


def hazard_headline(hazards: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> dict:
    """Hazards not yet closed by level, awaiting acceptance, overdue, under 挂牌督办 not yet closed,
    the hazards' 销号率 and their funding; nothing when the schema declares no hazards."""
    if schema.hazard is None:
        return {}
    rows = hazard_rows(hazards, schema)
    unclosed = rows[~hazard_closed(rows, schema).to_numpy()]
    return {**{f"未销号{level}": int((unclosed["hazard_level"] == level).sum()) for level in hazard_levels(schema)},
            **{f"{s}隐患": int((rows["status"] == s).sum()) for s in hazard_statuses(schema, "pending")},
            HAZARD_LATE: int(hazard_overdue(rows, schema, on).sum()),
            SUPERVISED_OPEN: int((~unclosed["supervise_level"].map(is_blank).astype(bool)).sum()),
            f"隐患{CLOSE_RATE}": share(int(hazard_closed(rows, schema).sum()), len(rows)),
            HAZARD_FUNDING: round(float(np.nansum(rows["fund_wan"].to_numpy(dtype=float))), 2)}


def hazard_period_figures(history: pd.DataFrame, schema: Schema, period: Period, codes) -> dict:
    """Hazards (of the patches ``codes``) recorded and closed within ``period``, from the hazard history."""
    if schema.hazard is None:
        return {}
    history = history.reindex(columns=["hazard_code", "code", "action", "field_key", "after", "at"])
    rows = history[period.contains(history["at"]).to_numpy() & history["code"].isin(codes).to_numpy()]
    closed = (rows["field_key"] == "status") & rows["after"].isin(hazard_statuses(schema, "closed"))
    return {"本期新增隐患": int(rows.loc[rows["action"] == "insert", "hazard_code"].nunique()),
            "本期销号隐患": int(rows.loc[closed, "hazard_code"].nunique())}


# ---------------------------------------------------------------- fog
IN_LEDGER = "列入台账"


def fog_ledger_table(frame: pd.DataFrame, events: pd.DataFrame, schema: Schema, *,
                     every_segment: bool = False, on: dt.date | None = None) -> pd.DataFrame:
    """The fog ledger (年均发生3次以上团雾路段台账) on ``on`` (default today): each segment's yearly counts
    and average. With ``every_segment``, all fog segments, and a column saying which are in the ledger."""
    fog = frame[frame["category"] == schema.fog_category]
    ledger = fog_counts(fog, events, schema, on) if every_segment else fog_ledger(fog, events, schema, on)
    rows = fog.set_index("code").loc[ledger["code"]].reset_index()
    table = patch_columns(rows, schema, ("code", "name", "route_code", "stakes", "township", "risk_grade", "resp_unit"))
    for year in (c for c in ledger.columns if isinstance(c, (int, np.integer))):
        table[f"{year}年"] = ledger[year].astype("Int64").to_numpy()
    table["统计期"] = ledger["window"].to_numpy()
    table["统计年数"] = ledger["years"].to_numpy()
    table["年均次数"] = ledger["per_year"].astype(float).round(2).to_numpy()
    table["档次"] = ledger["tier"].fillna("").to_numpy()
    table["数据来源"] = ledger["source"].to_numpy()
    table["判定说明"] = ledger["reason"].to_numpy()
    if every_segment:
        table[IN_LEDGER] = ledger["in_ledger"].to_numpy()
    return table


def fog_ledger_label(schema: Schema) -> str:
    return f"团雾台账路段(年均≥{FogRule.of(schema).threshold:g}次)"


def current_events(events: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """The fog events of current patches (the events of an archived patch no longer count)."""
    return events[events["code"].isin(frame["code"])]


def _event_figures(events: pd.DataFrame) -> dict:
    return {"团雾次数": len(events), "涉及路段数": events["code"].nunique(),
            "平均持续时长(h)": round(float(events["duration_h"].mean()), 1) if events["duration_h"].notna().any() else np.nan,
            "最低能见度(m)": events["min_visibility_m"].min() if events["min_visibility_m"].notna().any() else np.nan}


def fog_events_by_month(events: pd.DataFrame, frame: pd.DataFrame, months: list[str] | None = None) -> pd.DataFrame:
    """Fog events per month (of current patches): number, segments, mean duration, lowest visibility.
    ``months`` defaults to every month from the first to the last event; the 合计 row covers them all."""
    events = current_events(events, frame)
    month = month_of(events["date"])
    months = months if months is not None else (month_range(month.min(), month.max()) if len(events) else [])
    events = events[month.isin(months)]
    month = month[month.isin(months)]
    rows = [{MONTH: m, **_event_figures(events[month == m])} for m in months]
    rows.append({MONTH: TOTAL, **_event_figures(events)})
    table = pd.DataFrame(rows)
    table[["团雾次数", "涉及路段数"]] = table[["团雾次数", "涉及路段数"]].astype(int)
    table["最低能见度(m)"] = table["最低能见度(m)"].astype("Int64")
    return table


def fog_event_list(events: pd.DataFrame, frame: pd.DataFrame, schema: Schema, period: Period) -> pd.DataFrame:
    """The fog events of current patches within ``period``."""
    events = current_events(events, frame)
    events = events[period.contains(events["date"])].sort_values(["date", "code"])
    names = dict(zip(frame["code"], frame["name"]))
    return pd.DataFrame({
        "日期": as_dates(events["date"]), label(schema, "code"): events["code"], label(schema, "name"): events["code"].map(names),
        "开始时间": events["start_time"], "持续时长(h)": events["duration_h"],
        "最低能见度(m)": events["min_visibility_m"].astype("Int64"), "报告人": events["reporter"],
    }).reset_index(drop=True)


# ---------------------------------------------------------------- changes over time (from history)
def change_kinds(history: pd.DataFrame, schema: Schema | None = None) -> pd.Series:
    """What each history row records, or None: 新增 (version 1, no field: insert or import),
    整改完成 (rect_status set to a status of role rectified, 已整改), 销号 (role closed, 已销号), 归档 (archived)."""
    schema = schema or load_schema()
    status = history["field_key"] == "rect_status"
    kinds = pd.Series(None, index=history.index, dtype=object)
    kinds[(history["version"] == 1) & history["field_key"].isna()] = ADDED
    kinds[status & history["after"].isin(schema.statuses_with_role("rectified"))] = DONE
    kinds[status & history["after"].isin(schema.statuses_with_role("closed"))] = CLOSED_KIND
    kinds[history["action"] == "archive"] = ARCHIVED
    return kinds


def changes_by_month(history: pd.DataFrame, months: list[str] | None = None,
                     schema: Schema | None = None) -> pd.DataFrame:
    """Patches added, rectified, closed and archived per month (each patch once per month and kind).
    ``months`` defaults to every month from the first to the last change; 合计 counts distinct patches.
    Facility layers are not risks: their changes are left out."""
    schema = schema or load_schema()
    history = risk_history(history, schema)
    kinds = change_kinds(history, schema)
    changes = history.assign(kind=kinds, month=month_of(history["at"]))[kinds.notna()]
    months = months if months is not None else (month_range(changes["month"].min(), changes["month"].max()) if len(changes) else [])
    changes = changes[changes["month"].isin(months)]
    per_month = changes.groupby(["month", "kind"])["code"].nunique()
    table = (per_month.unstack() if len(per_month) else pd.DataFrame()).reindex(index=months, columns=list(CHANGE_KINDS)).fillna(0)
    total = changes.groupby("kind")["code"].nunique().reindex(list(CHANGE_KINDS)).fillna(0)
    table = pd.concat([table.rename_axis(MONTH).reset_index(), pd.DataFrame([{MONTH: TOTAL, **total.to_dict()}])],
                      ignore_index=True)
    return _finish_numbers(table, list(CHANGE_KINDS), "count")


def change_list(history: pd.DataFrame, patches: pd.DataFrame, schema: Schema, period: Period) -> pd.DataFrame:
    """Each patch added, rectified, closed or archived within ``period``, with when and by whom.
    ``patches`` should include archived ones, so that every code has its name. Facility layers are left out."""
    history = risk_history(history, schema)
    kinds = change_kinds(history, schema)
    rows = history[kinds.notna() & period.contains(history["at"])]
    labels = category_labels(schema)
    names = dict(zip(patches["code"], patches["name"]))
    return pd.DataFrame({
        "日期": as_dates(rows["at"]), "变化": kinds[rows.index], label(schema, "code"): rows["code"],
        label(schema, "name"): rows["code"].map(names), CATEGORY: rows["category"].map(labels), "操作人": rows["user"],
    }).reset_index(drop=True)


# ---------------------------------------------------------------- overview
OPEN_COUNT, LATE_COUNT, CLOSED_COUNT, LATE_INSPECTION_COUNT = f"{OPEN}图斑", "逾期未整改图斑", "已销号图斑", "逾期未巡查图斑"


def share(part: int, whole: int) -> float:
    """Percent, one decimal; NaN of nothing."""
    return float(rate(pd.Series([part]), pd.Series([whole])).iloc[0])


def headline(data: LedgerData, schema: Schema, on: dt.date | None = None) -> dict:
    """The ledger's headline figures on ``on``: risks by grade count open risks only (a patch closed,
    已销号, or eliminated, 已消除, is no longer a risk the bureau manages), hazards those not yet closed."""
    frame = data.patches
    risks = open_risks(frame, schema)
    grades = grades_of(risks, schema).value_counts()
    closed = int(is_closed(frame, schema).sum())
    rectified = int(frame["rect_status"].isin(schema.statuses_with_role("rectified")).sum())
    fog = frame[frame["category"] == schema.fog_category]
    return {
        "图斑总数": len(frame), "总长度(km)": km(frame["length_m"]),
        **{f"{g}风险图斑": int(grades.get(g, 0)) for g in grade_columns(risks, schema)},
        OPEN_COUNT: int(is_open(frame, schema).sum()), LATE_COUNT: int(overdue(frame, on, schema).sum()),
        CLOSED_COUNT: closed, DONE_RATE: share(rectified + closed, len(frame)), CLOSE_RATE: share(closed, len(frame)),
        FIVE_RATE: share(int(five_in_place_parts(frame).all(axis=1).sum()), len(frame)),
        FUNDING_TOTAL: funding_total(frame), LATE_INSPECTION_COUNT: int(inspection_late(frame, schema, on).sum()),
        fog_ledger_label(schema): len(fog_ledger(fog, data.events, schema, on)),
        **hazard_headline(current_hazards(data), schema, on),
    }


def period_figures(data: LedgerData, schema: Schema, period: Period) -> dict:
    """What happened within ``period``: patches added, rectified, closed, archived; fog events;
    hazards recorded and closed."""
    changes = changes_by_month(data.history, period.months, schema).iloc[-1]
    events = current_events(data.events, data.patches)
    return {**{f"本期{k}": int(changes[k]) for k in CHANGE_KINDS},
            "本期团雾事件": int(period.contains(events["date"]).sum()),
            **hazard_period_figures(data.hazard_history, schema, period, data.patches["code"])}


def figure_table(figures: dict) -> pd.DataFrame:
    return pd.DataFrame({"项目": list(figures), "数值": pd.Series(list(figures.values()), dtype=object)})


def overview(data: LedgerData, schema: Schema, on: dt.date | None = None, period: Period | None = None) -> pd.DataFrame:
    """The headline figures (项目, 数值): the ledger on ``on``, and what happened in ``period`` if given."""
    figures = headline(data, schema, on)
    return figure_table(figures | (period_figures(data, schema, period) if period is not None else {}))


def month_on_month(current: dict, previous: dict) -> pd.DataFrame:
    """项目, 本期, 上期, 增减 of the figures both have (the change blank where either is not a number)."""
    names = [k for k in current if k in previous]

    def change(name):
        a, b = current[name], previous[name]
        return round(a - b, 2) if not (pd.isna(a) or pd.isna(b)) else np.nan

    return pd.DataFrame({"项目": names, "本期": pd.Series([current[k] for k in names], dtype=object),
                         "上期": pd.Series([previous[k] for k in names], dtype=object),
                         "增减": pd.Series([change(k) for k in names], dtype=object)})


def summary(frame: pd.DataFrame, schema: Schema) -> dict:
    """Counts by category, grade and rectification status, plus overdue: what `safetymap stats` prints."""
    labels = category_labels(schema)
    facilities = frame["category"].value_counts().reindex(schema.facility_keys, fill_value=0)
    frame = frame[frame["category"].isin(list(labels))]  # facility layers are counted apart, not as risks
    by_cat = frame["category"].value_counts()
    by_grade = frame["risk_grade"].value_counts()
    by_status = frame["rect_status"].value_counts()
    return {
        "total": len(frame),
        "by_category": {labels[k]: int(by_cat.get(k, 0)) for k in labels},
        "facilities": {schema.category(k).label: int(n) for k, n in facilities.items()},
        "by_grade": {g: int(by_grade.get(g, 0)) for g in schema.grade_labels},
        "by_status": {s: int(by_status.get(s, 0)) for s in statuses(schema)},
        "overdue": int(overdue(frame).sum()) if len(frame) else 0,
    }

