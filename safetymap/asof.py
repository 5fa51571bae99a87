"""The ledger as it stood at a past moment, rebuilt from history: a report of a past period shows the
ledger of then, not of today, so the October report made in December equals the one made on 31 October.

Every change to a patch is a history row with the field's value before and after (as text). A field's
value at ``moment`` is the ``before`` of its first change after ``moment``, or the current value when it
has not changed since. Patches added after ``moment`` are left out; archived ones are as they were then
(the ``archived`` field is in history too); facility points likewise, kept apart from the risks.
Hazards are rebuilt the same way from their own history (each field and the status), those recorded
after ``moment`` left out. Fog events count as of their date and when they were logged.
The geometry is today's: a moved patch is drawn where it is now (its length, a field, is as it was)."""
from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from .geo import parse_stake
from .schema import Field, Schema
from .stats import LedgerData
from .values import BOOL_TEXT, is_blank

ARCHIVED = "archived"
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def moment_after(day: dt.date) -> pd.Timestamp:
    """The first moment after ``day`` (China time, as the history's times are)."""
    return pd.Timestamp(day + dt.timedelta(days=1))


def ledger_as_of(data: LedgerData, schema: Schema, moment: pd.Timestamp) -> LedgerData:
    """``data`` (as ``stats.load`` reads it) as it stood just before ``moment`` (naive China time):
    patches and hazards alike."""
    history = data.history
    later = history[pd.to_datetime(history["at"]) >= moment]
    everything = rewind(data.all_patches, later, {**schema.all_fields(), ARCHIVED: None}, "code")
    everything = everything[~everything["code"].isin(added(later, "code"))].reset_index(drop=True)
    current = everything[~everything[ARCHIVED].astype(bool) & ~everything["category"].isin(schema.facility_keys)]
    hazards, hazard_history = hazards_as_of(data, schema, moment)
    return LedgerData(current.reset_index(drop=True), everything, events_before(data.events, moment),
                      history[pd.to_datetime(history["at"]) < moment], data.sample, hazards, hazard_history)


def hazards_as_of(data: LedgerData, schema: Schema, moment: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The hazards, and their history, as they stood just before ``moment``: each field (and the
    status) as before its first later change, hazards recorded later left out."""
    history = data.hazard_history
    if schema.hazard is None or not len(history):
        return data.hazards, history
    later = history[pd.to_datetime(history["at"]) >= moment]
    fields = {**{f.key: f for f in schema.hazard.event.fields}, "status": None}
    hazards = rewind(data.hazards, later, fields, "hazard_code")
    hazards = hazards[~hazards["hazard_code"].isin(added(later, "hazard_code"))].reset_index(drop=True)
    return hazards, history[pd.to_datetime(history["at"]) < moment]


def added(history: pd.DataFrame, key: str) -> set[str]:
    """Keys (``code``, ``hazard_code``) whose first version (an insert or import: version 1 with no
    field) is in ``history``."""
    return set(history.loc[(history["version"] == 1) & history["field_key"].isna(), key])


def events_before(events: pd.DataFrame, moment: pd.Timestamp) -> pd.DataFrame:
    """Fog events that had happened and been logged before ``moment``."""
    kept = (pd.to_datetime(events["date"]) < moment) & (pd.to_datetime(events["created_at"]) < moment)
    return events[kept.to_numpy()].reset_index(drop=True)


def rewind(rows: pd.DataFrame, later: pd.DataFrame, fields: dict[str, Field | None], key: str) -> pd.DataFrame:
    """``rows`` (one per ``key``) with each of ``fields`` changed in ``later`` set back to the value
    before its first change there (a field given as None is plain text or, ``archived``, a flag)."""
    first = later.dropna(subset=["field_key"]).sort_values("id").drop_duplicates([key, "field_key"])
    frame = rows.reset_index(drop=True)  # one row per label, whatever the caller's index
    row_of = pd.Series(frame.index, index=frame[key])
    for name, changes in first.groupby("field_key"):
        changes = changes[changes[key].isin(row_of.index)]
        if name not in frame.columns or name not in fields or not len(changes):
            continue  # the source geometry, or a field no category has any more
        values = [value_from_text(fields[name], text, name) for text in changes["before"]]
        frame[name] = with_values(frame[name], row_of[changes[key]].to_numpy(), values)
    return frame


def with_values(column: pd.Series, rows, values: list) -> pd.Series:
    """``column`` with ``values`` at ``rows``, in the column's own dtype."""
    out = column.astype(object)
    out.loc[rows] = pd.Series(values, index=rows, dtype=object)
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return pd.to_datetime(out).astype(column.dtype)
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return pd.to_numeric(out).astype(column.dtype)
    return out.astype(column.dtype)


def value_from_text(f: Field | None, text, key: str = ""):
    """A value as history shows it (``values.display_value``) back as a value of its field."""
    if is_blank(text):
        return None
    text = str(text)
    kind = "bool" if key == ARCHIVED else (f.type if f is not None else "str")
    if kind == "bool":
        return text == BOOL_TEXT[True]
    if kind == "stake":
        return parse_stake(float(text) if NUMBER.match(text) else text)
    if kind in ("date", "datetime"):
        return pd.Timestamp(text)
    if kind == "int":
        return int(float(text))
    if kind == "float":
        return float(text)
    return text
