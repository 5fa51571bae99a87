"""Benchmark: the same ledger of 100,000 synthetic patches in a GeoPackage file (SQLite) and in
PostgreSQL + PostGIS, through the same ``Store`` interface, in the same run.

    python benchmarks/bench_store.py --pg postgresql://safetymap:safetymap@127.0.0.1:5432/safetymap_test
    python benchmarks/bench_store.py --n 10000          # PostgreSQL URL from $SAFETYMAP_TEST_PG

Measured on each backend (PostgreSQL in a fresh schema, dropped afterwards):
- load: ``insert_many`` of every patch in one transaction (validation, buffers and all);
- save: ``Store.update`` of one field of one patch, as the edit form saves it (its own transaction with
  the version check, the history row and the record read back), on random patches: median and 95th
  percentile;
- bounding box: ``Store.read(bbox=…)`` of a random 2 km × 2 km view over every category (GiST index
  on PostgreSQL, R-tree on SQLite), returning the GeoDataFrame: median, and patches per view;
- filter: ``Store.read("fog", filters={"risk_grade": "重大"})``: median.
The table prints PostgreSQL / SQLite ratios (> 1: PostgreSQL slower)."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np
import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_io import SHARES, synthetic  # noqa: E402

from safetymap.schema import load_schema  # noqa: E402
from safetymap.seed import init_database  # noqa: E402

BENCH_USER = "基准测试"
VIEW_DEG = (0.025, 0.018)  # about 2 km × 2 km at 42° N


def make_data(schema, n: int, rng) -> dict:
    data, offset = {}, 0
    for key, share in SHARES.items():
        count = int(round(n * share))
        data[key] = synthetic(schema.category(key), schema, count, rng, offset)
        offset += count
    return data


def measure(location, data: dict, args) -> dict:
    rng = np.random.default_rng(args.seed + 1)  # the same patches and views on both backends
    store = init_database(location, sample=False)
    try:
        start = time.perf_counter()
        with store.transaction() as con:
            for key, (raw, geoms) in data.items():
                store.insert_many(key, raw, geoms, BENCH_USER, con=con)
        load = time.perf_counter() - start
        if store.path is None:
            store.backend.connection().execute("ANALYZE")  # as after migrate; autovacuum would do it a little later
        codes = [code for raw, _ in data.values() for code in raw["code"]]
        saves = [_timed_save(store, codes[i], k) for k, i in enumerate(rng.integers(0, len(codes), args.saves))]
        views = [_timed_view(store, rng) for _ in range(args.queries)]
        filters = [_timed(lambda: store.read("fog", filters={"risk_grade": "重大"}))[0] for _ in range(args.queries // 5)]
    finally:
        store.close()
    return {"load": load, "save": statistics.median(saves), "save p95": float(np.percentile(saves, 95)),
            "bbox": statistics.median(t for t, _ in views), "per view": statistics.mean(n for _, n in views),
            "filter": statistics.median(filters)}


def _timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def _timed_save(store, code: str, k: int) -> float:
    version = store.get(code)["version"]
    return _timed(lambda: store.update(code, {"hazard": f"基准修改 {k}"}, version, BENCH_USER))[0]


def _timed_view(store, rng) -> tuple[float, int]:
    x, y = rng.uniform(126.45, 127.15 - VIEW_DEG[0]), rng.uniform(41.86, 42.19 - VIEW_DEG[1])
    took, frame = _timed(lambda: store.read(bbox=(x, y, x + VIEW_DEG[0], y + VIEW_DEG[1])))
    return took, len(frame)


def pg_schema_url(base: str, name: str) -> str:
    return f"{base}{'&' if '?' in base else '?'}options={quote(f'-c search_path={name},public')}"


def print_table(n: int, sqlite: dict, pg: dict | None) -> None:
    print(f"\n{n:,} patches")
    print("| measure | SQLite (GeoPackage) | PostgreSQL + PostGIS | PG / SQLite |")
    print("|---|---:|---:|---:|")
    for key, unit in (("load", "s"), ("save", "ms"), ("save p95", "ms"), ("bbox", "ms"), ("filter", "ms")):
        scale = 1 if unit == "s" else 1000
        other = f"{pg[key] * scale:.1f} {unit} | {pg[key] / sqlite[key]:.2f}×" if pg else "– | –"
        print(f"| {key} | {sqlite[key] * scale:.1f} {unit} | {other} |")
    print(f"| patches per 2 km view | {sqlite['per view']:.0f} | {pg['per view'] if pg else 0:.0f} | |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--pg", default=os.environ.get("SAFETYMAP_TEST_PG"), help="PostgreSQL + PostGIS database URL")
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    data = make_data(load_schema(), args.n, np.random.default_rng(args.seed))
    with tempfile.TemporaryDirectory(prefix="safetymap-bench-") as tmp:
        sqlite = measure(Path(tmp) / "ledger.gpkg", data, args)
    print(f"SQLite done: {sqlite}", flush=True)
    if not args.pg:
        print("no PostgreSQL (--pg or $SAFETYMAP_TEST_PG): SQLite only")
        print_table(args.n, sqlite, None)
        return 0
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        pg = measure(pg_schema_url(args.pg, name), data, args)
    finally:
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    print_table(args.n, sqlite, pg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
