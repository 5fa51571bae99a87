"""The edit form of one patch, generated from the schema. Save is one versioned transaction; if someone
saved first, the form says who and when, shows their values beside the user's and keeps the input."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ..auth import User
from ..editing import changed_values, geometry_from_stakes, restore_value
from ..errors import ConflictError, PermissionDenied, ValidationError
from ..ledger import rectification, timeline
from ..store import Store
from ..values import display_value
from .common import current_user
from .draw import drawn_geometry
from .widgets import field_input, read_state, seed_state


def _keys(code: str) -> dict:
    p = f"edit:{code}:"
    return {"prefix": p, "base": p + "base", "errors": p + "errors", "conflict": p + "conflict", "saved": p + "saved",
            "reseed": p + "reseed"}


def _load(store: Store, code: str, fields) -> dict:
    """The version the user's edits are based on; follows newer versions while nothing is typed."""
    k = _keys(code)
    record = store.get(code)
    base = st.session_state.get(k["base"])
    if st.session_state.pop(k["reseed"], False):  # widget values may only be set before they are drawn
        seed_state(fields, base, k["prefix"], force=True)
    if base is None or (base["version"] != record["version"] and not _pending(fields, base, k)
                        and k["conflict"] not in st.session_state):
        st.session_state[k["base"]] = base = record
        seed_state(fields, record, k["prefix"], force=True)
    return base


def _pending(fields, base: dict, k: dict) -> dict:
    return changed_values(fields, base, read_state(fields, k["prefix"]))


def render(store: Store, code: str, user: User | None = None) -> None:
    user = user or current_user()
    c = store.schema.category(store.get(code)["category"])
    fields = c.editable_fields
    k = _keys(code)
    base = _load(store, code, fields)
    _rectification_summary(base)
    if k["saved"] in st.session_state:
        st.success(st.session_state.pop(k["saved"]))
    if k["conflict"] in st.session_state:
        _conflict_panel(store, code, c, k, user)
    errors = st.session_state.get(k["errors"], {})
    can_edit = user.can("edit")
    with st.form(f"form-{code}", border=True):
        st.markdown(f"**编辑 {c.label} {code}**（版本 {base['version']}）")
        for f in fields:
            field_input(f, k["prefix"] + f.key, disabled=not can_edit or f.key == "code", error=errors.get(f.label))
        regenerate = st.checkbox("按路线编码和起止桩号重新生成几何（线性参照）", key=k["prefix"] + "regen", disabled=not can_edit)
        if errors.get("几何"):
            st.error(errors["几何"], icon="⚠️")
        submitted = st.form_submit_button("保存", type="primary", disabled=not can_edit)
    if not can_edit:
        st.caption(f"当前用户「{user.name}」（{user.role_label}）只能查看。")
    if submitted:
        _save(store, code, c, base, k, user, regenerate)
    if can_edit:
        _redraw(store, code, base, user)
    _archive_controls(store, code, user)
    _history_panel(store, code, user)


def _save(store, code, c, base, k, user, regenerate) -> None:
    form = read_state(c.editable_fields, k["prefix"])
    changes = changed_values(c.editable_fields, base, form)
    try:
        geometry = _stake_geometry(store, form) if regenerate else None
        if not changes and geometry is None:
            st.info("没有修改。")
            return
        saved = store.update(code, changes, base["version"], user, source_geometry=geometry)
    except ConflictError as exc:
        st.session_state[k["conflict"]] = {"message": str(exc), "changes": changes, "current": exc.current}
        st.session_state.pop(k["errors"], None)
    except ValidationError as exc:
        st.session_state[k["errors"]] = {p.field: p.message for p in exc.problems}
    except PermissionDenied as exc:
        st.error(str(exc))
        return
    else:
        st.session_state[k["base"]] = saved
        st.session_state[k["reseed"]] = True
        for key in (k["errors"], k["conflict"]):
            st.session_state.pop(key, None)
        st.session_state[k["saved"]] = f"已保存（版本 {saved['version']}）"
    st.rerun()


def _redraw(store, code, base, user) -> None:
    """Redraw the source line/point on a map; the polygon and length are recomputed on save."""
    with st.expander("在地图上重新绘制几何"):
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
                st.error(str(exc))
                return
            k = _keys(code)
            st.session_state[k["base"]] = saved
            st.session_state[k["reseed"]] = True
            st.session_state[k["saved"]] = f"几何已保存（版本 {saved['version']}，长度 {saved['length_m']:.0f} 米）"
            st.rerun()


def _stake_geometry(store, form):
    return geometry_from_stakes(store.routes(), form.get("route_code"), form.get("start_stake"), form.get("end_stake"))


def _conflict_panel(store, code, c, k, user) -> None:
    conflict = st.session_state[k["conflict"]]
    current = store.get(code)
    st.error(conflict["message"], icon="⛔")
    rows = [{"字段": c.field(key).label, "对方保存的值（当前）": display_value(c.field(key), current.get(key)),
             "您的输入": display_value(c.field(key), value)} for key, value in conflict["changes"].items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    left, right = st.columns(2)
    if left.button("在最新版本上保存我的修改", key=k["prefix"] + "retry", type="primary"):
        try:
            saved = store.update(code, conflict["changes"], current["version"], user)
        except ConflictError as exc:
            conflict.update(message=str(exc), current=exc.current)
            st.rerun()
        except ValidationError as exc:
            st.session_state[k["errors"]] = {p.field: p.message for p in exc.problems}
            st.session_state.pop(k["conflict"], None)
            st.rerun()
        else:
            st.session_state[k["base"]] = saved
            st.session_state[k["reseed"]] = True
            st.session_state.pop(k["conflict"], None)
            st.session_state[k["saved"]] = f"已在最新版本上保存（版本 {saved['version']}）"
            st.rerun()
    if right.button("放弃我的修改，载入最新版本", key=k["prefix"] + "discard"):
        st.session_state[k["base"]] = current
        st.session_state[k["reseed"]] = True
        st.session_state.pop(k["conflict"], None)
        st.rerun()


def _rectification_summary(record: dict) -> None:
    r = rectification(record)
    five = "　".join(f"{'✅' if ok else '❌'}{name}" for name, ok in r["five"].items())
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
    elif st.button("归档此图斑（可恢复）", key=f"archive-{code}"):
        store.archive(code, user, record["version"])
        st.rerun()


def _history_panel(store, code, user) -> None:
    with st.expander("变更历史与巡查记录（动态跟踪）"):
        history = store.history(code)
        st.dataframe(timeline(history, store.inspections(code), store.fog_events(code)),
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
                st.error(str(exc))
            else:
                st.session_state.pop(_keys(code)["base"], None)
                st.rerun()
