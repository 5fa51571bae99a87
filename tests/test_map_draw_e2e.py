"""Issue 16, the browser's drawing of the patches, end to end (the real app in headless Chromium).

The patches are drawn in canvas tiles (``safetymap/js/patches.js``). What users would see break: after a
pan the patches newly in view are drawn; an edit made elsewhere recolours its patch at the page's next
run, keeps the view and repaints less than the view (only the tiles that patch meets); zoomed in, a
category's dash pattern is drawn. The pixels are read from the patch canvases. No timing is asserted."""
from __future__ import annotations

import base64

import e2e_support as e2e
import numpy as np
import pytest
import shapely
from e2e_support import chromium  # noqa: F401  (fixture)

from safetymap import mapdata
from safetymap.store import open_store

USER, PASSWORD = "绘制测试员", "draw-test-password"
ZOOM = 15
# The canvases the patches are drawn on: the tiles in the patch layer's container.
PATCH_CANVAS = "((el) => window.SMP.current.getContainer().contains(el))"
CANVASES = f"[...document.querySelectorAll('.leaflet-map-pane canvas')].filter({PATCH_CANVAS})"
# The colour at a container point: of the topmost patch canvas painted there (none: [0, 0, 0, 0]).
PIXEL_JS = """([x, y]) => {
  const map = window.map.getContainer().getBoundingClientRect();
  let out = [0, 0, 0, 0];
  for (const el of CANVASES) {
    const r = el.getBoundingClientRect();
    if (x + map.left < r.left || x + map.left >= r.right || y + map.top < r.top || y + map.top >= r.bottom) continue;
    const m = el.width / r.width;
    const p = Array.from(el.getContext('2d').getImageData(Math.floor((x + map.left - r.left) * m),
                                                          Math.floor((y + map.top - r.top) * m), 1, 1).data);
    if (p[3]) out = p;
  }
  return out;
}""".replace("CANVASES", CANVASES)
# Every clearRect on a patch canvas adds its area (CSS px²) to window.__cleared: what a redraw repaints.
COUNT_CLEARED_JS = """() => { window.__cleared = 0; const clear = CanvasRenderingContext2D.prototype.clearRect;
  CanvasRenderingContext2D.prototype.clearRect = function (x, y, w, h) {
    const t = this.getTransform(), el = this.canvas;
    const css = el.getBoundingClientRect().width / el.width;
    if (PATCH_CANVAS(el)) window.__cleared += Math.abs(w * h * t.a * t.d) * css * css;
    return clear.apply(this, arguments); }; }""".replace("PATCH_CANVAS", PATCH_CANVAS)
POINT_JS = "([lat, lng]) => { const p = window.map.latLngToContainerPoint([lat, lng]); return [p.x, p.y]; }"
PAINTED_JS = "(old) => { const p = window.SMP.current.painted; return !!p && p.at !== old; }"
PAINTED_AT_JS = "() => window.SMP.current.painted ? window.SMP.current.painted.at : null"


@pytest.fixture(scope="module")
def app(tmp_path_factory, sample_template, chromium):  # noqa: F811  (no browser: skip before starting)
    folder = tmp_path_factory.mktemp("map_draw_e2e")
    db = e2e.copy_database(sample_template, folder)
    store = open_store(db)
    e2e.add_user(store, USER, "viewer", PASSWORD)
    patches = store.read()
    store.close()
    with e2e.AppServer(db) as server:
        server.patches = patches
        yield server


def _opened_map(app, chromium):  # noqa: F811
    """A viewer's map (their first page) in a context of its own, signed in; the context is closed after."""
    context = e2e.signed_in_context(chromium, app, USER, PASSWORD, viewport={"width": 1500, "height": 1000},
                                    locale="zh-CN")
    yield e2e.open_app(context, app.url)
    context.close()


@pytest.fixture
def page(app, chromium):  # noqa: F811
    yield from _opened_map(app, chromium)


@pytest.fixture(scope="module")
def first_page(app, chromium):  # noqa: F811
    """One map as first opened, for the tests that only read it (the decoder, the payload's fetch, the
    preloads): a page each cost ~4 s of the suite."""
    yield from _opened_map(app, chromium)


def alone(frame, candidates):
    """Patches whose source line's midpoint lies in no other patch: there the patch's own line is on top."""
    out = []
    for _, row in candidates.iterrows():
        point = row["source_geometry"].interpolate(0.5, normalized=True)
        inside = shapely.contains(frame.geometry.values, point).sum()
        if row["source_geometry"].geom_type == "LineString" and inside == 1:
            out.append(row)
    return out


def midpoint(row) -> tuple[float, float]:
    point = row["source_geometry"].interpolate(0.5, normalized=True)
    return point.y, point.x


def container_point(frame, lat: float, lng: float) -> list[float]:
    return frame.evaluate(POINT_JS, [lat, lng])


def pixel(frame, lat: float, lng: float) -> list[int]:
    return frame.evaluate(PIXEL_JS, container_point(frame, lat, lng))


def rgb(colour: str) -> list[int]:
    return [int(colour[k:k + 2], 16) for k in (1, 3, 5)]


def near(pixel_value: list[int], colour: str, tolerance: int = 12) -> bool:
    return pixel_value[3] == 255 and all(abs(a - b) <= tolerance for a, b in zip(pixel_value, rgb(colour)))


def wait_painted(frame, old) -> None:
    frame.wait_for_function(PAINTED_JS, arg=old, timeout=60_000, polling=50)


def settle(page, frame, lat: float, lng: float, zoom: int) -> None:
    """Show (lat, lng) at ``zoom`` and wait until the view is drawn."""
    old = frame.evaluate(PAINTED_AT_JS)
    e2e.set_view(frame, lat, lng, zoom)
    wait_painted(frame, old)
    e2e.wait_idle(page)


def test_a_pan_draws_the_patches_it_brings_into_view_and_dashes_show_zoomed_in(app, page):
    frame = e2e.map_frame(page)
    frame.wait_for_function("() => window.SMP.current.painted !== null", timeout=60_000)
    row = alone(app.patches, app.patches[app.patches["category"] == "fog"])[0]
    lat, lng = midpoint(row)
    width = frame.evaluate("() => window.map.getSize().x")
    drag = min(900, width - 100)
    # Start with the patch far to the left of the view: more than a tile beyond what is drawn ahead.
    start = frame.evaluate(f"""() => {{ const m = window.map, p = m.project([{lat}, {lng}], {ZOOM});
        const c = m.unproject(p.add([{width / 2 + drag - 200}, 0]), {ZOOM}); return [c.lat, c.lng]; }}""")
    frame.evaluate("() => { window.__dashes = []; const set = CanvasRenderingContext2D.prototype.setLineDash;"
                   " CanvasRenderingContext2D.prototype.setLineDash = function (d) {"
                   " if (d.length) window.__dashes.push(d.join(' ')); return set.call(this, d); }; }")
    settle(page, frame, start[0], start[1], ZOOM)
    assert container_point(frame, lat, lng)[0] < 0  # out of view, to the left

    frame.evaluate("() => { window.map.options.inertia = false; }")
    box = page.locator(e2e.MAP_FRAME).bounding_box()
    y = box["y"] + box["height"] / 2
    old = frame.evaluate(PAINTED_AT_JS)
    page.mouse.move(box["x"] + 50, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 50 + drag, y, steps=10)
    page.mouse.up()
    wait_painted(frame, old)
    x, _ = container_point(frame, lat, lng)
    assert 0 < x < width, "the patch did not come into view"
    assert row["code"] in e2e.drawn_codes(frame)
    colour = frame.evaluate("(c) => window.SMP.fillOf(c)", row["code"])
    assert near(pixel(frame, lat, lng), colour), (pixel(frame, lat, lng), colour)  # its source line, on top
    # Zoomed in, the fog layer's outline is drawn with its dash pattern (from the schema).
    assert "6 4" in frame.evaluate("() => window.__dashes")


def test_an_edit_elsewhere_recolours_its_patch_keeps_the_view_and_redraws_less_than_the_view(app, page):
    frame = e2e.map_frame(page)
    frame.wait_for_function("() => window.SMP.current.painted !== null", timeout=60_000)
    candidates = alone(app.patches, app.patches[app.patches["category"] == "curve"])
    row, other = candidates[0], candidates[1]
    lat, lng = midpoint(row)
    settle(page, frame, lat, lng, ZOOM)
    before = frame.evaluate("(c) => window.SMP.fillOf(c)", row["code"])
    assert near(pixel(frame, lat, lng), before)
    other_lat, other_lng = midpoint(other)
    other_x, other_y = container_point(frame, other_lat, other_lng)
    size = frame.evaluate("() => { const s = window.map.getSize(); return [s.x, s.y]; }")
    other_in_view = 0 < other_x < size[0] and 0 < other_y < size[1]
    other_before = pixel(frame, other_lat, other_lng)
    view = frame.evaluate("() => [window.map.getZoom(), window.map.getCenter().lat, window.map.getCenter().lng]")
    frame.evaluate(COUNT_CLEARED_JS)

    store = open_store(app.db)
    current = store.get(row["code"])
    new_grade = "重大" if current["risk_grade"] != "重大" else "较小"
    store.update(row["code"], {"grade_method": "直接判定", "risk_grade": new_grade, "grade_basis": "绘制测试"},
                 current["version"], "测试")
    colour = store.schema.grade_color(new_grade)
    store.close()
    old = frame.evaluate(PAINTED_AT_JS)
    page.get_by_label("搜索图斑编号或名称").fill("无此图斑-绘制测试")  # a rerun that moves nothing
    page.keyboard.press("Enter")
    e2e.wait_idle(page)
    frame.wait_for_function("([c, colour]) => (window.SMP.fillOf(c) || '').toLowerCase() === colour.toLowerCase()",
                            arg=[row["code"], colour], timeout=60_000, polling=50)
    wait_painted(frame, old)

    assert near(pixel(frame, lat, lng), colour), (pixel(frame, lat, lng), colour)
    assert frame.evaluate("() => [window.map.getZoom(), window.map.getCenter().lat, window.map.getCenter().lng]") \
        == pytest.approx(view)
    # Per delta applied (the coarse and the fine level each bring one), less than the view is repainted.
    cleared = frame.evaluate("() => window.__cleared")
    deltas = len(frame.evaluate("() => window.SMP.current.deltas"))
    assert deltas and 0 < cleared / deltas < size[0] * size[1], \
        f"{cleared:.0f} px² repainted for {deltas} deltas of one patch, the view is {size[0] * size[1]} px²"
    if other_in_view:
        assert pixel(frame, other_lat, other_lng) == other_before


def mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator in world units (0..1), computed exactly."""
    s = np.sin(np.radians(lat))
    return (lon + 180) / 360, 0.5 - np.log((1 + s) / (1 - s)) / (4 * np.pi)


def payload_vertices(parts: mapdata.Parts) -> tuple[np.ndarray, np.ndarray]:
    """The (lon, lat) of every vertex a payload's parts carry."""
    absolute = parts.vertices()
    return absolute[:, 0] * mapdata.QUANTUM, absolute[:, 1] * mapdata.QUANTUM


def test_the_browser_decodes_vertices_to_mercator_within_a_tiny_fraction_of_a_pixel(first_page):
    """The decoder computes a vertex's Mercator y from an expansion about a nearby exact one (not a sine and
    a logarithm per vertex): over long lines, far north and with many small steps it must stay exact to well
    under a pixel at zoom 18 (1.5e-8 world units)."""
    frame = e2e.map_frame(first_page)
    frame.wait_for_function("() => window.SMP && window.SMP.decode", timeout=60_000)
    steps = np.linspace(0, 1, 400)
    polygons = np.array([shapely.box(117.1, 31.2, 117.3, 31.25), shapely.box(10, 60, 12, 70.5),
                         shapely.Polygon([(120 + x, 20 + 40 * x) for x in steps] + [(121, 19)])])
    sources = np.array([shapely.LineString([(110 + x / 7, lat) for x, lat in enumerate(range(-60, 75, 5))]),
                        shapely.LineString([(117.2 + 0.01 * x, 31.2 + 0.013 * x) for x in range(300)]),
                        shapely.Point(117.25, 31.22)])
    n = len(polygons)
    pieces = mapdata.Pieces("coarse", {k: np.array([f"T{i}" for i in range(n)], dtype=object) for k in mapdata.TEXTS},
                            np.zeros(n, np.uint8), np.zeros(n, np.int8), np.zeros(n, np.uint8),
                            mapdata.Parts.of(polygons, True), mapdata.Parts.of(sources, False))
    decoded = frame.evaluate("""(b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)), block = window.SMP.decode(bytes.buffer);
        const part = (p) => { const xs = [], ys = [];
          for (let q = 0; q < p.ox.length; q++) for (let k = p.off[q]; k < p.off[q + 1]; k++) {
            xs.push(p.ox[q] + p.d[2 * k]); ys.push(p.oy[q] + p.d[2 * k + 1]); }
          return [xs, ys]; };
        return {poly: part(block.poly), src: part(block.src), box: Array.from(block.box)}; }""",
                             base64.b64encode(pieces.body()).decode())
    boxes = np.full((n, 4), [np.inf, np.inf, -np.inf, -np.inf])
    for kind, parts in (("poly", pieces.poly), ("src", pieces.src)):
        lon, lat = payload_vertices(parts)
        x, y = mercator(lon, lat)
        got_x, got_y = (np.array(v) for v in decoded[kind])
        # the offsets from a part's first vertex are float32 (as before): their own rounding is allowed for
        first = np.repeat(np.concatenate([[0], np.cumsum(parts.lengths)[:-1]]).astype(np.int64),
                          parts.lengths.astype(np.int64))
        for got, exact in ((got_x, x), (got_y, y)):
            allowed = 1e-9 + np.abs(exact - exact[first]) * 2.0 ** -23
            assert (np.abs(got - exact) < allowed).all(), np.abs(got - exact).max()
        owner = np.repeat(np.repeat(np.arange(n), parts.per_patch.astype(np.int64)), parts.lengths.astype(np.int64))
        for i in range(n):
            mine = owner == i
            if mine.any():
                boxes[i] = np.minimum(boxes[i], [x[mine].min(), y[mine].min(), np.inf, np.inf])
                boxes[i, 2:] = np.maximum(boxes[i, 2:], [x[mine].max(), y[mine].max()])
    got = np.array(decoded["box"]).reshape(n, 4)
    assert np.abs(got - boxes).max() < 1e-9, got - boxes  # the boxes come from the float64 positions


def test_a_payload_read_as_it_arrives_decodes_as_the_whole_does(first_page):
    """The browser decodes the payload while it arrives (``SMP.readPayload``: the header, then each patch as
    its vertices are in): read in pieces of any size, from a byte at a time on, it must give the same numbers
    as the whole decoded at once."""
    frame = e2e.map_frame(first_page)
    frame.wait_for_function("() => window.SMP && window.SMP.readPayload", timeout=60_000)
    polygons = np.array([shapely.box(117.1 + i / 50, 31.2, 117.11 + i / 50, 31.21) for i in range(40)] + [None])
    sources = np.array([shapely.LineString([(117.1 + i / 50, 31.2), (117.1 + i / 50, 31.21 + i / 1e4)]) if i % 3
                        else shapely.Point(117.1 + i / 50, 31.2) for i in range(41)])
    n = len(polygons)
    pieces = mapdata.Pieces("coarse", {k: np.array([f"T{i}" for i in range(n)], dtype=object) for k in mapdata.TEXTS},
                            np.zeros(n, np.uint8), np.zeros(n, np.int8), np.zeros(n, np.uint8),
                            mapdata.Parts.of(polygons, True), mapdata.Parts.of(sources, False))
    differing = frame.evaluate("""async (b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)), whole = window.SMP.decode(bytes.slice().buffer);
        const arrays = (b) => [b.box, b.poly.d, b.poly.ox, b.poly.oy, b.poly.off, b.src.d, b.src.ox, b.src.oy, b.src.off];
        const out = [];
        for (const size of [1, 3, 7, 64, 1000, bytes.length]) {
          let at = 0;
          const stream = new ReadableStream({pull(c) { if (at >= bytes.length) return c.close();
            c.enqueue(bytes.slice(at, at + size)); at += size; }});
          const got = await window.SMP.readPayload(new Response(stream)), want = arrays(whole);
          arrays(got).forEach((a, k) => { if (a.length !== want[k].length || a.some((v, i) => !Object.is(v, want[k][i])))
            out.push([size, k]); });
          if (got.header.code.join() !== whole.header.code.join()) out.push([size, "code"]);
        }
        return out; }""", base64.b64encode(pieces.body()).decode())
    assert differing == []


# The tiles in view drawn again, each's pixels (a PNG data URL: lossless, so equal images are equal pixels,
# and far cheaper to hand to Python than the RGBA values as a list), with what the layer leaves out by the
# rule ``rule`` (``hideUnderSources``: polygons under their own source lines; ``hideUnderMarkers``: batches
# wholly under the markers drawn after them) left out or not; how many tiles have a painted pixel; how many
# polygon rings each drawing closed and how many paths it filled or stroked.
REDRAW_PIXELS_JS = """([rule, hide]) => {
  const layer = window.SMP.current, out = {pixels: [], painted: 0, rings: 0, paths: 0};
  const close = Path2D.prototype.closePath, fill = CanvasRenderingContext2D.prototype.fill,
        stroke = CanvasRenderingContext2D.prototype.stroke;
  Path2D.prototype.closePath = function () { out.rings++; return close.call(this); };
  CanvasRenderingContext2D.prototype.fill = function () { out.paths++; return fill.apply(this, arguments); };
  CanvasRenderingContext2D.prototype.stroke = function () { out.paths++; return stroke.apply(this, arguments); };
  layer[rule] = hide;
  try {
    for (const key of Object.keys(layer._tiles).sort()) {
      const el = layer._tiles[key].el;
      if (!layer._visible(el.sm.coords)) continue;
      layer._drawTile(el);
      const rgba = el.getContext('2d').getImageData(0, 0, el.width, el.height).data;
      if (rgba.some((v) => v !== 0)) out.painted++;
      out.pixels.push(el.toDataURL('image/png'));
    }
  } finally {
    Path2D.prototype.closePath = close;
    CanvasRenderingContext2D.prototype.fill = fill;
    CanvasRenderingContext2D.prototype.stroke = stroke;
    layer[rule] = true;
  }
  return out;
}"""


@pytest.mark.parametrize("zoom, some_left_out", [(10, True), (12, False)])
def test_far_out_the_polygons_left_out_under_their_source_lines_change_no_pixel(app, page, zoom, some_left_out):
    """Far out a patch's polygon (a strip along its road) lies under its own wide source line and is not
    drawn: the picture must be the same to the last pixel as with every polygon drawn. At zoom 10 some
    polygons must have been left out (else this would test nothing); at zoom 12 this sample's strips are
    about as wide as the line's cover, so a limit too generous shows there."""
    assert_leaving_out_changes_no_pixel(app, page, zoom, "hideUnderSources", "rings", some_left_out)


@pytest.mark.parametrize("zoom, some_left_out", [(10, True), (11, False)])
def test_what_markers_cover_is_left_out_and_changes_no_pixel(app, page, zoom, some_left_out):
    """A batch of patches lying wholly under the facility markers drawn after it (their opaque pixels) is
    not drawn (far out they cover most of a district): the picture must be the same to the last pixel as
    with everything drawn. At zoom 10 some batch must have been left out (else this would test nothing)."""
    assert_leaving_out_changes_no_pixel(app, page, zoom, "hideUnderMarkers", "paths", some_left_out)


def assert_leaving_out_changes_no_pixel(app, page, zoom: int, rule: str, drawn: str, some_left_out: bool) -> None:
    """The view at ``zoom`` redrawn with the layer's ``rule`` of leaving things out off and on: the same pixels,
    and with ``some_left_out`` fewer of what the ``drawn`` counter counts."""
    frame = e2e.map_frame(page)
    frame.wait_for_function("() => window.SMP.current.painted !== null", timeout=60_000)
    minx, miny, maxx, maxy = app.patches.total_bounds
    settle(page, frame, (miny + maxy) / 2, (minx + maxx) / 2, zoom)
    every = frame.evaluate(REDRAW_PIXELS_JS, [rule, False])
    hidden = frame.evaluate(REDRAW_PIXELS_JS, [rule, True])
    assert every["pixels"] and every["painted"], "nothing drawn in view"
    assert hidden[drawn] < every[drawn] or not some_left_out, "nothing was left out"
    assert hidden["pixels"] == every["pixels"]


def test_the_payload_is_asked_for_once_before_the_map_scripts_load(first_page):
    """The map page starts the coarse payload's fetch first thing in the map's iframe (``js/early.js``), in a
    worker that then decodes it (``js/decode.js``), so that it arrives while Leaflet, its plugins and patches.js
    load on the page's main thread; patches.js takes the decoded block and asks for nothing more. Orders of
    events that do not depend on the machine's speed are checked: the payload asked for once, by the worker
    (not the page), before the worker loads the decoder. (How early that is against the map's scripts is a
    time: ``bench_scale.py`` measures it.)"""
    frame = e2e.map_frame(first_page)
    frame.wait_for_function("() => window.SMP.current.painted !== null", timeout=60_000)
    frame.wait_for_function("() => window.SMPearly.timing !== undefined", timeout=10_000)  # the worker's last message
    found = frame.evaluate("""() => ({timing: window.SMPearly.timing, pending: window.SMPearly.pending,
        requests: performance.getEntriesByType('resource').map((e) => e.name)})""")
    requests, timing = found["requests"], found["timing"]
    assert [r for r in requests if "/api/patches/coarse/" in r] == []  # not fetched by the page itself
    assert timing and timing["transferSize"] > 0 and found["pending"] is None, found  # the worker's, taken
    assert timing["decoderStart"] and timing["start"] <= timing["decoderStart"], timing


def test_the_workers_fetch_timing_is_never_lost(first_page):
    """The browser can record a fetch's resource timing a moment after its body has been read (seen for 4
    fetches in 200): the worker (``SMPdecode.serve``) waits for it instead of reading it with the block, so
    benchmarks and the test above always get it. The worker's fetch made 150 times, each a new address (the
    server ignores the query), so that none comes from the cache."""
    frame = e2e.map_frame(first_page)
    frame.wait_for_function("() => window.SMP.current.painted !== null", timeout=60_000)
    lost = frame.evaluate(r"""async () => {
        const url = new URL('/api/patches/coarse/' + window.SMP.current._tokens.coarse, location.href).href;
        const decoder = [...document.scripts].map((s) => s.src).find((src) => /^http.*\/decode\.js/.test(src));
        let lost = 0;
        for (let i = 0; i < 150; i++) {
          const asked = JSON.stringify(url + '?try=' + i);
          const boot = `var asked = fetch(${asked}, {credentials: 'same-origin'}); importScripts(${JSON.stringify(decoder)});
                        SMPdecode.serve(asked, ${asked});`;
          const worker = new Worker(URL.createObjectURL(new Blob([boot], {type: 'text/javascript'})));
          const timing = await new Promise((resolve) => {
            worker.onmessage = (e) => { if ('timing' in e.data) resolve(e.data.timing); };
            worker.onerror = () => resolve(null);
          });
          worker.terminate();
          if (!timing) lost++;
        }
        return lost; }""")
    assert lost == 0, f"{lost} of 150 worker fetches came without their timing"


def test_the_map_draws_when_no_worker_can_run(app, chromium):  # noqa: F811
    """Where the browser runs no worker (none made, or its script refused), patches.js fetches and decodes the
    payload on the page itself, as before the worker: the same patches drawn."""
    context = e2e.signed_in_context(chromium, app, USER, PASSWORD, viewport={"width": 1500, "height": 1000})
    context.add_init_script("window.Worker = function () { throw new Error('no workers here'); };")
    try:
        page = e2e.open_app(context, app.url)
        frame = e2e.map_frame(page)
        frame.wait_for_function("() => window.SMP && window.SMP.current && window.SMP.current.painted !== null",
                                timeout=60_000)
        found = frame.evaluate("""() => ({count: window.SMP.current.count(), timing: window.SMPearly.timing || null,
            fetched: performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/patches/coarse/')).length})""")
        assert found == {"count": len(app.patches), "timing": None, "fetched": 1}
    finally:
        context.close()


def test_the_map_scripts_and_styles_are_preloaded_together(first_page):
    """streamlit-folium asks for the map's scripts one after another, each once the one before has run;
    ``js/early.js`` preloads every script and style sheet of the map first, so that their downloads overlap.
    Checked by what the iframe holds: each of the map's scripts and style sheets has its preload."""
    frame = e2e.map_frame(first_page)
    frame.wait_for_function("() => window.SMP.current.painted !== null", timeout=60_000)
    found = frame.evaluate("""() => ({
        scripts: [...document.querySelectorAll('script[src]')].map((s) => s.src),
        styles: [...document.querySelectorAll('link[rel=stylesheet]')].map((l) => l.href),
        preloaded: [...document.querySelectorAll('link[rel=preload]')].map((l) => [l.as, l.href])})""")
    preloaded = {tuple(p) for p in found["preloaded"]}
    scripts = [s for s in found["scripts"] if s.startswith("http") and "/app/static/" in s]  # not early.js itself
    styles = [s for s in found["styles"] if s.startswith("http") and "/app/static/" in s]
    assert len(scripts) >= 5 and len(styles) >= 4, found  # Leaflet, its three plugins, patches.js; their styles
    assert [s for s in scripts if ("script", s) not in preloaded] == [], found
    assert [s for s in styles if ("style", s) not in preloaded] == [], found
