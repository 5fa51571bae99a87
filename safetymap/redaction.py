"""Secrets kept out of messages and logs: passwords in database URLs (``user:pass@``), in query strings
(``?password=…``, ``&sslpassword=…``) and in libpq keyword strings (``password=… `` or ``password='…'``)."""
from __future__ import annotations

import re

HIDDEN = "***"
# scheme://user:password@host  (the password may hold anything but "@" and "/")
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@/\s]*)(?P<tail>@)", re.I)
# password=value in a query string or a keyword DSN; quoted values may hold spaces and escaped quotes
_KEY_PASSWORD = re.compile(
    r"(?P<head>\b[\w-]*(?:password|passwd|pwd|secret|token)[\w-]*\s*=\s*)"
    r"(?P<secret>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;#,'\"]*)", re.I)


def redact(text) -> str:
    """``text`` with every password-like value it holds replaced by ``***``."""
    shown = _URL_PASSWORD.sub(lambda m: m["head"] + HIDDEN + m["tail"], str(text))
    return _KEY_PASSWORD.sub(lambda m: m["head"] + HIDDEN, shown)
