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


def missing(package: str, name: str) -> CompatError:
    """The error for a private ``name`` of ``package`` that is gone (the package changed)."""
    return CompatError(package, name, installed(package), CHECKED[package])


def folium_offline_resources() -> dict[str, str]:
    """CDN URL -> file content: ``offlinefolium.elements._res`` of folium-offline."""
    try:
        from offlinefolium.elements import _res
    except ImportError:
        raise missing("folium-offline", "offlinefolium.elements._res") from None
    if not isinstance(_res, dict):
        raise missing("folium-offline", "offlinefolium.elements._res (dict)")
    return _res


def children(element) -> list:
    """The child elements of a branca/folium element (branca's ``Element._children``)."""
    try:
        return list(element._children.values())
    except AttributeError:
        raise missing("branca", "Element._children") from None


def check_leaflet() -> None:
    """Raise CompatError if folium now ships a Leaflet other than the one the map's script was checked with."""
    import folium

    urls = [url for name, url in folium.Map.default_js if name == "leaflet"]
    if not any(LEAFLET_CHECKED in url for url in urls):
        raise missing("folium", f"Leaflet {LEAFLET_CHECKED}x (L.Control.Layers.prototype._onInputClick)")
