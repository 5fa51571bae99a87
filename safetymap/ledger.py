"""Ledger tables as DataFrames: the fog ledger, overdue rectifications, and display tables with
Chinese headers (for pages and exports)."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from . import clock
from .geo import stake_column
from .schema import Field, Schema, load_schema
from .validation import five_in_place_parts, stake_length_notes



today = clock.today  # the bureau's date (China time), whatever the server's zone


def is_open(frame: pd.DataFrame, schema: Schema | None = None) -> pd.Series:
    """True where the rectification status is still open (schema ``open_rect_statuses``)."""
    return frame["rect_status"].isin((schema or load_schema()).open_statuses)


def overdue(frame: pd.DataFrame, on: dt.date | None = None, schema: Schema | None = None) -> pd.Series:
    """True where the rectification deadline has passed and the patch is not yet rectified."""
    on = pd.Timestamp(on or today())
    deadline = pd.to_datetime(frame["rect_deadline"])
    return (deadline < on) & is_open(frame, schema)


def days_late(frame: pd.DataFrame, on: dt.date | None = None, schema: Schema | None = None) -> pd.Series:
    on = pd.Timestamp(on or today())
    late = (on - pd.to_datetime(frame["rect_deadline"])).dt.days
    return late.where(overdue(frame, on, schema)).astype("Int64")


def display_table(frame: pd.DataFrame, fields: tuple[Field, ...], *, with_unit: bool = True) -> pd.DataFrame:
    """``fields`` under their Chinese labels, stakes as K12+350, booleans as 是/否."""
    out = {}
    for f in fields:
        if f.key not in frame.columns:
            continue
        values = frame[f.key]
        if f.type == "stake":
            values = pd.Series(stake_column(frame, f.key), index=frame.index).fillna("")
        elif f.type == "bool":
            values = values.map(lambda v: "" if pd.isna(v) else ("是" if v else "否"))
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
    return table


def _stake_length_column(table: pd.DataFrame, frame: pd.DataFrame, schema: Schema) -> None:
    """The 桩号长度核对 column: where a patch's stakes and its geometry's length disagree."""
    if schema.stake_length_rule and "length_m" in frame.columns:
        notes = stake_length_notes(frame, frame["length_m"], schema)
        table[schema.stake_length_rule.get("column", "桩号长度核对")] = pd.Series(notes, index=frame.index).fillna("")


ACTION_LABELS = {"insert": "新增", "update": "修改", "import": "导入", "archive": "归档", "restore": "恢复",
                 "inspection": "巡查", "restore_value": "恢复旧值"}


def timeline(history: pd.DataFrame, inspections: pd.DataFrame, fog_events: pd.DataFrame) -> pd.DataFrame:
    """One patch's changes, inspections and fog events, newest first: 时间, 类型, 用户, 版本 (of changes), 内容."""
    rows = []
    for version, group in history.groupby("version", sort=False):
        first = group.iloc[0]
        fields = group.dropna(subset=["field_label"])
        detail = "；".join(f"{r.field_label}：{r.before or '（空）'} → {r.after or '（空）'}" for r in fields.itertuples()
                          if r.field_key != "source_geometry")
        if (fields["field_key"] == "source_geometry").any():
            detail = "；".join(filter(None, [detail, "几何已修改"]))
        rows.append({"时间": first["at"], "类型": ACTION_LABELS.get(first["action"], first["action"]), "用户": first["user"],
                     "版本": int(version), "内容": detail or ACTION_LABELS.get(first["action"], "")})
    for r in inspections.itertuples():
        status = f"；整改状态 {r.status_before} → {r.status_after}" if r.status_after != r.status_before else ""
        rows.append({"时间": r.inspected_at, "类型": "巡查记录", "用户": r.inspector, "版本": None,
                     "内容": f"{r.findings or '（无发现）'}{status}"})
    for r in fog_events.itertuples():
        vis = f"，最低能见度 {r.min_visibility_m:.0f} m" if pd.notna(r.min_visibility_m) else ""
        dur = f"，持续 {r.duration_h:g} 小时" if pd.notna(r.duration_h) else ""
        rows.append({"时间": pd.Timestamp(r.date), "类型": "团雾事件", "用户": r.created_by, "版本": None,
                     "内容": f"{pd.Timestamp(r.date):%Y-%m-%d} {r.start_time or ''} 团雾{dur}{vis}"})
    out = pd.DataFrame(rows, columns=["时间", "类型", "用户", "版本", "内容"])
    return out.sort_values("时间", ascending=False, kind="stable").reset_index(drop=True)


def rectification(record: dict, on: dt.date | None = None) -> dict:
    """Deadline, status, overdue flag and the five-in-place parts of one patch."""
    frame = pd.DataFrame([record])
    parts = five_in_place_parts(frame).iloc[0].to_dict()
    late = days_late(frame, on).iloc[0]
    return {"status": record.get("rect_status"), "deadline": record.get("rect_deadline"),
            "overdue": bool(pd.notna(late)), "days_late": None if pd.isna(late) else int(late),
            "five": {k: bool(v) for k, v in parts.items()}}
