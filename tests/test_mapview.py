"""The map builder (safetymap.mapview) and its offline assets (safetymap.assets), without a browser:
escaping, styles from the schema, simplification and rounding, the view box, the payload, basemaps,
the stable base map that lets st_folium keep its view, and the files served instead of a CDN."""
from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys

import folium
import numpy as np
import pytest
import shapely
from streamlit_folium import generate_js_hash

from conftest import ROOT
from safetymap import _compat, assets, context, geo, mapview
from safetymap.ui.component_compat import st_folium_scripts

_get_map_string, _get_feature_group_string = st_folium_scripts()

XSS = "<img src=x onerror=alert(1)>${alert(2)}`</script><script>alert(3)</script>'\"&\u2028"


@pytest.fixture
def frame(store):
    return store.read()


@pytest.fixture
def hostile(store):
    """The sample with one patch renamed to script and markup."""
    code = store.read("fog").iloc[0]["code"]
    store.update(code, {"name": XSS}, store.get(code)["version"], "测试")
    assert store.get(code)["name"].startswith("<img src=x onerror=alert(1)>${alert(2)}`</script>")
    return store.read(), code


def payload_features(html: str, kind: str = "patch") -> list[list[dict]]:
    """The feature arrays handed to ``SM.layer`` for one kind of layer, parsed back."""
    out = []
    for options, data in re.findall(r"SM\.layer\((\{.*?\}), (\[.*?\])\)\.addTo", html):
        if json.loads(options)["kind"] == kind:
            out.append(json.loads(data))
    return out


# ---------------------------------------------------------------- escaping
def test_escape_html_and_script_json_neutralise_markup_and_templates():
    escaped = mapview.escape_html(XSS)
    assert "<" not in escaped and ">" not in escaped and '"' not in escaped and "'" not in escaped
    assert mapview.escape_html(None) == "" and mapview.escape_html(float("nan")) == ""
    text = mapview.script_json({"n": XSS})
    assert not set("<>&'\u2028") & set(text)
    assert json.loads(text) == {"n": XSS}  # nothing lost: the browser gets the exact text


def test_user_text_reaches_the_page_only_as_json_data(hostile, schema):
    frame, code = hostile
    html = mapview.standalone_html(schema, frame)
    assert "<img" not in html and "<script>alert(3)" not in html and "</script><script>" not in html
    features = [f for group in payload_features(html) for f in group]
    named = [f for f in features if f["properties"]["code"] == code]
    # the exact text reaches the browser, where the tooltip shows it with textContent
    assert named[0]["properties"]["n"] == frame.set_index("code").loc[code, "name"]
    assert "textContent" in html and "innerHTML = content" not in html


def test_jinja_syntax_in_user_text_is_not_evaluated(frame, schema):
    """branca compiles rendered output as a Jinja template again; patch data must not go through that."""
    code = frame.iloc[0]["code"]
    jinja = "{{ 7*7 }}{% for i in range(2) %}x{% endfor %}{% bad"
    named = frame.assign(name=frame["name"].where(frame["code"] != code, jinja))
    html = mapview.standalone_html(schema, named)
    assert jinja in html
    m = mapview.base_map(schema)
    script = "".join(_get_feature_group_string(g, m, i) for i, g in enumerate(mapview.patch_groups(named, schema)))
    assert jinja in script  # the st_folium path


def test_folium_elements_render_once_as_text_and_compile_no_template(schema, monkeypatch):
    """branca put each rendered piece of folium's own elements (layers, controls, plugins) into
    ``Element(text)``, which compiles it as a Jinja template: a layer named with ``{{`` or ``{%`` (a category
    label in a custom schema) was evaluated or broke the page, and every render of the map compiled ~55
    templates (110 per st_folium call, 35 of the 50 ms of a map page's rerun). Now each renders as text."""
    import jinja2
    m = mapview.base_map(schema, mapview.basemaps("KEY"), context=mapview.MapContext("{}", "[]", "{}", ()))
    folium.FeatureGroup(name="{{ 7*7 }} {% bad").add_to(m)
    mapview.layer_control().add_to(m)
    compiled = []
    compile_template = jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile",
                        lambda self, *args, **kw: compiled.append(args[0]) or compile_template(self, *args, **kw))
    html = m.get_root().render()
    assert '"{{ 7*7 }} {% bad"' in html
    assert compiled == []


def test_tooltip_is_built_from_text_nodes_not_html():
    assert "createTextNode" in mapview.SM_JS
    tooltip = mapview.SM_JS.split("function tooltip")[1].split("function gradeColor")[0]
    assert "innerHTML" not in tooltip


# ---------------------------------------------------------------- styles from the schema
def test_legend_and_layer_names_come_from_the_schema(schema):
    legend = mapview.legend_html(schema)
    for g in schema.grades:
        assert g.label in legend and g.color in legend
    for c in schema.categories:
        assert c.label in legend and c.outline in legend and f'stroke-dasharray="{c.dash}"' in legend
        assert c.label in mapview.layer_name(c) and c.outline in mapview.layer_name(c)
    config = mapview.sm_config(schema)
    assert config["gradeColors"] == [g.color for g in schema.grades]


def test_each_category_is_a_layer_outlined_in_its_colour_and_filled_by_grade(frame, schema):
    groups = mapview.patch_groups(frame, schema)
    m = mapview.base_map(schema)
    for group in groups:
        group.add_to(m)
    html = m.get_root().render()
    grade_index = {g.label: i for i, g in enumerate(schema.grades)}
    by_outline = {}
    for options, data in re.findall(r"SM\.layer\((\{.*?\}), (\[.*?\])\)\.addTo", html):
        options, data = json.loads(options), json.loads(data)
        if options["kind"] in ("patch", "facility"):
            by_outline[(options["outline"], options["dash"])] = {f["properties"]["code"]: f["properties"]["g"]
                                                                for f in data}
    for c in schema.categories:
        part = frame[frame["category"] == c.key]
        drawn = by_outline[(c.outline, c.dash)]
        assert set(drawn) == set(part["code"]) and len(part)
        assert all(drawn[code] == grade_index.get(grade, -1) for code, grade in zip(part["code"], part["risk_grade"]))
    risks = len(schema.risk_categories)
    assert len(payload_features(html, "source")) == risks  # source lines on top
    markers = payload_features(html, "facility")  # facility points as markers, not graded
    assert len(markers) == len(schema.categories) - risks and all(f["geometry"]["type"] == "Point" and
                                                                  f["properties"]["x"] == 1 for m in markers for f in m)
    assert len(groups) == len(schema.categories) + 1  # + the highlight
    assert [g.options.get("sm_key") for g in groups[:-1]] == schema.category_keys


# ---------------------------------------------------------------- simplification, rounding, view
def test_precision_follows_the_zoom():
    assert mapview.decimals_for_zoom(10) == 4 and mapview.decimals_for_zoom(18) == 6
    assert all(mapview.tolerance_for_zoom(z) < mapview.pixel_degrees(z) for z in range(8, 19))


def test_simplification_by_zoom_keeps_every_patch_and_rounds(frame):
    geoms = frame.geometry.values
    coarse, fine = mapview.simplify_for_zoom(geoms, 10), mapview.simplify_for_zoom(geoms, 18)
    n = lambda g: shapely.get_num_coordinates(np.asarray(g, dtype=object)).sum()
    assert n(coarse) < 0.6 * n(geoms) and n(coarse) < n(fine) <= n(geoms)
    assert not shapely.is_empty(coarse).any() and not shapely.is_missing(coarse).any()
    coords = shapely.get_coordinates(coarse)
    assert np.allclose(coords, np.round(coords, 4), atol=1e-12)
    assert shapely.hausdorff_distance(coarse, geoms).max() < mapview.pixel_degrees(10)  # under a pixel off


def test_view_box_is_padded_snapped_and_stable_for_small_pans():
    view = {"_southWest": {"lat": 41.98, "lng": 126.70}, "_northEast": {"lat": 42.04, "lng": 126.82}}
    nudged = {"_southWest": {"lat": 41.981, "lng": 126.701}, "_northEast": {"lat": 42.041, "lng": 126.821}}
    box = mapview.view_bbox(view, 14)
    assert box == mapview.view_bbox(nudged, 14)  # the same patches: nothing new to send
    assert box[0] < 126.70 and box[1] < 41.98 and box[2] > 126.82 and box[3] > 42.04
    assert mapview.view_bbox(None, 14) is None and mapview.view_bbox({"_southWest": {}}, 14) is None


def test_only_patches_in_view_are_sent(frame, schema):
    minx, miny, maxx, maxy = frame.total_bounds
    west = (minx, miny, (minx + maxx) / 2, maxy)
    inside = mapview.in_bbox(frame, west)
    assert 0 < len(inside) < len(frame)
    assert (shapely.bounds(inside.geometry.values)[:, 0] <= west[2]).all()
    html = mapview.standalone_html(schema, inside)
    sent = {f["properties"]["code"] for kind in ("patch", "facility") for group in payload_features(html, kind)
            for f in group}
    assert sent == set(inside["code"])


# ---------------------------------------------------------------- payload
def test_payload_carries_only_what_the_tooltip_needs(frame, schema):
    props = mapview.feature_properties(frame.assign(overdue=True, fog_ledger=False), schema)
    assert {k for p in props for k in p} == {"code", "n", "g", "r", "s", "o"}
    row = frame.iloc[0]
    html = mapview.standalone_html(schema, frame)
    assert row["hazard"] not in html and row["code"] in html  # other fields stay on the server
    naive = folium.Map(tiles=None)
    dates = frame.select_dtypes(include=["datetime", "datetimetz"]).columns
    folium.GeoJson(frame.drop(columns=["source_geometry"]).astype({c: str for c in dates})).add_to(naive)
    assert len(html) * 3 < len(naive.get_root().render())


def test_zoom_to_fit_and_stakes_text():
    assert mapview.zoom_to_fit((126.70, 42.00, 126.71, 42.005)) >= 14
    assert mapview.zoom_to_fit((126.38, 41.82, 127.23, 42.23)) <= 10
    assert geo.format_stakes(12350.0, 13000.0) == "K12+350–K13+000"
    assert geo.format_stakes(500.0, None) == "K0+500"


# ---------------------------------------------------------------- basemaps and the base map
def test_tianditu_only_with_a_key_and_no_internet_basemap_by_default():
    assert [b.key for b in mapview.basemaps()] == ["none", "osm"]
    with_key = mapview.basemaps("abc123")
    tianditu = [b for b in with_key if b.key.startswith("tianditu")]
    assert len(tianditu) == 2 and all(len(b.urls) == 2 and all("tk=abc123" in u for u in b.urls) for b in tianditu)
    assert {u.split("/")[3].split("_")[0] for b in tianditu for u in b.urls} == {"vec", "cva", "img", "cia"}
    assert mapview.default_basemap(mapview.basemaps()) == "none"
    assert mapview.default_basemap(with_key) == "tianditu_vec"
    assert mapview.default_basemap(with_key, "osm") == "osm"
    local = assets.TileSource("/app/static/tiles/x/{z}/{x}/{y}.png", "x.mbtiles", 8, 14)
    assert mapview.default_basemap(mapview.basemaps("k", local)) == "local"


def test_base_map_offers_every_basemap_but_loads_only_the_chosen_one(schema):
    m = mapview.base_map(schema, mapview.basemaps("abc123"), "none")
    html = m.get_root().render()
    assert "tile.openstreetmap.org" in html and "tianditu.gov.cn" in html  # offered in the layer control
    groups = [c for c in _compat.children(m) if isinstance(c, folium.FeatureGroup) and not c.overlay]
    assert [g.show for g in groups] == [True, False, False, False]  # only "none" is on the map
    assert "L.control.fullscreen" in html and "L.Control.Measure" in html and "L.control.locate" in html
    assert "L.canvas(" in html and "renderer: canvas" in html and "sm-legend" in html


def test_base_map_script_is_the_same_on_every_rerun(frame, schema):
    """st_folium keys the component on the base map's script: the same script keeps the map mounted,
    so its centre and zoom survive reruns while patches change through feature_group_to_add."""
    hashes = set()
    for part in (frame, frame.iloc[:5]):
        m = mapview.base_map(schema, mapview.basemaps())
        mapview.patch_groups(part, schema)  # built separately, never added to the base map
        hashes.add(generate_js_hash(_get_map_string(m), "risk_map", False))
    assert len(hashes) == 1


def test_core_map_modules_do_not_import_streamlit():
    code = "import sys, safetymap.mapview, safetymap.assets; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# ---------------------------------------------------------------- offline assets
def test_install_serves_every_folium_asset_locally(tmp_path):
    assets.install(tmp_path)
    import folium.plugins

    bundled = assets.bundled()
    assert all((tmp_path / assets.local_path(url)).is_file() for url in bundled)
    leftovers = [(cls.__name__, url) for cls in assets._subclasses(folium.elements.JSCSSMixin)
                 for url in assets.cdn_links(list(cls.__dict__.get("default_js", [])) +
                                             list(cls.__dict__.get("default_css", [])))]
    assert leftovers == []
    leaflet_js = next(u for u in bundled if u.endswith("/leaflet.js"))  # the CDN URL folium names, never written here
    assert mapview.SafetyMap.default_js == [("leaflet", assets.local_url(leaflet_js))]
    assert assets.write_files(tmp_path) == 0  # already current: nothing rewritten on the next rerun


def test_css_keeps_inline_data_and_drops_external_font_and_image_files():
    css = ("@font-face{src:url(../webfonts/fa-brands-400.woff2) format('woff2'),url('//cdn.x/f.ttf')}"
           ".a{background:url(\"images/toggle.png\")} .b{background:url(data:image/png;base64,AAA=)}"
           ".c{mask:url(\"data:image/svg+xml,%3Cuse href='url(%23line-b)'/%3E\")} .d{behavior:url(#default#VML)}")
    out = assets.offline_css(css)
    assert "webfonts" not in out and "cdn.x" not in out and "toggle.png" not in out
    assert "data:image/png;base64,AAA=" in out and "url(%23line-b)" in out and "#default#VML" in out
    bundled = assets.bundled()
    for url, text in bundled.items():
        if url.endswith(".css"):
            assert not assets.EXTERNAL_CSS_URL.search(assets.file_content(url, text)), url


PNG_1PX = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def make_mbtiles(path, fmt="png"):
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE metadata (name TEXT, value TEXT);"
                      "CREATE TABLE tiles (zoom_level INT, tile_column INT, tile_row INT, tile_data BLOB);")
    con.execute("INSERT INTO metadata VALUES ('format', ?)", (fmt,))
    con.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                    [(10, 871, 1023 - 378, PNG_1PX), (11, 1742, 2047 - 757, PNG_1PX)])
    con.commit()
    con.close()


def test_mbtiles_are_extracted_as_xyz_tiles_under_static(tmp_path):
    make_mbtiles(tmp_path / "jiangyuan.mbtiles")
    source = assets.local_tiles(tmp_path / "jiangyuan.mbtiles", tmp_path / "static")
    assert source.url.startswith("/app/static/tiles/jiangyuan-") and source.url.endswith("/{z}/{x}/{y}.png")
    assert (source.min_zoom, source.max_zoom) == (10, 11)
    assert source.bounds == pytest.approx(assets.tile_bounds(10, [871], [378]))  # no requests outside the tiles
    folder = tmp_path / "static" / source.url.split("/app/static/")[1].split("/{z}")[0]
    assert (folder / "10" / "871" / "378.png").read_bytes() == PNG_1PX  # TMS row flipped to XYZ
    assert assets.local_tiles(tmp_path / "jiangyuan.mbtiles", tmp_path / "static") == source  # done once


def test_tile_folders_are_linked_and_vector_or_missing_sources_refused(tmp_path):
    tiles = tmp_path / "tiles" / "12" / "3485"
    tiles.mkdir(parents=True)
    (tiles / "1513.jpg").write_bytes(b"jpeg")
    source = assets.local_tiles(tmp_path / "tiles", tmp_path / "static")
    assert source.url.endswith("/{z}/{x}/{y}.jpg") and source.max_zoom == 12
    assert source.bounds == pytest.approx(assets.tile_bounds(12, [3485], [1513]))
    linked = tmp_path / "static" / source.url.split("/app/static/")[1].split("/{z}")[0] / "12" / "3485" / "1513.jpg"
    assert linked.read_bytes() == b"jpeg"
    make_mbtiles(tmp_path / "vector.mbtiles", "pbf")
    with pytest.raises(assets.TileError, match="矢量瓦片"):
        assets.local_tiles(tmp_path / "vector.mbtiles", tmp_path / "static")
    with pytest.raises(assets.TileError, match="不存在"):
        assets.local_tiles(tmp_path / "nothing.mbtiles", tmp_path / "static")


def test_draw_map_offers_line_and_point_tools_served_offline():
    import shapely

    from safetymap import assets, mapview
    from safetymap.schema import load_schema

    assets.install()
    line = shapely.LineString([(126.70, 42.0), (126.705, 42.002)])
    html = mapview.draw_map(load_schema(), line).get_root().render()
    import re

    assert "L.Control.Draw" in html and re.search(r'"polygon":\s*false', html) and re.search(r'"marker":\s*true', html)
    sources = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', html)
    assert any(s.endswith("leaflet.draw.js") for s in sources)
    assert all(s.startswith("/app/static/") for s in sources), sources


# ---------------------------------------------------------------- the map's own context (issue 17)
def test_route_classes_from_the_route_code():
    assert [context.route_class(c) for c in ("G11", "G1112", "G201", "S204", "X024", "Y001", "C123", "匝道")] == [
        "expressway", "expressway", "national", "provincial", "county", "rural", "rural", "other"]


def test_k_marks_fall_on_whole_kilometres_from_the_route_stakes():
    line = shapely.LineString([(0, 0), (3500, 0)])  # metric
    kms, points = context.km_marks(line, 36_200)
    assert kms == [37, 38, 39]
    assert np.allclose([p.x for p in points], [800, 1800, 2800])
    assert context.km_marks(line, None)[0] == [0, 1, 2, 3]


def test_route_context_has_every_route_with_labels_and_k_marks(store):
    routes = store.routes()
    ctx = context.route_context(routes)
    assert [r["code"] for r in ctx["roads"]] == list(routes["route_code"])
    assert {l["code"] for l in ctx["labels"] if l["major"]} == set(routes["route_code"])  # one at every zoom
    g201 = routes[routes["route_code"] == "G201"].iloc[0]
    marks = [m for m in ctx["marks"] if m["code"] == "G201"]
    length = geo.lengths_m([g201.geometry])[0]
    assert len(marks) == int((g201["start_stake_m"] + length) // 1000) - int(np.ceil(g201["start_stake_m"] / 1000)) + 1
    # each K mark is where linear referencing puts that stake
    for m in marks[:3]:
        assert abs(geo.stake_at(g201.geometry, g201["start_stake_m"], m["point"]) - m["km"] * 1000) < 1


def test_schematic_townships_partition_the_district_around_each_seat():
    towns = context.township_frame()
    assert len(towns) == 10 and set(towns["name"]) >= {"孙家堡子街道", "砟子镇", "大阳岔镇"}
    district = geo.to_metric([geo.district_boundary()])[0]
    areas = geo.to_metric(towns["geometry"].values)
    assert abs(sum(a.area for a in areas) - district.area) < 1e-3 * district.area  # no gap, no overlap
    assert all(a.contains(s) for a, s in zip(towns["geometry"], towns["seat"]))


def test_context_layers_reach_the_map_as_json_shown_with_text_content(store, schema):
    routes = store.routes()
    routes.loc[0, "route_code"] = XSS  # route codes come from imported files: treat them as user text
    ctx = mapview.map_context(routes)
    html = mapview.standalone_html(schema, store.read(), context=ctx)
    assert "<img" not in html and "</script><script>" not in html
    labels = json.loads(ctx.roads)["labels"]
    assert XSS in [l[2] for l in labels]
    assert all(re.fullmatch(r"K\d+", k[2]) for k in json.loads(ctx.km))
    assert {s[2] for s in json.loads(ctx.towns)["seats"]} >= {"砟子镇"}
    helper = mapview.SM_JS.split("function labelMarker")[1].split("function roadStyle")[0]
    assert "textContent" in helper and "innerHTML" not in helper
    for name in ("路网", "乡镇（示意）", f"公里桩（{mapview.KM_ZOOM}级及以上）"):
        assert name in html or json.dumps(name)[1:-1] in html  # the layer control's names
    assert mapview.TOWNS_NOTE in mapview.legend_html(schema, ctx.road_kinds)


def test_base_map_with_context_is_the_same_on_every_rerun(store, schema):
    hashes = {generate_js_hash(_get_map_string(mapview.base_map(schema, context=mapview.map_context(store.routes()))),
                               "risk_map", False) for _ in range(2)}
    assert len(hashes) == 1


def test_patches_keep_a_minimum_width_far_out_and_tooltips_stay_wide(frame, schema):
    far = mapview.standalone_html(schema, frame, zoom=10)
    near = mapview.standalone_html(schema, frame, zoom=15)
    weight = lambda html: {json.loads(o).get("weight") for o in re.findall(r"SM\.layer\((\{.*?\}), ", html)
                           if json.loads(o)["kind"] == "source"}
    assert weight(far) == {mapview.SOURCE_WEIGHT_FAR} and weight(near) == {mapview.SOURCE_WEIGHT}
    assert mapview.SOURCE_WEIGHT_FAR >= 4
    assert "min-width: 220px" in mapview.SM_CSS and "white-space: normal" in mapview.SM_CSS


def test_legend_folds_and_the_layer_control_collapses_on_a_narrow_map(schema):
    assert mapview.legend_html(schema).startswith("<details open><summary>图例</summary>")
    js = mapview.legend_js(schema, "map")
    assert "removeAttribute('open')" in js and "legendPx" in js
    assert "this.options.collapsed = true" in mapview.SM_JS
    assert "preventScroll: true" in mapview.SM_JS  # the first click does not scroll the page


def test_the_patch_layer_is_part_of_the_base_map_and_its_state_carries_codes_as_script_safe_json(schema):
    """Issue 16: the base map carries the browser-held patch layer (loaded from the app itself) and one
    empty group per category for the layer control; each rerun sends only a small state, in which a code
    typed by a user can close no script and start no markup."""
    from safetymap import assets

    scripts = (assets.own_script_url("decode.js"), assets.own_script_url("patches.js"))
    m = mapview.add_patch_layer(mapview.base_map(schema), schema, scripts)
    html = m.get_root().render()
    assert "/app/static/safetymap/patches.js?v=" in html and "SMP.layer(" in html
    assert html.index("/app/static/safetymap/decode.js?v=") < html.index("/app/static/safetymap/patches.js?v=")
    assert html.count("smKey") >= len(schema.categories)
    hostile = "</script><img src=x onerror=alert(1)>{{ 7*7 }}"
    group = mapview.patch_state_group("1-2-3-4-20261130", hostile, "key", only=[hostile, "TW-001"])
    page = mapview.base_map(schema)
    group.add_to(page)
    rendered = page.get_root().render()
    state = rendered[rendered.index("SMP.state("):]
    state = state[:state.index(");")]
    assert "<" not in state and ">" not in state and "{{ 7*7 }}" in state and "49" not in state
