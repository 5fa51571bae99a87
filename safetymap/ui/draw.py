"""Drawing a source geometry on the map (folium Draw through st_folium): the last line or point drawn."""
from __future__ import annotations

import shapely
import streamlit as st
from streamlit_folium import st_folium

from .. import mapview
from .basemaps import basemap_options


def drawn_geometry(schema, key: str, current=None):
    """Show a drawing map; return the last line/point the user drew there (EPSG:4490), or None."""
    st.caption("用左侧工具画出路段中心线（双击结束）或桥梁位置点；以最后画的为准。")
    m = mapview.draw_map(schema, current, basemap_options())
    result = st_folium(m, key=key, height=mapview.DRAW_HEIGHT, use_container_width=True,
                       returned_objects=["all_drawings"], render=False)  # as map_page.show_map: rendered once
    drawings = (result or {}).get("all_drawings") or []
    if not drawings:
        return None
    return shapely.geometry.shape(drawings[-1]["geometry"])
