"""Statistics as DataFrames, for the dashboard (统计看板), the reports and ``safetymap stats``.

Every table is a plain DataFrame with Chinese headers, its first column naming the row, and (where
it adds up) a last row 合计. Only current patches count (archived ones are left out); the history
and the fog-event log are taken as recorded. Labels and orders come from the schema."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

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

    patches: pd.DataFrame  # current patches (store.read())
    all_patches: pd.DataFrame  # including archived ones, to name the patches of history rows
    events: pd.DataFrame  # store.fog_events()
    history: pd.DataFrame  # store.history()
    sample: bool  # the database holds the sample ledger (示例数据)


def load(store) -> LedgerData:
    everything = store.read(include_archived=True)
    risks = ~everything["category"].isin(store.schema.facility_keys)  # facility layers are not risks
    current = everything[~everything["archived"] & risks].reset_index(drop=True)
    history = store.history()
    history = history[~history["category"].isin(store.schema.facility_keys)].reset_index(drop=True)
    return LedgerData(current, everything, store.fog_events(), history, bool(store.meta("sample")))


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
    """设施 (facility layers, not risks): current points by layer and township."""
    current = all_patches[~all_patches["archived"].astype(bool)]
    rows = [{CATEGORY: c.label, **current[current["category"] == c.key]["township"].value_counts().to_dict()}
            for c in schema.categories if c.is_facility]
    table = pd.DataFrame(rows, columns=[CATEGORY, *schema.field("township").values]).fillna(0)
    table[TOTAL] = table.drop(columns=[CATEGORY]).sum(axis=1)
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
        OVERDUE: overdue(frame, on).groupby(groups).sum(),
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
    pivot[OVERDUE] = overdue(frame, on).groupby(cats).sum().reindex(pivot.index).fillna(0)
    table = _finish_numbers(with_total(pivot.rename_axis(CATEGORY).reset_index()), [*names, TOTAL, OVERDUE], "count")
    done = [*schema.statuses_with_role("rectified"), *schema.statuses_with_role("closed")]
    table[DONE_RATE] = rate(table[done].sum(axis=1), table[TOTAL])
    return table


def rate(part: pd.Series, whole: pd.Series) -> pd.Series:
    """Percent, one decimal; empty where the whole is 0."""
    whole = whole.astype(float).replace(0, np.nan)
    return (part.astype(float) / whole * 100).round(1)


def overdue_list(frame: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.DataFrame:
    """Open patches past their deadline, latest first, with the responsible unit and contacts."""
    late = days_late(frame, on)
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


# ---------------------------------------------------------------- fog
IN_LEDGER = "列入台账"


def fog_ledger_table(frame: pd.DataFrame, events: pd.DataFrame, schema: Schema, *,
                     every_segment: bool = False) -> pd.DataFrame:
    """The fog ledger (年均发生3次以上团雾路段台账): each segment's yearly counts and average. With
    ``every_segment``, all fog segments, and a column saying which are in the ledger."""
    fog = frame[frame["category"] == schema.fog_category]
    ledger = fog_counts(fog, events, schema) if every_segment else fog_ledger(fog, events, schema)
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
    ``months`` defaults to every month from the first to the last change; 合计 counts distinct patches."""
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
    ``patches`` should include archived ones, so that every code has its name."""
    kinds = change_kinds(history, schema)
    rows = history[kinds.notna() & period.contains(history["at"])]
    labels = category_labels(schema)
    names = dict(zip(patches["code"], patches["name"]))
    return pd.DataFrame({
        "日期": as_dates(rows["at"]), "变化": kinds[rows.index], label(schema, "code"): rows["code"],
        label(schema, "name"): rows["code"].map(names), CATEGORY: rows["category"].map(labels), "操作人": rows["user"],
    }).reset_index(drop=True)


# ---------------------------------------------------------------- overview
def overview(data: LedgerData, schema: Schema, on: dt.date | None = None, period: Period | None = None) -> pd.DataFrame:
    """The headline figures (项目, 数值): the ledger now, and what happened in ``period`` if given."""
    frame = data.patches
    parts = five_in_place_parts(frame)
    fog = frame[frame["category"] == schema.fog_category]
    rows = [("图斑总数", len(frame)), ("总长度(km)", km(frame["length_m"]))]
    grades = grades_of(frame, schema).value_counts()
    rows += [(f"{g}风险图斑", int(grades.get(g, 0))) for g in grade_columns(frame, schema)]
    rows += [(f"{OPEN}图斑", int(is_open(frame, schema).sum())),
             ("逾期未整改图斑", int(overdue(frame, on).sum())),
             (FIVE_RATE, float(rate(pd.Series([parts.all(axis=1).sum()]), pd.Series([len(frame)])).iloc[0])),
             (fog_ledger_label(schema), len(fog_ledger(fog, data.events, schema)))]
    if period is not None:
        changes = changes_by_month(data.history, period.months).iloc[-1]
        events = current_events(data.events, frame)
        rows += [(f"本期{k}", int(changes[k])) for k in CHANGE_KINDS]
        rows += [("本期团雾事件", int(period.contains(events["date"]).sum()))]
    return pd.DataFrame({"项目": [r[0] for r in rows], "数值": pd.Series([r[1] for r in rows], dtype=object)})


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

