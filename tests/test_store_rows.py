"""The plain-row path (``get``, ``update``, ``Store.rows``) gives exactly what the column-wise path
(``read`` then ``records``) gives, value for value and type for type, on both backends."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import shapely
from conftest import both_backends

from safetymap.store import value_from_sql
from safetymap.values import from_sql, to_python


def same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if key in ("geometry", "source_geometry"):
            assert shapely.equals_exact(a[key], b[key], 0), key
        else:
            assert a[key] == b[key] and type(a[key]) is type(b[key]), (key, a[key], b[key])


@both_backends
def test_get_and_rows_match_read_then_records(store):
    store.update(store.codes()[0], {"hazard": ""}, store.get(store.codes()[0])["version"], "测试")  # a blank text
    frame = store.read()
    for record in store.records(frame):
        same(store.get(record["code"]), record)
    bbox = (126.55, 41.9, 126.9, 42.1)
    by_rows = store.rows(bbox=bbox)
    assert [r["code"] for r in by_rows] == list(store.read(bbox=bbox)["code"]) and by_rows
    for got, want in zip(by_rows, store.records(store.read(bbox=bbox))):
        same(got, want)
    assert store.rows(bbox=(0, 0, 1, 1)) == [] and len(store.read(bbox=(0, 0, 1, 1))) == 0


@pytest.mark.parametrize("kind, values", [
    ("date", ["2026-11-28", None, "not a date", dt.date(2026, 1, 2)]),
    ("datetime", ["2026-11-28T01:02:03.456789Z", "2026-11-28T01:02:03Z", "2026-11-28 01:02:03", None,
                  dt.datetime(2026, 11, 28, 1, 2, 3, tzinfo=dt.UTC)]),
    ("int", [0, 7, None]), ("bool", [0, 1, True, None]), ("float", [0.5, 3, None]), ("stake", [1234.5, None]),
    ("text", ["", "  ", "甲", None]), ("enum", ["重大", None]),
])
def test_value_from_sql_is_from_sql_then_to_python(kind, values):
    field = type("F", (), {"type": kind, "key": "x"})()
    for value in values:
        want = to_python(field, from_sql(field, [value]).iloc[0])
        got = value_from_sql(field, value)
        assert got == want and type(got) is type(want) or (pd.isna(want) and got is None), (kind, value, got, want)
