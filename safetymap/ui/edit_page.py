"""图斑编辑: pick a patch by code or name and edit it, or add a new one (the map page shows the same
edit form beside the map)."""
from __future__ import annotations

import streamlit as st

from . import edit_form, hazard_page, new_patch, patch_lists
from .common import current_user, get_store, sample_banner


def render() -> None:
    store = get_store()
    st.title("图斑编辑")
    sample_banner(store)
    existing, new = st.tabs(["编辑已有图斑", "新增图斑"])
    with existing:
        labels = patch_lists.every_patch(store)
        preset = st.session_state.get("edit_code")
        options = list(labels)
        code = st.selectbox("图斑（可输入编号或名称搜索）", options, format_func=labels.get,
                            index=options.index(preset) if preset in options else None, placeholder="选择图斑")
        if code:
            st.session_state["edit_code"] = code
            edit_form.render(store, code)
            hazard_page.edit_section(store, code, current_user())
    with new:
        new_patch.render(store)
