"""Issue 17 (the map is hard to read; addresses that mean something), end to end in headless Chromium.

- with no basemap the map draws the route network (pixels of the national-road colour in a screenshot)
  and, zoomed in, K stake labels (text in the map frame's DOM, shown);
- a filter that leaves one patch moves the map to it: zoomed in, the patch on screen;
- a link with ``?code=`` opens that patch (selected, zoomed, side panel) after sign-in;
- the filters, patch and view are in the URL, and filters survive leaving the page;
- the first click into the map does not scroll the page.
No request leaves the machine. Screenshots are saved under tests/artifacts/."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import e2e_support as e2e
from e2e_support import chromium  # noqa: F401  (fixture)
from safetymap import mapview
from safetymap.store import open_store

USER, PASSWORD = "读图测试员", "readable-map-password"
NATIONAL = mapview.ROAD_STYLES["national"][0]


@pytest.fixture(scope="module")
def app(tmp_path_factory, sample_template, chromium):  # noqa: F811  (no browser: skip before starting)
    db = e2e.copy_database(sample_template, tmp_path_factory.mktemp("map_readable"))
    store = open_store(db)
    e2e.add_user(store, USER, "editor", PASSWORD)
    patches, routes = store.read(), store.routes()
    store.close()
    with e2e.AppServer(db) as server:
        server.patches, server.routes = patches, routes
        yield server


@pytest.fixture
def context(app, chromium):  # noqa: F811
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    context.network = e2e.NetworkLog(context, app.url)
    yield context
    assert context.network.foreign() == [], "requests left the machine"
    context.close()


def signed_in_map(app, context):
    page = context.new_page()
    e2e.open_signed_in(page, app, USER, PASSWORD)
    e2e.open_page(page, e2e.MAP_TITLE)
    return page, e2e.map_frame(page)


def wait_for(page, check, timeout=30, what="condition"):
    for _ in range(int(timeout * 10)):
        if check():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{what} never held")


def colour_pixels(png: bytes, hex_colour: str, tolerance: int = 18) -> int:
    """How many pixels of a screenshot lie within ``tolerance`` (per channel) of ``hex_colour``."""
    import io

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    target = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(image - target).max(axis=2) <= tolerance).sum())


def patch_on_screen(frame, row) -> bool:
    minx, miny, maxx, maxy = row.geometry.bounds
    return frame.evaluate(f"() => window.map.getBounds().contains([[{miny}, {minx}], [{maxy}, {maxx}]])")


def pick(page, label: str, option: str):
    """Choose ``option`` in a sidebar multiselect. The map's first report (one rerun once it has drawn) may
    close an open list under the pointer, so the list is opened again when that happens."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]', has_text=label)
    for attempt in range(3):
        e2e.wait_idle(page)
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    e2e.wait_idle(page)


def test_roads_and_k_labels_are_drawn_with_no_basemap(app, context):
    page, frame = signed_in_map(app, context)
    assert frame.locator(".leaflet-control-layers-base input:checked").locator("xpath=..").inner_text().strip() \
        == "无底图"
    route = app.routes[app.routes["route_code"] == "G201"].iloc[0]
    middle = route.geometry.interpolate(0.5, normalized=True)
    e2e.set_view(frame, middle.y, middle.x, 14)
    e2e.wait_idle(page)
    shot = page.locator(e2e.MAP_FRAME).screenshot()
    e2e.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (e2e.ARTIFACTS / "map_readable_roads_z14.png").write_bytes(shot)
    assert colour_pixels(shot, NATIONAL) > 300, "no road drawn in the national-road colour"
    labels = frame.locator(".sm-km:visible")
    wait_for(page, lambda: labels.count() > 0, what="a K label shown")
    assert all(re.fullmatch(r"K\d+", t.strip()) for t in labels.all_inner_texts())
    assert frame.locator(".sm-route-label", has_text="G201").count() > 0

    # Zoomed out, K labels hide; the route codes and township names stay.
    e2e.set_view(frame, 42.024, 126.805, 10)
    e2e.wait_idle(page)
    wait_for(page, lambda: frame.locator(".sm-km:visible").count() == 0, what="K labels hidden at zoom 10")
    assert frame.locator(".sm-route-label:visible").count() >= 6
    assert frame.locator(".sm-town:visible", has_text="砟子镇").count() == 1
    shot = page.locator(e2e.MAP_FRAME).screenshot()
    (e2e.ARTIFACTS / "map_readable_district_z10.png").write_bytes(shot)
    assert colour_pixels(shot, NATIONAL) > 300


def one_patch_filter(patches):
    """A (township, category) pair that leaves exactly one patch, and that patch."""
    counts = patches.groupby(["township", "category"]).size()
    township, category = counts[counts == 1].index[0]
    row = patches[(patches["township"] == township) & (patches["category"] == category)].iloc[0]
    return township, category, row


def test_a_filter_to_one_patch_zooms_to_it_and_is_in_the_url(app, context):
    page, frame = signed_in_map(app, context)
    township, category, row = one_patch_filter(app.patches)
    label = {"fog": "团雾多发路段", "bridge": "独柱墩桥梁", "curve": "急弯陡坡路段", "cliff": "临水临崖路段",
             "downhill": "长大下坡路段"}[category]
    pick(page, "乡镇", township)
    pick(page, "类别", label)
    wait_for(page, lambda: set(e2e.drawn_codes(frame)) == {row["code"]}, what="only the one patch drawn")
    wait_for(page, lambda: frame.evaluate("() => window.map.getZoom()") >= 13, what="zoomed in")
    assert patch_on_screen(frame, row)

    # Its tooltip is wide enough to read (not a column of single characters).
    point = row["source_geometry"].interpolate(0.5, normalized=True)
    page.mouse.move(*e2e.screen_point(page, frame, point.y, point.x))
    tooltip = frame.locator(".sm-tooltip")
    tooltip.wait_for(timeout=10_000)
    assert tooltip.bounding_box()["width"] >= 220
    e2e.screenshot(page, "map_readable_one_patch.png")
    wait_for(page, lambda: "township=" in page.url, what="filters in the URL")
    assert re.search(r"[?&]z=\d+", page.url) and "lat=" in page.url

    # Leave the page and come back: the filters are still set, the same single patch shown.
    e2e.open_page(page, "台账")
    e2e.open_page(page, e2e.MAP_TITLE)
    frame = e2e.map_frame(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert township in sidebar.inner_text() and label in sidebar.inner_text()
    wait_for(page, lambda: set(e2e.drawn_codes(frame)) == {row["code"]}, what="the filter kept")


def open_link(context, address: str, code: str):
    """A new browser session opening ``address``: sign in, then wait for the patch's side panel."""
    page = context.new_page()
    page.goto(address)
    page.get_by_label("用户名").fill(USER)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.locator('[data-testid="stHeading"]', has_text=code).first.wait_for(timeout=60_000)
    e2e.wait_idle(page)
    return page


def test_a_link_with_a_code_opens_that_patch_after_sign_in(app, context):
    row = app.patches[app.patches["category"] == "bridge"].iloc[0]
    page = open_link(context, f"{app.url}/map?code={row['code']}", row["code"])
    frame = e2e.map_frame(page)
    wait_for(page, lambda: frame.evaluate("() => window.map.getZoom()") >= 13, what="zoomed to the patch")
    assert patch_on_screen(frame, row)
    assert row["code"] in page.locator('[data-testid="stTable"]').last.inner_text()
    assert f"code={row['code']}" in page.url
    e2e.screenshot(page, "map_readable_link.png")

    # The address with its view opens the same view in a new session (a refresh, a colleague's link).
    wait_for(page, lambda: "z=" in page.url, what="the view in the URL")
    address = page.url
    view = parse_qs(urlsplit(address).query)
    zoom, lat, lon = int(view["z"][0]), float(view["lat"][0]), float(view["lon"][0])
    colleague = context.browser.new_context(viewport=context.pages[0].viewport_size)  # no session cookie
    again = open_link(colleague, address, row["code"])
    frame = e2e.map_frame(again)
    wait_for(again, lambda: frame.evaluate("() => window.map.getZoom()") == zoom, what="the same zoom")
    centre = frame.evaluate("() => { var c = window.map.getCenter(); return [c.lat, c.lng]; }")
    assert abs(centre[0] - lat) < 1e-3 and abs(centre[1] - lon) < 1e-3
    assert patch_on_screen(frame, row)


def test_the_first_click_into_the_map_does_not_scroll_the_page(app, chromium):  # noqa: F811
    context = chromium.new_context(viewport={"width": 1440, "height": 740}, locale="zh-CN")
    page = context.new_page()
    e2e.open_signed_in(page, app, USER, PASSWORD)
    e2e.open_page(page, e2e.MAP_TITLE)
    frame = e2e.map_frame(page)
    box = page.locator(e2e.MAP_FRAME).bounding_box()
    assert box["y"] + box["height"] > 740, "the map should reach below the screen for this check"
    scroller = """() => { var s = document.querySelector('[data-testid="stMain"]') || document.scrollingElement;
                         return [s.scrollTop, document.scrollingElement.scrollTop, window.scrollY]; }"""
    before = page.evaluate(scroller)
    page.mouse.click(box["x"] + box["width"] / 2, min(box["y"] + 150, 700))
    page.wait_for_timeout(500)
    assert page.evaluate(scroller) == before
    assert frame.evaluate("() => document.activeElement === window.map.getContainer()")  # keyboard still works
    context.close()
