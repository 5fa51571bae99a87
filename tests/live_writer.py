"""The app saving in a loop (one patch's 基础信息 field), for test_qgis_live.py and
benchmarks/bench_desktop_commits.py: saves until the file named STOP exists, retrying on conflict as a
user would; prints as JSON the number of saves and conflicts and how long each save held the write lock.

  live_writer.py DB CODE STOP [PAUSE] [--rate N] [--raw] [--code-dir DIR]
  live_writer.py DB CODE - --paths N [--code-dir DIR]     N saves on each write path, one after another

PAUSE: seconds between saves (default 0.1); ``--rate N``: N saves a second instead, whatever a save takes.
``--raw``: the same transaction in plain SQL (version check, update, one history row, no validation), the
least a save can hold the lock. ``--code-dir``: import ``safetymap`` from DIR (another revision)."""
import argparse
import json
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path


def timed_transactions(store, held: list):
    """Wrap the store's write transactions so that each one appends how long it held the write lock
    (from BEGIN IMMEDIATE done to COMMIT done) to ``held``, in seconds."""
    begin = store.backend.transaction

    @contextmanager
    def transaction():
        with begin() as con:
            start = time.perf_counter()
            yield con
        held.append(time.perf_counter() - start)

    store.backend.transaction = transaction


def raw_save(store, code: str, value: str) -> None:
    """A save in plain SQL: the least work a save does under the write lock."""
    c = store.schema.category(store.get(code)["category"])
    with store.transaction() as con:
        version = con.execute(f'SELECT version FROM "{c.table}" WHERE code = ?', (code,)).fetchone()[0]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        con.execute(f'UPDATE "{c.table}" SET list_basic = ?, version = ?, updated_at = ?, updated_by = ? '
                    "WHERE code = ? AND version = ?", (value, version + 1, stamp, "admin", code, version))
        con.execute('INSERT INTO history (code, category, version, action, field_key, field_label, before, after, '
                    '"user", at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                    (code, c.key, version + 1, "update", "list_basic", "基础信息", None, value, "admin", stamp))


def write_paths(store, code: str, n: int) -> dict:
    """How long each save path holds the write lock (median and max, ms) over ``n`` saves each: a patch
    update, an inspection, a fog event and a hazard edit."""
    import datetime as dt
    fog = store.read(store.schema.fog_category)["code"].iloc[0]
    hazard = store.hazards()["hazard_code"].iloc[0]
    paths = {
        "update": lambda i: store.update(code, {"list_basic": f"网页保存 {i}"}, store.get(code)["version"], "admin"),
        "inspection": lambda i: store.add_inspection(code, "admin", findings=f"巡查 {i}"),
        "fog event": lambda i: store.add_fog_event(fog, dt.date(2026, 1, 1) + dt.timedelta(days=i), "admin",
                                                   min_visibility_m=100),
        "hazard": lambda i: store.update_hazard(hazard, {"measures": f"措施 {i}"}, store.hazard(hazard)["version"],
                                                "admin"),
    }
    out = {}
    for name, save in paths.items():
        held: list[float] = []
        timed_transactions(store, held)
        for i in range(n):
            save(i)
        del store.backend.transaction  # the backend's own method again
        out[name] = {"median": statistics.median(held) * 1000, "max": max(held) * 1000}
    return out


def main(args) -> None:
    sys.path.insert(0, args.code_dir or str(Path(__file__).resolve().parent.parent))
    from safetymap.errors import ConflictError
    from safetymap.store import open_store

    store = open_store(args.db)
    if args.paths:
        print(json.dumps(write_paths(store, args.code, args.paths)))
        return
    held: list[float] = []
    timed_transactions(store, held)
    saves = conflicts = 0
    period = 1 / args.rate if args.rate else None
    Path(args.stop + ".started").touch()
    started = time.monotonic()
    while not Path(args.stop).exists():
        value = f"网页保存 {saves}"
        try:
            if args.raw:
                raw_save(store, args.code, value)
            else:
                store.update(args.code, {"list_basic": value}, store.get(args.code)["version"], "admin")
            saves += 1
        except ConflictError:
            conflicts += 1
        if period:
            time.sleep(max(0.0, started + (saves + conflicts) * period - time.monotonic()))
        else:
            time.sleep(args.pause)
    ms = [h * 1000 for h in held]
    print(json.dumps({"saves": saves, "conflicts": conflicts, "seconds": time.monotonic() - started,
                      "held_ms_median": statistics.median(ms) if ms else None, "held_ms_max": max(ms, default=None)}))


def parse(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("code")
    parser.add_argument("stop")
    parser.add_argument("pause", nargs="?", type=float, default=0.1)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--raw", action="store_true")
    parser.add_argument("--code-dir", default=None)
    parser.add_argument("--paths", type=int, default=0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse(sys.argv[1:]))
