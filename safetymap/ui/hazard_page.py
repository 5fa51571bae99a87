"""隐患 on the pages: the 隐患台账 page (every hazard, by status, each moved through the closure workflow
with buttons only for the steps the user may take: this is where 安全科 accepts), the list on the map's
side panel, the edit page's section (add a hazard, move it on) and the inputs the field page's report form
uses. Thin: the store enforces every rule."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from .. import hazards as rules
from ..errors import ConflictError, PermissionDenied, StepRefused, ValidationError
from ..ledger import shown, timeline
from ..store import Store
from ..text import md_escape, md_format
from .common import current_user, get_store, sample_banner
from .widgets import keep_across_pages, kept

LIST_COLUMNS = ["hazard_code", "hazard_type", "hazard_level", "status", "lead_unit", "deadline", "accept_opinion"]
LEDGER_COLUMNS = ["code", "hazard_code", "hazard_type", "hazard_level", "status", "lead_unit", "resp_person",
                  "deadline", "supervise_level", "accept_opinion", "closed_date"]
REPORT_KEYS = ["hazard_type", "hazard_level", "found_way", "description"]
SET_BY_STEPS = ("hazard_code", "accept_by", "accept_date", "accept_opinion", "closed_date", "done_date",
                "recheck_date", "recheck_by", "recheck_way")  # not asked when a hazard is added
REFUSALS = (ValidationError, PermissionDenied, StepRefused, ConflictError)
DONE = "hazard_done"  # the last workflow step's message, shown once after the rerun


def _labels(store: Store, keys: list[str]) -> dict[str, str]:
    spec = store.schema.hazard
    special = {"status": "状态", "code": store.schema.label("code")}
    return {k: special.get(k) or spec.event.field(k).label for k in keys}


def hazard_table(store: Store, code: str | None = None, columns: list[str] = LIST_COLUMNS,
                 statuses: list[str] | None = None) -> pd.DataFrame:
    """Hazards (of one patch, or all; of some statuses, or any) under their Chinese labels."""
    frame = store.hazards(code)
    if statuses:
        frame = frame[frame["status"].isin(statuses)]
    dates = [f.key for f in store.schema.hazard.event.fields if f.type == "date" and f.key in columns]
    frame = frame.assign(**{k: pd.to_datetime(frame[k]) for k in dates})  # shown as dates, blanks as ''
    return shown(frame[columns].rename(columns=_labels(store, columns)).reset_index(drop=True))


def side_panel_section(store: Store, code: str) -> None:
    """The map's side panel: the patch's hazards and its timeline (动态跟踪), as plain tables that wrap in
    the narrow panel (a scrolling grid there hid most columns)."""
    st.markdown("**隐患**")
    table = hazard_table(store, code)
    if table.empty:
        st.caption("暂无隐患记录")
    else:
        st.table(table, hide_index=True, border="horizontal")
    with st.expander("动态跟踪（变更、巡查、隐患）"):
        st.table(timeline(store.history(code), store.inspections(code), store.fog_events(code),
                          store.hazard_history(code=code)), hide_index=True, border="horizontal")


def hazard_input(f, key: str, category: str, spec, value=None):
    """One hazard field's input (隐患类型 from the patch category's list), starting at ``value``; what is typed
    is kept across pages until the step is taken (the key names the hazard's version)."""
    if f.key == "hazard_type" or f.type == "enum":
        options = list(spec.types.get(category, ())) if f.key == "hazard_type" else list(f.values)
        return st.selectbox(f.label, options, index=None, key=kept(key, value if value in options else None),
                            placeholder="请选择")
    if f.type == "date":
        return st.date_input(f.label, value=None, format="YYYY-MM-DD", key=kept(key, value))
    if f.type == "float":
        return st.number_input(f.label_with_unit, value=None, min_value=f.min, key=kept(key, value))
    return (st.text_area if f.type == "text" else st.text_input)(f.label, value="", key=kept(key, value or ""))


def hazard_inputs(store: Store, keys: list[str], category: str, prefix: str) -> dict:
    """The inputs of ``keys`` for a new hazard on a patch of ``category``, with what was typed (blanks left out)."""
    spec = store.schema.hazard
    values = {k: hazard_input(spec.event.field(k), f"{prefix}-{k}", category, spec) for k in keys}
    return {k: v for k, v in values.items() if v not in (None, "")}


def report_form(store: Store, record: dict, user, keys: list[str]) -> None:
    """The edit page's form for a new hazard on the patch (every field the steps do not set)."""
    code = record["code"]
    with st.form(f"hazard-new-{code}", clear_on_submit=True):
        values = hazard_inputs(store, keys, record["category"], f"hazard-new-{code}")
        submitted = st.form_submit_button("新增隐患", type="primary")
    if not submitted:
        return
    try:
        added = store.add_hazard(code, values, user)
    except REFUSALS as exc:
        st.error(md_escape(exc))
        return
    st.session_state[DONE] = md_format("已新增隐患 {}", added["hazard_code"])
    st.rerun()


def _show_done() -> None:
    if DONE in st.session_state:
        st.success(st.session_state.pop(DONE), icon=":material/check_circle:")


def workflow(store: Store, hazard: dict, user) -> None:
    """Buttons for the steps ``user`` may take now, after one input for each field those steps ask for
    (整改措施, 验收意见, the 复查 of a 挂牌督办 hazard …)."""
    spec, key = store.schema.hazard, f"{hazard['hazard_code']}-{hazard['version']}"
    st.markdown(md_format("**{}** {} · {} · 状态 **{}**", hazard["hazard_code"], hazard["hazard_type"],
                          hazard["hazard_level"], hazard["status"]))
    steps = store.hazard_steps(hazard, user)
    if not steps:
        st.caption(f"当前状态下{user.role_label}无可办理的流程步骤。")
        return
    patch = store.get(hazard["code"])
    asked = {s.target: rules.needed_fields(spec, s, hazard, patch) for s in steps}
    typed = {k: hazard_input(spec.event.field(k), f"hazard-{k}-{key}", patch["category"], spec, hazard.get(k))
             for k in dict.fromkeys(k for keys in asked.values() for k in keys)}
    for column, s in zip(st.columns(len(steps)), steps):
        if column.button(s.label, key=f"step-{key}-{s.target}", type="primary" if s is steps[0] else "secondary"):
            given = {k: typed[k] for k in asked[s.target] if typed[k] not in (None, "")}
            try:
                moved = store.move_hazard(hazard["hazard_code"], s.target, hazard["version"], user, values=given)
            except REFUSALS as exc:
                st.error(md_escape(exc))
                return
            st.session_state[DONE] = md_format("隐患 {} 已{}（{}）", moved["hazard_code"], s.label, moved["status"])
            st.rerun()


def edit_section(store: Store, code: str, user) -> None:
    """The edit page's 隐患 section: the list, each hazard's workflow, and a form to add one."""
    record = store.get(code)
    st.subheader("隐患")
    _show_done()
    st.dataframe(hazard_table(store, code), hide_index=True, width="stretch")
    for hazard in store.hazards(code).to_dict("records"):
        # Keyed by the hazard alone, so the section stays open while its title (the status) changes and
        # while the elements above it come and go (the step's message).
        title, section = f"{hazard['hazard_code']} · {hazard['status']}", f"hazard-section-{hazard['hazard_code']}"
        with st.expander(title, key=section):
            workflow(store, store.hazard(hazard["hazard_code"]), user)
    if user.can("inspect"):
        with st.expander("新增隐患", key=f"hazard-section-new-{code}"):
            report_form(store, record, user, [k for k in store.schema.hazard.event.keys if k not in SET_BY_STEPS])


def render() -> None:
    """隐患台账: every hazard, filtered by status; the chosen one's workflow (验收 and 销号 happen here)."""
    store, user = get_store(), current_user()
    st.title("隐患台账")
    sample_banner(store)
    _show_done()
    spec = store.schema.hazard
    keep_across_pages(["hazard_statuses", "hazard_chosen"])  # the filter and the hazard chosen
    statuses = st.multiselect("状态", list(spec.status_labels), key="hazard_statuses", placeholder="全部状态")
    table = hazard_table(store, columns=LEDGER_COLUMNS, statuses=statuses)
    st.dataframe(table, hide_index=True, width="stretch")
    rows = store.hazards().set_index("hazard_code")
    codes = list(table[_labels(store, ["hazard_code"])["hazard_code"]])
    names = {c: f"{c} {rows.at[c, 'hazard_type']} · {rows.at[c, 'status']}" for c in codes}
    chosen = st.selectbox("办理隐患", codes, format_func=names.get, index=None, key="hazard_chosen",
                          placeholder="选择隐患编号")
    if chosen:
        workflow(store, store.hazard(chosen), user)
