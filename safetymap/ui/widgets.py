"""One input widget per schema field type: the edit form, the new-patch form and the field page all
build their inputs here."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from ..editing import route_label
from ..schema import Field
from ..text import md_escape
from ..values import display_value, is_blank, split_multi

YES_NO = ["是", "否"]
ROUTE_FIELD = "route_code"  # picked from the route table when one is given


def initial_value(f: Field, value, record: dict | None = None):
    """A stored value as the widget wants it (a stake with the chain prefix of its ``record``)."""
    if is_blank(value):
        return [] if (f.type == "enum" and f.multiple) else None
    if f.type == "stake":
        return display_value(f, value, record)
    if f.type == "bool":
        return "是" if value else "否"
    if f.type == "enum" and f.multiple:
        return split_multi(value)
    if f.type == "date" and isinstance(value, dt.datetime):
        return value.date()
    if f.type == "int":
        return int(value)
    if f.type == "float":
        return float(value)
    return value


def widget_value(f: Field, value):
    """A widget's value as the core takes it."""
    if f.type == "bool":
        return None if value is None else value == "是"
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, (list, tuple)) and not value:  # a multiselect with nothing chosen
        return None
    return value


KEPT = "widgets:kept"  # the copy ``keep_across_pages`` holds, one for every page (widget keys are unique)


def keep_across_pages(keys) -> None:
    """Streamlit drops the key of a widget that a run does not draw (another page) and would draw it again
    with its default: a copy no widget owns takes the values of ``keys`` while they exist and puts them
    back when they are gone. Call it before the widgets are drawn."""
    copy = st.session_state.setdefault(KEPT, {})
    for key in keys:
        if key in st.session_state:
            copy[key] = st.session_state[key]
        elif key in copy:
            st.session_state[key] = copy[key]


def kept(key: str, initial=None) -> str:
    """``key``, for a widget whose value is kept across pages (``keep_across_pages``) and starts at ``initial``.
    Draw the widget with no default of its own (``value=None``, ``index=None``, ``value=""``): its value comes
    from the state, and Streamlit warns of a widget given a default whose value was also set in the state."""
    keep_across_pages([key])
    st.session_state.setdefault(key, initial)
    return key


def forget_across_pages(keys) -> None:
    """The widgets ``keys`` back to their defaults on the next run, the copy ``keep_across_pages`` holds too."""
    copy = st.session_state.get(KEPT, {})
    for key in keys:
        st.session_state.pop(key, None)
        copy.pop(key, None)


def field_input(f: Field, key: str, *, disabled: bool = False, error: str | None = None, anchor: str | None = None,
                warning: str | None = None, routes=None):
    """Render the input for ``f`` bound to session-state ``key``; its value is read from the state.
    ``anchor``: an element id just above the input, for a link from an error list to the field;
    ``warning``: a note below it that does not stop a save (e.g. 桩号长度核对); ``routes``: the route table,
    from which 路线编码 is picked (a code not in it may still be typed)."""
    if anchor:
        st.markdown(f'<div id="{anchor}"></div>', unsafe_allow_html=True)
    label = f.label_with_unit + (" *" if f.required else "")
    help_text = f.help or f.expected or None
    kwargs = {"key": key, "disabled": disabled, "help": help_text}
    if f.key == ROUTE_FIELD and routes is not None and len(routes):
        route_picker(label, key, routes, kwargs)
    elif f.type == "enum" and f.multiple:
        st.multiselect(label, list(f.values), placeholder="请选择（可多选）", **kwargs)
    elif f.type == "enum":
        st.selectbox(label, list(f.values), index=None, placeholder="请选择", **kwargs)
    elif f.type == "bool":
        st.selectbox(label, YES_NO, index=None, placeholder="未填", **kwargs)
    elif f.type == "date":
        st.date_input(label, format="YYYY-MM-DD", **kwargs)
    elif f.type == "int":
        st.number_input(label, step=1, min_value=_bound(f.min, int), max_value=_bound(f.max, int), **kwargs)
    elif f.type == "float":
        st.number_input(label, step=1.0, format="%g", min_value=_bound(f.min, float), max_value=_bound(f.max, float), **kwargs)
    elif f.type == "text":
        st.text_area(label, height=80, **kwargs)
    else:
        st.text_input(label, placeholder="如 K12+350、AK0+125" if f.type == "stake" else None, **kwargs)
    if error:
        st.error(md_escape(error), icon=":material/warning:")  # may quote the value typed
    if warning:
        st.warning(md_escape(warning), icon=":material/straighten:")


def route_picker(label: str, key: str, routes, kwargs: dict) -> None:
    """路线编码 chosen from the route table (shown with name, grade and unit), or typed when not in it."""
    labels = {r["route_code"]: route_label(r) for _, r in routes.iterrows()}
    current = st.session_state.get(key)
    options = list(labels) + ([current] if current and current not in labels else [])
    st.selectbox(label, options, index=None, placeholder="选择或输入路线编码", accept_new_options=True,
                 format_func=lambda code: labels.get(code, code), **kwargs)


def _bound(value, kind):
    return None if value is None else kind(value)


def read_state(fields, prefix: str) -> dict:
    return {f.key: widget_value(f, st.session_state.get(f"{prefix}{f.key}")) for f in fields}
