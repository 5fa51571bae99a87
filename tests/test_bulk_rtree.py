"""Many rows inserted at once fill the GeoPackage R-tree in one statement instead of a trigger per row:
the index ends up exactly as GDAL's triggers would make it, the triggers are back afterwards (also
after a failed insert), and another connection never sees the trigger missing."""
from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import numpy as np
import pyogrio
import pytest

from safetymap.backends import gpkg
from safetymap.seed import init_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_io import synthetic  # noqa: E402


def triggers(path) -> dict:
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"))
    finally:
        con.close()


def rtree_as_triggers_make_it(con, table) -> tuple[list, list]:
    """(the R-tree's rows, the rows GDAL's trigger expressions give for the table)."""
    got = con.execute(f'SELECT id, minx, maxx, miny, maxy FROM "rtree_{table}_geom" ORDER BY id').fetchall()
    con.execute("CREATE TEMP TABLE IF NOT EXISTS want (id, minx, maxx, miny, maxy)")
    con.execute("DELETE FROM want")
    con.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.want_tree USING rtree(id, minx, maxx, miny, maxy)")
    con.execute("DELETE FROM want_tree")
    con.execute(f'INSERT INTO want_tree SELECT fid, ST_MinX(geom), ST_MaxX(geom), ST_MinY(geom), ST_MaxY(geom) '
                f'FROM "{table}" WHERE geom NOT NULL AND NOT ST_IsEmpty(geom)')
    want = con.execute("SELECT id, minx, maxx, miny, maxy FROM want_tree ORDER BY id").fetchall()
    return got, want


def test_bulk_insert_fills_the_rtree_as_the_triggers_would(tmp_path, schema):
    path = tmp_path / "ledger.gpkg"
    store = init_database(path, sample=True)
    before = triggers(path)
    raw, geoms = synthetic(schema.category("bridge"), schema, 300, np.random.default_rng(3), 500)  # points and lines
    assert store.insert_many("bridge", raw, geoms, "测试") == 300
    assert triggers(path) == before
    con = store.backend.connection()
    for table in ("patch_bridge", "patch_source"):
        got, want = rtree_as_triggers_make_it(con, table)
        assert got == want and len(got) > 300
    one_raw, one_geom = synthetic(schema.category("bridge"), schema, 1, np.random.default_rng(4), 900)
    store.insert_many("bridge", one_raw, one_geom, "测试")  # one row: the trigger's way
    got, want = rtree_as_triggers_make_it(con, "patch_bridge")
    assert got == want
    store.checkpoint()
    x, y = geoms[0].coords[0]
    found = pyogrio.read_dataframe(path, layer="patch_bridge", bbox=(x - 1e-4, y - 1e-4, x + 1e-4, y + 1e-4))
    assert raw["code"][0] in set(found["code"])
    store.close()


def test_a_failed_bulk_insert_leaves_the_triggers_and_the_index_as_they_were(tmp_path, schema):
    path = tmp_path / "ledger.gpkg"
    store = init_database(path, sample=True)
    before = triggers(path)
    con = store.backend.connection()
    count = 'SELECT (SELECT count(*) FROM "rtree_patch_fog_geom"), (SELECT count(*) FROM patch_fog)'
    counts = con.execute(count).fetchone()
    raw, geoms = synthetic(schema.category("fog"), schema, 200, np.random.default_rng(5), 700)
    real_insert_rows = store._insert_rows

    def fail_after_the_rows(con, *args):
        real_insert_rows(con, *args)
        raise RuntimeError("after the rows went in")
    store._insert_rows = fail_after_the_rows
    with pytest.raises(RuntimeError):
        store.insert_many("fog", raw, geoms, "测试")
    assert triggers(path) == before
    assert con.execute(count).fetchone() == counts
    store.close()


def test_other_connections_never_see_the_trigger_missing(tmp_path):
    path = tmp_path / "ledger.gpkg"
    init_database(path, sample=True).close()
    con = sqlite3.connect(path, isolation_level=None)
    gpkg.register_functions(con)
    con.execute("BEGIN IMMEDIATE")
    with gpkg.rtree_bulk_insert(con, "patch_fog", []):
        assert "rtree_patch_fog_geom_insert" in triggers(path)  # another connection, mid-transaction
    con.execute("COMMIT")
    con.close()
    assert "rtree_patch_fog_geom_insert" in triggers(path)
