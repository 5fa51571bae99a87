"""Where a ledger is: a GeoPackage file path or a PostgreSQL URL."""
from __future__ import annotations


def is_database_url(location) -> bool:
    """``postgresql://…`` (or ``postgres://…``) names a PostgreSQL + PostGIS ledger; anything else a file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))
