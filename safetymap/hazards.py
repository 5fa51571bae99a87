"""隐患 (hazards) rules, from the schema's [hazard] section: a hazard's values checked, the closure
workflow's steps (待整改 → 整改中 → 待验收 → 已销号, and back to 整改中 when acceptance fails), 五到位
for the levels that need it, the contradiction rules (conditions on the patch or on the hazard, e.g. the
on-site recheck of a 挂牌督办 hazard) and the patch's 整改状态 beside its hazards. Pure functions; the store
applies them."""
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
        given = {spec.event.field(k).label_with_unit for k in values if k in spec.event.keys}
        problems = [p for p in problems if p.field in given]
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
            facts = "，".join(filter(None, [_facts(rule, hazard, patch, spec, label_of), _lacking(rule, hazard, spec)]))
            owner = f"隐患「{hazard.get('hazard_code')}」" if _on_hazard(rule) else f"图斑「{patch.get('code')}」"
            return f"不得{s.target}：违反规则「{rule['name']}」（{owner}{facts}）。"
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
    """The declared rules on a move to ``s.target`` that ``hazard`` (values after the move) breaks: their
    conditions hold and, for a rule with ``needs``, one of those is not met."""
    return [rule for rule in applying_rules(spec, s.target, hazard, patch)
            if not rule.get("needs") or not all(_holds(c, hazard, patch) for c in rule["needs"])]


def applying_rules(spec: HazardSpec, target: str, hazard: dict, patch: dict) -> list[dict]:
    """The declared rules on a move to ``target`` whose conditions hold for ``hazard`` on ``patch``."""
    return [rule for rule in spec.rules if rule.get("to") == target and _applies(rule, hazard, patch)]


def needed_fields(spec: HazardSpec, s: HazardStep, hazard: dict, patch: dict) -> list[str]:
    """The hazard fields a page asks for before step ``s``: those the step requires and does not fill in
    itself, then those a rule that applies to this hazard needs (e.g. the 复查 of a 挂牌督办 hazard)."""
    filled_in = {key for key, _ in s.fill}
    keys = [k for k in s.requires if k not in filled_in]
    if "rules" in s.checks:
        keys += [c["hazard_field"] for rule in applying_rules(spec, s.target, hazard, patch)
                 for c in rule.get("needs", []) if "hazard_field" in c]
    return list(dict.fromkeys(keys))


def patch_contradictions(spec: HazardSpec, patch: dict, hazards: list[dict], label_of=str, *,
                         proposed: bool = False) -> list[str]:
    """One sentence for each declared rule the patch's 整改状态 breaks (a rule's ``patch_status_not``):
    while one of its ``hazards`` is open (``if_open_hazards``), or while the rule's conditions on the
    patch hold (e.g. a 危桥 whose 改造 has not started is not 已整改). ``proposed``: the status is a
    change asked for (the sentences refuse it)."""
    status, found = patch.get("rect_status"), []
    unsettled = [h["hazard_code"] for h in hazards if h["status"] not in spec.statuses_with_role("closed")]
    head = f"图斑「{patch.get('code')}」整改状态{'不得改为' if proposed else '为'}{status}"
    for rule in spec.rules:
        if status not in rule.get("patch_status_not", ()):
            continue
        if rule.get("if_open_hazards") and unsettled:
            found.append(f"{head}，违反规则「{rule['name']}」（未销号隐患：{'、'.join(unsettled)}）。")
        elif not rule.get("if_open_hazards") and _applies({**rule, "hazard_types": None}, {}, patch):
            found.append(f"{head}，违反规则「{rule['name']}」（{_facts(rule, {}, patch, spec, label_of)}）。")
    return found


def hazard_contradictions(spec: HazardSpec, hazard: dict, patch: dict, label_of=str) -> list[str]:
    """Why ``hazard`` could not be in its status: no declared step into it would be allowed now (its
    required fields, 五到位, the rules). Empty for the first status and for a coherent hazard."""
    ways = [s for s in spec.steps if s.target == hazard.get("status")]
    reasons = [refusal(spec, s, hazard, patch, label_of) for s in ways]
    return [] if not ways or None in reasons else reasons[:1]


def _applies(rule: dict, hazard: dict, patch: dict) -> bool:
    categories = rule.get("categories") or ([rule["category"]] if "category" in rule else [])
    if categories and patch.get("category") not in categories:
        return False
    if rule.get("hazard_types") and hazard.get("hazard_type") not in rule["hazard_types"]:
        return False
    any_of, all_of = rule.get("any", []), rule.get("all", [])
    return ((not any_of or any(_holds(c, hazard, patch) for c in any_of))
            and all(_holds(c, hazard, patch) for c in all_of))


def _on_hazard(rule: dict) -> bool:
    return any("hazard_field" in c for c in [*rule.get("any", []), *rule.get("all", [])])


def _value(condition: dict, hazard: dict, patch: dict):
    return hazard.get(condition["hazard_field"]) if "hazard_field" in condition else patch.get(condition["field"])


def _holds(condition: dict, hazard: dict, patch: dict) -> bool:
    """A rule's condition on a field of the patch (``field``) or of the hazard (``hazard_field``):
    ``filled``, ``at_least`` a number, or ``is`` one of some values."""
    value = _value(condition, hazard, patch)
    if is_blank(value):
        return False
    if "at_least" in condition:
        return float(value) >= condition["at_least"]
    if condition.get("filled"):
        return True
    return str(value) in condition.get("is", [])


def _label(condition: dict, spec: HazardSpec, label_of) -> str:
    return spec.event.field(condition["hazard_field"]).label if "hazard_field" in condition else label_of(condition["field"])


def _facts(rule: dict, hazard: dict, patch: dict, spec: HazardSpec, label_of) -> str:
    conditions = [c for c in [*rule.get("any", []), *rule.get("all", [])] if _holds(c, hazard, patch)]
    return "，".join(f"{_label(c, spec, label_of)}为{_shown(_value(c, hazard, patch))}" for c in conditions)


def _lacking(rule: dict, hazard: dict, spec: HazardSpec) -> str:
    """What a rule's ``needs`` (conditions on the hazard) still lack, in words."""
    unmet = [c for c in rule.get("needs", []) if not _holds(c, hazard, {})]
    blank = [_label(c, spec, str) for c in unmet if is_blank(hazard.get(c["hazard_field"]))]
    wrong = [f"{_label(c, spec, str)}须为{'或'.join(c['is'])}" for c in unmet
             if not is_blank(hazard.get(c["hazard_field"])) and "is" in c]
    return "，".join(filter(None, [f"尚缺{'、'.join(blank)}" if blank else "", *wrong]))


def _shown(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
