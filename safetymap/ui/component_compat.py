"""streamlit-folium's private names this project relies on (tests check what ``st_folium`` sends), kept
beside the pages because importing streamlit-folium imports Streamlit; versions as in ``safetymap._compat``."""
from __future__ import annotations

from .._compat import missing


def st_folium_scripts():
    """streamlit-folium's private ``_get_map_string`` and ``_get_feature_group_string``: the scripts
    ``st_folium`` sends (tests use them to check what reaches the browser, and the component key)."""
    try:
        from streamlit_folium import _get_feature_group_string, _get_map_string
    except ImportError:
        raise missing("streamlit-folium", "_get_map_string / _get_feature_group_string") from None
    return _get_map_string, _get_feature_group_string
