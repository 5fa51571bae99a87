"""Many new rows on the GeoPackage backend are written by GDAL into a file of their own and copied in SQL
(``gpkg_bulk``) instead of bound value by value from Python: every value stored, in every column of every
table, is the same, of the same SQLite type and byte for byte, as the row-by-row path stores (the path
before, still taken for a few rows), for an import of our own zipped export and for ``insert_many`` of
awkward values; a failed transaction leaves nothing behind (no rows, no attached file, no temporary
file), and the live GeoPackage's triggers are as before."""
from __future__ import annotations

import re
import sqlite3
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from safetymap.backends import geopackage
from safetymap.io.importer import preview_import
from safetymap.io.shapefile import export_shapefile
from safetymap.seed import init_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_io import synthetic  # noqa: E402

ROW_BY_ROW = 10**9  # COPY_ROWS: never copied
COPIED = 1  # COPY_ROWS: always copied
USER = "测试"
PER_CATEGORY = geopackage.BULK_ROWS + 10
MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")  # clock.now_utc, SQLite's strftime


def stored(path: Path) -> dict[str, list[tuple]]:
    """Every table's rows, each value as (SQLite type, SQL literal: blobs in hex), in rowid order; moments
    of the clock (the write's: history, updated_at; the ledger's creation) masked: no patch field holds
    a date-time."""
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        out = {}
        for table in tables:
            columns = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")') ]
            select = ", ".join(f'typeof("{c}"), quote("{c}"), "{c}"' for c in columns)
            rows = con.execute(f'SELECT {select} FROM "{table}" ORDER BY rowid').fetchall()
            out[table] = [tuple("moment" if row[i] == "text" and MOMENT.fullmatch(row[i + 2]) else (row[i], row[i + 1])
                                for i in range(0, len(row), 3)) for row in rows]
        return out
    finally:
        con.close()


def triggers(path: Path) -> dict:
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    finally:
        con.close()


def risk_categories(schema) -> list:
    return [c for c in schema.categories if "rect_status" in c.keys]


@pytest.fixture(scope="module")
def ledger_zip(tmp_path_factory, schema) -> Path:
    """Our zipped shapefile export of synthetic patches of every risk category (the benchmark's generator
    makes no facilities: their fields are of the same kinds), enough of each for a bulk insert (without
    the per-row triggers, which would set the K-stake texts again)."""
    folder = tmp_path_factory.mktemp("bulk_copy")
    store = init_database(folder / "source.gpkg", sample=False)
    rng = np.random.default_rng(16)
    with store.transaction() as con:
        for i, c in enumerate(risk_categories(schema)):
            raw, geoms = synthetic(c, schema, PER_CATEGORY, rng, 1000 * i)
            store.insert_many(c.key, raw, geoms, USER, con=con)
    out = folder / "ledger.zip"
    export_shapefile(store.read(), out, schema)
    store.close()
    return out


def imported(path: Path, zip_path: Path, copy_rows: int, monkeypatch) -> dict:
    monkeypatch.setattr(geopackage, "COPY_ROWS", copy_rows)
    store = init_database(path, sample=False)
    preview = preview_import(store, zip_path)
    assert preview.ok, preview.problems[:3]
    preview.commit(store, USER)
    store.close()
    return stored(path)


def test_an_import_stores_every_value_as_the_row_by_row_path_does(tmp_path, ledger_zip, schema, monkeypatch):
    before = imported(tmp_path / "row_by_row.gpkg", ledger_zip, ROW_BY_ROW, monkeypatch)
    after = imported(tmp_path / "copied.gpkg", ledger_zip, COPIED, monkeypatch)
    assert after.keys() == before.keys()
    for table in before:
        assert after[table] == before[table], table
    assert len(before["patch_source"]) == PER_CATEGORY * len(risk_categories(schema))
    assert ("text", "'K0+000'") not in {row[-1] for row in after["patch_fog"]}  # the end stake's text
    assert triggers(tmp_path / "copied.gpkg") == triggers(tmp_path / "row_by_row.gpkg")


def awkward(schema, c) -> tuple[pd.DataFrame, np.ndarray]:
    """Synthetic bridges with blanks, NULLs, long decimals, chained stakes, quotes and newlines."""
    raw, geoms = synthetic(c, schema, PER_CATEGORY, np.random.default_rng(5), 0)
    raw = raw.astype(object)
    raw.loc[0, ["hazard", "plan", "list_duty"]] = ["  ", "", None]
    raw.loc[1, "name"] = "引号'\"；换行\n与 emoji 🚧 与尾随空格 "
    raw.loc[2, ["funding_wan", "bridge_length_m", "curve_radius_m"]] = [0.1 + 0.2, 123456.789012345, None]
    raw.loc[3, ["start_stake", "end_stake", "stake_prefix"]] = ["ZK7+814.19", "ZK8+000", "ZK"]
    raw.loc[4, ["start_stake", "end_stake"]] = ["K0+000.005", "K0+814.105"]
    raw.loc[5, ["rect_deadline", "last_inspection", "assess_date"]] = [None, "", "2024-02-29"]
    raw.loc[6, ["curved", "health_monitoring"]] = ["否", None]
    raw.loc[7, ["year_built", "pier_count", "tech_class"]] = [None, 0, 5]
    return raw, geoms


def test_insert_many_stores_awkward_values_as_the_row_by_row_path_does(tmp_path, schema, monkeypatch):
    c = schema.category("bridge")
    raw, geoms = awkward(schema, c)
    dumps = []
    for name, copy_rows in (("row_by_row", ROW_BY_ROW), ("copied", COPIED)):
        monkeypatch.setattr(geopackage, "COPY_ROWS", copy_rows)
        store = init_database(tmp_path / f"{name}.gpkg", sample=False)
        assert store.insert_many("bridge", raw, geoms, USER) == len(raw)
        store.close()
        dumps.append(stored(tmp_path / f"{name}.gpkg"))
    assert dumps[1] == dumps[0]
    rows = dumps[1]["patch_bridge"]
    assert ("null", "NULL") in rows[0]  # the blank texts


def test_a_failed_transaction_leaves_no_rows_and_no_files(tmp_path, schema, monkeypatch):
    monkeypatch.setattr(geopackage, "COPY_ROWS", COPIED)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))  # where the rows' own file goes
    (tmp_path / "temp").mkdir()
    path = tmp_path / "ledger.gpkg"
    store = init_database(path, sample=False)
    before, triggers_before = stored(path), triggers(path)
    raw, geoms = synthetic(schema.category("fog"), schema, 20, np.random.default_rng(3), 0)
    with pytest.raises(RuntimeError, match="stop"):
        with store.transaction() as con:
            store.insert_many("fog", raw, geoms, USER, con=con)
            assert len(con.execute("PRAGMA database_list").fetchall()) > 1  # the rows' file is attached
            raise RuntimeError("stop")
    con = store.backend.connection()
    assert [row[1] for row in con.execute("PRAGMA database_list")] == ["main"]
    assert list((tmp_path / "temp").iterdir()) == []
    store.close()
    assert stored(path) == before and triggers(path) == triggers_before
    store = init_database(tmp_path / "again.gpkg", sample=False)  # and a committed one detaches as well
    store.insert_many("fog", raw, geoms, USER)
    assert [row[1] for row in store.backend.connection().execute("PRAGMA database_list")] == ["main"]
    assert list((tmp_path / "temp").iterdir()) == []
    store.close()


def test_more_copies_in_one_transaction_than_sqlite_attaches_are_stored_as_row_by_row(tmp_path, schema, monkeypatch):
    """Every risk category and its source rows in one transaction: 18 copies, past SQLite's 10 attached
    files ("too many attached databases - max 10" before); those past the limit are bound row by row."""
    dumps = []
    for name, copy_rows in (("row_by_row", ROW_BY_ROW), ("copied", COPIED)):
        monkeypatch.setattr(geopackage, "COPY_ROWS", copy_rows)
        store = init_database(tmp_path / f"{name}.gpkg", sample=False)
        rng = np.random.default_rng(11)
        with store.transaction() as con:
            for i, c in enumerate(risk_categories(schema)):
                raw, geoms = synthetic(c, schema, 20, rng, 1000 * i)
                store.insert_many(c.key, raw, geoms, USER, con=con)
        store.close()
        dumps.append(stored(tmp_path / f"{name}.gpkg"))
    assert len(risk_categories(schema)) * 2 > 10
    assert dumps[1] == dumps[0]
    assert len(dumps[1]["patch_source"]) == 20 * len(risk_categories(schema))


def test_a_text_column_is_stored_as_each_value_alone_would_be(schema):
    """``values.sql_array`` converts a column of strings in Arrow (blanks by Arrow's whitespace trim):
    the same values as ``value_to_sql`` of each value, for strings, blanks of every kind and columns
    mixing other values (converted by ``str``)."""
    from safetymap.values import ARROW_STRING, sql_array, value_to_sql
    f = schema.category("fog").field("name")
    texts = ["路段", "  两端空格 ", "", " ", "\u3000", "\t\n", "\x1c", "\x85", "\xa0", "x\u200b", None, np.nan, pd.NA]
    columns = [pd.Series(texts, dtype=object), pd.Series(texts[:10] + [None], dtype=ARROW_STRING),
               pd.Series(texts + [12, 3.5, True], dtype=object), pd.Series([None, np.nan], dtype=object)]
    for column in columns:
        assert sql_array(f, column).to_pylist() == [value_to_sql(f, v) for v in column], column.tolist()
