"""Benchmark: the server work of a page's reruns (the map page by default), through Streamlit's AppTest
on a ledger of synthetic patches: the first run, a rerun with no change in the ledger (what a pan, a
click or a filter costs before the page is drawn), and the rerun after one edit elsewhere (a new revision).

    python benchmarks/bench_rerun.py                 # 10,000 patches, the map page
    python benchmarks/bench_rerun.py --n 1000 --reruns 10
    python benchmarks/bench_rerun.py --page files --ledger L.gpkg --code /path/to/other/checkout

``--page`` chooses 地图 (map), 导入导出 (files), 台账 (ledger), 图斑编辑 (edit, with a patch chosen),
巡查上报 (field, with a patch chosen) or 团雾台账 (fog); ``--ledger`` runs on a copy of an existing
ledger instead of making one; ``--code`` imports ``safetymap`` from another checkout (to alternate
with an older commit on the same ledger). Each process starts with an empty cache.

Each rerun is timed from ``AppTest.run()`` to its end: the page script (reading or reusing the ledger,
filters, building the map and its patch JSON) and Streamlit's handling of what it sends. Reported:
min and median over ``--reruns``. Views: the default view (the whole district)."""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))


PAGE_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
import streamlit as st
from safetymap.auth import User
from safetymap.ui import {module}
st.session_state.setdefault("user", User("基准", {role!r}))
{preset}
{module}.render()
"""
PAGES = {  # --page: (module, role, session state preset with a patch chosen)
    "map": ("map_page", "editor", None),
    "files": ("files_page", "admin", None),
    "ledger": ("ledger_page", "editor", None),
    "edit": ("edit_page", "admin", "edit_code"),
    "field": ("field_page", "inspector", "field_code"),
    "fog": ("fog_page", "editor", None),
}


def page_script(page: str, root: Path, code: str) -> str:
    module, role, preset = PAGES[page]
    chosen = f"st.session_state.setdefault({preset!r}, {code!r})" if preset else ""
    return PAGE_SCRIPT.format(root=str(root), module=module, role=role, preset=chosen)


def make_ledger(path: Path, n: int, workdir: Path) -> list[str]:
    from bench_map import sample_frame, synthetic_frame

    from safetymap.schema import load_schema
    from safetymap.seed import init_database
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


def page_timings(page: str, code: Path, db: Path, codes: list, reruns: int) -> tuple[float, list, list]:
    """The first run, reruns with no change, and reruns each after one edit elsewhere, of one page."""
    from streamlit.testing.v1 import AppTest

    from safetymap.store import open_store
    at = AppTest.from_string(page_script(page, code, codes[len(codes) // 2]), default_timeout=600)
    first = timed_run(at)
    same = [timed_run(at) for _ in range(reruns)]
    editor = open_store(db)
    edits = []
    for k in range(reruns):
        changed = codes[k * 7 % len(codes)]
        editor.update(changed, {"hazard": f"基准修改 {page} {k}"}, editor.get(changed)["version"], "基准测试")
        edits.append(timed_run(at))
    editor.close()
    return first, same, edits


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--page", choices=list(PAGES), nargs="+", default=["map"],
                        help="one page or several, each measured in turn on the same ledger (the peak RSS is then the "
                             "process's over all of them)")
    parser.add_argument("--ledger", type=Path, help="run on a copy of this GeoPackage instead of making one")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose safetymap the page imports")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.code.resolve()))  # before safetymap is first imported
    from safetymap.store import open_store
    with tempfile.TemporaryDirectory(prefix="safetymap-bench-") as tmp:
        db = Path(tmp) / "ledger.gpkg"
        if args.ledger:
            shutil.copyfile(args.ledger, db)
            store = open_store(db)
            codes = store.codes()
            store.close()
        else:
            codes = make_ledger(db, args.n, Path(tmp))
        os.environ["SAFETYMAP_DB"] = str(db)
        for name in ("SAFETYMAP_TIANDITU_KEY", "SAFETYMAP_LOCAL_TILES", "SAFETYMAP_BASEMAP"):
            os.environ.pop(name, None)
        timings = {page: page_timings(page, args.code.resolve(), db, codes, args.reruns) for page in args.page}
    import safetymap
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the ledger's making included
    for page, (first, same, edits) in timings.items():
        print(f"{len(codes):,} patches, {page} page of {Path(safetymap.__file__).parent.parent} through AppTest "
              f"(seconds; min / median of {args.reruns})")
        print("| first run | rerun, no change | rerun after one edit | process peak RSS, MB |")
        print("|---:|---:|---:|---:|")
        print(f"| {first:.2f} | {min(same):.2f} / {statistics.median(same):.2f} | "
              f"{min(edits):.2f} / {statistics.median(edits):.2f} | {peak_mb:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
