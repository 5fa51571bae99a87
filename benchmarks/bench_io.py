"""Benchmark: export 100,000 synthetic patches to a zipped shapefile and import them back with
validation, beside plain pyogrio writing and reading the same GeoDataFrame in the same run.

    python benchmarks/bench_io.py            # 100,000 patches (a few minutes)
    python benchmarks/bench_io.py --n 10000

Measured, each the best of ``--repeat`` runs:
- store insert: ``Store.insert_many`` of every patch into an empty ledger (one transaction);
- export: ``safetymap.io.shapefile.export_shapefile`` of the ledger as read from the store (patch
  polygons and source lines/points, one shapefile per category and geometry type, glossary, zip);
- plain write: ``pyogrio.write_dataframe`` of the same patches (polygons with the same attributes
  under the same short names) to shapefiles, one per category, no zip;
- import: ``safetymap.io.importer.preview_import`` of that zip into an empty ledger: zip checks and
  unpacking, reading the source layers, column matching, validation, geometry checks (CRS, 3D,
  validity, self-crossing, district), derived fields and the rows ready to insert;
- plain read: ``pyogrio.read_dataframe`` of the plain shapefiles;
- commit: writing the previewed import into the empty ledger (the preview's cleaned rows, R-tree
  filled in bulk);
- whole import vs plain read + write, each in its own process, alternating, ``--repeat`` times: the
  import (``preview_import`` + ``commit`` into an empty ledger, as ``safetymap import`` does) beside
  ``pyogrio.read_dataframe`` of the source layers (lines, points) of the same zip (``/vsizip/``, as a
  careful user reads a zip) + ``pyogrio.write_dataframe`` of them into a new GeoPackage ("plain"), and
  beside the same read from the narrower unpacked plain shapefiles ("plain unpacked", the baseline
  before 2026-12-01); time (min and median) and peak resident memory of the process and its children
  together (the sandboxed reader): summed, and as the distinct physical pages of the process tree,
  sampled from this (the parent) process, so the measured one runs no sampling thread of its own (a
  command-line import has only its main thread, and the reader's sandbox forks it directly then).
  ``--before DIR`` runs the same phase with the code of an older checkout (``--root DIR``). Alternated
  with them, a "floor": the plain read + write and, for each source layer, its patch polygons made by the
  store's own vectorised buffer and written beside it with the codes; what a careful pyogrio user must
  do at least to keep what the ledger keeps (it validates, derives and records nothing).
Targets: export <= 1.5 x plain write, import preview <= 2 x plain read, import <= 1.5 x plain read +
write in time and peak memory."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely

ROOT = Path(__file__).resolve().parent.parent
if "--root" in sys.argv:  # a phase run with an older checkout's code (``--before``)
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
sys.path.insert(0, str(ROOT))

from safetymap.geo import format_stake, in_district  # noqa: E402
from safetymap.io.importer import preview_import  # noqa: E402
from safetymap.io.shapefile import attribute_table, export_shapefile  # noqa: E402
from safetymap.io.uploads import LOCAL_LIMITS  # noqa: E402
from safetymap.schema import Category, Schema  # noqa: E402
from safetymap.seed import init_database  # noqa: E402

SHARES = {"fog": 0.3, "bridge": 0.2, "curve": 0.2, "waterside": 0.15, "downhill": 0.15}
ROUTES = ["G201", "G222", "S208", "S302", "X024", "X031", "Y105", "C201"]
NAMES = ["王建国", "李春梅", "张立新", "刘海波", "陈晓东", "杨永刚", "赵明", "孙红霞"]
TEXTS = ["沿河谷低洼路段，夜间至清晨易生团雾，能见度骤降。", "急弯接陡坡，视距不足，冬季路面结冰。",
         "临水一侧护栏缺失，落差较大。", "长下坡连续制动易致刹车失灵，需设避险车道。",
         "独柱墩桥梁，偏载时存在倾覆风险，需加固。"]
BENCH_USER = "基准测试"
# The phases that read and write with plain pyogrio (no store); the fourth, "import", is the store's import.
READ_WRITE_PHASES = ("plain", "plain_unpacked", "floor")


def _lines(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` five-vertex road lines (about 400 m) inside the district."""
    out = np.empty(0, dtype=object)
    while len(out) < n:
        k = (n - len(out)) * 2
        x0 = rng.uniform(126.45, 127.15, k)
        y0 = rng.uniform(41.86, 42.19, k)
        angle = rng.uniform(0, 2 * np.pi, k)[:, None] + np.cumsum(rng.normal(0, 0.2, (k, 5)), axis=1)
        steps = 0.001 * np.stack([np.cos(angle), np.sin(angle)], axis=2)
        steps[:, 0, :] = 0
        coords = np.stack([x0, y0], axis=1)[:, None, :] + np.cumsum(steps, axis=1)
        lines = shapely.linestrings(coords)
        keep = in_district(lines, 0) & shapely.is_simple(lines)
        out = np.concatenate([out, lines[keep]])
    return out[:n]


def _own_values(f, rng: np.random.Generator, n: int):
    if f.type == "enum":
        return rng.choice(list(f.values), n)
    if f.type == "bool":
        return rng.choice(["是", "否"], n)
    if f.type in ("int", "float"):
        lo, hi = (f.min or 0), (f.max if f.max is not None else 1000)
        values = rng.uniform(lo, hi, n)
        return np.floor(values).astype(int) if f.type == "int" else np.round(values, 2)
    if f.type in ("date", "datetime"):
        days = pd.to_timedelta(rng.integers(0, 700, n), unit="D")
        return (pd.Timestamp("2025-01-01") + days).strftime("%Y-%m-%d")
    if f.type == "stake":
        return [format_stake(s) for s in rng.integers(0, 90_000, n).astype(float)]
    return rng.choice(TEXTS, n) if f.type == "text" else rng.choice(["7、8、9月", "05:00–08:00", "3×30m"], n)


def synthetic(c: Category, schema: Schema, n: int, rng: np.random.Generator, offset: int):
    """Raw attribute rows (as typed in a form or read from a file) and source geometries."""
    geoms = _lines(rng, n)
    if c.key == "bridge":
        points = rng.random(n) < 0.5
        geoms[points] = shapely.line_interpolate_point(geoms[points], 0.5, normalized=True)
    start = rng.integers(0, 90_000, n).astype(float)
    direct = rng.random(n) < 0.5  # half graded directly (with a basis), half by the L×C matrix
    raw = {
        "code": [f"{c.code_prefix}-{offset + i:06d}" for i in range(n)],
        "name": [f"合成{c.label}{i}" for i in range(n)],
        "route_code": rng.choice(ROUTES, n),
        "start_stake": [format_stake(s) for s in start],
        "end_stake": [format_stake(s) for s in start + 400],
        "township": rng.choice(list(schema.category("fog").field("township").values), n),
        "likelihood": rng.integers(1, 6, n), "consequence": rng.integers(1, 6, n),
        "risk_grade": np.where(direct, rng.choice(schema.grade_labels, n), ""),
        "grade_method": np.where(direct, "直接判定", ""), "grade_basis": np.where(direct, "专家研判", ""),
        "resp_unit": rng.choice(list(c.field("resp_unit").values), n),
        "resp_person": rng.choice(NAMES, n), "resp_phone": [f"139{i:08d}" for i in range(n)],
        "list_basic": rng.choice(TEXTS, n), "list_duty": rng.choice(TEXTS, n), "list_measures": rng.choice(TEXTS, n),
        "list_monitoring": rng.choice(TEXTS, n), "list_emergency": rng.choice(TEXTS, n), "hazard": rng.choice(TEXTS, n),
        "rect_status": rng.choice(list(c.field("rect_status").values), n),
        "rect_deadline": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        "funding_wan": np.round(rng.uniform(0, 500, n), 1), "plan": rng.choice(TEXTS, n),
        "last_inspection": (pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 600, n), unit="D")).strftime("%Y-%m-%d"),
    }
    for f in c.own_fields:
        raw[f.key] = _own_values(f, rng, n)
    rule = schema.township_unit_rule  # township governments are units of 乡道/村道 only
    if rule is not None:
        kept = ~np.isin(raw["resp_unit"], list(rule.units)) | pd.Series(raw["route_code"]).str.startswith(rule.route_prefixes)
        raw["resp_unit"] = np.where(kept, raw["resp_unit"], c.field("resp_unit").values[0])
    return pd.DataFrame(raw), geoms


def best(func, repeat: int, label: str = ""):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    if label:
        print(f"  {label}: {', '.join(f'{t:.2f}' for t in times)} s", flush=True)
    return min(times), result


def plain_layers(frame, schema) -> dict:
    """The same patches as the plain GeoDataFrames pyogrio writes as they are: per category the patch
    polygons and the source lines/points, each with the attribute table under the same short names."""
    import geopandas as gpd
    out = {}
    for c in schema.categories:
        part = frame[frame["category"] == c.key]
        table = attribute_table(c, part)
        for suffix, geoms in (("patch", part.geometry.to_numpy()), ("source", part["source_geometry"].to_numpy())):
            types = shapely.get_type_id(geoms)
            for type_id in np.unique(types):
                out[f"{c.key}_{suffix}{type_id}"] = gpd.GeoDataFrame(table[types == type_id],
                                                                     geometry=geoms[types == type_id], crs=frame.crs)
    return out


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
PFN_MASK = np.uint64((1 << 55) - 1)


class TreeMemory:
    """The peak memory of process ``root`` and all its descendants (the sandboxed reader runs in a child
    of it or of a fork server), sampled from /proc by a thread of this process, in MB, two ways: the summed resident memory (every 20 ms; pages
    shared between the processes, such as the libraries the fork server and the reader share with each
    other and with this process, are counted once per process), and the distinct physical pages of the
    tree (every 250 ms from /proc/PID/pagemap: each page once, however many of the processes map it;
    None where page frame numbers cannot be read). PSS would split shared pages with unrelated
    processes too (other Python processes on the machine mapping the same libraries)."""

    def __init__(self, root: int):
        self.root = root
        self.peak = self.start = self.sample()
        self.peak_distinct = self.start_distinct = self.distinct()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self) -> "TreeMemory":
        self._thread.start()
        return self

    def pids(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
        out, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo += children.get(pid, [])
        return out

    def sample(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        return total / 1024

    def distinct(self) -> float | None:
        frames = []
        for pid in self.pids():
            try:
                frames += _present_frames(pid)
            except OSError:
                continue
        if not frames:
            return None
        frames = np.unique(np.concatenate(frames))
        if len(frames) and not frames.any():  # no permission: every frame number reads as 0
            return None
        return len(frames) * PAGE / 2**20

    def _run(self):
        ticks = 0
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.sample())
            ticks += 1
            if ticks % 12 == 0 and self.peak_distinct is not None:
                self.peak_distinct = max(self.peak_distinct, self.distinct() or 0)

    def stop(self) -> tuple[float, float | None]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.peak = max(self.peak, self.sample())
        if self.peak_distinct is not None:
            self.peak_distinct = max(self.peak_distinct, self.distinct() or 0)
        return self.peak, self.peak_distinct


def _present_frames(pid: int) -> list[np.ndarray]:
    """The page frame numbers of the pages process ``pid`` has in memory (Linux, root)."""
    out = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            span, perms = line.split()[:2]
            if perms.startswith("---"):
                continue
            start, end = (int(a, 16) for a in span.split("-"))
            pagemap.seek(start // PAGE * 8)
            try:
                entries = np.frombuffer(pagemap.read((end - start) // PAGE * 8), dtype=np.uint64)
            except OSError:  # [vsyscall]
                continue
            out.append(entries[(entries >> np.uint64(63)) == 1] & PFN_MASK)
    return out


def run_phase(args) -> int:
    """One side of the whole-import comparison, in this (fresh) process; prints one JSON line: its times
    and its own memory once the modules are loaded (the peaks are sampled by the parent)."""
    work = Path(args.work)
    start_memory = TreeMemory(os.getpid())  # not watched: no thread
    start = time.perf_counter()
    if args.phase in READ_WRITE_PHASES:
        out = work / f"plain_{time.time_ns()}.gpkg"
        for shp in _plain_sources(work, args.phase):
            frame = pyogrio.read_dataframe(shp, use_arrow=True)
            pyogrio.write_dataframe(frame, out, layer=Path(shp).stem, driver="GPKG", use_arrow=True)
            if args.phase == "floor":
                write_patch_polygons(frame, out, Path(shp).stem)
            del frame
        commit = None
    else:
        empty = init_database(work / f"import_{time.time_ns()}.gpkg", sample=False)
        preview = preview_import(empty, work / "ledger.zip", limits=LOCAL_LIMITS)
        assert preview.ok, preview.problems[:5]
        mid = time.perf_counter()
        preview.commit(empty, BENCH_USER)
        commit = time.perf_counter() - mid
        empty.close()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "commit": commit, "start_mb": start_memory.start,
                      "start_distinct_mb": start_memory.start_distinct}))
    return 0


def write_patch_polygons(frame, out: Path, layer: str) -> None:
    """The floor's second layer: each source's patch polygon (the store's own vectorised buffer, at the
    category's width, as the ledger keeps it beside its source) with the patch code, written beside it."""
    import geopandas

    from safetymap.geo import patch_polygons  # (this checkout's, as the import's)
    from safetymap.schema import load_schema

    schema = load_schema()
    category = schema.category(layer.rsplit("_", 1)[0])
    code = category.field("code").shp
    polygons = patch_polygons(frame.geometry.to_numpy(), category.buffer_m)
    pyogrio.write_dataframe(geopandas.GeoDataFrame({"code": frame[code].to_numpy()}, geometry=polygons, crs=frame.crs),
                            out, layer=layer + "_patch", driver="GPKG", use_arrow=True)


def measured(command: list[str]) -> dict:
    """Run a phase in its own process, sampling its tree's memory from here; its JSON line with the peaks."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = TreeMemory(process.pid).watch()
    out, err = process.communicate()
    peak, distinct = memory.stop()
    if process.returncode:
        raise RuntimeError(f"{command} failed:\n{err}")
    return json.loads(out.strip().splitlines()[-1]) | {"peak_mb": peak, "distinct_mb": distinct}


def _plain_sources(work: Path, phase: str) -> list:
    """The source (line, point) layers the plain baseline reads: inside the export zip, or unpacked."""
    if phase == "plain_unpacked":
        return sorted((work / "plain").glob("*_source*.shp"))
    zipped = f"/vsizip/{work / 'ledger.zip'}"
    return [f"{zipped}/{name}.shp" for name in sorted(pyogrio.list_layers(zipped)[:, 0])
            if name.endswith(("_line", "_point"))]


def compare_whole_import(work: Path, repeat: int, before: Path | None = None) -> dict:
    """Plain read + write and the whole import, each in a fresh process, alternating; with ``before``
    (a checkout of an older commit) its import too, run by this script with that checkout's code."""
    roots = {"plain": None, "import": None, "plain_unpacked": None, "floor": None}
    if before is not None:
        roots["before"] = before
    runs = {name: [] for name in roots}
    for r in range(repeat):
        for name in (list(roots) if r % 2 == 0 else list(roots)[::-1]):
            phase = name if name in READ_WRITE_PHASES else "import"
            root = ["--root", str(roots[name])] if roots[name] else []
            runs[name].append(measured([sys.executable, str(Path(__file__)), "--phase", phase, "--work", str(work), *root]))
            print(f"  whole {name}: {runs[name][-1]}", flush=True)
    return runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--phase", choices=[*READ_WRITE_PHASES, "import"], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)  # read before the imports: see ROOT
    parser.add_argument("--before", type=Path, help="a checkout of an older commit whose whole import is alternated "
                        "with this one's (e.g. git archive COMMIT | tar -x -C DIR)")
    args = parser.parse_args(argv)
    if args.phase:
        return run_phase(args)
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="safetymap-bench-") as tmp:
        tmp = Path(tmp)
        store = init_database(tmp / "ledger.gpkg", sample=False)
        schema = store.schema
        t0 = time.perf_counter()
        data, offset = {}, 0
        for key, share in SHARES.items():
            n = int(round(args.n * share))
            data[key] = synthetic(schema.category(key), schema, n, rng, offset)
            offset += n
        print(f"{args.n} synthetic patches made in {time.perf_counter() - t0:.1f} s")

        def insert():
            with store.transaction() as con:
                for key, (raw, geoms) in data.items():
                    store.insert_many(key, raw, geoms, BENCH_USER, con=con)
        t_insert, _ = best(insert, 1, "store insert")
        t_read, frame = best(lambda: store.read(), args.repeat, "store read")

        zip_path = tmp / "ledger.zip"
        t_export, _ = best(lambda: export_shapefile(frame, zip_path, schema), args.repeat, "export")
        plain = plain_layers(frame, schema)
        plain_dir = tmp / "plain"
        plain_dir.mkdir()

        def plain_write(names):
            for name in names:
                pyogrio.write_dataframe(plain[name], plain_dir / f"{name}.shp", encoding="UTF-8", use_arrow=True)

        def plain_read(names):
            return [pyogrio.read_dataframe(plain_dir / f"{name}.shp", use_arrow=True) for name in names]
        sources = [k for k in plain if "_source" in k]
        t_write, _ = best(lambda: plain_write(list(plain)), args.repeat, "plain write")
        t_write_patch, _ = best(lambda: plain_write([k for k in plain if "_patch" in k]), args.repeat, "plain write polygons")
        t_read_sources, _ = best(lambda: plain_read(sources), args.repeat, "plain read sources")
        t_read_all, _ = best(lambda: plain_read(list(plain)), args.repeat, "plain read all")

        empty = init_database(tmp / "empty.gpkg", sample=False)
        t_import, preview = best(lambda: preview_import(empty, zip_path, limits=LOCAL_LIMITS), args.repeat, "import preview")
        assert preview.ok and preview.n_added == args.n, preview.problems[:5]
        t_commit, _ = best(lambda: preview.commit(empty, BENCH_USER), 1, "import commit")
        assert sum(empty.count().values()) == args.n
        t_again, again = best(lambda: preview_import(store, zip_path, limits=LOCAL_LIMITS), 1, "import back")
        assert again.ok and again.unchanged == args.n and not again.n_updated
        empty.close()
        whole = compare_whole_import(tmp, max(args.repeat, 2), args.before)

    rows = [
        ("store insert (Store.insert_many, empty ledger)", t_insert, None),
        ("store read (Store.read)", t_read, None),
        ("export: zipped shapefile, polygons + lines/points", t_export, t_write),
        ("  plain pyogrio write, the same layers, no zip", t_write, None),
        ("  plain pyogrio write, the patch polygons only", t_write_patch, None),
        ("import: preview with validation, into an empty ledger", t_import, t_read_sources),
        ("  plain pyogrio read, the same (line/point) layers", t_read_sources, None),
        ("  plain pyogrio read, every layer", t_read_all, None),
        ("import commit (store insert of the preview)", t_commit, None),
        ("import back into the same ledger (preview, all unchanged)", t_again, t_read_sources),
    ]
    print(f"\n{args.n} patches, best of {args.repeat}; python {sys.version.split()[0]}, pyogrio {pyogrio.__version__}, "
          f"GDAL {pyogrio.__gdal_version_string__}")
    for label, seconds, base in rows:
        ratio = f"{seconds / base:5.2f} x" if base else ""
        print(f"{label:<62} {seconds:7.2f} s  {ratio}")
    print(f"\nexport / plain write = {t_export / t_write:.2f} (target <= 1.5); "
          f"import / plain read = {t_import / t_read_sources:.2f} (target <= 2.0)")
    print(f"against the patch polygons only: export {t_export / t_write_patch:.2f} x, "
          f"import {t_import / t_read_all:.2f} x reading every layer")
    plain_t = [r["seconds"] for r in whole["plain"]]
    import_t = [r["seconds"] for r in whole["import"]]
    plain_m = max(r["peak_mb"] for r in whole["plain"])
    import_m = max(r["peak_mb"] for r in whole["import"])
    base = min(r["start_mb"] for side in whole.values() for r in side)  # the same modules loaded in both
    print(f"\nwhole import (preview + commit) vs plain read + write of the zip's source layers, own processes, "
          f"{len(import_t)} alternating runs:")
    print(f"  import: min {min(import_t):.2f} s, median {statistics.median(import_t):.2f} s "
          f"(commit alone min {min(r['commit'] for r in whole['import']):.2f} s), peak {import_m:.0f} MB")
    print(f"  plain:  min {min(plain_t):.2f} s, median {statistics.median(plain_t):.2f} s, peak {plain_m:.0f} MB")
    if "before" in whole:
        before_t = [r["seconds"] for r in whole["before"]]
        before_m = max(r["peak_mb"] for r in whole["before"])
        print(f"  before: min {min(before_t):.2f} s, median {statistics.median(before_t):.2f} s "
              f"(commit alone min {min(r['commit'] for r in whole['before']):.2f} s), peak {before_m:.0f} MB; "
              f"before / plain = {min(before_t) / min(plain_t):.2f} x time (min), {before_m / plain_m:.2f} x memory")
    print(f"  import / plain = {min(import_t) / min(plain_t):.2f} x time (min), "
          f"{statistics.median(import_t) / statistics.median(plain_t):.2f} x (median), "
          f"{import_m / plain_m:.2f} x peak memory (target <= 1.5); above the {base:.0f} MB both start with "
          f"(modules loaded): {import_m - base:.0f} MB vs {plain_m - base:.0f} MB")
    peaks = {name: max(r.get("distinct_mb") or 0 for r in side) for name, side in whole.items()}
    peaks = {name: peak for name, peak in peaks.items() if peak}  # an older checkout measures only the sum
    if "import" in peaks and "plain" in peaks:
        print(f"  distinct physical pages of the process tree (each page once): import {peaks['import']:.0f} MB, "
              f"plain {peaks['plain']:.0f} MB" + (f", before {peaks['before']:.0f} MB" if "before" in peaks else "")
              + f"; import / plain = {peaks['import'] / peaks['plain']:.2f} x (the summed resident memory above "
              "counts the pages the fork server and reader share with each other and with the app once per process)")
    floor_t = [r["seconds"] for r in whole["floor"]]
    floor_m = max(r["peak_mb"] for r in whole["floor"])
    print(f"  floor (plain read + write, and each source's patch polygon made by the store's buffer and written beside "
          f"it, as the ledger keeps both): min {min(floor_t):.2f} s, median {statistics.median(floor_t):.2f} s, peak "
          f"{floor_m:.0f} MB; floor / plain = {min(floor_t) / min(plain_t):.2f} x time (min), {floor_m / plain_m:.2f} x "
          f"memory; import / floor = {min(import_t) / min(floor_t):.2f} x time (min), "
          f"{statistics.median(import_t) / statistics.median(floor_t):.2f} x (median), {import_m / floor_m:.2f} x memory")
    unpacked_t = [r["seconds"] for r in whole["plain_unpacked"]]
    unpacked_m = max(r["peak_mb"] for r in whole["plain_unpacked"])
    print(f"  plain unpacked (narrower .dbf, no zip): min {min(unpacked_t):.2f} s, median "
          f"{statistics.median(unpacked_t):.2f} s, peak {unpacked_m:.0f} MB; import / plain unpacked = "
          f"{min(import_t) / min(unpacked_t):.2f} x time (min), {statistics.median(import_t) / statistics.median(unpacked_t):.2f} x "
          f"(median), {import_m / unpacked_m:.2f} x peak memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
