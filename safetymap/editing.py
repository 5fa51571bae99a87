"""The core of editing: what a form changed, a summary of those changes to confirm, a check of them
before anything is written, source geometry from stakes, patches near a position, and restoring an
older value from history. Knows nothing of Streamlit."""
from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from .auth import User
from .errors import Problem, ValidationError
from .geo import parse_stake, parse_stake_parts, segment_from_stakes, to_metric
from .schema import Category, Field, Schema
from .store import Store
from .validation import clean_record, stake_length_notes
from .values import STAKE_PREFIX_KEY, display_value, is_blank, split_multi

BLANK = "（空）"


def _comparable(f: Field, value, prefix=None) -> str:
    """A form value and a stored value as the same text, so that 'unchanged' is exact; a stake with
    its chain prefix (the one it states, else the patch's ``prefix``)."""
    if f.multiple and not is_blank(value):  # a list from the form, joined text from the store
        value = "、".join(split_multi(value) if isinstance(value, str) else value) or None
    if f.type == "stake" and not is_blank(value):
        try:
            stated, metres = parse_stake_parts(value)
        except ValueError:
            return f"invalid:{value}"
        return display_value(f, metres, {STAKE_PREFIX_KEY: stated or prefix})
    return display_value(f, value)


def changed_values(fields: tuple[Field, ...], base: dict, form: dict) -> dict:
    """The editable fields whose form value differs from ``base`` (the version the user started from).
    Only these are sent, so a retry after a conflict never reverts someone else's other changes."""
    changes = {}
    for f in fields:
        if not f.editable or f.key not in form:
            continue
        value = form[f.key]
        prefix = base.get("stake_prefix")
        if _comparable(f, value, prefix) != _comparable(f, base.get(f.key), prefix):
            changes[f.key] = "、".join(value) if isinstance(value, (list, tuple)) else value
    return changes


def _shown(f: Field, value, record: dict) -> str:
    """A form value as the ledger shows it (a stake with the chain it states, else the one of ``record``,
    the patch as it would be); a stake that does not parse is shown as typed."""
    if is_blank(value) or (isinstance(value, (list, tuple)) and not value):
        return BLANK
    if isinstance(value, (list, tuple)):
        value = "、".join(value)
    if f.type == "stake" and isinstance(value, str):
        try:
            stated, value = parse_stake_parts(value)
        except ValueError:
            return value
        record = {STAKE_PREFIX_KEY: stated} if stated else record
    return display_value(f, value, record) or BLANK


def change_summary(fields: tuple[Field, ...], base: dict, changes: dict) -> dict[str, tuple[str, str]]:
    """{field label: (before, after)} for every change, as the ledger shows values; a blank side is BLANK."""
    by_key = {f.key: f for f in fields}
    after = base | changes
    return {by_key[key].label: (_shown(by_key[key], base.get(key), base), _shown(by_key[key], value, after))
            for key, value in changes.items()}


def emptied(summary: dict[str, tuple[str, str]]) -> list[str]:
    """The labels of the fields a change summary leaves empty that had a value."""
    return [label for label, (before, after) in summary.items() if after == BLANK and before != BLANK]


ROUTE_FACTS = {"route_name": "name", "tech_grade": "tech_grade", "maint_unit": "maint_unit"}  # field <- routes column


def route_label(route) -> str:
    """A route as a picker shows it: ``G201 鹤大线 · 二级 · 公路事业发展中心``."""
    parts = [route.get("name") or route["route_code"], route.get("tech_grade"), route.get("maint_unit")]
    text = " · ".join(str(p) for p in parts if not is_blank(p))
    return text if text.startswith(str(route["route_code"])) else f"{route['route_code']} {text}"


def with_route_facts(routes: pd.DataFrame, values: dict) -> dict:
    """``values`` with 路线名称, 技术等级 and 管养单位 taken from the route table where left blank."""
    code = str(values.get("route_code") or "").strip().upper()
    match = routes[routes["route_code"] == code] if len(routes) else routes
    if not len(match):
        return values
    route = match.iloc[0]
    facts = {key: route.get(column) for key, column in ROUTE_FACTS.items()}
    if not is_blank(facts["route_name"]):  # "G201 鹤大线（示例数据）" -> "鹤大线（示例数据）"
        facts["route_name"] = str(facts["route_name"]).removeprefix(code).strip()
    return values | {k: v for k, v in facts.items() if is_blank(values.get(k)) and not is_blank(v)}


def stake_length_warning(schema: Schema, base: dict, form: dict) -> str | None:
    """The 桩号长度核对 warning for a form: its stakes against the patch's geometry length; None when they
    agree or a stake does not parse (that is an error of its own)."""
    values = {key: form.get(key, base.get(key)) for key in ("start_stake", "end_stake")}
    try:
        stakes = {key: np.nan if is_blank(v) else parse_stake(v) for key, v in values.items()}
    except ValueError:
        return None
    return stake_length_notes(pd.DataFrame([stakes]), [base.get("length_m")], schema)[0]


def check_changes(category: Category, schema: Schema, base: dict, changes: dict) -> list[Problem]:
    """Every problem the field values of ``changes`` on top of ``base`` have, without writing anything
    (the store checks again, with geometry and grade rules, when it saves)."""
    merged = {f.key: base.get(f.key) for f in category.editable_fields} | dict(changes)
    _, problems = clean_record(category, merged, schema)  # one patch: no row numbers
    if "code" in changes and str(changes["code"] or "").strip() != base["code"]:
        problems.append(Problem(category.field("code").label, "图斑编号不能修改"))
    return problems


def geometry_from_stakes(routes: pd.DataFrame, route_code: str, start, end):
    """The segment of route ``route_code`` between two stakes (linear referencing)."""
    match = routes[routes["route_code"] == route_code]
    if not len(match):
        raise ValidationError([Problem("路线编码", f"路线「{route_code}」没有中心线，无法按桩号生成几何；请在地图上绘制")])
    try:
        start_m = parse_stake(start)
        end_m = start_m if is_blank(end) else parse_stake(end)
        return segment_from_stakes(match.geometry.iloc[0], float(match["start_stake_m"].iloc[0]), start_m, end_m)
    except ValueError as exc:
        raise ValidationError([Problem("桩号", str(exc))]) from exc


def nearest_patches(frame: pd.DataFrame, lon: float, lat: float, n: int = 5) -> pd.DataFrame:
    """The ``n`` patches whose source geometry is nearest to a position, with the distance in metres."""
    if not len(frame):
        return frame.assign(distance_m=[])
    point = to_metric([shapely.Point(lon, lat)])[0]
    distances = shapely.distance(to_metric(frame["source_geometry"].to_numpy()), point)
    out = frame.assign(distance_m=np.round(distances, 0))
    return out.nsmallest(n, "distance_m")


def restore_value(store: Store, code: str, history_id: int, user: User | str) -> dict:
    """Set a field of patch ``code`` back to the value it had before one recorded change, as a new change."""
    history = store.history(code)
    row = history[history["id"] == history_id]
    if not len(row):
        raise ValidationError([Problem("历史", f"没有编号为 {history_id} 的变更记录")])
    row = row.iloc[0]
    current = store.get(row["code"])
    if row["field_key"] == "source_geometry":
        return store.update(row["code"], {}, current["version"], user,
                            source_geometry=shapely.from_wkt(row["before"]), action="restore_value")
    if is_blank(row["field_key"]) or row["field_key"] == "archived":
        raise ValidationError([Problem("历史", "这条记录不是字段修改，不能恢复")])
    return store.update(row["code"], {row["field_key"]: row["before"] or None}, current["version"], user,
                        action="restore_value")


def next_code(existing_codes, prefix: str) -> str:
    """The next free code with ``prefix``, e.g. TW-016 after TW-015."""
    numbers = [int(c.split("-")[1]) for c in existing_codes
               if c.startswith(f"{prefix}-") and c.split("-")[1].isdigit()]
    return f"{prefix}-{(max(numbers) + 1 if numbers else 1):03d}"
