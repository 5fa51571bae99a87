"""The bureau's clock, in one place: China time (UTC+8, no daylight saving) for what users see and for
"today", and the stored form of a moment — GeoPackage DATETIME text in UTC, ``2026-11-28T04:30:00.000Z``."""
from __future__ import annotations

import datetime as dt

import pandas as pd

CHINA_TZ = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no DST; the server's zone does not matter


def utc_text(moment: dt.datetime) -> str:
    """A moment as stored. A naive moment is taken as China time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_utc() -> str:
    """Now, as stored."""
    return utc_text(dt.datetime.now(dt.timezone.utc))


def parse_utc(text: str | None) -> dt.datetime | None:
    """A stored moment back as an aware datetime."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def now_local() -> dt.datetime:
    """Now in China time, naive (as forms show it)."""
    return dt.datetime.now(CHINA_TZ).replace(tzinfo=None)


def today() -> dt.date:
    """The bureau's date."""
    return dt.datetime.now(CHINA_TZ).date()


def utc_text_to_local(values) -> pd.Series:
    """Stored moments (UTC text) -> naive China time, as shown to users."""
    ts = pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce", format="ISO8601")
    return ts.dt.tz_convert(CHINA_TZ).dt.tz_localize(None).astype("datetime64[ms]")


def local_series_to_utc_text(values: pd.Series) -> pd.Series:
    """Naive China-time moments -> stored text (NaT stays missing), column-wise."""
    stamps = pd.to_datetime(values).dt.tz_localize(CHINA_TZ).dt.tz_convert("UTC")
    return stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
