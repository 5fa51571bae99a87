"""隐患 on the pages: the list on the map's side panel, the section of the edit page (add a hazard,
move it through the closure workflow with buttons only for the steps the user may take) and the
field page's report form (with photos). Thin: the store enforces every rule."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ..errors import ConflictError, PermissionDenied, StepRefused, ValidationError
from ..ledger import shown, timeline
from ..photos import MAX_UPLOAD_BYTES, prepare_photo
from ..store import Store
from ..text import md_escape

LIST_COLUMNS = ["hazard_code", "hazard_type", "hazard_level", "status", "lead_unit", "deadline", "accept_opinion"]
REPORT_KEYS = ["hazard_type", "hazard_level", "found_way", "description"]
REFUSALS = (ValidationError, PermissionDenied, StepRefused, ConflictError)


def hazard_table(store: Store, code: str) -> pd.DataFrame:
    """A patch's hazards under their Chinese labels."""
    spec = store.schema.hazard
    frame = store.hazards(code)[LIST_COLUMNS]
    return shown(frame.rename(columns={k: ("状态" if k == "status" else spec.event.field(k).label) for k in LIST_COLUMNS}))


def side_panel_section(store: Store, code: str) -> None:
    """The map's side panel: the patch's hazards and its timeline (动态跟踪)."""
    st.markdown("**隐患**")
    table = hazard_table(store, code)
    if table.empty:
        st.caption("暂无隐患记录")
    else:
        st.dataframe(table, hide_index=True, width="stretch", key=f"hazards-{code}")
    with st.expander("动态跟踪（变更、巡查、隐患）"):
        st.dataframe(timeline(store.history(code), store.inspections(code), store.fog_events(code),
                              store.hazard_history(code=code)), hide_index=True, width="stretch")


def _input(f, key: str, category: str, spec):
    if f.key == "hazard_type":
        return st.selectbox(f.label, spec.types.get(category, ()), index=None, key=key, placeholder="请选择")
    if f.type == "enum":
        return st.selectbox(f.label, f.values, index=None, key=key, placeholder="请选择")
    if f.type == "date":
        return st.date_input(f.label, value=None, format="YYYY-MM-DD", key=key)
    if f.type == "float":
        return st.number_input(f.label_with_unit, value=None, min_value=f.min, key=key)
    return (st.text_area if f.type == "text" else st.text_input)(f.label, key=key)


def report_form(store: Store, record: dict, user, keys=REPORT_KEYS, *, with_photos: bool = True) -> None:
    """Record a new hazard on the patch (field page: a few fields and photos; edit page: every field)."""
    spec, code = store.schema.hazard, record["code"]
    with st.form(f"hazard-new-{code}", clear_on_submit=True):
        values = {k: _input(spec.event.field(k), f"hazard-new-{code}-{k}", record["category"], spec) for k in keys}
        values.setdefault("found_date", pd.Timestamp.now(tz="Asia/Shanghai").date())
        gallery = st.file_uploader(f"隐患照片（每张不超过 {MAX_UPLOAD_BYTES // 1048576} MB）",
                                   type=["jpg", "jpeg", "png", "webp", "heic"], accept_multiple_files=True,
                                   key=f"hazard-photos-{code}") if with_photos else None
        submitted = st.form_submit_button("上报隐患", type="primary", use_container_width=True)
    if not submitted:
        return
    try:
        photos = [prepare_photo(f.getvalue(), f.name) for f in gallery or []]
        added = store.add_hazard(code, {k: v for k, v in values.items() if v not in (None, "")}, user, photos=photos)
    except REFUSALS as exc:
        st.error(md_escape(exc))
        return
    st.success(f"已上报隐患 {added['hazard_code']}（{len(photos)} 张照片）")


def workflow(store: Store, hazard: dict, user) -> None:
    """Buttons for the steps ``user`` may take now; an acceptance step asks for 验收意见."""
    key = f"{hazard['hazard_code']}-{hazard['version']}"
    st.markdown(f"**{md_escape(hazard['hazard_code'])}** {md_escape(hazard['hazard_type'])} · "
                f"{hazard['hazard_level']} · 状态 **{hazard['status']}**")
    for s in store.hazard_steps(hazard, user):
        opinion = st.text_area("验收意见", key=f"opinion-{key}-{s.target}") if "accept_opinion" in s.requires else None
        measures = (st.text_area("整改措施", value=hazard.get("measures") or "", key=f"measures-{key}")
                    if "measures" in s.requires else None)
        if st.button(s.label, key=f"step-{key}-{s.target}"):
            try:
                if measures is not None and measures != (hazard.get("measures") or ""):
                    hazard = store.update_hazard(hazard["hazard_code"], {"measures": measures}, hazard["version"], user)
                store.move_hazard(hazard["hazard_code"], s.target, hazard["version"], user, opinion=opinion or None)
            except REFUSALS as exc:
                st.error(md_escape(exc))
                return
            st.rerun()


def edit_section(store: Store, code: str, user) -> None:
    """The edit page's 隐患 section: the list, each hazard's workflow, and a form to add one."""
    record = store.get(code)
    st.subheader("隐患")
    st.dataframe(hazard_table(store, code), hide_index=True, width="stretch")
    for hazard in store.hazards(code).to_dict("records"):
        with st.expander(f"{hazard['hazard_code']} · {hazard['status']}"):
            workflow(store, store.hazard(hazard["hazard_code"]), user)
    if user.can("inspect"):
        with st.expander("新增隐患"):
            report_form(store, record, user, [k for k in store.schema.hazard.event.keys if k not in (
                "hazard_code", "accept_by", "accept_date", "accept_opinion", "closed_date", "done_date")],
                with_photos=False)
