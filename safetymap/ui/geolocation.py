"""The device position from the browser, through a tiny bundled component (no CDN, no third-party JS)."""
from __future__ import annotations

from pathlib import Path

import streamlit.components.v1 as components

_component = components.declare_component("safetymap_geolocation", path=str(Path(__file__).parent / "components" / "geolocation"))


def device_position(key: str) -> dict | None:
    """``{"lon", "lat", "accuracy"}`` once the user pressed the button and allowed it, ``{"error"}`` if
    the browser refused, None before."""
    return _component(key=key, default=None)
