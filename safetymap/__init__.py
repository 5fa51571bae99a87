"""safetymap: the risk-patch ledger (风险图斑台账) of 江源区交通运输局. The core knows nothing of
Streamlit; the pages in ``safetymap.ui`` are a thin shell over it.

The front door::

    from safetymap import open_store
    store = open_store("data/safetymap.gpkg")      # or "postgresql://…"
    patches = store.read("fog")                    # a GeoDataFrame in EPSG:4490
"""
from .errors import (ConflictError, NotFound, PermissionDenied, Problem, RequestError, SafetymapError,
                     ValidationError)
from .schema import Schema, load_schema
from .store import Store, create_store, open_store

__version__ = "0.1.0"
__all__ = ["ConflictError", "NotFound", "PermissionDenied", "Problem", "RequestError", "SafetymapError", "Schema",
           "Store", "ValidationError", "create_store", "load_schema", "open_store"]
