"""外部变更 (admins): features added, deleted or re-coded, and values outside a list, written to the live
GeoPackage by another program (QGIS, ArcGIS). The database recorded them (``backends.gpkg_live``); here an
admin accepts each or undoes it. Attribute and geometry edits need no answer: they are in the history as
外部编辑, with a new version."""
from __future__ import annotations

import streamlit as st

from ..backends.gpkg_live import KIND_LABELS
from ..errors import SafetymapError
from .common import current_user, get_store
from ..text import md_escape

UNDO_LABELS = {"insert": "撤销（归档该图斑）", "delete": "撤销（恢复该图斑）", "recode": "撤销（改回原编号）"}


def _resolve(change_id: int, decision: str) -> None:
    try:
        get_store().resolve_external_change(change_id, decision, current_user())
        st.session_state["external_change_done"] = ("success", "已处理")
    except SafetymapError as exc:
        st.session_state["external_change_done"] = ("error", str(exc))


def render_section() -> None:
    store = get_store()
    st.subheader("外部变更")
    st.caption("在 QGIS、ArcGIS 等软件里直接修改台账文件时，新增、删除、改编号和不在可选值中的值记录在这里，"
               "请逐条接受或撤销；属性和图形的修改已作为「外部编辑」记入变更历史。")
    done = st.session_state.pop("external_change_done", None)
    if done:
        getattr(st, done[0])(done[1])
    changes = store.external_changes(open_only=True)
    if not len(changes):
        st.info("没有待处理的外部变更。")
        return
    for row in changes.itertuples():
        with st.container(border=True):
            when = row.at.strftime("%Y-%m-%d %H:%M") if hasattr(row.at, "strftime") else str(row.at)
            st.markdown(md_escape(f"{when} · {KIND_LABELS.get(row.kind, row.kind)} · {row.code or ''}：{row.detail or ''}"))
            cols = st.columns(2)
            cols[0].button("接受" if row.kind != "invalid" else "知道了（到编辑页改正）", key=f"ext_accept_{row.id}",
                           on_click=_resolve, args=(int(row.id), "accept"))
            if row.kind in UNDO_LABELS:
                cols[1].button(UNDO_LABELS[row.kind], key=f"ext_undo_{row.id}", on_click=_resolve,
                               args=(int(row.id), "undo"))
