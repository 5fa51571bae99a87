"""Benchmark: the server work of the map page's reruns, through Streamlit's AppTest on a ledger of
synthetic patches: the first run, a rerun with no change in the ledger (what a pan, a click or a
filter costs before the map is drawn), and the rerun after one edit elsewhere (a new revision).

    python benchmarks/bench_rerun.py                 # 10,000 patches
    python benchmarks/bench_rerun.py --n 1000 --reruns 10

Each rerun is timed from ``AppTest.run()`` to its end: the page script (reading or reusing the ledger,
filters, building the map and its patch JSON) and Streamlit's handling of what it sends. Reported:
min and median over ``--reruns``. Views: the default view (the whole district)."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_map import sample_frame, synthetic_frame  # noqa: E402

from safetymap.schema import load_schema  # noqa: E402
from safetymap.seed import init_database  # noqa: E402

PAGE_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
import streamlit as st
from safetymap.auth import User
from safetymap.ui import map_page
st.session_state.setdefault("user", User("基准", "editor"))
map_page.render()
"""


def make_ledger(path: Path, n: int, workdir: Path) -> list[str]:
    frame = synthetic_frame(sample_frame(workdir), n)
    store = init_database(path, sample=False)
    schema = load_schema()
    with store.transaction() as con:
        for category, part in frame.groupby("category"):
            keys = schema.category(category).keys
            attrs = part[[c for c in part.columns if c in keys and c not in ("version", "updated_at", "updated_by")]]
            store.insert_many(category, attrs.reset_index(drop=True), part["source_geometry"].to_numpy(), "基准测试",
                              con=con)
    codes = store.codes()
    store.close()
    return codes


def timed_run(at) -> float:
    start = time.perf_counter()
    at.run()
    took = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(at.exception)
    return took


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--reruns", type=int, default=5)
    args = parser.parse_args(argv)
    from streamlit.testing.v1 import AppTest

    from safetymap.store import open_store
    with tempfile.TemporaryDirectory(prefix="safetymap-bench-") as tmp:
        db = Path(tmp) / "ledger.gpkg"
        codes = make_ledger(db, args.n, Path(tmp))
        os.environ["SAFETYMAP_DB"] = str(db)
        for name in ("SAFETYMAP_TIANDITU_KEY", "SAFETYMAP_LOCAL_TILES", "SAFETYMAP_BASEMAP"):
            os.environ.pop(name, None)
        at = AppTest.from_string(PAGE_SCRIPT.format(root=str(ROOT)), default_timeout=600)
        first = timed_run(at)
        same = [timed_run(at) for _ in range(args.reruns)]
        editor = open_store(db)
        edits = []
        for k in range(args.reruns):
            code = codes[k * 7 % len(codes)]
            editor.update(code, {"hazard": f"基准修改 {k}"}, editor.get(code)["version"], "基准测试")
            edits.append(timed_run(at))
        editor.close()
    print(f"{args.n:,} patches, map page through AppTest (seconds; min / median of {args.reruns})")
    print("| first run | rerun, no change | rerun after one edit |")
    print("|---:|---:|---:|")
    print(f"| {first:.2f} | {min(same):.2f} / {statistics.median(same):.2f} | "
          f"{min(edits):.2f} / {statistics.median(edits):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
