"""The edit form of one patch, generated from the schema. What the form shows is owned by one draft per
patch and version, so leaving the page and coming back never blanks it. 保存 checks the input and lists
exactly what will change (emptied fields named); only 确认保存 writes, as one versioned transaction. The
result and every error (linked to its field) appear at the button.

A draft based on a version someone else has since replaced (their save came first, from this app or from
QGIS through the live GeoPackage) is never shown as if it were current: above the form a table sets the
stored values beside the draft's, each field they changed says its stored value, and the user chooses to
save the draft's changes onto the new version, carry them onto it to check first, or take the stored
values. The state lives in the session, so leaving the page and coming back shows the same."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ..auth import User
from ..editing import (change_summary, changed_values, check_changes, emptied, geometry_from_stakes, restore_value,
                       stake_length_warning)
from ..errors import ConflictError, PermissionDenied, Problem, ValidationError
from ..ledger import rectification, timeline
from ..store import Store
from ..text import md_escape, md_format
from .common import current_user
from .draw import drawn_geometry
from .widgets import field_input, initial_value, read_state

GEOMETRY_PROBLEMS = ("几何", "桩号")  # problem labels that are not fields: they link to the geometry checkbox


def _keys(code: str) -> dict:
    p = f"edit:{code}:"
    return {"prefix": p, "base": p + "base", "draft": p + "draft", "errors": p + "errors", "pending": p + "pending",
            "result": p + "result"}


def anchor(code: str, key: str) -> str:
    return f"edit-{code}-{key}"


def _sync_draft(fields, base: dict, k: dict) -> None:
    """Streamlit drops a widget's key on any run that does not draw it (another page, another patch), and
    would draw it again with its default; so the form's values live in a draft no widget owns, made from
    the stored record of the version the edits are based on and updated from the widgets while they exist."""
    draft = st.session_state.get(k["draft"])
    fresh = draft is None or draft["version"] != base["version"]
    if fresh:
        draft = {"version": base["version"], "values": {f.key: initial_value(f, base.get(f.key), base) for f in fields}}
    for f in fields:
        key = k["prefix"] + f.key
        if fresh or key not in st.session_state:
            st.session_state[key] = draft["values"][f.key]
        else:
            draft["values"][f.key] = st.session_state[key]
    st.session_state[k["draft"]] = draft


def _load(store: Store, code: str, fields) -> tuple[dict, dict]:
    """The version the user's edits are based on (it follows newer versions while nothing is changed),
    and the patch as stored now."""
    k = _keys(code)
    record = store.get(code)
    base = st.session_state.get(k["base"]) or record
    _sync_draft(fields, base, k)
    if base["version"] != record["version"] and not _pending(fields, base, k):
        base = record
        _sync_draft(fields, base, k)
    st.session_state[k["base"]] = base
    return base, record


def _pending(fields, base: dict, k: dict) -> dict:
    return changed_values(fields, base, read_state(fields, k["prefix"]))


def _as_form(fields, record: dict) -> dict:
    """A stored record's values as the form holds them."""
    return {f.key: initial_value(f, record.get(f.key), record) for f in fields}


def _stored_notes(fields, base: dict, record: dict) -> dict[str, str]:
    """Field key -> a note beside it, for each field changed in the stored version since ``base``."""
    if record["version"] == base["version"]:
        return {}
    stored = _as_form(fields, record)
    theirs = change_summary(fields, base, changed_values(fields, base, stored))
    by_label = {f.label: f.key for f in fields}
    return {by_label[label]: f"台账当前（版本 {record['version']}）为「{_clip(now)}」；此处是基于版本 {base['version']} 的草稿"
            for label, (_, now) in theirs.items()}


def _clip(text: str, size: int = 60) -> str:
    return text if len(text) <= size else text[:size] + "…"


def render(store: Store, code: str, user: User | None = None) -> None:
    user = user or current_user()
    c = store.schema.category(store.get(code)["category"])
    fields = c.editable_fields
    k = _keys(code)
    base, record = _load(store, code, fields)
    _rectification_summary(base)
    errors = st.session_state.get(k["errors"], {})
    can_edit = user.can("edit")
    if record["version"] != base["version"]:
        _stale_draft_panel(store, code, c, k, user, base, record)
    with st.form(f"form-{code}", border=True):
        st.markdown(md_format("**编辑 {} {}**（{}）", c.label, code, _version_text(base, record)))
        _unsaved_note(c, base, k)
        stake_note = stake_length_warning(store.schema, record, read_state(fields, k["prefix"]))
        stored_notes = _stored_notes(fields, base, record)
        routes = store.routes()
        for f in fields:
            field_input(f, k["prefix"] + f.key, disabled=not can_edit or f.key == "code", error=errors.get(f.label),
                        anchor=anchor(code, f.key) if f.label in errors else None,
                        warning=stake_note if f.key == "end_stake" else None, routes=routes)
            if f.key in stored_notes:
                st.warning(md_escape(stored_notes[f.key]), icon=":material/sync_problem:")
        geometry_error = next((errors[name] for name in GEOMETRY_PROBLEMS if name in errors), None)
        if geometry_error:
            st.markdown(f'<div id="{anchor(code, "geometry")}"></div>', unsafe_allow_html=True)
        regenerate = st.checkbox("按路线编码和起止桩号重新生成几何（线性参照）", key=k["prefix"] + "regen", disabled=not can_edit)
        if geometry_error:
            st.error(geometry_error, icon=":material/warning:")
        submitted = st.form_submit_button("保存", type="primary", disabled=not can_edit)
    if not can_edit:
        st.caption(md_format("当前用户「{}」（{}）只能查看。", user.name, user.role_label))
    if submitted:
        _check(store, code, c, base, k, regenerate)
    _at_the_button(store, code, c, k, user)
    if can_edit:
        _redraw(store, code, base, user)
    _archive_controls(store, code, user)
    _history_panel(store, code, user)


def _version_text(base: dict, record: dict) -> str:
    if record["version"] == base["version"]:
        return f"版本 {base['version']}"
    return f"草稿基于版本 {base['version']}，台账已是版本 {record['version']}"


def _unsaved_note(c, base: dict, k: dict) -> None:
    changes = _pending(c.editable_fields, base, k)
    if changes:
        labels = "、".join(c.field(key).label for key in changes)
        st.info(f"有未保存的修改：{labels}。点「保存」核对后确认，才会写入台账。", icon=":material/edit:")


def _stale_draft_panel(store, code, c, k, user, base: dict, record: dict) -> None:
    """The draft is based on version N, the ledger holds N+1 or later: the stored values beside the draft's,
    and what to do with the draft."""
    fields = c.editable_fields
    mine = _pending(fields, base, k)
    theirs = changed_values(fields, base, _as_form(fields, record))
    old, new = base["version"], record["version"]
    with st.container(border=True):
        when = record.get("updated_at")
        when = when.strftime("%Y-%m-%d %H:%M") if hasattr(when, "strftime") else ""
        st.warning(md_format("**草稿未保存，且已不是最新版本**：您的修改基于版本 {}；台账中此图斑已是版本 {}"
                             "（{} {} 保存）。", old, new, record.get("updated_by") or "未知用户", when),
                   icon=":material/sync_problem:")
        st.dataframe(_stale_table(fields, base, record, k, sorted(set(mine) | set(theirs), key=c.keys.index)),
                     hide_index=True, width="stretch")
        if not user.can("edit"):
            return
        first, second, third = st.columns(3)
        if first.button(f"在最新版本上保存我的修改（版本 {new}）", key=k["prefix"] + "retry", type="primary",
                        disabled=not mine):
            _save_onto(store, code, k, user, mine, record)
        if second.button(f"把我的修改套用到版本 {new}，核对后再保存", key=k["prefix"] + "rebase", disabled=not mine):
            _rebase(fields, k, mine, record)
        if third.button(f"放弃我的修改，载入版本 {new}", key=k["prefix"] + "discard"):
            st.session_state[k["base"]] = record  # a new version: the draft is made again from it
            for key in (k["result"], k["errors"], k["pending"]):
                st.session_state.pop(key, None)
            st.rerun()


def _stale_table(fields, base: dict, record: dict, k: dict, keys: list[str]) -> pd.DataFrame:
    """Per field changed on either side: its value in the draft's version, in the ledger now, in the draft."""
    stored, draft = _as_form(fields, record), read_state(fields, k["prefix"])
    now = change_summary(fields, base, {key: stored[key] for key in keys})
    typed = change_summary(fields, base, {key: draft[key] for key in keys})
    return pd.DataFrame([{"字段": label, f"版本 {base['version']}（草稿的起点）": before,
                          f"台账当前（版本 {record['version']}）": now[label][1], "您的草稿": typed[label][1]}
                         for label, (before, _) in now.items()])


def _save_onto(store, code, k, user, mine: dict, record: dict) -> None:
    """Save the draft's changes (only those) onto the stored version."""
    try:
        saved = store.update(code, mine, record["version"], user)
    except (ConflictError, PermissionDenied) as exc:
        st.session_state[k["result"]] = {"kind": "error", "message": f"未保存：{exc}"}
    except ValidationError as exc:
        _refuse(k, exc.problems)
    else:
        _saved(k, saved, f"已在最新版本上保存（版本 {saved['version']}）")
    st.rerun()


def _rebase(fields, k: dict, mine: dict, record: dict) -> None:
    """The draft made again from the stored version with the user's changes on it; nothing is written."""
    values = _as_form(fields, record)
    for key in mine:
        values[key] = st.session_state[k["prefix"] + key]
    st.session_state[k["base"]] = record
    st.session_state[k["draft"]] = {"version": record["version"], "values": values}
    for f in fields:
        st.session_state[k["prefix"] + f.key] = values[f.key]
    for key in (k["result"], k["errors"], k["pending"]):
        st.session_state.pop(key, None)
    st.rerun()


def _check(store, code, c, base, k, regenerate) -> None:
    """保存: check the input and keep the summary to confirm; nothing is written here."""
    for key in (k["pending"], k["result"], k["errors"]):
        st.session_state.pop(key, None)
    changes = _pending(c.editable_fields, base, k)
    problems = check_changes(c, store.schema, base, changes)
    geometry = None
    if regenerate:
        try:
            geometry = _stake_geometry(store, read_state(c.editable_fields, k["prefix"]))
        except ValidationError as exc:
            problems += exc.problems
    if problems:
        _refuse(k, problems)
    elif not changes and geometry is None:
        st.session_state[k["result"]] = {"kind": "info", "message": "没有修改，未写入。"}
    else:
        summary = change_summary(c.editable_fields, base, changes)
        if geometry is not None:
            summary["几何"] = ("原几何", f"按桩号重新生成（{geometry.geom_type}）")
        st.session_state[k["pending"]] = {"version": base["version"], "changes": changes, "geometry": geometry,
                                          "summary": summary}
    st.rerun()


def _refuse(k: dict, problems: list[Problem], message: str | None = None) -> None:
    st.session_state[k["errors"]] = {p.field: p.message for p in problems}
    st.session_state[k["result"]] = {
        "kind": "error", "message": message or f"未保存：有 {len(problems)} 处需要修改",
        "problems": [(p.field, p.message) for p in problems]}


def _at_the_button(store, code, c, k, user) -> None:
    """Right under 保存: the result of the last check or save, its errors, the summary to confirm."""
    result = st.session_state.get(k["result"])
    if result:
        _result(code, c, result)
    if k["pending"] in st.session_state:
        _confirm_panel(store, code, c, k, user)


def _result(code, c, result: dict) -> None:
    if result["kind"] == "success":
        st.success(result["message"], icon=":material/check_circle:")
    elif result["kind"] == "info":
        st.info(result["message"])
    else:
        lines = [f"**{md_escape(result['message'])}**"]
        lines += [f"- {_field_link(code, c, label)}：{md_escape(message)}" for label, message in result.get("problems", ())]
        st.error("\n".join(lines), icon=":material/error:")


def _field_link(code, c, label: str) -> str:
    key = next((f.key for f in c.fields if f.label == label), "geometry" if label in GEOMETRY_PROBLEMS else None)
    return f"[{md_escape(label)}](#{anchor(code, key)})" if key else md_escape(label)


def _confirm_panel(store, code, c, k, user) -> None:
    pending = st.session_state[k["pending"]]
    summary = pending["summary"]
    cleared = emptied(summary)
    with st.container(border=True):
        st.markdown(f"**请核对将要保存的 {len(summary)} 项修改**（确认前不会写入台账）")
        if cleared:
            st.warning(f"以下字段将被清空：{'、'.join(cleared)}。如非有意，请点「返回修改」。", icon=":material/warning:")
        st.markdown("\n".join(
            f"- **{md_escape(label)}**：{md_escape(before)} → "
            + (f":red[**{md_escape(after)}** 将被清空]" if label in cleared else f"**{md_escape(after)}**")
            for label, (before, after) in summary.items()))
        left, right = st.columns(2)
        if left.button("确认保存", key=k["prefix"] + "confirm", type="primary"):
            _save(store, code, k, user, pending)
        if right.button("返回修改", key=k["prefix"] + "back"):
            st.session_state.pop(k["pending"], None)
            st.rerun()


def _save(store, code, k, user, pending) -> None:
    st.session_state.pop(k["pending"], None)
    try:
        saved = store.update(code, pending["changes"], pending["version"], user, source_geometry=pending["geometry"])
    except ConflictError as exc:  # the form now shows the stored version beside the draft (``_stale_draft_panel``)
        st.session_state[k["result"]] = {"kind": "error", "message": f"未保存：{exc} 双方的值见表单上方的对照。"}
    except ValidationError as exc:
        _refuse(k, exc.problems)
    except PermissionDenied as exc:
        st.session_state[k["result"]] = {"kind": "error", "message": f"未保存：{exc}"}
    else:
        _saved(k, saved, f"已保存（版本 {saved['version']}），共 {len(pending['summary'])} 项修改")
    st.rerun()


def _saved(k: dict, saved: dict, message: str) -> None:
    st.session_state[k["base"]] = saved  # a new version: the draft is made again from it
    for key in (k["errors"], k["pending"]):
        st.session_state.pop(key, None)
    st.session_state[k["result"]] = {"kind": "success", "message": message}


def _redraw(store, code, base, user) -> None:
    """Redraw the source line/point on a map; the polygon and length are recomputed on save."""
    with st.expander("在地图上重新绘制几何", key=f"redraw-section-{code}"):  # stays open while drawing reruns
        if not st.toggle("打开绘图地图", key=f"redraw-open-{code}"):
            return
        geometry = drawn_geometry(store.schema, f"redraw-{code}", base["source_geometry"])
        if geometry is None:
            return
        st.caption(f"已绘制 {geometry.geom_type}，{len(geometry.coords)} 个点")
        if st.button("用绘制的几何保存", key=f"redraw-save-{code}", type="primary"):
            try:
                saved = store.update(code, {}, base["version"], user, source_geometry=geometry)
            except (ValidationError, ConflictError, PermissionDenied) as exc:
                st.error(md_escape(exc))
                return
            _saved(_keys(code), saved, f"几何已保存（版本 {saved['version']}，长度 {saved['length_m']:.0f} 米）")
            st.rerun()


def _stake_geometry(store, form):
    return geometry_from_stakes(store.routes(), form.get("route_code"), form.get("start_stake"), form.get("end_stake"))


# Material icons (their font ships with Streamlit, so they show offline on any PC); the emoji ✅/❌ showed as
# empty boxes where no colour-emoji font is installed.
FIVE_DONE, FIVE_MISSING = ":green[:material/check_circle:]", ":red[:material/cancel:]"


def _rectification_summary(record: dict) -> None:
    r = rectification(record)
    five = "　".join(f"{FIVE_DONE if ok else FIVE_MISSING}{name}" for name, ok in r["five"].items())
    late = f"　**逾期 {r['days_late']} 天**" if r["overdue"] else ""
    deadline = r["deadline"].isoformat() if r["deadline"] else "未定"
    st.markdown(f"整改：{r['status'] or '—'}，时限 {deadline}{late}  \n五到位：{five}")


def _archive_controls(store, code, user) -> None:
    if not user.can("archive"):
        return
    record = store.get(code)
    if record["archived"]:
        if st.button("恢复此图斑", key=f"restore-{code}"):
            store.restore(code, user)
            st.rerun()
        return
    confirming = f"archive-confirm-{code}"
    if not st.session_state.get(confirming):
        if st.button("归档此图斑（可恢复）", key=f"archive-{code}"):
            st.session_state[confirming] = True
            st.rerun()
        return
    st.warning(md_format("归档后「{}」将从地图、台账和统计中移出（变更历史保留，管理员可恢复）。确定归档吗？", code),
               icon=":material/archive:")
    left, right = st.columns(2)
    if left.button("确认归档", key=f"archive-yes-{code}", type="primary"):
        st.session_state.pop(confirming, None)
        store.archive(code, user, record["version"])
        st.rerun()
    if right.button("取消", key=f"archive-no-{code}"):
        st.session_state.pop(confirming, None)
        st.rerun()


def _history_panel(store, code, user) -> None:
    with st.expander("变更历史与巡查记录（动态跟踪）"):
        history = store.history(code)
        st.dataframe(timeline(history, store.inspections(code), store.fog_events(code),
                              store.hazard_history(code=code)),
                     hide_index=True, width="stretch")
        changes = history[history["field_key"].notna() & (history["field_key"] != "archived")]
        if not len(changes) or not user.can("edit"):
            return
        labels = {r.id: f"版本{r.version} " + ("几何修改" if r.field_key == "source_geometry" else
                                              f"{r.field_label}：{r.before or '（空）'} → {r.after or '（空）'}")
                  + f"（{r.user}）" for r in changes.itertuples()}
        chosen = st.selectbox("恢复某次修改之前的值", list(labels)[::-1], format_func=labels.get, index=None,
                              key=f"restore-pick-{code}", placeholder="选择一条修改记录")
        if chosen is not None and st.button("恢复旧值（作为一次新的修改）", key=f"restore-do-{code}"):
            try:
                restore_value(store, code, int(chosen), user)
            except (ValidationError, ConflictError) as exc:
                st.error(md_escape(exc))
            else:
                st.session_state.pop(_keys(code)["base"], None)
                st.rerun()
