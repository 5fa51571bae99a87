"""The risk map (风险图斑地图) as folium objects: base map, patch layers, legend, styles and escaping.

Builds and returns objects; renders nothing and imports no streamlit.

- ``base_map()`` — what never changes while the app runs: basemaps, district boundary, controls,
  legend and the small script (``SM``) that styles patches and builds tooltips in the browser;
- ``add_patch_layer()`` — the app's map: a canvas layer that fetches the ledger of a revision from the
  app's data route (``safetymap.mapdata``) and draws it in the browser;
- ``patch_groups()`` — the patches as compact GeoJSON ``FeatureGroup``s (coordinates simplified and
  rounded to what the zoom can show, only the properties the tooltip needs), for ``standalone_html``:
  one self-contained page for benchmarks, checks and offline viewing.

User-entered text never becomes markup: it travels as script-safe JSON and the tooltip puts it into
the page with ``textContent``. What is built as HTML here (legend, layer names) is escaped.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache

import folium
import folium.plugins
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.template import Template

from . import _compat
from .context import route_context, township_frame
from .text import esc as escape_html  # text for HTML (content or quoted attribute); None and NaN -> ''
from .schema import Category, District, Schema, load_schema
from .geo import stake_ranges

DEFAULT_ZOOM = 10
MIN_ZOOM, MAX_ZOOM = 8, 18
MAP_HEIGHT = 640
TILE_PX = 256
SELECTED_COLOR = "#00E5FF"
NARROW_PX = 600  # a map narrower than this (a phone) starts with its layer control collapsed
LEGEND_OPEN_PX = (900, 720)  # and smaller than this (width, height) with its legend folded (one click opens it)
KM_ZOOM = 13  # K stake marks from this zoom on
LABEL_ZOOM = 12  # every route-code label from this zoom on (below it every 4th)
CLOSE_ZOOM = 13  # below it a source line is drawn wider, so a patch never shrinks to a hairline
SOURCE_WEIGHT, SOURCE_WEIGHT_FAR = 3, 5
# Roads by class (context.route_class): colour, line width in px. Slate tones, apart from the grade fills.
ROAD_STYLES = {"expressway": ("#37474F", 5), "national": ("#546E7A", 4), "provincial": ("#607D8B", 3.5),
               "county": ("#78909C", 3), "rural": ("#90A4AE", 2.5), "other": ("#90A4AE", 2.5)}
ROAD_LABELS = {"expressway": "高速公路", "national": "国道", "provincial": "省道", "county": "县道",
               "rural": "乡村道", "other": "其他道路"}
FACILITY_HEADING = "设施（不定级，不计入风险）"
TOWNS_NOTE = "乡镇范围为示意（按乡镇驻地划分），非法定界线"
TIANDITU_URL = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
                "&TILECOL={{x}}&tk={key}")
TIANDITU_ATTR = '&copy; <a href="https://www.tianditu.gov.cn/">天地图</a> 国家地理信息公共服务平台'
OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTR = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


# ---------------------------------------------------------------- escaping
def script_json(value) -> str:
    """JSON that is safe inside a <script> element and inside JS source: no ``<``, ``>``, ``&``, quote
    or line separator survives literally, so user text can neither close the script nor start markup.
    (``${…}`` and backticks are inert inside a JSON double-quoted string.)"""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


# ---------------------------------------------------------------- zoom, precision, view
def pixel_degrees(zoom: float) -> float:
    """Degrees of longitude one screen pixel spans at ``zoom`` (Web Mercator, 256-px tiles)."""
    return 360.0 / (TILE_PX * 2.0 ** zoom)


def _lat_pixel(zoom: float) -> float:
    """The same in latitude at the district (smaller by cos(lat) in Mercator)."""
    return pixel_degrees(zoom) * math.cos(math.radians(load_schema().district.centre[0]))


def decimals_for_zoom(zoom: float) -> int:
    """Decimals of a degree for ``zoom``: rounding moves a point by at most a quarter pixel (4 decimals at
    zoom 10, 6 at zoom 18, never more than 7 ≈ 1 cm)."""
    return int(min(7, max(3, math.ceil(-math.log10(_lat_pixel(zoom) / 2)))))


def tolerance_for_zoom(zoom: float) -> float:
    """Simplification tolerance (degrees): half a pixel, invisible at ``zoom``."""
    return _lat_pixel(zoom) / 2


def simplify_for_zoom(geoms, zoom: float) -> np.ndarray:
    """Geometries simplified (Douglas-Peucker, half a pixel) and rounded for display at ``zoom``. A thin
    patch that would collapse to nothing is simplified again preserving topology (slower, so only
    those); coordinates are rounded after simplifying."""
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return geoms
    tolerance = tolerance_for_zoom(zoom)
    simple = shapely.simplify(geoms, tolerance, preserve_topology=False)
    lost = shapely.is_empty(simple) & ~shapely.is_empty(geoms)
    if lost.any():
        simple[lost] = shapely.simplify(geoms[lost], tolerance, preserve_topology=True)
    decimals = decimals_for_zoom(zoom)
    return shapely.transform(simple, lambda xy: np.round(xy, decimals))


def view_bbox(bounds: dict | None, zoom: float | None) -> tuple[float, float, float, float] | None:
    """The box of patches to send for a view: the view's bounds (as st_folium returns them) snapped
    outward to the tile grid of ``zoom`` plus one tile on each side, so a pan of less than a tile asks
    for the same box and sends nothing new. None when the bounds are unknown."""
    try:
        sw, ne = bounds["_southWest"], bounds["_northEast"]
        minx, miny, maxx, maxy = float(sw["lng"]), float(sw["lat"]), float(ne["lng"]), float(ne["lat"])
    except (TypeError, KeyError, ValueError):
        return None
    if any(v is None or math.isnan(v) for v in (minx, miny, maxx, maxy)) or minx >= maxx or miny >= maxy:
        return None
    cell = TILE_PX * pixel_degrees(DEFAULT_ZOOM if zoom is None else zoom)  # one tile
    low = lambda v: (math.floor(v / cell) - 1) * cell
    high = lambda v: (math.ceil(v / cell) + 1) * cell
    return low(minx), low(miny), high(maxx), high(maxy)


def in_bbox(frame: pd.DataFrame, bbox: tuple[float, float, float, float] | None) -> pd.DataFrame:
    """The rows of ``frame`` whose patch polygon's envelope meets ``bbox`` (all rows when None)."""
    if bbox is None or not len(frame):
        return frame
    b = shapely.bounds(np.asarray(frame.geometry.values, dtype=object))
    minx, miny, maxx, maxy = bbox
    keep = (b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny)
    return frame[keep]


def zoom_to_fit(bounds: tuple[float, float, float, float], width_px: int = 800, height_px: int = MAP_HEIGHT,
                max_zoom: int = 17) -> int:
    """The largest zoom at which ``bounds`` (minx, miny, maxx, maxy) fits in the map with a margin."""
    minx, miny, maxx, maxy = bounds
    for zoom in range(max_zoom, MIN_ZOOM - 1, -1):
        if (maxx - minx) <= 0.7 * width_px * pixel_degrees(zoom) and \
                (maxy - miny) <= 0.7 * height_px * _lat_pixel(zoom):
            return zoom
    return MIN_ZOOM


# ---------------------------------------------------------------- features
def feature_properties(frame: pd.DataFrame, schema: Schema) -> list[dict]:
    """What each feature carries to the browser: ``code`` (returned on click), n(ame), g(rade index,
    -1 if none), r(oute), s(takes), and o(verdue) / f(og ledger) flags when true."""
    grade_index = {g.label: g.rank for g in schema.grades}
    keys = ("code", "name", "risk_grade", "route_code", "overdue", "fog_ledger")
    columns = [frame[c].tolist() if c in frame else [None] * len(frame) for c in keys]
    props = []
    for code, name, grade, route, late, fog, stakes in zip(*columns, stake_ranges(frame)):
        p = {"code": str(code), "n": _text(name), "g": grade_index.get(grade, -1), "r": _text(route), "s": stakes}
        if _true(late):
            p["o"] = 1
        if _true(fog):
            p["f"] = 1
        props.append(p)
    return props


def _text(value) -> str:
    return "" if pd.isna(value) else str(value)


def _true(value) -> bool:
    return not pd.isna(value) and bool(value)


def features_json(geoms, props: list[dict] | None = None) -> str:
    """A script-safe GeoJSON feature array from shapely geometries and per-feature properties."""
    geoms = np.asarray(geoms, dtype=object)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) if len(geoms) else np.zeros(0, bool)
    texts = shapely.to_geojson(geoms[keep]) if keep.any() else []
    props = [{} for _ in range(len(geoms))] if props is None else props
    kept = [p for p, k in zip(props, keep) if k]
    return "[" + ",".join(f'{{"type":"Feature","geometry":{g},"properties":{script_json(p)}}}'
                          for g, p in zip(texts, kept)) + "]"


# ---------------------------------------------------------------- map elements
class SafetyMap(folium.Map):
    """A folium Map that loads Leaflet only (no jQuery, Bootstrap or icon fonts: nothing here uses them)."""

    default_js = [js for js in folium.Map.default_js if js[0] == "leaflet"]
    default_css = [css for css in folium.Map.default_css if css[0] == "leaflet_css"]


class Literal(Element):
    """Rendered text added to the page as is. branca wraps each rendered macro in ``Element(text)``,
    which compiles the text as a Jinja template — so ``{{ … }}`` in a patch name would be evaluated on
    the server (and an unbalanced ``{%`` would break the page). Elements carrying user data use this."""

    _template = Template("{{ this.text }}")

    def __init__(self, text: str):
        super().__init__()
        self.text = text


def render_literally(self: MacroElement, **kwargs) -> None:
    """branca's ``MacroElement.render``, but the rendered header, html and script reach the figure as
    ``Literal`` text, not as ``Element(text)``: that compiles each text as a Jinja template again, so
    ``{{ … }}`` in any text was evaluated, and the ~55 compilations per render of the map (110 per st_folium
    call) were 35 of the ~50 ms st_folium took on every rerun of 地图. Installed below for every MacroElement,
    folium's own elements and plugins too: the app relies on no second Jinja pass anywhere."""
    figure = self.get_root()
    for part, target in (("header", figure.header), ("html", figure.html), ("script", figure.script)):
        macro = self._template.module.__dict__.get(part)
        if macro is not None:
            target.add_child(Literal(macro(self, kwargs)), name=self.get_name())
    for child in _compat.children(self):
        child.render(**kwargs)


MacroElement.render = render_literally  # for every element in this process, once this module is imported


class LiteralMacro(MacroElement):
    """Our own elements: rendered literally (``render_literally``), and without the Leaflet plugin links
    folium's ``JSCSSMixin.render`` would add to the header (``asset_links`` hands them to st_folium)."""

    render = render_literally


class GeoJsonText(LiteralMacro):
    """A GeoJSON layer made in the browser by ``SM.layer`` from prepared script-safe JSON.

    ``kind``: "patch" (styled by grade and category, with tooltip, clickable), "source" (the line or
    point on top, not clickable), "selected" (highlight) or "boundary"."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = SM.layer({{ this.options }}, {{ this.data }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, data: str, kind: str, **options):
        super().__init__()
        self._name = "GeoJsonText"
        self.data = data
        self.options = script_json({"kind": kind, **options})


class ContextLayer(LiteralMacro):
    """The map's own context made in the browser by ``SM.context`` (kind "roads", "km" or "towns")."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = SM.context({{ this.options }}, {{ this.data }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, data: str, kind: str):
        super().__init__()
        self._name = "ContextLayer"
        self.data = data
        self.options = script_json({"kind": kind})


class CategoryGroup(folium.FeatureGroup):
    """A FeatureGroup whose options reach Leaflet (folium passes them where ``L.featureGroup`` expects
    its layers); ``sm_key`` lets the browser keep a category switched off across data updates."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup([], {{ this.options|tojavascript }});
        {% endmacro %}
    """)


class ScriptElement(LiteralMacro):
    """Static script and style added to the base map (the ``SM`` helpers, the legend)."""

    _template = Template("""
        {% macro header(this, kwargs) %}{{ this.css }}{% endmacro %}
        {% macro script(this, kwargs) %}
        {{ this.js }}
        {% endmacro %}
    """)

    def __init__(self, js: str, css: str = ""):
        super().__init__()
        self._name = "ScriptElement"
        self.js = js
        self.css = css


# The browser side: styles, tooltips built with textContent, layer visibility kept across data updates.
SM_JS = """
window.SM = (function () {
  var cfg = %(config)s, hidden = {};
  // Patches on one canvas (fast with thousands); plugins keep Leaflet's SVG renderer, which the measure
  // control needs. Clicks within 3 px of a thin patch still hit it.
  var canvas = L.canvas({padding: 0.5, tolerance: 3});
  // Markers (e.g. from plugins) get an inline icon instead of marker-icon.png, which is not served.
  L.Marker.prototype.options.icon = L.divIcon({className: "sm-pin", iconSize: [20, 30], iconAnchor: [10, 30],
    popupAnchor: [0, -28], html: '<svg width="20" height="30" viewBox="0 0 20 30"><path d="M10 0C4.5 0 0 4.4 0 ' +
    '9.8 0 17 10 30 10 30s10-13 10-20.2C20 4.4 15.5 0 10 0z" fill="#1565C0"/><circle cx="10" cy="10" r="4" ' +
    'fill="#fff"/></svg>'});
  function text(v) { return v === null || v === undefined ? "" : String(v); }
  function tooltip(layer) { return tipBox(layer.feature.properties); }
  function tipBox(p) {
    var box = document.createElement("div");
    cfg.tip.forEach(function (f) {
      var row = document.createElement("div"), label = document.createElement("b");
      if (f[0] === "g" && p.x) return;  // a facility has no grade
      var value = f[0] === "g" ? (p.g >= 0 ? cfg.gradeLabels[p.g] : cfg.noGradeLabel) : p[f[0]];
      label.textContent = f[1] + "：";
      row.appendChild(label);
      row.appendChild(document.createTextNode(text(value)));
      box.appendChild(row);
    });
    [["o", cfg.overdueLabel], ["f", cfg.fogLabel]].forEach(function (flag) {
      if (!p[flag[0]]) return;
      var tag = document.createElement("div");
      tag.className = "sm-flag";
      tag.textContent = flag[1];
      box.appendChild(tag);
    });
    return box;
  }
  function gradeColor(g) { return g >= 0 ? cfg.gradeColors[g] : cfg.noGradeColor; }
  function patchStyle(o) {
    return function (feature) {
      return {color: o.outline, dashArray: o.dash || null, weight: 2, opacity: 0.95,
              fillColor: gradeColor(feature.properties.g), fillOpacity: 0.5};
    };
  }
  function facilityIcon(o) {  // a round marker with the layer's symbol, set as text (never as HTML)
    var el = document.createElement("span");
    el.className = "sm-facility";
    el.style.background = o.outline;
    el.textContent = o.symbol;
    return L.divIcon({className: "sm-pin", html: el, iconSize: [22, 22], iconAnchor: [11, 11]});
  }
  function layer(o, features) {
    if (o.kind === "facility") {
      return L.geoJSON(features, {pointToLayer: function (f, latlng) {
        return L.marker(latlng, {icon: facilityIcon(o), keyboard: false});
      }, onEachFeature: function (f, l) { l.bindTooltip(tooltip, {className: "sm-tooltip"}); }});
    }
    if (o.kind === "patch") {
      return L.geoJSON(features, {renderer: canvas, style: patchStyle(o), onEachFeature: function (f, l) {
        l.bindTooltip(tooltip, {sticky: true, className: "sm-tooltip"});
      }});
    }
    var style = o.kind === "selected" ? {color: cfg.selectedColor, weight: 5, opacity: 1, fill: false}
      : o.kind === "boundary" ? {color: "#444", weight: 2, opacity: 0.8, dashArray: "10 4 2 4", fill: false}
      : function (f) { return {color: gradeColor(f.properties.g), weight: o.weight || 3, opacity: 1}; };
    return L.geoJSON(features, {renderer: canvas, interactive: false, style: style, pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, {renderer: canvas, radius: 5, color: o.outline, weight: 2,
                                     fillColor: gradeColor(f.properties.g), fillOpacity: 1});
    }});
  }
  // A category switched off in the layer control stays off when new data for it arrives.
  var onInputClick = L.Control.Layers.prototype._onInputClick;
  L.Control.Layers.prototype._onInputClick = function () {
    SM.userToggle = true;
    try { return onInputClick.apply(this, arguments); } finally { SM.userToggle = false; }
  };
  function track(map) {
    map.on("overlayadd overlayremove", function (e) {
      var key = e.layer && e.layer.options && e.layer.options.smKey;
      if (key && SM.userToggle) hidden[key] = e.type === "overlayremove";
    });
    map.on("layeradd", function (e) {
      var key = e.layer && e.layer.options && e.layer.options.smKey;
      if (key && hidden[key]) map.removeLayer(e.layer);
    });
  }
  // The bureau's own context under the patches: township areas and roads on one canvas in a pane below
  // the patches; route codes, K marks and township names as text labels that never take a click.
  // Label text comes in as JSON data and is set with textContent.
  var contextCanvas = null;
  function pane(map, name, z) {
    if (!map.getPane(name)) map.createPane(name).style.zIndex = z;
    return name;
  }
  function labelMarker(map, latlng, text, cls, background) {
    var el = document.createElement("span");
    el.className = cls;
    el.textContent = text;
    if (background) el.style.background = background;
    return L.marker(latlng, {pane: pane(map, "smLabels", 450), interactive: false, keyboard: false,
      icon: L.divIcon({className: "sm-label-box", html: el, iconSize: null})});
  }
  function roadStyle(kind) { return cfg.roads[kind] || cfg.roads.other; }
  function context(o, data) {
    var map = SM.map, group = L.layerGroup();
    contextCanvas = contextCanvas || L.canvas({pane: pane(map, "smContext", 350), padding: 0.5});
    if (o.kind === "roads") {
      [true, false].forEach(function (casing) {
        L.geoJSON(data.lines, {renderer: contextCanvas, interactive: false, style: function (f) {
          var s = roadStyle(f.properties.k);
          return casing ? {color: "#fff", weight: s[1] + 3, opacity: 0.9} : {color: s[0], weight: s[1], opacity: 1};
        }}).addTo(group);
      });
      data.labels.forEach(function (l) {
        var cls = l[4] ? "sm-route-label" : "sm-route-label sm-minor";
        labelMarker(map, [l[0], l[1]], l[2], cls, roadStyle(l[3])[0]).addTo(group);
      });
    } else if (o.kind === "km") {
      data.forEach(function (k) { labelMarker(map, [k[0], k[1]], k[2], "sm-km").addTo(group); });
    } else if (o.kind === "towns") {
      L.geoJSON(data.areas, {renderer: contextCanvas, interactive: false, style: {color: "#8a7a66", weight: 1.5,
        dashArray: "6 5", opacity: 0.9, fill: false}}).addTo(group);
      data.seats.forEach(function (t) { labelMarker(map, [t[0], t[1]], t[2], "sm-town").addTo(group); });
    }
    return group;
  }
  // K marks show from cfg.kmZoom on, the minor route labels from cfg.labelZoom (classes on the map
  // container; CSS hides them below).
  function zoomClass(map) {
    var apply = function () {
      [["sm-km-on", cfg.kmZoom], ["sm-labels-on", cfg.labelZoom]].forEach(function (c) {
        L.DomUtil[map.getZoom() >= c[1] ? "addClass" : "removeClass"](map.getContainer(), c[0]);
      });
    };
    map.on("zoomend", apply);
    apply();
  }
  // Leaflet focuses the map on the first mousedown (for keyboard panning); focus() scrolls every
  // ancestor, the page around the iframe too, so the click lands ~50 px off. Focus without scrolling.
  // (Its listener is found by function on removal: unhook with the old one, hook the new one.)
  function quietFocus(map) {
    var on = map.keyboard && map.keyboard.enabled();
    if (on) map.keyboard.disable();
    L.Map.Keyboard.prototype._onMouseDown = function () {
      if (!this._focused) this._map._container.focus({preventScroll: true});
    };
    if (on) map.keyboard.enable();
  }
  // On a narrow map (a phone) the layer control starts collapsed and the legend closed.
  var narrow = function (map) { return map.getSize().x < cfg.narrowPx; };
  L.Control.Layers.addInitHook(function () { if (SM.map && narrow(SM.map)) this.options.collapsed = true; });
  return {layer: layer, context: context, track: track, quietFocus: quietFocus, zoomClass: zoomClass,
          narrow: narrow, cfg: cfg, hidden: hidden, userToggle: false, tipBox: tipBox, gradeColor: gradeColor};
})();
SM.map = %(map)s;
SM.track(SM.map);
SM.quietFocus(SM.map);
SM.zoomClass(SM.map);
"""

SM_CSS = """<style>
.leaflet-container { background: #f3f2ee; }
.sm-tooltip { font-size: 13px; line-height: 1.45; min-width: 220px; width: max-content; max-width: 320px;
  white-space: normal; overflow-wrap: anywhere; }
.sm-tooltip b { color: #555; font-weight: 600; }
.sm-flag { display: inline-block; margin: 2px 4px 0 0; padding: 0 4px; border-radius: 3px; color: #fff;
  background: #C62828; font-size: 12px; }
.sm-legend { background: rgba(255,255,255,.92); padding: 6px 8px; border-radius: 4px; font-size: 12px;
  line-height: 18px; box-shadow: 0 1px 4px rgba(0,0,0,.3); max-width: 220px; }
.sm-legend h4 { margin: 0 0 2px; font-size: 12px; }
.sm-legend summary { cursor: pointer; font-weight: 600; }
.sm-legend details[open] { max-height: calc(100vh - 70px); overflow-y: auto; }
.sm-legend details:not([open]) { line-height: 16px; }
.sm-legend .sm-note { color: #666; font-size: 11px; white-space: normal; }
.sm-legend div { display: flex; align-items: center; gap: 6px; white-space: nowrap; }
.sm-legend svg { flex: none; }
.sm-pin { background: none; border: none; }
.sm-facility { display: block; width: 18px; height: 18px; border: 2px solid #fff; border-radius: 50%; color: #fff;
  font: 600 11px/18px sans-serif; text-align: center; box-shadow: 0 0 3px rgba(0,0,0,.5); }
.sm-label-box { background: none; border: none; }
.sm-label-box span { display: inline-block; transform: translate(-50%, -50%); white-space: nowrap; }
.sm-route-label { padding: 0 4px; border-radius: 3px; border: 1px solid #fff; color: #fff; font: 600 11px/15px
  sans-serif; box-shadow: 0 0 2px rgba(0,0,0,.4); }
.sm-km { display: none !important; padding: 0 3px; border-radius: 2px; background: rgba(255,255,255,.9);
  border: 1px solid #607D8B; color: #263238; font: 11px/13px sans-serif; }
.sm-km-on .sm-km { display: inline-block !important; }
.sm-route-label.sm-minor { display: none; }
.sm-labels-on .sm-route-label.sm-minor { display: inline-block; }
.sm-town { color: #5d4e3c; font: 600 13px/16px sans-serif; letter-spacing: 1px;
  text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff; }
.sm-swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
.leaflet-control-locate a { display: flex; align-items: center; justify-content: center; }
.sm-icon-locate { display: inline-block; width: 18px; height: 18px; margin-top: 6px;
  background: no-repeat center/18px url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' \
viewBox='0 0 24 24' fill='none' stroke='%23333' stroke-width='2'%3E%3Ccircle cx='12' cy='12' r='6'/%3E\
%3Ccircle cx='12' cy='12' r='2' fill='%23333'/%3E%3Cpath d='M12 1v4M12 19v4M1 12h4M19 12h4'/%3E%3C/svg%3E"); }
.leaflet-control-locate.requesting .sm-icon-locate { opacity: .4; }
.leaflet-control-locate.active .sm-icon-locate { filter: invert(35%) sepia(90%) saturate(2000%) hue-rotate(190deg); }
</style>"""


def sm_config(schema: Schema) -> dict:
    label = schema.label
    return {
        "gradeColors": [g.color for g in schema.grades], "gradeLabels": [g.label for g in schema.grades],
        "noGradeColor": schema.grade_color(None), "noGradeLabel": schema.ungraded_label, "selectedColor": SELECTED_COLOR,
        "overdueLabel": "整改逾期", "fogLabel": "团雾台账路段",
        "narrowPx": NARROW_PX, "legendPx": LEGEND_OPEN_PX, "kmZoom": KM_ZOOM, "labelZoom": LABEL_ZOOM,
        "roads": ROAD_STYLES,
        "tip": [["code", label("code")], ["n", label("name")], ["g", label("risk_grade")],
                ["r", label("route_code")], ["s", "桩号"]],
    }


def _dash_svg(outline: str, dash: str, fill: str = "#ffffff") -> str:
    return (f'<svg width="30" height="14" aria-hidden="true"><rect x="1.5" y="1.5" width="27" height="11" '
            f'fill="{escape_html(fill)}" fill-opacity="0.6" stroke="{escape_html(outline)}" stroke-width="2.5" '
            f'stroke-dasharray="{escape_html(dash)}"/></svg>')


def _road_svg(kind: str) -> str:
    color, width = ROAD_STYLES[kind]
    return (f'<svg width="30" height="14" aria-hidden="true"><line x1="1" y1="7" x2="29" y2="7" stroke="#fff" '
            f'stroke-width="{width + 3}"/><line x1="1" y1="7" x2="29" y2="7" stroke="{escape_html(color)}" '
            f'stroke-width="{width}"/></svg>')


def _facility_svg(c: Category) -> str:
    """The facility layer's marker: its symbol in a circle of its outline colour."""
    return (f'<svg width="30" height="18" aria-hidden="true"><circle cx="15" cy="9" r="8" fill="{escape_html(c.outline)}" '
            f'stroke="#fff" stroke-width="1.5"/><text x="15" y="13" font-size="10" fill="#fff" text-anchor="middle">'
            f"{escape_html(c.symbol)}</text></svg>")


def _swatch(c: Category) -> str:
    return _facility_svg(c) if c.is_facility else _dash_svg(c.outline, c.dash)


def legend_html(schema: Schema, road_kinds: tuple[str, ...] = ()) -> str:
    """The legend from the schema: grade fill colours, then each risk category's outline and dash, the
    facility layers' markers (not graded); then the road classes drawn and the schematic township note.
    A <details>, so it folds away."""
    parts = [f"<details open><summary>图例</summary><h4>{escape_html(schema.label('risk_grade'))}（填充）</h4>"]
    for g in schema.grades:
        parts.append(f'<div><span class="sm-swatch" style="background:{escape_html(g.color)}"></span>'
                     f"{escape_html(g.label)}</div>")
    parts.append(f'<div><span class="sm-swatch" style="background:{escape_html(schema.grade_color(None))}"></span>'
                 f"{escape_html(schema.ungraded_label)}</div>")
    parts.append('<h4 style="margin-top:4px">类别（边框）</h4>')
    for c in schema.risk_categories:
        parts.append(f"<div>{_swatch(c)}{escape_html(c.label)}</div>")
    facilities = [c for c in schema.categories if c.is_facility]
    if facilities:
        parts.append(f'<h4 style="margin-top:4px">{escape_html(FACILITY_HEADING)}</h4>')
        parts += [f"<div>{_swatch(c)}{escape_html(c.label)}</div>" for c in facilities]
    parts.append(f'<div>{_dash_svg(SELECTED_COLOR, "")}当前选中</div>')
    if road_kinds:
        parts.append('<h4 style="margin-top:4px">路网</h4>')
        parts += [f"<div>{_road_svg(k)}{ROAD_LABELS[k]}</div>" for k in ROAD_STYLES if k in road_kinds]
        parts.append(f'<div class="sm-note">公里桩 K 在 {KM_ZOOM} 级及以上显示；{TOWNS_NOTE}</div>')
    parts.append("</details>")
    return "".join(parts)


def legend_js(schema: Schema, map_name: str, road_kinds: tuple[str, ...] = ()) -> str:
    return (
        "(function () { var legend = L.control({position: 'bottomright'});\n"
        "  legend.onAdd = function () { var div = L.DomUtil.create('div', 'sm-legend');\n"
        f"    div.innerHTML = {script_json(legend_html(schema, road_kinds))};\n"
        "    var size = SM.map.getSize(), open = SM.cfg.legendPx;\n"
        "    if (size.x < open[0] || size.y < open[1]) div.querySelector('details').removeAttribute('open');\n"
        "    L.DomEvent.disableClickPropagation(div); L.DomEvent.disableScrollPropagation(div); return div; };\n"
        f"  legend.addTo({map_name}); }})();"
    )


def layer_name(c: Category) -> str:
    """The category's name in the layer control (Leaflet inserts it as HTML): a swatch and the label."""
    return f'<span style="vertical-align:middle">{_swatch(c)}</span> {escape_html(c.label)}'


# ---------------------------------------------------------------- basemaps
@dataclass(frozen=True)
class Basemap:
    key: str
    label: str
    urls: tuple[str, ...] = ()  # tile URL templates, drawn in order (e.g. imagery, then labels)
    attribution: str = ""
    subdomains: str = "abc"
    min_zoom: int = 0
    max_zoom: int = 18
    bounds: tuple[float, float, float, float] | None = None  # west, south, east, north of the tiles


NONE_BASEMAP = Basemap("none", "无底图")


def basemaps(tianditu_key: str | None = None, local=None) -> list[Basemap]:
    """The basemaps to offer: Tianditu vector and imagery (with labels) only with a key; OSM; local tiles
    (an ``assets.TileSource``) when configured; and none. Tianditu and OSM are WGS84/CGCS2000-aligned
    Web Mercator, so patches need no offset (GCJ-02 basemaps such as Amap must not be added here)."""
    out = [NONE_BASEMAP]
    if local is not None:
        out.append(Basemap("local", f"本地瓦片（{local.name}）", (local.url,), escape_html(local.attribution),
                           "", local.min_zoom, local.max_zoom, local.bounds))
    if tianditu_key:
        key = tianditu_key.strip()
        out.append(Basemap("tianditu_vec", "天地图矢量", (TIANDITU_URL.format(layer="vec", key=key),
                                                       TIANDITU_URL.format(layer="cva", key=key)),
                           TIANDITU_ATTR, "01234567", 1, 18))
        out.append(Basemap("tianditu_img", "天地图影像", (TIANDITU_URL.format(layer="img", key=key),
                                                       TIANDITU_URL.format(layer="cia", key=key)),
                           TIANDITU_ATTR, "01234567", 1, 18))
    out.append(Basemap("osm", "OpenStreetMap", (OSM_URL,), OSM_ATTR, "", 0, 19))
    return out


def default_basemap(options: list[Basemap], wanted: str | None = None) -> str:
    """``wanted`` if offered; otherwise local tiles, then Tianditu vector, then none: never a basemap
    from the internet unless it was configured (a key) or asked for."""
    keys = [b.key for b in options]
    for key in (wanted, "local", "tianditu_vec"):
        if key and key in keys:
            return key
    return "none"


def _basemap_layer(b: Basemap, show: bool) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=escape_html(b.label), overlay=False, control=True, show=show)
    extent = {}
    if b.bounds is not None:  # inset by ~10 cm: a tile that only touches the edge is not requested
        west, south, east, north = b.bounds
        extent["bounds"] = [[south + 1e-6, west + 1e-6], [north - 1e-6, east - 1e-6]]
    for url in b.urls:
        folium.TileLayer(tiles=url, attr=b.attribution or " ", name=b.label, overlay=False, control=False,
                         subdomains=b.subdomains or "abc", min_zoom=b.min_zoom, max_zoom=MAX_ZOOM,
                         max_native_zoom=b.max_zoom, **extent).add_to(group)
    return group


# ---------------------------------------------------------------- the map
@lru_cache(maxsize=4)
def boundary_json(district: District) -> str:
    geom = simplify_for_zoom([district.boundary], 13)
    return features_json(geom)


@dataclass(frozen=True)
class MapContext:
    """The context layers as script-safe JSON (the same text for the same data, so the base map and
    with it the view survive reruns), and the road classes present (for the legend)."""
    roads: str
    km: str
    towns: str
    road_kinds: tuple[str, ...]


def _latlon(point, decimals: int = 6) -> list[float]:
    return [round(point.y, decimals), round(point.x, decimals)]


def map_context(routes: pd.DataFrame) -> MapContext:
    """Roads with route-code labels and K marks from the ledger's routes, and the schematic townships."""
    ctx = route_context(routes)
    roads = ctx["roads"]
    lines = features_json(simplify_for_zoom([r["geometry"] for r in roads], 15),
                          [{"k": r["kind"]} for r in roads])
    labels = [_latlon(l["point"]) + [l["code"], l["kind"], int(l["major"])] for l in ctx["labels"]]
    marks = [_latlon(m["point"]) + [f"K{m['km']}"] for m in ctx["marks"]]
    towns = township_frame()
    areas = features_json(simplify_for_zoom(towns["geometry"].values, 12))
    seats = [_latlon(p) + [n] for p, n in zip(towns["seat"], towns["name"])]
    return MapContext(f'{{"lines":{lines},"labels":{script_json(labels)}}}', script_json(marks),
                      f'{{"areas":{areas},"seats":{script_json(seats)}}}',
                      tuple(sorted({r["kind"] for r in roads})))


def add_context(m: folium.Map, ctx: MapContext) -> None:
    for name, kind, data in (("乡镇（示意）", "towns", ctx.towns), ("路网", "roads", ctx.roads),
                             (f"公里桩（{KM_ZOOM}级及以上）", "km", ctx.km)):
        group = folium.FeatureGroup(name=name, overlay=True, control=True, show=True)
        ContextLayer(data, kind).add_to(group)
        group.add_to(m)


def base_map(schema: Schema, basemap_options: list[Basemap] | None = None, selected_basemap: str | None = None,
             *, height: int = MAP_HEIGHT, context: MapContext | None = None) -> SafetyMap:
    """The part of the map that stays the same across reruns (so st_folium keeps the view): basemaps,
    the district boundary, the ``context`` (roads, K marks, townships), fullscreen / measure / locate
    controls, the legend, and the ``SM`` script (patches are drawn on one canvas renderer; the map's
    default stays SVG for the plugins)."""
    _compat.check_leaflet()  # the SM script wraps a private Leaflet method
    options = basemap_options or [NONE_BASEMAP]
    chosen = default_basemap(options, selected_basemap)
    m = SafetyMap(location=schema.district.centre, zoom_start=DEFAULT_ZOOM, tiles=None,
                  min_zoom=MIN_ZOOM, max_zoom=MAX_ZOOM, height=height)
    m.add_child(ScriptElement(SM_JS % {"config": script_json(sm_config(schema)), "map": m.get_name()}, SM_CSS))
    for b in options:
        _basemap_layer(b, show=b.key == chosen).add_to(m)
    boundary = folium.FeatureGroup(name=f"{schema.district.name}界", overlay=True, control=True, show=True)
    GeoJsonText(boundary_json(schema.district), "boundary").add_to(boundary)
    boundary.add_to(m)
    if context is not None:
        add_context(m, context)
    folium.plugins.Fullscreen(position="topleft", title="全屏", title_cancel="退出全屏").add_to(m)
    folium.plugins.MeasureControl(position="topleft", primary_length_unit="meters", secondary_length_unit="kilometers",
                                  primary_area_unit="sqmeters", secondary_area_unit="hectares",
                                  localization="cn").add_to(m)
    folium.plugins.LocateControl(position="topleft", icon="sm-icon-locate", iconLoading="sm-icon-locate",
                                 strings={"title": "定位我的位置", "popup": "您在此点 {distance} {unit} 范围内",
                                          "metersUnit": "米", "outsideMapBoundsMsg": "您的位置不在地图范围内"}).add_to(m)
    kinds = context.road_kinds if context is not None else ()
    m.add_child(ScriptElement(legend_js(schema, m.get_name(), kinds)
                              + f"\nL.control.scale({{imperial: false}}).addTo({m.get_name()});"))
    return m


def patch_groups(frame: pd.DataFrame, schema: Schema, *, zoom: float | None = None,
                 highlight: pd.DataFrame | None = None, texts: dict | None = None) -> list[folium.FeatureGroup]:
    """One FeatureGroup per category (named for the layer control) holding its patches, simplified for
    ``zoom``, with their source lines/points on top; and an outline around the ``highlight`` patches.
    ``texts``: ``patch_texts(frame, schema, zoom)`` made before (a cache), so only the groups are new."""
    zoom = DEFAULT_ZOOM if zoom is None else zoom
    texts = patch_texts(frame, schema, zoom) if texts is None else texts
    groups = [_group_of_texts(c, texts[c.key], zoom) for c in schema.categories]
    group = folium.FeatureGroup(name="当前选中", overlay=True, control=False, show=True)
    geoms = [] if highlight is None else highlight.geometry.values
    GeoJsonText(features_json(simplify_for_zoom(geoms, max(zoom, 14))), "selected").add_to(group)
    return groups + [group]


def patch_texts(frame: pd.DataFrame, schema: Schema, zoom: float) -> dict[str, tuple[str, str | None]]:
    """The costly part of ``patch_groups``, plain text that can be kept and shared: per category key the
    patches' and the source lines'/points' feature JSON for ``zoom``."""
    out = {}
    for c in schema.categories:
        part = frame[frame["category"] == c.key] if len(frame) else frame
        props = feature_properties(part, schema)
        if c.is_facility:  # its points as markers with its symbol; no patch polygon, no grade
            points = part["source_geometry"].values if "source_geometry" in part else part.geometry.centroid.values
            out[c.key] = (features_json(points, [p | {"x": 1} for p in props]), None)
            continue
        patches = features_json(simplify_for_zoom(part.geometry.values, zoom), props)
        sources = None
        if "source_geometry" in part:
            sources = features_json(simplify_for_zoom(part["source_geometry"].values, zoom),
                                    [{"g": p["g"]} for p in props])
        out[c.key] = (patches, sources)
    return out


def category_group(part: pd.DataFrame, c: Category, schema: Schema, zoom: float) -> folium.FeatureGroup:
    one = part.assign(category=c.key)
    return _group_of_texts(c, patch_texts(one, schema, zoom)[c.key], zoom)


def _group_of_texts(c: Category, texts: tuple[str, str | None], zoom: float) -> folium.FeatureGroup:
    group = CategoryGroup(name=layer_name(c), overlay=True, control=True, show=True, sm_key=c.key)
    style = {"outline": c.outline, "dash": c.dash}
    patches, sources = texts
    if c.is_facility:
        GeoJsonText(patches, "facility", symbol=c.symbol, **style).add_to(group)
        return group
    GeoJsonText(patches, "patch", **style).add_to(group)
    if sources is not None:
        weight = SOURCE_WEIGHT if zoom >= CLOSE_ZOOM else SOURCE_WEIGHT_FAR
        GeoJsonText(sources, "source", weight=weight, **style).add_to(group)
    return group


# ---------------------------------------------------------------- the browser-held ledger (issue 16)
PATCHES_JS = "safetymap/patches.js"  # under static/, written by assets.install()
DECODE_JS = "safetymap/decode.js"  # the payload's decoder, loaded before patches.js (and run as a worker)
FINE_ZOOM = 13  # from this zoom the browser draws the fine level (safetymap.mapdata)
CELL_DEG = 0.05  # the fine level is served in cells of this many degrees (a zoomed-in view needs a few)


class PatchLayer(LiteralMacro, folium.elements.JSCSSMixin):
    """The layer that holds the ledger in the browser (``SMP`` in ``static/safetymap/patches.js``): it
    fetches the payload of a revision from the app's data route, draws the patches into canvas tiles (a
    Leaflet GridLayer) and hit-tests and reports clicks itself. Its script comes from the app
    (``assets``), like Leaflet's."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = SMP.layer({{ this.config }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)
    default_js = [("smdecode", "/app/static/" + DECODE_JS), ("smpatches", "/app/static/" + PATCHES_JS)]

    def __init__(self, schema: Schema, script_urls: tuple[str, str] | None = None):
        super().__init__()
        self._name = "PatchLayer"
        if script_urls:  # the decoder's and the layer's
            self.default_js = list(zip(("smdecode", "smpatches"), script_urls))
        self.config = script_json(patch_config(schema))

    def render(self, **kwargs):
        figure = self.get_root()
        for name, url in self.default_js:  # a whole page (not st_folium, which loads default_js itself)
            figure.header.add_child(folium.elements.JavascriptLink(url), name=name)
        super().render(**kwargs)


def patch_config(schema: Schema) -> dict:
    """What the browser needs to style the payload's indices: categories in payload order with their
    outline, dash and symbol, which are facilities, and the zooms and widths the map uses."""
    return {"cats": [c.key for c in schema.categories], "facility": [c.is_facility for c in schema.categories],
            "styles": [{"outline": c.outline, "dash": c.dash or "", "symbol": c.symbol if c.is_facility else ""}
                       for c in schema.categories],
            "fineZoom": FINE_ZOOM, "cellDeg": CELL_DEG, "closeZoom": CLOSE_ZOOM, "sourceWeight": SOURCE_WEIGHT,
            "sourceWeightFar": SOURCE_WEIGHT_FAR, "selectedColor": SELECTED_COLOR}


def add_patch_layer(m: folium.Map, schema: Schema, script_urls: tuple[str, str] | None = None) -> folium.Map:
    """The browser-held patch layer and, per category, an empty group named for the layer control:
    switching it off hides that category (the layer listens for it). Part of the base map: it never
    changes with the data, so ``st_folium`` keeps the map and its view."""
    for c in schema.categories:
        CategoryGroup(name=layer_name(c), overlay=True, control=True, show=True, sm_key=c.key).add_to(m)
    m.add_child(PatchLayer(schema, script_urls))
    return m


class PatchState(LiteralMacro):
    """This rerun's state for the patch layer: the revision to show, the filter and the selected patch."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        SMP.state({{ this.state }});
        {% endmacro %}
    """)

    def __init__(self, state: dict):
        super().__init__()
        self._name = "PatchState"
        self.state = script_json(state)


def patch_state_group(token: str, selected: str | None, view_key: str | None = None, only: list[str] | None = None,
                      hidden: list[str] | None = None) -> folium.FeatureGroup:
    """The small group ``st_folium`` sends on each rerun (``feature_group_to_add``) instead of patches:
    the revision, the selected patch, the key the map reports its view under, and the filter."""
    state = {"token": token, "selected": selected, "viewKey": view_key}
    if only is not None:
        state["only"] = list(only)
    elif hidden is not None:
        state["except"] = list(hidden)
    group = folium.FeatureGroup(name="图斑状态", overlay=True, control=False, show=True)
    PatchState(state).add_to(group)
    return group


def _elements(element: Element):
    """``element`` and everything under it, parents first (the order streamlit-folium walks them in)."""
    yield element
    for child in _compat.children(element):
        yield from _elements(child)


def asset_links(m: folium.Map) -> tuple[list[str], list[str]]:
    """The script and style sheet addresses of ``m`` and its elements, in the order streamlit-folium loads them."""
    elements = list(_elements(m))
    scripts = [src for e in elements for _, src in getattr(e, "default_js", [])]
    styles = [href for e in elements for _, href in getattr(e, "default_css", [])]
    return list(dict.fromkeys(scripts)), list(dict.fromkeys(styles))


def layer_control() -> folium.LayerControl:
    """Open on a wide map; ``SM`` makes it start collapsed on a narrow one (the width is the browser's)."""
    return folium.LayerControl(position="topright", collapsed=False)


def standalone_html(schema: Schema, frame: pd.DataFrame, *, zoom: float | None = None, **kwargs) -> str:
    """The whole map as one HTML page (for benchmarks, checks and offline viewing), patches simplified
    for ``zoom``; ``kwargs`` go to ``base_map``."""
    m = base_map(schema, **kwargs)
    for group in patch_groups(frame, schema, zoom=zoom):
        group.add_to(m)
    layer_control().add_to(m)
    return m.get_root().render()


# ---------------------------------------------------------------- drawing a source geometry
DRAW_LOCAL_JS = """
if (L.drawLocal) {
  var d = L.drawLocal.draw;
  d.toolbar.actions = {title: "取消绘制", text: "取消"};
  d.toolbar.finish = {title: "完成绘制", text: "完成"};
  d.toolbar.undo = {title: "删除最后一个点", text: "撤销"};
  d.toolbar.buttons.polyline = "画路段中心线";
  d.toolbar.buttons.marker = "标桥梁位置点";
  d.handlers.polyline.tooltip = {start: "点击开始画线", cont: "点击继续画线", end: "点击最后一个点结束"};
  d.handlers.marker.tooltip = {start: "点击地图放置位置点"};
  L.drawLocal.edit.toolbar.buttons.remove = "删除已画的图形";
  L.drawLocal.edit.toolbar.buttons.removeDisabled = "没有可删除的图形";
  L.drawLocal.edit.toolbar.actions.save = {title: "保存删除", text: "保存"};
  L.drawLocal.edit.toolbar.actions.cancel = {title: "取消删除", text: "取消"};
  L.drawLocal.edit.toolbar.actions.clearAll = {title: "全部删除", text: "全部删除"};
}
"""
DRAW_HEIGHT = 420
DRAW_OPTIONS = {"polyline": {"shapeOptions": {"color": "#d11", "weight": 4}}, "marker": True, "polygon": False,
                "rectangle": False, "circle": False, "circlemarker": False}


def draw_map(schema: Schema, current=None, basemap_options: list[Basemap] | None = None, *,
             height: int = DRAW_HEIGHT) -> SafetyMap:
    """A map for drawing a patch's source line (or bridge point), showing its current geometry (no user
    text reaches it), zoomed to it."""
    m = base_map(schema, basemap_options, height=height)
    if current is not None and not current.is_empty:
        group = folium.FeatureGroup(name="当前几何", overlay=True, control=False, show=True)
        GeoJsonText(features_json([current]), "selected").add_to(group)
        group.add_to(m)
        minx, miny, maxx, maxy = current.buffer(0.002).bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    m.add_child(ScriptElement(DRAW_LOCAL_JS, ""))  # Chinese toolbar texts, set before the control is made
    folium.plugins.Draw(position="topleft", draw_options=DRAW_OPTIONS, edit_options={"edit": False, "remove": True},
                        export=False).add_to(m)
    return m
