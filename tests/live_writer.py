"""The app saving in a loop (one patch's 基础信息 field), for test_qgis_live.py and
benchmarks/bench_desktop_commits.py: saves until the file named STOP exists, retrying on conflict as a
user would; prints as JSON the number of saves and conflicts and how long each save held the write lock.

  live_writer.py DB CODE STOP [PAUSE] [--rate N] [--raw] [--code-dir DIR]

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


def main(args) -> None:
    sys.path.insert(0, args.code_dir or str(Path(__file__).resolve().parent.parent))
    from safetymap.errors import ConflictError
    from safetymap.store import open_store

    store = open_store(args.db)
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
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse(sys.argv[1:]))
