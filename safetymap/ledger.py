"""Ledger tables as DataFrames: the fog ledger, overdue rectifications, and display tables with
Chinese headers (for pages and exports)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from . import clock
from .geo import stake_column
from .schema import Field, Schema, load_schema
from .validation import five_in_place_parts, stake_length_notes



today = clock.today  # the bureau's date (China time), whatever the server's zone
STATUS_KEY, DEADLINE_KEY = "rect_status", "rect_deadline"
OVERDUE_KEYS = (STATUS_KEY, DEADLINE_KEY)  # the fields ``overdue`` reads (a narrow read must have them)


def is_open(frame: pd.DataFrame, schema: Schema | None = None) -> pd.Series:
    """True where the rectification status is still open (schema ``open_rect_statuses``)."""
    return frame[STATUS_KEY].isin((schema or load_schema()).open_statuses)


def overdue(frame: pd.DataFrame, on: dt.date | None = None, schema: Schema | None = None) -> pd.Series:
    """True where the rectification deadline has passed and the patch is not yet rectified."""
    on = pd.Timestamp(on or today())
    deadline = pd.to_datetime(frame[DEADLINE_KEY])
    return (deadline < on) & is_open(frame, schema)


def days_late(frame: pd.DataFrame, on: dt.date | None = None, schema: Schema | None = None) -> pd.Series:
    on = pd.Timestamp(on or today())
    late = (on - pd.to_datetime(frame[DEADLINE_KEY])).dt.days
    return late.where(overdue(frame, on, schema)).astype("Int64")


DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%d %H:%M"


def _datetimes_text(values: pd.Series, fmt: str | None = None) -> pd.Series:
    """Dates as 2026-07-08, times of day only where a value has one; NaT as ''."""
    values = pd.to_datetime(values)
    if fmt is None:
        fmt = DATE_FORMAT if (values.dropna() == values.dropna().dt.normalize()).all() else DATETIME_FORMAT
    return values.dt.strftime(fmt).astype(object).where(values.notna(), "")


def number_text(value) -> str:
    if pd.isna(value):
        return ""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as a page shows it: nothing missing is left for Streamlit to draw as "None" (it becomes ''),
    dates without a time of day are shown as dates. Numeric columns stay numbers (sortable) when complete."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = _datetimes_text(values)
        elif pd.api.types.is_bool_dtype(values) and not values.isna().any():
            values = values.map({True: "是", False: "否"})
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            if values.isna().any():
                values = values.map(number_text).astype(object)
        else:
            values = values.astype(object).where(values.notna(), "")
            values = values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else v)
        out[column] = values
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


def display_table(frame: pd.DataFrame, fields: tuple[Field, ...], *, with_unit: bool = True) -> pd.DataFrame:
    """``fields`` under their Chinese labels, stakes as K12+350, booleans as 是/否, dates as dates, times to
    the minute, text as typed."""
    out = {}
    for f in fields:
        if f.key not in frame.columns:
            continue
        values = frame[f.key]
        if f.type == "stake":
            values = pd.Series(stake_column(frame, f.key), index=frame.index).fillna("")
        elif f.type == "bool":
            values = values.map(lambda v: "" if pd.isna(v) else ("是" if v else "否"))
        elif f.type == "date":
            values = _datetimes_text(values, DATE_FORMAT)
        elif f.type == "datetime":
            values = _datetimes_text(values, DATETIME_FORMAT)
        out[f.label_with_unit if with_unit else f.label] = values
    return pd.DataFrame(out, index=frame.index)


CATEGORY_COLUMN, OVERDUE_COLUMN = "类别", "是否逾期"


def ledger_table(frame: pd.DataFrame, schema: Schema, on: dt.date | None = None,
                 keys: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The common columns of every patch (any category; ``keys`` chooses some by key), labelled from the
    schema, with 类别 second and 是否逾期 last, for the ledger page and ``safetymap list``."""
    labels = {c.key: c.label for c in schema.categories}
    fields = schema.common_fields if keys is None else tuple(schema.field(k) for k in keys)
    table = display_table(frame, fields)
    table.insert(min(1, len(table.columns)), CATEGORY_COLUMN, frame["category"].map(labels))
    if keys is None:
        table[OVERDUE_COLUMN] = overdue(frame, on, schema).map({True: "逾期", False: ""})
        _stake_length_column(table, frame, schema)
    return shown(table)


def _stake_length_column(table: pd.DataFrame, frame: pd.DataFrame, schema: Schema) -> None:
    """The 桩号长度核对 column: where a patch's stakes and its geometry's length disagree."""
    if schema.stake_length_rule and "length_m" in frame.columns:
        notes = stake_length_notes(frame, frame["length_m"], schema)
        table[schema.stake_length_rule.get("column", "桩号长度核对")] = pd.Series(notes, index=frame.index).fillna("")


ACTION_LABELS = {"insert": "新增", "update": "修改", "import": "导入", "archive": "归档", "restore": "恢复",
                 "inspection": "巡查", "restore_value": "恢复旧值", "external": "外部编辑", "external_insert": "外部新增"}


HAZARD_ACTIONS = {"insert": "上报", "update": "修改", "move": "流转"}


def hazard_timeline_rows(hazard_history: pd.DataFrame) -> list[dict]:
    """One row per hazard change (隐患编号 + version): 上报, 修改 or 流转 with its fields before → after."""
    rows = []
    for (code, version), group in hazard_history.groupby(["hazard_code", "version"], sort=False):
        first = group.iloc[0]
        fields = group.dropna(subset=["field_label"])
        detail = "；".join(f"{r.field_label}：{r.before or '（空）'} → {r.after or '（空）'}" for r in fields.itertuples())
        action = HAZARD_ACTIONS.get(first["action"], first["action"])
        rows.append({"时间": first["at"], "类型": f"隐患{action}", "用户": first["user"], "版本": "",
                     "内容": f"{code}" + (f"：{detail}" if detail else "")})
    return rows


def timeline(history: pd.DataFrame, inspections: pd.DataFrame, fog_events: pd.DataFrame,
             hazard_history: pd.DataFrame | None = None) -> pd.DataFrame:
    """One patch's changes, inspections, fog events and hazard changes, newest first: 时间, 类型, 用户,
    版本 (of the patch's changes), 内容. Ready to show: 时间 as text to the minute (a fog event by its date,
    and its start time when recorded), 版本 empty for everything but the patch's own changes."""
    rows = [] if hazard_history is None else hazard_timeline_rows(hazard_history)
    for version, group in history.groupby("version", sort=False):
        first = group.iloc[0]
        fields = group.dropna(subset=["field_label"])
        detail = "；".join(f"{r.field_label}：{r.before or '（空）'} → {r.after or '（空）'}" for r in fields.itertuples()
                          if r.field_key != "source_geometry")
        if (fields["field_key"] == "source_geometry").any():
            detail = "；".join(filter(None, [detail, "几何已修改"]))
        rows.append({"时间": first["at"], "类型": ACTION_LABELS.get(first["action"], first["action"]), "用户": first["user"],
                     "版本": str(int(version)), "内容": detail or ACTION_LABELS.get(first["action"], "")})
    for r in inspections.itertuples():
        status = f"；整改状态 {r.status_before} → {r.status_after}" if r.status_after != r.status_before else ""
        rows.append({"时间": r.inspected_at, "类型": "巡查记录", "用户": r.inspector, "版本": "",
                     "内容": f"{r.findings or '（无发现）'}{status}"})
    rows += [_fog_row(r) for r in fog_events.itertuples()]
    out = pd.DataFrame(rows, columns=["时间", "类型", "用户", "版本", "内容", "_shown"])
    out = out.sort_values("时间", ascending=False, kind="stable").reset_index(drop=True)
    when = pd.to_datetime(out["时间"])
    text = when.dt.strftime(DATETIME_FORMAT).astype(object).where(when.notna(), "")
    out["时间"] = out["_shown"].where(out["_shown"].notna(), text)
    return shown(out.drop(columns="_shown"))


def _fog_row(r) -> dict:
    """A fog event in the timeline, at its start time when one was recorded (``HH:MM``), else at its date."""
    vis = f"，最低能见度 {r.min_visibility_m:.0f} m" if pd.notna(r.min_visibility_m) else ""
    dur = f"，持续 {r.duration_h:g} 小时" if pd.notna(r.duration_h) else ""
    start = r.start_time.strip() if isinstance(r.start_time, str) else ""
    day = pd.Timestamp(r.date)
    when = pd.to_datetime(f"{day:%Y-%m-%d} {start}", format="%Y-%m-%d %H:%M", errors="coerce") if start else day
    return {"时间": day if pd.isna(when) else when, "类型": "团雾事件", "用户": r.created_by, "版本": "",
            "内容": f"{day:%Y-%m-%d} {start} 团雾{dur}{vis}".replace("  ", " "),
            "_shown": f"{day:%Y-%m-%d} {start}".strip()}


def rectification(record: dict, on: dt.date | None = None) -> dict:
    """Deadline, status, overdue flag and the five-in-place parts of one patch."""
    frame = pd.DataFrame([record])
    parts = five_in_place_parts(frame).iloc[0].to_dict()
    late = days_late(frame, on).iloc[0]
    return {"status": record.get("rect_status"), "deadline": record.get("rect_deadline"),
            "overdue": bool(pd.notna(late)), "days_late": None if pd.isna(late) else int(late),
            "five": {k: bool(v) for k, v in parts.items()}}
