"""Where a ledger is: a GeoPackage file path or a PostgreSQL URL, and how to show it safely."""
from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_PASSWORD_PARAM = re.compile(r"(password\s*=\s*)('[^']*'|[^&\s]+)", re.IGNORECASE)


def is_database_url(location) -> bool:
    """``postgresql://…`` (or ``postgres://…``) names a PostgreSQL + PostGIS ledger; anything else a file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def redact(location) -> str:
    """A database location for messages and logs: every password hidden (``user:pass@``, ``password=``)."""
    text = _PASSWORD_PARAM.sub(r"\1***", str(location))
    if not is_database_url(text):
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))
