"""隐患 (hazards) rules, from the schema's [hazard] section: a hazard's values checked, the closure
workflow's steps (待整改 → 整改中 → 待验收 → 已销号, and back to 整改中 when acceptance fails), 五到位
for the levels that need it and the contradiction rules. Pure functions; the store applies them."""
from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from .errors import Problem, StepRefused
from .schema import HazardSpec, HazardStep
from .validation import clean_events
from .values import is_blank

CODE_LABEL = "隐患编号"


def clean_hazard(spec: HazardSpec, category: str, values: dict, *, partial: bool = False,
                 file: str | None = None, row: int | None = None) -> tuple[dict, list[Problem]]:
    """The declared fields of ``values`` as clean Python values, and every problem. ``partial``: only the
    keys given are checked (an update); otherwise required fields must be filled."""
    rows, problems = clean_events(spec.event, pd.DataFrame([values]), file)
    clean = {k: rows[0][k] for k in spec.event.keys if not partial or k in values}
    if partial:
        problems = [p for p in problems if p.field in {spec.event.field(k).label_with_unit for k in values}]
    problems += [p for p in (_unknown_keys(spec, values), _type_problem(spec, category, clean)) if p]
    return clean, [Problem(p.field, p.message, row=row, file=file) for p in problems]


def _unknown_keys(spec: HazardSpec, values: dict) -> Problem | None:
    unknown = [k for k in values if k not in spec.event.keys]
    return Problem(spec.label, f"没有字段 {'、'.join(unknown)}") if unknown else None


def _type_problem(spec: HazardSpec, category: str, clean: dict) -> Problem | None:
    kind, allowed = clean.get("hazard_type"), spec.types.get(category, ())
    if kind is None or not allowed or kind in allowed:
        return None
    return Problem(spec.event.field("hazard_type").label, f"「{kind}」不在本类别的隐患类型中（{'、'.join(allowed)}）")


def code_problem(spec: HazardSpec, patch_code: str, hazard_code: str) -> Problem | None:
    pattern = spec.code_pattern.replace("{code}", re.escape(patch_code))
    if pattern and not re.match(pattern, hazard_code):
        return Problem(CODE_LABEL, f"「{hazard_code}」格式不对（{spec.code_hint}）")
    return None


def next_code(patch_code: str, taken: list[str]) -> str:
    """The next free 隐患编号 of a patch: DZ-001-YH01, DZ-001-YH02 …"""
    numbers = [int(m.group(1)) for t in taken if (m := re.search(r"-YH(\d+)$", t))]
    return f"{patch_code}-YH{max(numbers, default=0) + 1:02d}"


def step(spec: HazardSpec, source: str, target: str) -> HazardStep:
    """The declared step from ``source`` to ``target``; refuses a skipped or unknown one."""
    for s in spec.steps_from(source):
        if s.target == target:
            return s
    allowed = "、".join(s.target for s in spec.steps_from(source)) or "无"
    raise StepRefused(f"隐患整改流程不允许从「{source}」直接改为「{target}」（只能改为：{allowed}）。")


def filled(s: HazardStep, hazard: dict, given: dict, user: str, today: dt.date) -> dict:
    """``given`` with the step's fill-ins for fields still blank (today's date, the acting user)."""
    out = dict(given)
    for key, what in s.fill:
        if is_blank(out.get(key)) and (key not in given or is_blank(given.get(key))):
            out[key] = today if what == "today" else user
    return out


def refusal(spec: HazardSpec, s: HazardStep, hazard: dict, patch: dict, label_of=str) -> str | None:
    """Why the step may not be taken on ``hazard`` (values after the step) of ``patch``; None if it may.
    ``label_of`` names a patch field by key."""
    missing = [spec.event.field(k).label for k in s.requires if is_blank(hazard.get(k))]
    if missing:
        return f"隐患「{s.label}」须先填写{'、'.join(missing)}。"
    if "five_in_place" in s.checks:
        lacking = five_in_place_missing(spec, hazard, patch)
        if lacking:
            return f"{hazard.get('hazard_level')}须五到位方可销号，尚缺：{'、'.join(lacking)}。"
    if "rules" in s.checks:
        for rule in broken_rules(spec, s, hazard, patch):
            return f"不得{s.target}：违反规则「{rule['name']}」（图斑「{patch.get('code')}」{_facts(rule, patch, label_of)}）。"
    return None


def five_in_place_missing(spec: HazardSpec, hazard: dict, patch: dict) -> list[str]:
    """The parts of 五到位 a hazard at a level that needs them lacks (empty when none)."""
    if hazard.get("hazard_level") not in spec.five_levels:
        return []
    lacking = []
    for part in spec.five_parts:
        value = patch.get(part["patch_field"]) if "patch_field" in part else hazard.get(part["field"])
        if is_blank(value) or (part.get("positive") and not float(value) > 0):
            lacking.append(part["label"])
    return lacking


def broken_rules(spec: HazardSpec, s: HazardStep, hazard: dict, patch: dict) -> list[dict]:
    return [rule for rule in spec.rules if rule.get("to") == s.target and _applies(rule, hazard, patch)]


def _applies(rule: dict, hazard: dict, patch: dict) -> bool:
    if rule.get("category") not in (None, patch.get("category")):
        return False
    if rule.get("hazard_types") and hazard.get("hazard_type") not in rule["hazard_types"]:
        return False
    any_of, all_of = rule.get("any", []), rule.get("all", [])
    return (not any_of or any(_holds(c, patch) for c in any_of)) and all(_holds(c, patch) for c in all_of)


def _holds(condition: dict, patch: dict) -> bool:
    value = patch.get(condition["field"])
    if is_blank(value):
        return False
    if "at_least" in condition:
        return float(value) >= condition["at_least"]
    return str(value) in condition.get("is", [])


def _facts(rule: dict, patch: dict, label_of) -> str:
    conditions = [c for c in [*rule.get("any", []), *rule.get("all", [])] if _holds(c, patch)]
    return "，".join(f"{label_of(c['field'])}为{_shown(patch.get(c['field']))}" for c in conditions)


def _shown(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
