"""What this code takes from other packages' private names, each with the versions it was checked
against, so that an upgrade that removes one fails with a clear error (CompatError) instead of an
AttributeError deep in a page."""
from __future__ import annotations

from importlib import metadata

from .errors import CompatError

# package -> the version each private name below was checked against
CHECKED = {"folium-offline": "0.20.0.2", "branca": "0.8.2", "folium": "0.20.0", "streamlit-folium": "0.27.4"}
# Leaflet's private L.Control.Layers.prototype._onInputClick is wrapped by mapview's SM script (so a
# layer switched off stays off); checked against the Leaflet folium ships:
LEAFLET_CHECKED = "leaflet@1.9."


def installed(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _missing(package: str, name: str) -> CompatError:
    return CompatError(package, name, installed(package), CHECKED[package])


def folium_offline_resources() -> dict[str, str]:
    """CDN URL -> file content: ``offlinefolium.elements._res`` of folium-offline."""
    try:
        from offlinefolium.elements import _res
    except ImportError:
        raise _missing("folium-offline", "offlinefolium.elements._res") from None
    if not isinstance(_res, dict):
        raise _missing("folium-offline", "offlinefolium.elements._res (dict)")
    return _res


def children(element) -> list:
    """The child elements of a branca/folium element (branca's ``Element._children``)."""
    try:
        return list(element._children.values())
    except AttributeError:
        raise _missing("branca", "Element._children") from None


def check_leaflet() -> None:
    """Raise CompatError if folium now ships a Leaflet other than the one the map's script was checked with."""
    import folium

    urls = [url for name, url in folium.Map.default_js if name == "leaflet"]
    if not any(LEAFLET_CHECKED in url for url in urls):
        raise _missing("folium", f"Leaflet {LEAFLET_CHECKED}x (L.Control.Layers.prototype._onInputClick)")


def st_folium_scripts():
    """streamlit-folium's private ``_get_map_string`` and ``_get_feature_group_string``: the scripts
    ``st_folium`` sends (tests use them to check what reaches the browser, and the component key)."""
    try:
        from streamlit_folium import _get_feature_group_string, _get_map_string
    except ImportError:
        raise _missing("streamlit-folium", "_get_map_string / _get_feature_group_string") from None
    return _get_map_string, _get_feature_group_string
