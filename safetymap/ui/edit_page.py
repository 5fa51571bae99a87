"""图斑编辑: pick a patch by code or name and edit it, or add a new one (the map page shows the same
edit form beside the map). The chosen patch is in the address (``/edit?code=TW-001``): a refresh or a link
opens it again."""
from __future__ import annotations

import streamlit as st

from ..text import md_format
from . import addresses, edit_form, hazard_page, new_patch, patch_lists
from .common import current_user, get_store, sample_banner

EDIT_CODE = "edit_code"  # the patch being edited; the map page's 编辑此图斑 sets it too


def render() -> None:
    store = get_store()
    st.title("图斑编辑")
    sample_banner(store)
    existing, new = st.tabs(["编辑已有图斑", "新增图斑"])
    with existing:
        labels = patch_lists.every_patch(store)
        follow_address(labels)
        preset = st.session_state.get(EDIT_CODE)
        options = list(labels)
        code = st.selectbox("图斑（可输入编号或名称搜索）", options, format_func=labels.get,
                            index=options.index(preset) if preset in options else None, placeholder="选择图斑")
        addresses.write({addresses.CODE_PARAM: [code]} if code else {}, [addresses.CODE_PARAM])
        if code:
            st.session_state[EDIT_CODE] = code
            edit_form.render(store, code)
            hazard_page.edit_section(store, code, current_user())
    with new:
        new_patch.render(store)


def follow_address(labels: dict[str, str]) -> None:
    """A patch code the address brings (a refresh, a link) is chosen; one not in the ledger is named."""
    linked = addresses.fresh([addresses.CODE_PARAM])
    if linked is None:
        return
    addresses.accept(linked)
    code = linked[addresses.CODE_PARAM][0]
    if code in labels:
        st.session_state[EDIT_CODE] = code
    else:
        st.session_state.pop(EDIT_CODE, None)
        st.warning(md_format("地址中的图斑编号「{}」在台账中不存在，请在下面选择图斑。", code), icon=":material/link_off:")
