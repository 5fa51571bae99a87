"""Benchmark (issue 14): QGIS 3.22 committing edits to the live GeoPackage while the app saves in a loop.

    python benchmarks/bench_desktop_commits.py                          # 60 QGIS commits, app at 5 saves/s, 3 rounds
    python benchmarks/bench_desktop_commits.py --against 586600c        # also an older revision, in the same run

QGIS (``tests/qgis_client.py commits``, run by /usr/bin/python3 with python3-qgis) edits one patch's 隐患描述
N times, committing each edit once (no retry), while ``tests/live_writer.py`` saves another patch of the
same layer at a fixed rate. Measured per writer, alternating writers (and their order) round by round:
- QGIS commits that succeeded (SQLite refuses a QGIS write at once when the app holds the write lock or
  has committed since QGIS's transaction read);
- how long each app save held the write lock (BEGIN IMMEDIATE done to COMMIT done), median and max.
Writers: ``store`` = ``Store.update`` of this checkout; ``raw`` = the same transaction in plain SQL without
validation (the baseline: the least a save can hold the lock); ``--against REV`` = ``Store.update`` of
that revision (``git archive``); ``none`` = QGIS alone. Ratios are taken against ``raw`` in the same run.
First, without QGIS, the write lock held by each save path (patch update, inspection, fog event, hazard
edit; ``--paths`` saves of each) for this checkout and ``--against``, alternated.
Without QGIS it says so and exits 0 (1 when SAFETYMAP_REQUIRE_DESKTOP=1)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from safetymap.seed import init_database  # noqa: E402
from safetymap.store import open_store  # noqa: E402

QGIS_PYTHON = "/usr/bin/python3"
LAYER_CATEGORY = "downhill"


def qgis_missing() -> str | None:
    if not Path(QGIS_PYTHON).exists():
        return f"{QGIS_PYTHON} 不存在"
    probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=120,
                           check=False)
    return None if probe.returncode == 0 else f"{QGIS_PYTHON} 不能 import qgis.core（apt-get install python3-qgis）"


def checkout(rev: str, into: Path) -> Path:
    """The ``safetymap`` package (and its data) of revision ``rev``, unpacked into ``into``."""
    archive = into / "rev.tar"
    with open(archive, "wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "safetymap", "data"], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "code", filter="data")
    return into / "code"


def run_round(template: Path, work: Path, writer: str, code_dirs: dict, commits: int, rate: float,
              qgis_env: dict) -> dict:
    """QGIS's ``commits`` edits while ``writer`` saves (or alone), on a fresh copy of ``template`` in the
    new folder ``work``."""
    work.mkdir()
    db = work / "ledger.gpkg"
    shutil.copy(template, db)
    store = open_store(db)
    mine, busy = list(store.read(LAYER_CATEGORY)["code"][:2])
    table = store.schema.category(LAYER_CATEGORY).table
    store.close()
    stop = work / "stop"
    proc = None
    if writer != "none":
        args = [sys.executable, str(ROOT / "tests" / "live_writer.py"), str(db), busy, str(stop), "--rate", str(rate)]
        args += ["--raw"] if writer == "raw" else []
        args += ["--code-dir", str(code_dirs[writer])] if writer in code_dirs else []
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not Path(f"{stop}.started").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"writer {writer} did not start: {proc.stderr.read()}")
            time.sleep(0.05)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **qgis_env)
    env.pop("PYTHONPATH", None)
    started = time.monotonic()
    try:
        done = subprocess.run([QGIS_PYTHON, str(ROOT / "tests" / "qgis_client.py"), "commits", str(db), table, mine,
                               str(commits), "0"], capture_output=True, text=True, timeout=600, env=env, check=False)
    finally:
        saved = _finish(proc, stop)
    if done.returncode != 0:
        raise RuntimeError(f"QGIS failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"writer": writer, "succeeded": result["first_try"], "commits": commits,
            "qgis_seconds": time.monotonic() - started, **saved}


def path_round(template: Path, work: Path, writer: str, code_dirs: dict, n: int) -> dict:
    """How long each save path of ``writer`` holds the write lock (no QGIS), on a fresh copy."""
    work.mkdir()
    db = work / "ledger.gpkg"
    shutil.copy(template, db)
    store = open_store(db)
    code = store.codes()[0]
    store.close()
    args = [sys.executable, str(ROOT / "tests" / "live_writer.py"), str(db), code, "-", "--paths", str(n)]
    args += ["--code-dir", str(code_dirs[writer])] if writer in code_dirs else []
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"writer {writer} failed: {done.stderr[-2000:]}")
    return {"writer": writer, "paths": json.loads(done.stdout)}


def path_report(rounds: list[dict], writers: list[str]) -> dict:
    """Per save path and writer: the median of the rounds' medians and the largest max (ms)."""
    table = {}
    for path in rounds[0]["paths"]:
        table[path] = {w: {"median": statistics.median(r["paths"][path]["median"] for r in rounds if r["writer"] == w),
                           "max": max(r["paths"][path]["max"] for r in rounds if r["writer"] == w)} for w in writers}
    print(f"{'save path':<14}" + "".join(f"{w + ' median (max) ms':>34}" for w in writers))
    for path, row in table.items():
        print(f"{path:<14}" + "".join(f"{row[w]['median']:>24.1f} ({row[w]['max']:.1f})".rjust(34) for w in writers))
    return table


def _finish(proc, stop: Path) -> dict:
    if proc is None:
        return {"saves": 0, "held_ms_median": None, "held_ms_max": None, "saves_per_s": 0.0}
    stop.touch()
    out, err = proc.communicate(timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"writer failed: {err[-2000:]}")
    saved = json.loads(out)
    return {**saved, "saves_per_s": saved["saves"] / saved["seconds"]}


def summary(rounds: list[dict], writers: list[str]) -> dict:
    out = {}
    for w in writers:
        mine = [r for r in rounds if r["writer"] == w]
        ok = [r["succeeded"] for r in mine]
        held = [r["held_ms_median"] for r in mine if r["held_ms_median"] is not None]
        out[w] = {"succeeded_min": min(ok), "succeeded_median": statistics.median(ok), "commits": mine[0]["commits"],
                  "saves_per_s": statistics.median(r["saves_per_s"] for r in mine),
                  "held_ms_median": statistics.median(held) if held else None,
                  "held_ms_min_of_medians": min(held) if held else None,
                  "held_ms_max": max((r["held_ms_max"] for r in mine if r["held_ms_max"] is not None), default=None)}
    return out


def report(table: dict) -> None:
    base = table.get("raw")
    print(f"{'writer':<14}{'QGIS commits ok (min/median of N)':>36}{'app saves/s':>13}"
          f"{'lock held median / min / max (ms)':>38}{'held vs raw':>13}")
    for w, s in table.items():
        held = ("—" if s["held_ms_median"] is None else
                f"{s['held_ms_median']:.1f} / {s['held_ms_min_of_medians']:.1f} / {s['held_ms_max']:.1f}")
        ratio = (f"{s['held_ms_median'] / base['held_ms_median']:.1f}×"
                 if base and s["held_ms_median"] and base["held_ms_median"] else "—")
        print(f"{w:<14}{str(s['succeeded_min']) + ' / ' + str(s['succeeded_median']) + ' of ' + str(s['commits']):>36}"
              f"{s['saves_per_s']:>13.1f}{held:>38}{ratio:>13}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=60, help="QGIS commits per round")
    parser.add_argument("--rate", type=float, default=5.0, help="app saves per second")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (writers alternate within each)")
    parser.add_argument("--paths", type=int, default=20, help="saves of each save path per round (no QGIS)")
    parser.add_argument("--against", default=None, help="also measure Store.update of this git revision")
    parser.add_argument("--json", default=None, help="write every round and the summary here")
    parser.add_argument("--qgis-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for QGIS, e.g. OGR_SQLITE_PRAGMA=busy_timeout=5000")
    args = parser.parse_args()
    qgis_env = dict(item.split("=", 1) for item in args.qgis_env)
    missing = qgis_missing()
    if missing:
        print(f"QGIS 不可用，未测：{missing}")
        return 1 if os.environ.get("SAFETYMAP_REQUIRE_DESKTOP") == "1" else 0
    with tempfile.TemporaryDirectory(prefix="bench_desktop_") as tmp:
        work = Path(tmp)
        template = work / "template.gpkg"
        init_database(template, sample=True).close()
        code_dirs = {f"store@{args.against}": checkout(args.against, work)} if args.against else {}
        savers = ["store", *code_dirs]
        path_rounds = []
        for k in range(args.repeat):
            for w in (savers if k % 2 == 0 else savers[::-1]):
                path_rounds.append(path_round(template, work / f"paths{k}-{w}", w, code_dirs, args.paths))
        print(f"write lock held per save path, {args.paths} saves each, {args.repeat} rounds (no QGIS)")
        paths = path_report(path_rounds, savers)
        writers = ["raw", "store", *code_dirs, "none"]
        rounds = []
        for k in range(args.repeat):
            order = writers[k % len(writers):] + writers[:k % len(writers)]
            for w in order:
                folder = work / f"round{k}-{len(rounds)}"
                rounds.append(run_round(template, folder, w, code_dirs, args.commits, args.rate, qgis_env))
                print(json.dumps(rounds[-1], ensure_ascii=False), flush=True)
        table = summary(rounds, writers)
    print(f"\n{args.commits} QGIS commits a round, app at {args.rate:g} saves/s, {args.repeat} rounds"
          + (f", QGIS with {' '.join(args.qgis_env)}" if args.qgis_env else ""))
    report(table)
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": rounds, "summary": table, "path_rounds": path_rounds,
                                               "paths": paths}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
