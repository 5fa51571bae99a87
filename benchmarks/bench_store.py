"""Benchmark: the ledger on both backends — a GeoPackage file (SQLite) and PostgreSQL + PostGIS —
through the same ``Store`` interface, beside the raw SQL doing the same work on the same connection,
alternating backends, sizes and code versions (and their order) round by round.

    python benchmarks/bench_store.py                          # 10,000 and 100,000 patches
    python benchmarks/bench_store.py --sizes 2000 10000 --base /tmp/main   # this code beside another tree's, same run

Each code version (this tree; ``--base``: another checkout, e.g. ``git worktree add /tmp/main main``) runs
in its own worker process holding its ledgers; the parent asks the workers for one round at a time, in
an order that alternates versions, sizes and backends. PostgreSQL (a fresh schema, dropped afterwards)
when ``--pg`` or $SAFETYMAP_TEST_PG is given; SQLite always. Measured on each backend:
- load: ``insert_many`` of every patch in one transaction (validation, buffers and all);
- save: ``Store.update`` of one text field of one random patch, as the edit form saves it (its own
  transaction, the version check, validation of the merged record, the history row, the record read
  back); raw: the same transaction in plain SQL (select the row, update it with the version check,
  one history row, select it back) without validation;
- get: ``Store.get`` of one random patch; raw: the same SELECT;
- bbox: a random 2 km × 2 km view over every category (GiST on PostgreSQL, R-tree on SQLite):
  ``Store.read(bbox=…)`` (a GeoDataFrame), ``Store.rows(bbox=…)`` (record dicts); raw: the same SELECTs
  with their rows fetched;
- filter: ``Store.read("fog", filters=PatchFilter(grades=("重大",)))``.
Each is reported as min and median over every round, with the ratios Store / raw SQL of the mins and of
the medians (raw SQL measured in the same worker, interleaved with the Store calls)."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
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
CODE = Path(os.environ.get("SAFETYMAP_BENCH_CODE", HERE.parent))  # the tree whose safetymap a worker measures
sys.path.insert(0, str(CODE))
sys.path.insert(0, str(HERE))
import safetymap  # noqa: E402  (first, from CODE: bench_io puts this tree on the path as well)

from bench_io import SHARES, synthetic  # noqa: E402

from safetymap.backends.tables import SOURCE_TABLE, category_columns  # noqa: E402
from safetymap.filters import PatchFilter  # noqa: E402
from safetymap.schema import load_schema  # noqa: E402
from safetymap.seed import init_database  # noqa: E402

CATEGORY_TABLES = {c.code_prefix: c for c in load_schema().categories}  # code prefix -> category

BENCH_USER = "基准测试"
VIEW_DEG = (0.025, 0.018)  # about 2 km × 2 km at 42° N


def make_data(schema, n: int, rng) -> dict:
    data, offset = {}, 0
    for key, share in SHARES.items():
        count = int(round(n * share))
        data[key] = synthetic(schema.category(key), schema, count, rng, offset)
        offset += count
    return data


def load(location, data: dict) -> tuple:
    store = init_database(location, sample=False)
    start = time.perf_counter()
    with store.transaction() as con:
        for key, (raw, geoms) in data.items():
            store.insert_many(key, raw, geoms, BENCH_USER, con=con)
    took = time.perf_counter() - start
    if store.path is None:
        store.backend.connection().execute("ANALYZE")  # as after migrate; autovacuum would do it a little later
    return store, took


def one_round(store, codes: list[str], rng, k: int, samples: dict) -> None:
    """``k`` of each measure on ``store``, appended to ``samples`` (seconds)."""
    for i in rng.integers(0, len(codes), k):
        code = codes[i]
        samples["save"].append(_timed_save(store, code, len(samples["save"])))
        samples["save raw"].append(_timed(lambda: raw_save(store, code, len(samples["save raw"])))[0])
        samples["get"].append(_timed(lambda: store.get(code))[0])
        samples["get raw"].append(_timed(lambda: raw_get(store, code))[0])
    for _ in range(k):
        box = _view(rng)
        samples["bbox read"].append(_timed(lambda: store.read(bbox=box))[0])
        took, rows = _timed(lambda: store.rows(bbox=box))
        samples["bbox rows"].append(took)
        samples["per view"].append(len(rows))
        samples["bbox raw"].append(_timed(lambda: raw_bbox(store, box))[0])
    for _ in range(max(1, k // 5)):
        samples["filter"].append(_timed(lambda: store.read("fog", filters=PatchFilter(grades=("重大",))))[0])


def _select_sql(store, c) -> str:
    cols = ", ".join(f't."{k}"' for k in category_columns(c))
    return (f'SELECT {store.backend.geom_out("t.geom")}, {store.backend.geom_out("s.geom")}, {cols} '
            f'FROM "{c.table}" t JOIN {SOURCE_TABLE} s ON s.code = t.code')


def raw_get(store, code: str):
    con = store.backend.connection()
    table = CATEGORY_TABLES[code.split("-")[0]]
    return con.execute(f"{_select_sql(store, table)} WHERE t.code = ?", (code,)).fetchone()


def raw_save(store, code: str, k: int):
    """What a save does, in plain SQL: no validation, no frames."""
    c = CATEGORY_TABLES[code.split("-")[0]]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    with store.transaction() as con:
        version, old = con.execute(f'SELECT version, hazard FROM "{c.table}" WHERE code = ?', (code,)).fetchone()
        con.execute(f'UPDATE "{c.table}" SET hazard = ?, version = ?, updated_at = ?, updated_by = ? '
                    "WHERE code = ? AND version = ?", (f"原始修改 {k}", version + 1, stamp, BENCH_USER, code, version))
        con.execute("INSERT INTO history (code, category, version, action, field_key, field_label, before, after, "
                    '"user", at) VALUES (?,?,?,?,?,?,?,?,?,?)',
                    (code, c.key, version + 1, "update", "hazard", "隐患", old, f"原始修改 {k}", BENCH_USER, stamp))
        return con.execute(f"{_select_sql(store, c)} WHERE t.code = ?", (code,)).fetchone()


def raw_bbox(store, box) -> list:
    con = store.backend.connection()
    out = []
    for c in store.schema.categories:
        clause, params = store.backend.bbox_clause(c.table, box)
        out += con.execute(f"{_select_sql(store, c)} WHERE NOT t.archived AND {clause} ORDER BY t.code",
                           params).fetchall()
    return out


def _timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def _timed_save(store, code: str, k: int) -> float:
    version = store.get(code)["version"]
    return _timed(lambda: store.update(code, {"hazard": f"基准修改 {k}"}, version, BENCH_USER))[0]


def _view(rng) -> tuple:
    x, y = rng.uniform(126.45, 127.15 - VIEW_DEG[0]), rng.uniform(41.86, 42.19 - VIEW_DEG[1])
    return (x, y, x + VIEW_DEG[0], y + VIEW_DEG[1])


def pg_schema_url(base: str, name: str) -> str:
    return f"{base}{'&' if '?' in base else '?'}options={quote(f'-c search_path={name},public')}"


MEASURES = (("save", "save raw"), ("get", "get raw"), ("bbox read", "bbox raw"), ("bbox rows", "bbox raw"),
            ("bbox raw", None), ("filter", None))
SAMPLES = ("save", "save raw", "get", "get raw", "bbox read", "bbox rows", "bbox raw", "filter", "per view")


def summary(samples: dict) -> dict:
    return {k: (min(v), statistics.median(v)) for k, v in samples.items() if v}


def print_table(n: int, results: dict) -> None:
    """``results``: column name -> {"load": seconds, measure: (min, median)}."""
    names = list(results)
    print(f"\n{n:,} patches (min / median ms; (min× / median×) = Store / raw SQL in the same worker)")
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    print("| load (insert_many) | " + " | ".join(f"{results[b]['load']:.1f} s" for b in names) + " |")
    for key, raw in MEASURES:
        cells = []
        for b in names:
            lo, med = results[b][key]
            cell = f"{lo * 1000:.2f} / {med * 1000:.2f}"
            if raw:
                cell += f" ({lo / results[b][raw][0]:.1f}× / {med / results[b][raw][1]:.1f}×)"
            cells.append(cell)
        print(f"| {key} | " + " | ".join(cells) + " |")
        if key == "save":
            print("| save raw | " + " | ".join(f"{results[b]['save raw'][0] * 1000:.2f} / "
                                              f"{results[b]['save raw'][1] * 1000:.2f}" for b in names) + " |")
        if key == "get":
            print("| get raw | " + " | ".join(f"{results[b]['get raw'][0] * 1000:.2f} / "
                                             f"{results[b]['get raw'][1] * 1000:.2f}" for b in names) + " |")
    print("| patches per 2 km view | " + " | ".join(f"{results[b]['per view'][1]:.0f}" for b in names) + " |")


BACKENDS = ("SQLite (GeoPackage)", "PostgreSQL + PostGIS")


def worker(args) -> int:
    """Load every size on every backend, then run the rounds the parent asks for (one JSON line each)."""
    stores, codes, pg_blocks = {}, {}, []
    try:
        for n in args.sizes:
            data = make_data(load_schema(), n, np.random.default_rng(args.seed))
            codes[n] = [code for raw, _ in data.values() for code in raw["code"]]
            tmp = tempfile.mkdtemp(prefix="safetymap-bench-")
            locations = {BACKENDS[0]: Path(tmp) / "ledger.gpkg"}
            if args.pg:
                pg = _pg_location(args.pg)
                pg_blocks.append(pg)
                locations[BACKENDS[1]] = pg.__enter__()
            for name, location in locations.items():
                stores[n, name], took = load(location, data)
                print(json.dumps({"loaded": [n, name, took]}), flush=True)
        print(json.dumps({"ready": str(Path(safetymap.__file__).parent)}), flush=True)
        for line in sys.stdin:
            n, name, r = json.loads(line)
            samples = {k: [] for k in SAMPLES}
            one_round(stores[n, name], codes[n], np.random.default_rng(args.seed + 1 + r), args.per_round, samples)
            print(json.dumps(samples), flush=True)
    finally:
        for store in stores.values():
            store.close()
        for pg in pg_blocks:
            pg.__exit__(None, None, None)
    return 0


class Worker:
    """A worker process measuring the code of one tree."""

    def __init__(self, label: str, code: Path, args):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--sizes", *map(str, args.sizes),
               "--per-round", str(args.per_round), "--seed", str(args.seed)] + (["--pg", args.pg] if args.pg else [])
        self.label = label
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=os.environ | {"SAFETYMAP_BENCH_CODE": str(code)})
        self.loads = {}
        while "ready" not in (message := self._read()):
            n, name, took = message["loaded"]
            self.loads[n, name] = took
        if Path(message["ready"]).parent != code:
            raise RuntimeError(f"{label}: the worker measured {message['ready']}, not {code}")

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.label}: the worker stopped (exit {self.proc.wait()})")
        return json.loads(line)

    def round(self, n: int, name: str, r: int) -> dict:
        self.proc.stdin.write(json.dumps([n, name, r]) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--pg", default=os.environ.get("SAFETYMAP_TEST_PG"), help="PostgreSQL + PostGIS database URL")
    parser.add_argument("--rounds", type=int, default=5, help="rounds alternating versions, sizes and backends")
    parser.add_argument("--per-round", type=int, default=20, help="saves, gets and views per backend per round")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--base", type=Path, help="another source tree to measure beside this one (e.g. main)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if not args.pg:
        print("no PostgreSQL (--pg or $SAFETYMAP_TEST_PG): SQLite only", flush=True)
    versions = [("this", HERE.parent)] + ([("base", args.base.resolve())] if args.base else [])
    workers = [Worker(label, code, args) for label, code in versions]
    try:
        names = [b for b in BACKENDS if (args.sizes[0], b) in workers[0].loads]
        cells = [(w, n, b) for n in args.sizes for w in workers for b in names]
        samples = {cell: {k: [] for k in SAMPLES} for cell in cells}
        for r in range(args.rounds):
            for cell in (cells if r % 2 == 0 else cells[::-1]):  # alternate which goes first
                w, n, b = cell
                for k, v in w.round(n, b, r).items():
                    samples[cell][k] += v
    finally:
        for w in workers:
            w.close()
    for n in args.sizes:
        results = {}
        for w, size, b in cells:
            if size == n:
                label = b if len(workers) == 1 else f"{b} · {w.label}"
                results[label] = {"load": w.loads[n, b]} | summary(samples[w, n, b])
        print_table(n, results)
    return 0


class _pg_location:
    """A fresh PostgreSQL schema's URL for the block (dropped afterwards), or None without a server."""

    def __init__(self, base: str | None):
        self.base, self.name = base, f"bench_{uuid.uuid4().hex[:12]}"

    def __enter__(self):
        if not self.base:
            return None
        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')
        return pg_schema_url(self.base, self.name)

    def __exit__(self, *exc):
        if self.base:
            with psycopg.connect(self.base, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{self.name}" CASCADE')


if __name__ == "__main__":
    sys.exit(main())
