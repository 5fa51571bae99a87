"""streamlit-folium's private names this project relies on (tests check what ``st_folium`` sends), kept
beside the pages because importing streamlit-folium imports Streamlit; versions as in ``safetymap._compat``.

The browser-held patch layer (``safetymap/js/patches.js``) also relies on how streamlit-folium's frontend
reports a click (checked against 0.27.4): it listens for ``click`` on every layer in ``map._layers`` (when
the map is made and after each ``feature_group_to_add``) and takes ``event.latlng`` as
``last_object_clicked`` and ``event.layer.toGeoJSON()`` as ``last_active_drawing``. The layer fires such an
event itself; ``CLICK_FIELDS`` are the values the page reads back."""
from __future__ import annotations

from .._compat import missing

CLICK_FIELDS = ("last_object_clicked", "last_active_drawing")  # what the map page asks st_folium to return


def st_folium_scripts():
    """streamlit-folium's private ``_get_map_string`` and ``_get_feature_group_string``: the scripts
    ``st_folium`` sends (tests use them to check what reaches the browser, and the component key)."""
    try:
        from streamlit_folium import _get_feature_group_string, _get_map_string
    except ImportError:
        raise missing("streamlit-folium", "_get_map_string / _get_feature_group_string") from None
    return _get_map_string, _get_feature_group_string
