"""Storage backends of the ledger. Each offers the same small public surface, used only by
``safetymap.store`` (the rules) and ``safetymap.migrate`` (raw copies):

- ``location`` (what to open it again with), ``path`` (the file, or None);
- ``connection()``, ``transaction()`` (one write transaction, nested calls join it), ``snapshot()``
  (a consistent read), ``query_frame(sql, params, con)``, ``close()``;
- ``geom_param``, ``geom_out(column)``, ``encode(geoms)``, ``decode(values)``, ``bbox_clause(table, bbox)``,
  ``after_geometry_write(con, table)``, ``after_copy(con, table, key)``;
- ``table_exists(con, table)``, ``table_columns(con, table)``, ``checkpoint()``, ``backup(dest)``.

SQL is written with ``?`` placeholders for both. ``open_backend`` chooses by the location; the
PostgreSQL driver is imported only when a ``postgresql://`` location is opened."""
from __future__ import annotations

import os

from ..schema import Schema
from .locations import is_database_url

__all__ = ["create_backend", "is_database_url", "open_backend"]


def open_backend(location: str | os.PathLike, schema: Schema, *, create: bool = False):
    """The backend holding the ledger at ``location`` (a GeoPackage file path or a PostgreSQL URL)."""
    if is_database_url(location):
        from .postgis import PostGISBackend
        return PostGISBackend(str(location), schema, create=create)
    from .geopackage import GeoPackageBackend
    return GeoPackageBackend(location, schema, create=create)


def create_backend(location: str | os.PathLike, schema: Schema, *, force: bool = False):
    """A new, empty ledger at ``location``; refuses to replace an existing one unless ``force``."""
    if is_database_url(location):
        from . import postgis
        return postgis.create(str(location), schema, force=force)
    from . import geopackage
    return geopackage.create(location, schema, force=force)
