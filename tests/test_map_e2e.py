"""Issue 3 acceptance, end to end: the real app (``streamlit run app.py``) in headless Debian Chromium.

The map shows the sample patches; a click shows a patch's attributes in the side panel; a category
switched off in the layer control disappears (and stays off when new data arrives); a grade filter
changes the count; a search zooms to its hit; a patch named ``<img src=x onerror=alert(1)>${alert(2)}``
shows literally in tooltip and panel and opens no dialog; and no request leaves for any other host.
With local tiles configured they are the default basemap and are served by the app itself.
One browser serves the module; a screenshot is saved under tests/artifacts/."""
from __future__ import annotations

import io
import re
import shutil
import sqlite3

import pytest
import shapely
from PIL import Image

import e2e_support as e2e
from e2e_support import chromium  # noqa: F401  (fixture)
from safetymap import assets
from safetymap.schema import load_schema
from safetymap.store import open_store

XSS_NAME = "<img src=x onerror=alert(1)>${alert(2)}"
USER, PASSWORD = "地图测试员", "map-test-password"


@pytest.fixture(scope="module")
def app(tmp_path_factory, sample_template, chromium):  # noqa: F811  (no browser: skip before starting)
    """The app on a copy of the sample with one patch renamed to an XSS probe and an editor account."""
    folder = tmp_path_factory.mktemp("map_e2e")
    db = e2e.copy_database(sample_template, folder)
    store = open_store(db)
    frame = store.read()
    probe = clickable(frame, frame[frame["category"] == "curve"])
    store.update(probe["code"], {"name": XSS_NAME}, int(probe["version"]), "测试")
    e2e.add_user(store, USER, "editor", PASSWORD)
    patches = store.read()
    store.close()
    with e2e.AppServer(db) as server:
        server.patches = patches
        server.probe = probe["code"]
        yield server


@pytest.fixture
def page(app, chromium):  # noqa: F811
    context = e2e.signed_in_context(chromium, app, USER, PASSWORD, viewport={"width": 1500, "height": 1000},
                                    locale="zh-CN")
    context.network = e2e.NetworkLog(context, app.url)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(app.url)  # a viewer's first page is the map
    e2e.wait_idle(page)
    yield page
    context.close()


def clickable(frame, candidates):
    """A patch whose source line's midpoint (inside its polygon) lies in no other patch."""
    for _, row in candidates.iterrows():
        point = row["source_geometry"].interpolate(0.5, normalized=True)
        if shapely.contains(frame.geometry.values, point).sum() == 1:
            return row
    raise AssertionError("no clickable patch")


def midpoint(row):
    point = row["source_geometry"].interpolate(0.5, normalized=True)
    return point.y, point.x


def metric(page, label: str) -> int:
    box = page.locator('[data-testid="stMetric"]', has_text=label)
    return int(box.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))


def wait_drawn(page, frame, predicate, timeout=30):
    """Wait until the set of drawn patch codes satisfies ``predicate``; return it."""
    codes = set()
    for _ in range(int(timeout * 10)):
        codes = set(e2e.drawn_codes(frame))
        if predicate(codes):
            return codes
        page.wait_for_timeout(100)
    raise AssertionError(f"drawn patches never matched: {sorted(codes)[:10]} …")


def click_patch(page, frame, row):
    lat, lng = midpoint(row)
    e2e.set_view(frame, lat, lng, 15)
    e2e.wait_idle(page)
    page.mouse.click(*e2e.screen_point(page, frame, lat, lng))
    page.locator('[data-testid="stHeading"]', has_text=row["code"]).first.wait_for(timeout=30_000)
    e2e.wait_idle(page)


def pick(page, label: str, option: str):
    page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]', has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    e2e.wait_idle(page)


def test_map_shows_patches_inspects_toggles_filters_and_stays_offline(app, page):
    frame = e2e.map_frame(page)
    everything = set(app.patches["code"])
    wait_drawn(page, frame, lambda codes: codes == everything)
    assert metric(page, "显示图斑") == len(everything)

    # Click a patch: its attributes appear in the side panel, and the map keeps the view it had.
    row = clickable(app.patches, app.patches[app.patches["category"] == "bridge"])
    click_patch(page, frame, row)
    panel = page.locator('[data-testid="stTable"]').last
    assert row["code"] in panel.inner_text() and "桥梁编码" in panel.inner_text()
    assert frame.evaluate("() => window.map.getZoom()") == 15

    # Switch the fog layer off in the layer control: its patches go, and stay gone after a rerun.
    e2e.set_view(frame, 42.024, 126.805, 10)
    e2e.wait_idle(page)
    fog = set(app.patches.loc[app.patches["category"] == "fog", "code"])
    frame.locator(".leaflet-control-layers-overlays label", has_text="团雾多发路段").locator("input").click()
    wait_drawn(page, frame, lambda codes: codes == everything - fog)

    # A grade filter changes the count and the patches drawn (the fog layer is still off).
    major = set(app.patches.loc[app.patches["risk_grade"] == "重大", "code"])
    pick(page, "风险等级", "重大")
    assert metric(page, "显示图斑") == len(major) < len(everything)
    wait_drawn(page, frame, lambda codes: codes == major - fog)
    assert frame.evaluate("() => window.map.getZoom()") == 10  # the view survived the reruns
    e2e.screenshot(page, "map_e2e.png")

    assert page.dialogs == []
    assert page.context.network.foreign() == [], "requests left the machine"
    assert any("/app/static/vendor/" in url and url.endswith("leaflet.js") for url in page.context.network.requests)


def test_search_zooms_and_user_text_stays_text(app, page):
    frame = e2e.map_frame(page)
    probe = app.patches[app.patches["code"] == app.probe].iloc[0]
    assert probe["name"] == XSS_NAME

    # Search by name: the map zooms to the hit and the panel shows it, the name as plain text.
    page.get_by_label("搜索图斑编号或名称").fill("onerror")
    page.keyboard.press("Enter")
    page.locator('[data-testid="stHeading"]', has_text=app.probe).first.wait_for(timeout=30_000)
    e2e.wait_idle(page)
    lat, lng = midpoint(probe)
    for _ in range(50):
        if frame.evaluate("() => window.map.getZoom()") >= 14:
            break
        page.wait_for_timeout(100)
    assert frame.evaluate(f"() => window.map.getBounds().contains([{lat}, {lng}])")
    assert XSS_NAME in page.locator('[data-testid="stHeading"]', has_text=app.probe).first.inner_text()
    assert XSS_NAME in page.locator('[data-testid="stTable"]').last.inner_text()

    # Hover it: the tooltip shows the name literally; no element was made from it.
    page.mouse.move(*e2e.screen_point(page, frame, lat, lng))
    tooltip = frame.locator(".leaflet-tooltip")
    tooltip.wait_for(timeout=10_000)
    assert XSS_NAME in tooltip.inner_text()
    assert tooltip.locator("img").count() == 0
    assert page.locator("img[src=x]").count() == 0 and frame.locator("img[src=x]").count() == 0
    page.wait_for_timeout(500)
    assert page.dialogs == [], f"a dialog opened: {page.dialogs}"
    assert not [u for u in page.context.network.requests if u.rstrip("/").endswith("/x")]
    assert page.context.network.foreign() == []


def test_local_tiles_are_served_and_tianditu_is_offered_with_a_key(chromium, sample_template, tmp_path):  # noqa: F811
    """With SAFETYMAP_LOCAL_TILES the default basemap is the local tiles, served from /app/static; with a
    Tianditu key its two basemaps are offered but, not chosen, fetch nothing."""
    mbtiles = tmp_path / "jiangyuan.mbtiles"
    make_mbtiles(mbtiles)
    source = assets.local_tiles(mbtiles)  # what the app will serve (extracted once, here)
    folder = assets.STATIC_DIR / source.url.split("/app/static/")[1].split("/{z}")[0]
    db = e2e.copy_database(sample_template, tmp_path)
    store = open_store(db)
    e2e.add_user(store, USER, "viewer", PASSWORD)
    store.close()
    env = {"SAFETYMAP_LOCAL_TILES": str(mbtiles), "SAFETYMAP_TIANDITU_KEY": "test-key-0000"}
    try:
        with e2e.AppServer(db, env=env) as server:
            context = chromium.new_context(viewport={"width": 1400, "height": 900})
            network = e2e.NetworkLog(context, server.url)
            page = context.new_page()
            tiles = []
            page.on("response", lambda r: tiles.append((r.status, r.url)) if "/app/static/tiles/" in r.url else None)
            e2e.open_signed_in(page, server, USER, PASSWORD)
            e2e.open_page(page, e2e.MAP_TITLE)
            frame = e2e.map_frame(page)
            bases = frame.locator(".leaflet-control-layers-base label")
            assert [t.strip() for t in bases.all_inner_texts()] == [
                "无底图", "本地瓦片（jiangyuan.mbtiles）", "天地图矢量", "天地图影像", "OpenStreetMap"]
            assert bases.nth(1).locator("input").is_checked()
            for _ in range(100):
                if tiles:
                    break
                page.wait_for_timeout(100)
            missing = [url for status, url in tiles if status != 200]
            assert tiles and not missing, missing
            assert network.foreign() == []
            context.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def make_mbtiles(path):
    """A small raster MBTiles over the district at zoom 10 (TMS rows)."""
    image = io.BytesIO()
    Image.new("RGB", (256, 256), (222, 235, 210)).save(image, "PNG")
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE metadata (name TEXT, value TEXT); INSERT INTO metadata VALUES ('format', 'png');"
                      "CREATE TABLE tiles (zoom_level INT, tile_column INT, tile_row INT, tile_data BLOB);")
    con.executemany("INSERT INTO tiles VALUES (10, ?, ?, ?)",
                    [(x, 1023 - y, image.getvalue()) for x in range(869, 876) for y in range(375, 381)])
    con.commit()
    con.close()


def test_pan_and_zoom_rerun_nothing_and_an_edit_sends_only_its_delta(app, chromium):  # noqa: F811
    """Issue 16: the browser holds the ledger. Panning and zooming send nothing to the script (no websocket
    message, so no rerun); an edit made elsewhere reaches the map as a delta of that one patch."""
    context = chromium.new_context(viewport={"width": 1500, "height": 1000}, locale="zh-CN")
    network = e2e.NetworkLog(context, app.url)
    page = context.new_page()
    sent = []  # what the page sends over Streamlit's websocket: every rerun request is one of these
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    e2e.open_signed_in(page, app, USER, PASSWORD)
    e2e.open_page(page, e2e.MAP_TITLE)
    frame = e2e.map_frame(page)
    everything = set(app.patches["code"])
    wait_drawn(page, frame, lambda codes: codes == everything)
    page.wait_for_timeout(1000)
    before = len(sent)

    box = page.locator(e2e.MAP_FRAME).bounding_box()
    middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*middle)
    page.mouse.down()
    page.mouse.move(middle[0] + 180, middle[1] + 90, steps=8)
    page.mouse.up()
    page.mouse.wheel(0, -400)  # zoom in
    page.wait_for_timeout(800)
    e2e.set_view(frame, 42.024, 126.805, 14)
    page.wait_for_timeout(800)
    e2e.set_view(frame, 42.024, 126.805, 10)
    page.wait_for_timeout(1500)  # streamlit-folium reports changes after 250 ms
    assert len(sent) == before, "a pan or zoom sent a message to the script (a rerun)"
    assert frame.evaluate("() => window.SMP.current.painted !== null")

    # An edit elsewhere: at the page's next run the browser fetches only that patch.
    row = app.patches[app.patches["category"] == "waterside"].iloc[0]
    store = open_store(app.db)
    new_grade = "重大" if row["risk_grade"] != "重大" else "较小"
    current = store.get(row["code"])
    store.update(row["code"], {"grade_method": "直接判定", "risk_grade": new_grade, "grade_basis": "端到端测试"},
                 current["version"], "测试")
    store.close()
    deltas = []
    page.on("request", lambda r: deltas.append(r.url) if "/api/patches/" in r.url else None)
    page.get_by_label("搜索图斑编号或名称").fill(row["code"])
    page.keyboard.press("Enter")
    e2e.wait_idle(page)
    colour = load_schema().grade_color(new_grade)
    for _ in range(100):
        if (frame.evaluate("(c) => window.SMP.fillOf(c)", row["code"]) or "").lower() == colour.lower():
            break
        page.wait_for_timeout(100)
    applied = frame.evaluate("() => window.SMP.current.deltas")
    assert applied and all(d["codes"] == [row["code"]] and d["removed"] == [] for d in applied), applied
    assert any(re.search(r"/api/patches/coarse/[0-9-]+/[0-9-]+$", u) for u in deltas), deltas  # a delta
    assert not [u for u in deltas if re.search(r"/api/patches/\w+/[0-9-]+$", u)], deltas  # never the whole ledger
    assert network.foreign() == []
    context.close()
