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
import shapely

from safetymap.backends import gpkg, gpkg_live
from safetymap.backends import rows as rows_module
from safetymap.geo import format_stake
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
    """(the R-tree's rows, the rows GDAL's trigger expressions give for the table); the tree's structure
    checked by SQLite's own ``rtreecheck`` (a tree rebuilt in bulk is written node by node)."""
    assert con.execute(f"SELECT rtreecheck('rtree_{table}_geom')").fetchone() == ("ok",)
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


def stake_texts_as_the_trigger_makes_them(con, table) -> tuple[list, list]:
    """(the K-stake text columns as stored, what the insert trigger's expression gives for the same rows)."""
    stakes = [name[:-2] for name in gpkg.columns(con, table) if name.endswith("_k")]
    got = con.execute(f'SELECT fid, {", ".join(f"{k}_k" for k in stakes)} FROM "{table}" ORDER BY fid').fetchall()
    want = con.execute(f'SELECT fid, {", ".join(gpkg_live.stake_sql(k) for k in stakes)} FROM "{table}" '
                       "ORDER BY fid").fetchall()
    return got, want


def test_bulk_insert_sets_the_stake_texts_as_the_trigger_would(tmp_path, schema):
    path = tmp_path / "ledger.gpkg"
    store = init_database(path, sample=True)
    before = triggers(path)
    raw, geoms = synthetic(schema.category("fog"), schema, 120, np.random.default_rng(8), 800)
    store.insert_many("fog", raw, geoms, "测试")
    one_raw, one_geom = synthetic(schema.category("fog"), schema, 1, np.random.default_rng(9), 990)
    store.insert_many("fog", one_raw, one_geom, "测试")  # one row: the trigger's way
    assert triggers(path) == before
    got, want = stake_texts_as_the_trigger_makes_them(store.backend.connection(), "patch_fog")
    assert got == want and len(got) > 121
    assert all(row[1] and row[1].startswith("K") for row in got)
    store.close()


def test_an_insert_in_chunks_keeps_rows_index_and_order(tmp_path, schema, monkeypatch):
    monkeypatch.setattr(rows_module, "CHUNK", 7)  # 60 rows in 9 chunks (bound row by row: fewer than COPY_ROWS)
    path = tmp_path / "ledger.gpkg"
    store = init_database(path, sample=False)
    raw, geoms = synthetic(schema.category("bridge"), schema, 60, np.random.default_rng(10), 100)
    assert store.insert_many("bridge", raw, geoms, "测试") == 60
    frame = store.read()
    assert list(frame["code"]) == sorted(raw["code"])
    by_code = dict(zip(raw["code"], geoms))
    assert all(shapely.equals_exact(by_code[c], g, 1e-9) for c, g in zip(frame["code"], frame["source_geometry"]))
    con = store.backend.connection()
    for table in ("patch_bridge", "patch_source"):
        got, want = rtree_as_triggers_make_it(con, table)
        assert got == want and len(got) == 60
    assert len(store.history()) == 60
    store.close()


def test_geometry_blobs_carry_header_envelope_and_wkb(schema):
    geoms = [shapely.Point(126.5, 42.0), None, shapely.from_wkt("LINESTRING EMPTY"),
             shapely.LineString([(126.5, 42.0), (126.6, 42.1)])]
    blobs = gpkg.encode(geoms, 4490)
    assert blobs[1] is None
    assert blobs[2][:4] == b"GP\x00\x11"  # empty: no envelope, the empty flag
    assert blobs[3][:4] == b"GP\x00\x03" and int.from_bytes(blobs[3][4:8], "little") == 4490
    assert gpkg._envelope(blobs[3]) == (126.5, 126.6, 42.0, 42.1)
    assert blobs[3][40:] == shapely.to_wkb(geoms[3], byte_order=1, flavor="iso")
    back = gpkg.decode(blobs)
    assert back[1] is None and back[2].is_empty
    assert shapely.equals_exact(back[0], geoms[0], 0) and shapely.equals_exact(back[3], geoms[3], 0)


def test_bulk_insert_writes_the_stake_texts_with_each_rows_chain_prefix(tmp_path, schema):
    store = init_database(tmp_path / "ledger.gpkg", sample=False)
    raw, geoms = synthetic(schema.category("fog"), schema, 120, np.random.default_rng(11), 300)
    raw["stake_prefix"] = np.where(np.arange(120) % 2 == 0, "ZK", "")
    store.insert_many("fog", raw, geoms, "测试")
    rows = store.backend.connection().execute(
        'SELECT start_stake, end_stake, stake_prefix, start_stake_k, end_stake_k FROM "patch_fog" ORDER BY fid').fetchall()
    assert [(r[3], r[4]) for r in rows] == [(format_stake(r[0], r[2]), format_stake(r[1], r[2])) for r in rows]
    assert sum(r[3].startswith("ZK") for r in rows) == 60
    store.close()


def test_a_rebuilt_rtree_answers_box_queries_as_one_filled_row_by_row(tmp_path):
    """``gpkg_rtree.rebuild`` (the nodes written directly, packed) against SQLite filling a tree box by
    box: the same rows, the same answers to box queries, a valid tree also after later inserts and deletes."""
    from safetymap.backends import gpkg_rtree
    rng = np.random.default_rng(12)
    for n in (0, 1, 51, 52, 2_700, 20_000):  # empty, one leaf, a full leaf, two levels, three levels
        x, y = rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)
        boxes = np.column_stack([x, x + rng.uniform(0, 1, n), y, y + rng.uniform(0, 1, n)])
        con = sqlite3.connect(":memory:", isolation_level=None)
        for name in ("by_row", "bulk"):
            con.execute(f"CREATE VIRTUAL TABLE {name} USING rtree(id, minx, maxx, miny, maxy)")
        ids = rng.permutation(n) + 7
        con.executemany("INSERT INTO by_row VALUES (?, ?, ?, ?, ?)", zip(ids.tolist(), *boxes.T.tolist()))
        gpkg_rtree.rebuild(con, "bulk", ids, gpkg_rtree.rounded_boxes(boxes))
        assert con.execute("SELECT rtreecheck('bulk')").fetchone() == ("ok",)
        everything = "SELECT * FROM {} ORDER BY id"
        assert con.execute(everything.format("bulk")).fetchall() == con.execute(everything.format("by_row")).fetchall()
        query = "SELECT id FROM {} WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ? ORDER BY id"
        for qx, qy, size in zip(rng.uniform(-180, 180, 40), rng.uniform(-90, 90, 40), rng.uniform(0, 30, 40)):
            box = (qx + size, qx, qy + size, qy)
            assert con.execute(query.format("bulk"), box).fetchall() == con.execute(query.format("by_row"), box).fetchall()
        con.executemany("INSERT INTO bulk VALUES (?, 1, 2, 3, 4)", [(10**7 + i,) for i in range(300)])
        con.execute("DELETE FROM bulk WHERE id % 3 = 0")
        assert con.execute("SELECT rtreecheck('bulk')").fetchone() == ("ok",)
        con.close()


def test_a_bulk_insert_into_a_larger_tree_adds_its_boxes_one_by_one(tmp_path, schema):
    """Fewer new boxes than the tree holds: inserted (Hilbert order), not a rebuild; the same index."""
    store = init_database(tmp_path / "ledger.gpkg", sample=False)
    raw, geoms = synthetic(schema.category("bridge"), schema, 400, np.random.default_rng(13), 100)
    store.insert_many("bridge", raw, geoms, "测试")
    more_raw, more_geoms = synthetic(schema.category("bridge"), schema, 120, np.random.default_rng(14), 900)
    store.insert_many("bridge", more_raw, more_geoms, "测试")
    con = store.backend.connection()
    for table in ("patch_bridge", "patch_source"):
        got, want = rtree_as_triggers_make_it(con, table)
        assert got == want and len(got) == 520
    store.close()


def test_the_source_layer_extent_covers_the_inserted_source_geometries(tmp_path, schema):
    """gpkg_contents holds each layer's extent (QGIS zooms to it); the source layer's was never set."""
    store = init_database(tmp_path / "ledger.gpkg", sample=False)
    raw, geoms = synthetic(schema.category("fog"), schema, 80, np.random.default_rng(15), 100)
    store.insert_many("fog", raw, geoms, "测试")
    extent = store.backend.connection().execute(
        "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = 'patch_source'").fetchone()
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    assert None not in extent
    assert extent[0] <= minx and extent[1] <= miny and extent[2] >= maxx and extent[3] >= maxy
    assert np.allclose(extent, (minx, miny, maxx, maxy), atol=1e-4)
    store.close()
