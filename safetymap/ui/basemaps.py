"""The basemaps offered on every map, from the settings (Tianditu key, local tiles)."""
from __future__ import annotations

import streamlit as st

from .. import assets, mapview
from ..errors import TileError
from .common import setting


@st.cache_resource(show_spinner="正在准备本地瓦片…")
def _local_tiles(path: str):
    return assets.local_tiles(path)


def basemap_options() -> list[mapview.Basemap]:
    local = None
    path = setting("local_tiles")
    if path:
        try:
            local = _local_tiles(path)
        except TileError as exc:
            st.warning(f"本地瓦片不可用：{exc}")
    return mapview.basemaps(setting("tianditu_key"), local)
