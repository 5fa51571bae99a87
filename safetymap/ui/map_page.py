"""地图: the interactive risk map. Filters in the sidebar, the map (built by ``safetymap.mapview``) and a
side panel with the clicked or searched patch: its attributes, latest inspection and photo, and a way
to open it for editing.

The browser holds the ledger (issue 16): the base map carries a canvas layer that fetches the patches of
a revision from the app's data route (``safetymap.mapdata`` via ``safetymap.ui.web``) and draws them
itself. Each rerun sends only a small state through ``feature_group_to_add`` — the revision, the filter
(the shorter of the codes shown or hidden) and the selected patch — and the browser fetches only the
delta of a new revision. The map returns only a click (``returned_objects``), so pan and zoom never rerun
the script; the browser writes the view into the address (``z``, ``lat``, ``lon``) itself.
"""
from __future__ import annotations

import json
import secrets
from urllib.parse import quote

import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from .. import assets, mapdata, mapview
from ..errors import NotFound
from ..ledger import days_late
from ..geo import format_stakes
from ..text import md_escape
from ..store import Store
from ..values import display_value
from . import addresses, edit_form, hazard_page
from .basemaps import basemap_options
from .component_compat import CLICK_FIELDS
from ..filters import PatchFilter
from .filter_form import filter_form
from .common import get_store, sample_banner, setting
from .map_frame import load, load_context, publish_current

MAP_KEY = "risk_map"
SELECTED = "map_selected"  # the code shown in the side panel
FOCUS = "map_focus"  # (centre, zoom) the map was last asked to show
EDIT_CODE = "edit_code"
RETURNED = list(CLICK_FIELDS)  # a click only, no view: a pan or zoom reruns nothing
LAST_FILTERS = "_map_last_filters"  # the filters of the previous run (a change moves the map)
LAST_VIEW = "_map_last_view"  # (centre, zoom) the map was last seen at, for coming back to the page
VIEW_KEY = "_map_view_key"  # this page session's name for the view its map reports
CODE_PARAM = addresses.CODE_PARAM
FIT_WIDTH_PX = 600  # the map's width is the browser's; fit for a modest one



# ---------------------------------------------------------------- data
def sidebar_filters(schema, frame: pd.DataFrame) -> PatchFilter:
    with st.sidebar:
        st.subheader("地图筛选")
        return filter_form(schema, frame, key="map_f", per_row=1,
                           parts=("category", "grade", "status", "township", "route", "overdue", "fog_ledger"))


def search(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """Patches whose code or name contains ``text`` (case-insensitive); an exact code first."""
    text = text.strip()
    if not text:
        return frame.iloc[:0]
    hits = frame[PatchFilter(text=text).mask(frame)]
    return hits.assign(_exact=hits["code"].str.upper() == text.upper()).sort_values(
        ["_exact", "code"], ascending=[False, True]).drop(columns="_exact")


# ---------------------------------------------------------------- selection and view
def _on_map_change() -> None:
    """A click on a patch selects it (its code comes back in the feature's properties)."""
    value = st.session_state.get(MAP_KEY) or {}
    click = value.get("last_object_clicked")
    code = ((value.get("last_active_drawing") or {}).get("properties") or {}).get("code")
    if click and code and click != st.session_state.get("_map_last_click"):
        st.session_state["_map_last_click"] = click
        st.session_state[SELECTED] = code


def focus_on(row: pd.Series) -> None:
    """Select a patch and ask the map to show it."""
    st.session_state[SELECTED] = row["code"]
    focus_bounds(tuple(float(row[k]) for k in Store.BOX))


def focus_bounds(bounds: tuple[float, float, float, float]) -> None:
    """Ask the map to show ``bounds`` (minx, miny, maxx, maxy) as closely as fits."""
    minx, miny, maxx, maxy = bounds
    zoom = mapview.zoom_to_fit(bounds, width_px=FIT_WIDTH_PX)
    st.session_state[FOCUS] = ([(miny + maxy) / 2, (minx + maxx) / 2], zoom)


def needs_fit(result: tuple, view: tuple | None) -> bool:
    """Whether the map should move to a filter's ``result`` (bounds): when part of it is out of ``view``
    or it would be small in it (under a quarter of the view each way)."""
    if view is None:
        return True
    minx, miny, maxx, maxy = result
    vminx, vminy, vmaxx, vmaxy = view
    outside = minx < vminx or miny < vminy or maxx > vmaxx or maxy > vmaxy
    small = (maxx - minx) < (vmaxx - vminx) / 4 and (maxy - miny) < (vmaxy - vminy) / 4
    return outside or small


def view_key() -> str:
    """This page session's name for the view its map reports (``web.report_view``)."""
    return st.session_state.setdefault(VIEW_KEY, secrets.token_urlsafe(12))


def reported_view() -> dict | None:
    return mapdata.view_of(st.session_state.get(VIEW_KEY))


def current_view() -> tuple[float, float, float, float] | None:
    """The map's last reported view (minx, miny, maxx, maxy), or None."""
    view = reported_view()
    return tuple(view["bounds"]) if view else None


def total_box(everything: pd.DataFrame, mask: np.ndarray) -> tuple[float, float, float, float]:
    """The box around the patches of ``mask``."""
    minx, miny, maxx, maxy = (everything[k].to_numpy()[mask] for k in Store.BOX)
    return float(np.nanmin(minx)), float(np.nanmin(miny)), float(np.nanmax(maxx)), float(np.nanmax(maxy))


def zoom_to_result(everything: pd.DataFrame, mask: np.ndarray, chosen: PatchFilter, from_link: bool) -> None:
    """When the filters change (or a link brings them), move the map to what they leave (``mask``)."""
    key = repr(chosen)
    previous = st.session_state.get(LAST_FILTERS)
    st.session_state[LAST_FILTERS] = key
    changed = from_link or (previous is not None and previous != key)
    if not changed or not mask.any():
        return
    result = total_box(everything, mask)
    if from_link or needs_fit(result, current_view()):
        focus_bounds(result)


def follow_link(everything: pd.DataFrame) -> None:
    """A link's patch (``?code=``) is selected and shown; a link's view (``?z=&lat=&lon=``) is shown."""
    code = addresses.fresh([CODE_PARAM])
    if code is not None:
        addresses.accept(code)
        rows = everything[everything["code"] == code[CODE_PARAM][0]]
        if rows.empty:
            st.warning("链接中的图斑编号「" + md_escape(code[CODE_PARAM][0]) + "」不存在或已归档。")
        else:
            focus_on(rows.iloc[0])
    view = addresses.fresh(addresses.VIEW_PARAMS)
    if view is not None:
        addresses.accept(view)
        try:
            z, lat, lon = (float(view[k][0]) for k in addresses.VIEW_PARAMS)
        except (KeyError, ValueError):
            return
        st.session_state[FOCUS] = ([lat, lon], int(min(max(z, mapview.MIN_ZOOM), mapview.MAX_ZOOM)))


def restore_view() -> None:
    """Coming back to the page (the map's own state was dropped): show the view it was left at."""
    if MAP_KEY not in st.session_state and LAST_VIEW in st.session_state:
        st.session_state[FOCUS] = st.session_state[LAST_VIEW]


def write_address(focus_before) -> None:
    """The selected patch and the map view into the URL (the filters are written with their widgets): the
    view this run moves the map to, else the one the map last reported. The map also writes its view into
    the address itself on every move, but this run's address would come after and undo it."""
    view = reported_view()
    focus = st.session_state.get(FOCUS)
    if focus is not None and focus != focus_before:  # the map's last report predates this move
        view = {"centre": list(focus[0]), "z": focus[1]}
    params = {}
    if view is not None:
        centre = view["centre"]
        st.session_state[LAST_VIEW] = (centre, int(view["z"]))
        params = {"z": [str(int(view["z"]))], "lat": [f"{centre[0]:.5f}"], "lon": [f"{centre[1]:.5f}"]}
    selected = st.session_state.get(SELECTED)
    if selected:
        params[CODE_PARAM] = [str(selected)]
    addresses.write(params, [CODE_PARAM, *addresses.VIEW_PARAMS])


def search_box(frame: pd.DataFrame) -> None:
    text = st.text_input("搜索图斑编号或名称", key="map_search", placeholder="如 TW-001 或 名称中的字")
    if not text.strip():
        return
    hits = search(frame, text)
    if hits.empty:
        st.info("没有找到编号或名称含「" + md_escape(text) + "」的图斑。")
        return
    code = hits.iloc[0]["code"]
    if len(hits) > 1:
        names = dict(zip(hits["code"], hits["name"]))
        code = st.selectbox(f"找到 {len(hits)} 个图斑", list(hits["code"]), key="map_search_pick",
                            format_func=lambda c: f"{c} {names[c]}")
    if st.session_state.get("_map_search_done") != (text, code):
        st.session_state["_map_search_done"] = (text, code)
        focus_on(hits[hits["code"] == code].iloc[0])


# ---------------------------------------------------------------- the map
def filter_state(mask: np.ndarray, everything: pd.DataFrame) -> dict:
    """The filter for the browser: nothing when every patch is shown (``mask``), else the shorter list of
    codes."""
    shown = int(mask.sum())
    if shown == len(everything):
        return {}
    codes = everything["code"].to_numpy()
    if shown <= len(everything) - shown:
        return {"only": codes[mask].astype(str).tolist()}
    return {"hidden": codes[~mask].astype(str).tolist()}


def early_fetch_url(token: str, decoder: str, scripts: list[str] = (), styles: list[str] = ()) -> str:
    """A script (``js/early.js``, as a data: URL: nothing to fetch first) that has a worker running ``decoder``
    (``js/decode.js``) fetch and decode the coarse payload of revision ``token`` while Leaflet and the other
    scripts of the map are loaded and run, and preloads ``scripts`` and ``styles`` (which streamlit-folium
    would fetch one after another)."""
    call = (f"SMPearly({json.dumps(token)}, {json.dumps(list(scripts))}, {json.dumps(list(styles))}, "
            f"{json.dumps(decoder)});")
    text = assets.own_script_text("early.js").decode("utf-8") + f"\n{call}\n"
    return "data:text/javascript;charset=utf-8," + quote(text)


def show_map(store: Store, everything: pd.DataFrame, mask: np.ndarray, context: mapview.MapContext) -> str:
    """Draw the map: the base map with the browser-held patch layer, and this rerun's small state (the
    patches of ``mask`` shown). Returns the revision token the browser is asked to show."""
    schema = store.schema
    token = publish_current(store, everything).token
    state = mapview.patch_state_group(token, st.session_state.get(SELECTED), view_key(),
                                      **filter_state(mask, everything))
    m = mapview.base_map(schema, basemap_options(), setting("basemap"), context=context)
    decoder = assets.own_script_url("decode.js")
    mapview.add_patch_layer(m, schema, (decoder, assets.own_script_url("patches.js")))
    scripts, styles = mapview.asset_links(m)
    m.default_js = [("smearly", early_fetch_url(token, decoder, scripts, styles)), *m.default_js]  # the first script
    centre, focus_zoom = st.session_state.get(FOCUS, (None, None))
    # render=False: st_folium renders the map itself anyway; its render of the whole figure first repeated that
    st_folium(m, key=MAP_KEY, height=mapview.MAP_HEIGHT, use_container_width=True, returned_objects=RETURNED,
              feature_group_to_add=[state], layer_control=mapview.layer_control(), center=centre, zoom=focus_zoom,
              on_change=_on_map_change, render=False)
    return token


# ---------------------------------------------------------------- the side panel
def attribute_rows(record: dict, category) -> pd.DataFrame:
    rows = [(f.label_with_unit, display_value(f, record.get(f.key), record)) for f in category.fields]
    return pd.DataFrame({"字段": [md_escape(k) for k, _ in rows], "值": [md_escape(v) or "—" for _, v in rows]})


def badge_color(schema, grade) -> str:
    return next((g.badge for g in schema.grades if g.label == grade), "gray")


def latest_inspection(store: Store, code: str) -> None:
    st.markdown("**最近巡查**")
    inspections = store.inspections(code)
    if inspections.empty:
        st.caption("暂无巡查记录")
        return
    last = inspections.iloc[-1]
    change = "" if last["status_after"] == last["status_before"] else \
        f"；整改状态 {last['status_before']} → {last['status_after']}"
    st.caption(md_escape(f"{last['inspected_at']:%Y-%m-%d %H:%M} {last['inspector']}{change}"))
    if isinstance(last["findings"], str) and last["findings"].strip():
        st.text(last["findings"])
    photos = store.photos(code)
    photos = photos[photos["inspection_id"] == last["id"]]
    for photo_id in photos["id"].head(2):
        st.image(store.photo_bytes(int(photo_id)), width="stretch")


def _open_editor(code: str) -> None:
    st.session_state[EDIT_CODE] = code


def _can_edit() -> bool:
    user = st.session_state.get("user")
    return user is not None and user.can("edit")


def side_panel(store: Store, row: pd.Series | None) -> None:
    if row is None:
        st.info("点击地图上的图斑，或在上方搜索编号、名称，查看其全部属性。")
        return
    code = row["code"]
    try:
        record = store.get(code)
    except NotFound:
        st.session_state.pop(SELECTED, None)
        st.warning("该图斑已不存在。")
        return
    schema = store.schema
    category = schema.category(record["category"])
    st.subheader(f"{md_escape(code)} {md_escape(record['name'])}")
    grade = record.get("risk_grade")
    st.badge(grade or schema.ungraded_label, color=badge_color(schema, grade))
    st.caption(md_escape(f"{category.label} · {record.get('route_code') or ''} "
                         f"{format_stakes(record.get('start_stake'), record.get('end_stake'), record.get('stake_prefix'))}"))
    _flags(row)
    if _can_edit():
        st.button("编辑此图斑", key=f"map_edit_{code}", on_click=_open_editor, args=(code,), type="primary")
    if st.session_state.get(EDIT_CODE) == code:
        edit_form.render(store, code)
    latest_inspection(store, code)
    hazard_page.side_panel_section(store, code)
    st.markdown("**全部属性**")
    st.table(attribute_rows(record, category), hide_index=True, hide_header=True, border="horizontal")


def _flags(row: pd.Series) -> None:
    if bool(row.get("overdue")):
        late = days_late(pd.DataFrame([row]))
        days = late.iloc[0]
        st.error(f"整改逾期{'' if pd.isna(days) else f' {int(days)} 天'}（时限 {pd.Timestamp(row['rect_deadline']):%Y-%m-%d}）")
    if bool(row.get("fog_ledger")):
        st.info(f"团雾台账路段：年均 {row['fog_per_year']:.1f} 次")


# ---------------------------------------------------------------- the page
def render() -> None:
    store = get_store()  # Leaflet is served locally: app.py calls assets.install() on every run
    schema = store.schema
    st.title("风险图斑地图")
    sample_banner(store)
    everything = load(store)
    focus_before = st.session_state.get(FOCUS)
    restore_view()
    chosen = sidebar_filters(schema, everything)
    mask = chosen.mask(everything)  # no copy of the frame: the page counts and lists codes through the mask
    zoom_to_result(everything, mask, chosen, addresses.filters_came_from_link())
    follow_link(everything)
    top = st.columns([3, 1, 1])
    with top[0]:
        search_box(everything)
    top[1].metric("显示图斑", int(mask.sum()))
    top[2].metric("其中逾期", int(everything["overdue"].to_numpy()[mask].sum()))
    left, right = st.columns([2, 1])
    with left:
        show_map(store, everything, mask, load_context(store))
        st.caption(f"共 {len(everything)} 个图斑，筛选后 {int(mask.sum())} 个；图斑由浏览器保存和绘制，平移缩放不再刷新页面，"
                   "修改后只传送变更的图斑。点击图斑查看属性；右上角切换底图和图层。")
    selected = st.session_state.get(SELECTED)
    at = np.flatnonzero(everything["code"].to_numpy() == selected)
    rows = everything.iloc[at]
    with right:
        if len(rows) and not mask[at].all():
            st.caption("该图斑不在当前筛选结果中。")
        side_panel(store, rows.iloc[0] if len(rows) else None)
    write_address(focus_before)
