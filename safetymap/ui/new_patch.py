"""新增图斑: a new patch from a form generated from the schema; its source geometry from route + stakes
(linear referencing) or drawn on the map."""
from __future__ import annotations

import streamlit as st

from ..text import md_escape
from ..editing import geometry_from_stakes, next_code, with_route_facts
from ..errors import PermissionDenied, Problem, ValidationError
from ..store import Store
from .common import current_user
from .draw import drawn_geometry
from .widgets import field_input, forget_across_pages, keep_across_pages, read_state

PREFIX = "new:"


def render(store: Store) -> None:
    user = current_user()
    if not user.can("edit"):
        st.caption("只有编辑和管理员可以新增图斑。")
        return
    labels = {c.key: c.label for c in store.schema.categories}
    keep_across_pages([PREFIX + "category"])
    key = st.selectbox("类别", list(labels), format_func=labels.get, key=PREFIX + "category")
    c = store.schema.category(key)
    prefix = f"{PREFIX}{key}:"
    keep_across_pages([prefix + "how"] + [prefix + f.key for f in c.editable_fields])
    if prefix + "code" not in st.session_state:  # not on every run: it reads every code in the ledger
        st.session_state[prefix + "code"] = next_code(store.codes(), c.code_prefix)
    errors = st.session_state.get(prefix + "errors", {})
    how = st.radio("几何来源", ["按路线和桩号生成", "在地图上绘制"], horizontal=True, key=prefix + "how")
    drawn = drawn_geometry(store.schema, prefix + "draw") if how == "在地图上绘制" else None
    with st.form(f"new-{key}"):
        routes = store.routes()
        for f in c.editable_fields:
            field_input(f, prefix + f.key, error=errors.get(f.label), routes=routes)
        if how == "按路线和桩号生成":
            st.caption("几何：按上面的路线编码和起止桩号在路线中心线上截取（线性参照）。")
        if errors.get("几何") or errors.get("桩号"):
            st.error(errors.get("几何") or errors.get("桩号"), icon=":material/warning:")
        submitted = st.form_submit_button("新增", type="primary")
    if "new_done" in st.session_state:
        st.success(st.session_state.pop("new_done"))
    if submitted:
        values = with_route_facts(routes, read_state(c.editable_fields, prefix))
        try:
            geometry = drawn if how == "在地图上绘制" else geometry_from_stakes(
                store.routes(), values.get("route_code"), values.get("start_stake"), values.get("end_stake"))
            if geometry is None:
                raise ValidationError([Problem("几何", "请先在地图上画出路段线或桥梁点")])
            record = store.insert(key, values, geometry, user)
        except ValidationError as exc:
            st.session_state[prefix + "errors"] = {p.field: p.message for p in exc.problems}
            st.rerun()
        except PermissionDenied as exc:
            st.error(md_escape(exc))
            return
        forget_across_pages([prefix + f.key for f in c.editable_fields])
        st.session_state.pop(prefix + "errors", None)
        st.session_state["new_done"] = f"已新增 {record['code']}（长度 {record['length_m']:.0f} 米）"
        st.session_state["edit_code"] = record["code"]
        st.rerun()
