"""Benchmark of the risk map (issue 3): building the map for 1,000 and 10,000 synthetic patches, in time
and bytes sent to the browser, beside the naive way in the same run, and the time to first paint in
headless Chromium.

    python benchmarks/bench_map.py                 # 1,000 and 10,000 patches, with the browser
    python benchmarks/bench_map.py --sizes 1000 --no-browser
    python benchmarks/bench_map.py --app           # also: first paint through the real app (streamlit run)

Naive: ``folium.GeoJson`` of the whole GeoDataFrame (every field) with a Python ``style_function``
and a ``GeoJsonTooltip``, SVG rendering, folium's default assets.
Careful: what a folium user who minds size writes: the same ``folium.GeoJson`` of only the 7 columns the
styles and tooltip need, coordinates simplified (half a pixel) and rounded (a quarter pixel) for the
zoom, on a canvas-rendered map.
Ours: ``safetymap.mapview`` (canvas, rounded and simplified coordinates, tooltip properties only).
Both pages get their scripts from the same local server (``safetymap.assets``), so no request leaves
the machine. Patches are synthetic (示例数据-like attributes copied from the sample ledger, random
winding lines inside the district).
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from safetymap import assets, mapview
from safetymap.geo import in_district, patch_polygons
from safetymap.schema import load_schema
from safetymap.seed import init_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
PAINTED = """<script>
window.__painted = null;
requestAnimationFrame(function () { requestAnimationFrame(function () { window.__painted = performance.now(); }); });
</script>"""


# ---------------------------------------------------------------- synthetic patches
def sample_frame(workdir: Path) -> gpd.GeoDataFrame:
    store = init_database(workdir / "sample.gpkg", sample=True)
    try:
        return store.read()
    finally:
        store.close()


def random_lines(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` winding lines (300 m – 2 km, 10–40 vertices) inside the district, lon/lat, none crossing
    itself (the store refuses self-crossing source lines)."""
    minx, miny, maxx, maxy = 126.40, 41.83, 127.21, 42.21
    lines: list = []
    while len(lines) < n:
        k = (n - len(lines)) * 2
        starts = np.column_stack([rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)])
        for x, y in starts:
            steps = rng.integers(10, 41)
            heading = np.cumsum(rng.normal(0, 0.35, steps)) + rng.uniform(0, 2 * np.pi)
            step_m = rng.uniform(25, 55)
            dx = np.cos(heading) * step_m / 83_000  # metres -> degrees at 42°N
            dy = np.sin(heading) * step_m / 111_000
            lines.append(shapely.LineString(np.column_stack([x + np.cumsum(dx), y + np.cumsum(dy)])))
        arr = np.array(lines, dtype=object)
        lines = list(arr[in_district(arr, 0.0) & shapely.is_simple(arr)])
    return np.array(lines[:n], dtype=object)


def synthetic_frame(template: gpd.GeoDataFrame, n: int, seed: int = 1) -> gpd.GeoDataFrame:
    """``n`` patches shaped like ``Store.read()``: attributes cycled from the sample ledger, new codes,
    names and geometry (patch polygons buffered as the store does)."""
    rng = np.random.default_rng(seed)
    lined = [c.key for c in load_schema().categories if "LineString" in c.geometry]  # the synthetic shapes are lines
    template = template[template["category"].isin(lined)]
    rows = template.iloc[np.arange(n) % len(template)].reset_index(drop=True).copy()
    rows["code"] = [f"BM-{i:06d}" for i in range(n)]
    rows["name"] = [f"{name}（合成{i}）" for i, name in enumerate(rows["name"])]
    rows["risk_grade"] = rng.choice(load_schema().grade_labels, n)
    lines = random_lines(n, rng)
    buffers = rows["category"].map({c.key: c.buffer_m for c in load_schema().categories}).to_numpy()
    rows["source_geometry"] = gpd.GeoSeries(lines, crs="EPSG:4490")
    return gpd.GeoDataFrame(rows.drop(columns="geometry"), geometry=gpd.GeoSeries(
        patch_polygons(lines, buffers), crs="EPSG:4490"), crs="EPSG:4490")


# ---------------------------------------------------------------- the two ways
def naive_html(frame: gpd.GeoDataFrame) -> str:
    """What one writes first: the whole GeoDataFrame into folium.GeoJson, styled in Python."""
    data = frame.drop(columns=["source_geometry"])
    for col in data.columns.drop("geometry"):
        if pd.api.types.is_datetime64_any_dtype(data[col]):  # not JSON serialisable
            data[col] = data[col].dt.strftime("%Y-%m-%d")
    colors = {g.label: g.color for g in load_schema().grades}
    outlines = {c.key: c.outline for c in load_schema().categories}
    m = folium.Map(location=load_schema().district.centre, zoom_start=mapview.DEFAULT_ZOOM, tiles=None)
    folium.GeoJson(
        data,
        style_function=lambda f: {"fillColor": colors.get(f["properties"]["risk_grade"], "#999"),
                                  "color": outlines.get(f["properties"]["category"], "#333"),
                                  "weight": 2, "fillOpacity": 0.5},
        tooltip=folium.GeoJsonTooltip(fields=["code", "name", "risk_grade", "route_code", "start_stake", "end_stake"],
                                      aliases=["图斑编号", "名称", "风险等级", "路线编码", "起点桩号", "止点桩号"]),
    ).add_to(m)
    return m.get_root().render()


CAREFUL_COLUMNS = ["code", "name", "category", "risk_grade", "route_code", "start_stake", "end_stake"]


def careful_html(frame: gpd.GeoDataFrame, zoom: int = mapview.DEFAULT_ZOOM) -> str:
    """folium.GeoJson done with care: the 7 needed columns, geometry simplified and rounded for the zoom,
    canvas rendering; still styled in Python (folium's way)."""
    pixel = mapview.pixel_degrees(zoom)
    geoms = shapely.simplify(frame.geometry.to_numpy(), pixel / 2, preserve_topology=True)
    geoms = shapely.set_precision(geoms, pixel / 4)
    data = gpd.GeoDataFrame(frame[CAREFUL_COLUMNS].reset_index(drop=True), geometry=geoms, crs=frame.crs)
    colors = {g.label: g.color for g in load_schema().grades}
    outlines = {c.key: c.outline for c in load_schema().categories}
    m = folium.Map(location=load_schema().district.centre, zoom_start=zoom, tiles=None, prefer_canvas=True)
    folium.GeoJson(
        data,
        style_function=lambda f: {"fillColor": colors.get(f["properties"]["risk_grade"], "#999"),
                                  "color": outlines.get(f["properties"]["category"], "#333"),
                                  "weight": 2, "fillOpacity": 0.5},
        tooltip=folium.GeoJsonTooltip(fields=CAREFUL_COLUMNS[:2] + CAREFUL_COLUMNS[3:],
                                      aliases=["图斑编号", "名称", "风险等级", "路线编码", "起点桩号", "止点桩号"]),
    ).add_to(m)
    return m.get_root().render()


def our_html(frame: gpd.GeoDataFrame, zoom: int = mapview.DEFAULT_ZOOM, bbox=None) -> str:
    """safetymap.mapview: the base map plus the patch groups of the view, as one page."""
    return mapview.standalone_html(load_schema(), mapview.in_bbox(frame, bbox), zoom=zoom)


def timed(fn, *args, repeat: int = 3, **kwargs):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, out


# ---------------------------------------------------------------- the browser
class Site:
    """A local web server for the benchmark pages and the app's static assets (/app/static/…)."""

    def __init__(self, root: Path):
        self.root = root
        assets.install(root / "app" / "static")

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def put(self, name: str, html: str) -> str:
        (self.root / name).write_text(html + PAINTED, encoding="utf-8")  # after the map's own script
        return f"{self.url}/{name}"


def first_paint(browser, url: str, expect: int) -> dict:
    """Milliseconds from navigation to the second animation frame after the map script ran, and the
    patches drawn; requests to any other host are counted (and refused)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    foreign = []

    def route(r):
        if r.request.url.startswith("http://127.0.0.1"):
            return r.continue_()
        foreign.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="commit")
    page.wait_for_function("window.__painted !== null && window.__painted !== undefined", timeout=120_000)
    painted = page.evaluate("window.__painted")
    drawn = page.evaluate("""() => { var n = 0; for (var k in window) { try { var m = window[k];
        if (m instanceof L.Map) m.eachLayer(function (l) { if (l.feature && l.feature.properties &&
        l.feature.properties.code) n++; }); } catch (e) {} } return n; }""")
    page.close()
    return {"first_paint_ms": round(painted), "drawn": drawn, "expected": expect, "foreign_requests": len(foreign)}


def open_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# ---------------------------------------------------------------- the real app
def app_first_paint(frame: gpd.GeoDataFrame, workdir: Path, playwright) -> dict:
    """Seconds from opening the map page of the real app (``streamlit run``) to the patches drawn."""
    sys.path.insert(0, str(ROOT / "tests"))
    import e2e_support as e2e

    db = workdir / "bench.gpkg"
    store = init_database(db, sample=False)
    for category, part in frame.groupby("category"):
        attrs = pd.DataFrame(part.drop(columns=["geometry", "source_geometry", "category", "archived"]))
        keys = load_schema().category(category).keys
        attrs = attrs[[c for c in attrs.columns if c in keys and c not in ("version", "updated_at", "updated_by")]]
        store.insert_many(category, attrs.reset_index(drop=True), part["source_geometry"].to_numpy(), "基准测试")
    e2e.add_user(store, "基准", "editor", "bench-password-1")
    store.close()
    with e2e.AppServer(db) as app:
        browser = open_browser(playwright)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        # Sign in through a link to 导入导出 (it reads no ledger), so that the map has not begun drawing
        # when the clock starts: sign-in would otherwise land on the map.
        e2e.sign_in(page, f"{app.url}/files", "基准", "bench-password-1")
        if page.locator(e2e.MAP_FRAME).count():
            raise RuntimeError("sign-in landed on the map: the clock would start after it began drawing")
        start = time.perf_counter()
        page.locator('[data-testid="stSidebarNav"] a', has_text=e2e.MAP_TITLE).first.click()
        frame_ = e2e.map_frame(page, timeout=120)
        frame_.wait_for_function("() => { var l = window.SMP && window.SMP.current;"  # the browser-held map (issue 16)
                                 " return !!(l && l.painted && l.painted.shown > 0); }", timeout=120_000)
        seconds = time.perf_counter() - start
        browser.close()
    return {"app_first_paint_s": round(seconds, 2)}


# ---------------------------------------------------------------- main
def run(sizes: list[int], browser: bool, app: bool) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        template = sample_frame(workdir)
        site = Site(workdir / "site")
        pw = None
        if browser or app:
            from playwright.sync_api import sync_playwright
            pw = sync_playwright().start()
        chromium = open_browser(pw) if browser else None
        try:
            for n in sizes:
                frame = synthetic_frame(template, n)
                naive_s, naive = timed(naive_html, frame, repeat=2)
                careful_s, careful = timed(careful_html, frame, repeat=2)
                ours_s, ours = timed(our_html, frame)
                zoom_bbox = mapview.view_bbox({"_southWest": {"lat": 41.98, "lng": 126.70},
                                               "_northEast": {"lat": 42.04, "lng": 126.82}}, 14)
                view_s, view = timed(our_html, frame, zoom=14, bbox=zoom_bbox)
                row = {"patches": n, "naive_s": round(naive_s, 3), "ours_s": round(ours_s, 3),
                       "zoom14_view_patches": len(mapview.in_bbox(frame, zoom_bbox)),
                       "speedup": round(naive_s / ours_s, 1), "naive_bytes": len(naive.encode()),
                       "careful_s": round(careful_s, 3), "careful_bytes": len(careful.encode()),
                       "careful_speedup": round(careful_s / ours_s, 1),
                       "careful_smaller": round(len(careful.encode()) / len(ours.encode()), 2),
                       "ours_bytes": len(ours.encode()), "smaller": round(len(naive.encode()) / len(ours.encode()), 1),
                       "zoom14_view_s": round(view_s, 3), "zoom14_view_bytes": len(view.encode())}
                if chromium is not None:
                    row["naive_paint"] = first_paint(chromium, site.put(f"naive_{n}.html", naive), n)
                    row["careful_paint"] = first_paint(chromium, site.put(f"careful_{n}.html", careful), n)
                    row["ours_paint"] = first_paint(chromium, site.put(f"ours_{n}.html", ours), n)
                if app and n == max(sizes):
                    row.update(app_first_paint(frame, workdir, pw))
                results.append(row)
                print(json.dumps(row, ensure_ascii=False), flush=True)
        finally:
            if chromium is not None:
                chromium.close()
            if pw is not None:
                pw.stop()
            site.server.shutdown()
    return results


def _paint(row: dict, key: str) -> str:
    return f"{row[key]['first_paint_ms'] / 1000:.2f} s" if key in row else "–"


def table(results: list[dict]) -> str:
    lines = ["| patches | build naive | build careful | build ours | bytes naive | bytes careful | bytes ours "
             "| first paint naive | first paint careful | first paint ours |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['patches']:,} | {r['naive_s']:.2f} s | {r['careful_s']:.2f} s | {r['ours_s']:.2f} s "
                     f"({r['speedup']}× / {r['careful_speedup']}×) | {r['naive_bytes'] / 1e6:.1f} MB | "
                     f"{r['careful_bytes'] / 1e6:.2f} MB | {r['ours_bytes'] / 1e6:.2f} MB "
                     f"({r['smaller']}× / {r['careful_smaller']}×) | {_paint(r, 'naive_paint')} | "
                     f"{_paint(r, 'careful_paint')} | {_paint(r, 'ours_paint')} |")
    lines.append("\n(×: naive / ours and careful / ours, in the same run)")
    for r in results:
        lines.append(f"\n{r['patches']:,} patches, a zoom-14 view (about 10 × 7 km): "
                     f"{r['zoom14_view_patches']:,} patches sent, {r['zoom14_view_bytes'] / 1e6:.2f} MB, "
                     f"built in {r['zoom14_view_s']:.2f} s.")
        if "app_first_paint_s" in r:
            lines.append(f"Real app (streamlit run), {r['patches']:,} patches: from clicking 地图 to the patches "
                         f"drawn in {r['app_first_paint_s']:.2f} s.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--no-browser", action="store_true", help="skip the first-paint measurement")
    parser.add_argument("--app", action="store_true", help="also time the real app's map page (largest size)")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--no-check", action="store_true", help="exit 0 even when a target is missed (smoke runs)")
    args = parser.parse_args(argv)
    browser = not args.no_browser and Path(CHROMIUM).exists()
    results = run(args.sizes, browser, args.app)
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    big = results[-1]
    ok = big["speedup"] >= 4 and big["smaller"] >= 3 and \
        (not browser or big["ours_paint"]["first_paint_ms"] < 3000)
    print(f"\ntargets at {big['patches']:,} patches (≥4× faster, ≥3× smaller, first paint < 3 s): "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok or args.no_check else 1


if __name__ == "__main__":
    sys.exit(main())
