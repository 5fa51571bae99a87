"""Addresses that mean something: the filters, the selected patch and the map view live in the URL
(``/map?grade=重大&township=砟子镇``, ``/map?code=TW-010``, ``&z=14&lat=42.1&lon=126.6``), so a link or a
refresh opens the same view; and the filters live in the session (not in widget keys, which Streamlit
drops when a page is left), so they persist across pages.

A value in the URL is taken when it differs from the one this session last wrote there: a link, a
refresh or a typed address; otherwise the session's own state wins.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import streamlit as st

FILTERS = "filters"  # the chosen filters, shared by the pages that filter the ledger
WRITTEN = "_url_written"  # what this session last wrote to the URL (or took from it)
LINKED = "_filters_from_link"  # whether this run's filters came from the URL (a link, a refresh)
# part of a PatchFilter -> URL parameter: the one place the two are mapped
FILTER_PARAMS = {"category": "category", "grade": "grade", "status": "status", "township": "township",
                 "route": "route", "overdue": "overdue", "fog_ledger": "fog"}
FLAGS = ("overdue", "fog_ledger")
VIEW_PARAMS = ("z", "lat", "lon")
CODE_PARAM = "code"  # the chosen patch, on 地图 and on 图斑编辑


# ---------------------------------------------------------------- filters <-> URL
def filters_to_params(chosen: Mapping) -> dict[str, list[str]]:
    """URL parameters (lists, repeated keys) for the filters that are set."""
    out = {}
    for name, param in FILTER_PARAMS.items():
        value = chosen.get(name)
        if name in FLAGS:
            if value:
                out[param] = ["1"]
        elif value:
            out[param] = [str(v) for v in value]
    return out


def filters_from_params(params: Mapping[str, list[str]]) -> dict:
    """Filters from URL parameters (a value may also be comma-separated: ``?grade=重大,较大``)."""
    out = {}
    for name, param in FILTER_PARAMS.items():
        values = [v for raw in params.get(param, []) for v in raw.split(",") if v.strip()]
        out[name] = bool(values) and values[0] not in ("0", "false") if name in FLAGS else values
    return out


# ---------------------------------------------------------------- the URL
def url_params() -> dict[str, list[str]]:
    return {key: st.query_params.get_all(key) for key in st.query_params.keys()}


def fresh(keys: Iterable[str]) -> dict[str, list[str]] | None:
    """The URL's values of ``keys`` if any is set and they differ from what this session last wrote."""
    keys = list(keys)
    params = url_params()
    now = {k: params[k] for k in keys if params.get(k)}
    written = st.session_state.get(WRITTEN, {})
    if not now or now == {k: written[k] for k in keys if written.get(k)}:
        return None
    return now


def write(params: Mapping[str, list[str]], managed: Iterable[str]) -> None:
    """Set the ``managed`` URL parameters to ``params`` (absent ones removed), leaving others alone."""
    written = st.session_state.setdefault(WRITTEN, {})
    for key in managed:
        value = list(params.get(key) or [])
        written[key] = value
        if value and st.query_params.get_all(key) != value:
            st.query_params[key] = value if len(value) > 1 else value[0]
        elif not value and key in st.query_params:
            del st.query_params[key]


def accept(params: Mapping[str, list[str]]) -> None:
    """Note URL values as taken, so they are not taken again on the next run."""
    st.session_state.setdefault(WRITTEN, {}).update({k: list(v) for k, v in params.items()})


# ---------------------------------------------------------------- filters in the session
def bind_filters(widgets: Mapping[str, str], options: Mapping[str, list]) -> bool:
    """Before the filter widgets are made: give each widget (filter name -> widget key) its value from a
    new URL, or, when the page was left and its widget state dropped, from the session. Values not
    among ``options`` are left out. True when the URL brought new filters."""
    from_url = fresh(FILTER_PARAMS[name] for name in widgets)
    saved = st.session_state.get(FILTERS, {})
    if from_url is not None:
        accept(from_url)
        saved = filters_from_params(from_url)
    for name, key in widgets.items():
        if from_url is None and key in st.session_state:
            continue
        value = saved.get(name)
        st.session_state[key] = bool(value) if name in FLAGS else [v for v in value or [] if v in options.get(name, [])]
    st.session_state[LINKED] = from_url is not None
    return from_url is not None


def filters_came_from_link() -> bool:
    """Whether the filters of this run were brought by the URL (set by ``bind_filters``)."""
    return bool(st.session_state.get(LINKED))


def keep_filters(chosen: Mapping) -> None:
    """After the widgets: remember the filters for other pages and put them in the URL."""
    st.session_state[FILTERS] = {**st.session_state.get(FILTERS, {}), **chosen}
    write(filters_to_params(chosen), [FILTER_PARAMS[name] for name in chosen])


def chosen_filters() -> dict:
    return dict(st.session_state.get(FILTERS, {}))
