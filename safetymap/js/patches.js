/* safetymap: the ledger's patches drawn by the browser (issue 16).
 *
 * SMP.layer(options) makes one Leaflet GridLayer that takes the ledger's payload once per revision from
 * the app's data route (safetymap.mapdata, served by safetymap.ui.web; the first one fetched and decoded by
 * the worker early.js starts, the others decoded here as they arrive, both with decode.js), keeps
 * every patch in memory with a grid index, and draws the patches itself into 256 px canvas tiles: pan and
 * zoom never ask the server for anything, a pan draws only the tiles it uncovers (a ring around the view
 * is drawn ahead, after the view),
 * and a change redraws only the tiles it meets. The page passes only small state per rerun (SMP.state:
 * revision, filter, selected patch); a new revision fetches only the delta.
 *
 * A click on a patch is reported the way streamlit-folium reports a clicked GeoJSON feature: a "click"
 * event on a layer it listens to, whose `layer.toGeoJSON()` gives the feature with the patch code.
 * User text (names, routes) arrives as JSON data and reaches the page only through textContent (SM.tipBox).
 */
(function () {
  "use strict";
  var decode = SMPdecode.decode, readPayload = SMPdecode.readPayload;  // (decode.js, loaded first)
  var CELL = 1 / 16384;  // grid cell in world units (Web Mercator 0..1): about 1.8 km here
  var LEVELS = ["coarse", "fine"];
  var OVERDUE = 1, FOG = 2, FACILITY = 4;

  // A block's texts (name, route, stakes per patch), read from its JSON when first asked (a tooltip, a click).
  function textsOf(block) {
    if (!block.texts) block.texts = JSON.parse(new TextDecoder().decode(block.textBytes));
    return block.texts;
  }

  // The payload of `url` that the page asked a worker for before this script ran (early.js), taken once: a
  // promise of its decoded block (of null when no worker could run).
  function early(url) {
    var pending = window.SMPearly && window.SMPearly.pending;
    if (!pending || pending.url !== new URL(url, window.location.href).href) return null;
    window.SMPearly.pending = null;
    return pending.block;
  }

  function api(route) {  // the app's root as seen from the component's iframe (…/component/<name>/index.html)
    var path = window.location.pathname, at = path.indexOf("/component/");
    return (at >= 0 ? path.slice(0, at) : "") + "/api/" + route;
  }

  // Drawn in canvas tiles of TILE px (a Leaflet GridLayer): a pan draws only the tiles it uncovers, a zoom
  // draws the new level's tiles while Leaflet animates, and a change redraws only the tiles it meets.
  var TILE = 256;
  // Markers (drawn as sprites, hit within their outline): a facility's, and a point source's (a bridge).
  var FACILITY_R = 10, POINT_R = 5, MARKER_LINE = 2;
  var MARGIN = FACILITY_R + MARKER_LINE + 1;  // px beyond a tile that can still paint into it (+1: sprites snap to px)
  var SLICE_MS = 12;  // the drawing yields to the browser after this long (tiles show as they are done)
  // The ring of tiles around the view is drawn ahead this long after the map's first view is drawn (at once
  // after the map is first moved): users opening the map at once (browsers sharing the CPU with the app)
  // are not slowed by each other's drawing ahead.
  var RING_DELAY_MS = 500;
  var TINY_PX = 4;  // a patch smaller than this each way is drawn as its box
  var DASH_PX = 24;  // a category's dash pattern is drawn on patches at least this big (smaller: solid)
  var STEP_PX = 1;  // a vertex closer than this to the last one drawn is skipped
  var BATCH = 64;  // patches per path
  var OUTLINE_PX = 1;  // a small patch's outline
  var THICK_PX = 2;  // a big patch's (dashed) outline

  var Layer = L.GridLayer.extend({
    options: {tileSize: TILE, pane: "smPatches", tolerance: 3, updateWhenZooming: true, keepBuffer: 2},

    initialize: function (options) {
      L.GridLayer.prototype.initialize.call(this, options);
      this._records = new Map();  // code -> {code, cat, g, f, tb, ti, at: {level: [block, i]}}: texts in block tb at ti
      this._tokens = {};  // level -> revision token held
      this._fetching = {};  // level -> promise
      this._grid = new Map();
      this._cells = new Set();  // fine cells held ("cx_cy")
      this._hiddenCats = {};
      this._filter = null;
      this._selected = null;
      this._wanted = null;
      this._slots = null;  // the grid's (_index): records by slot, their boxes, the stamp each was last seen with
      this._slotBox = null;
      this._seen = null;
      this._stamp = 0;
      this._paintDue = false;  // the view changed (or its data): `painted` is renewed once it is all drawn
      this._ringAt = Infinity;  // from when the tiles around the view are drawn (performance.now())
      this.painted = null;  // {token, at, frame, level, shown}: the view is fully drawn (benchmarks, tests)
      this.bytes = 0;  // payload bytes received (after the transfer's gzip is undone)
      this.deltas = [];  // the deltas applied (tests, benchmarks)
      this.hideUnderSources = true;  // false: every polygon drawn (tests compare the two pictures)
      this.hideUnderMarkers = true;  // false: what markers cover drawn too (tests compare the two pictures)
      this._px = new Float64Array(1024);  // scratch of _trace: a patch's parts in tile pixels
      this._ends = new Uint32Array(64);
    },

    // ------------------------------------------------------------ Leaflet plumbing
    onAdd: function (map) {
      // The patches above the context (350) and the other overlays; the selected patch above them.
      [["smPatches", 400], ["smSelected", 410]].forEach(function (p) {
        if (!map.getPane(p[0])) map.createPane(p[0]).style.zIndex = p[1];
      });
      map.getPane("smPatches").style.pointerEvents = "none";
      L.GridLayer.prototype.onAdd.call(this, map);
      map.on("click", this._onClick, this);
      map.on("mousemove", this._onMouseMove, this);
      map.on("mouseout", this._hideTip, this);
      map.on("overlayadd overlayremove", this._onToggle, this);
      map.on("moveend", this._writeView, this);
      map.on("movestart", this._drawAhead, this);
      this._showSelected();
      var self = this;
      window.setTimeout(function () { if (self._map) self._writeView(); }, 0);  // where the map starts
    },
    onRemove: function (map) {
      map.off("click", this._onClick, this);
      map.off("mousemove", this._onMouseMove, this);
      map.off("mouseout", this._hideTip, this);
      map.off("overlayadd overlayremove", this._onToggle, this);
      map.off("moveend", this._writeView, this);
      map.off("movestart", this._drawAhead, this);
      if (this._selectedLayer) this._selectedLayer.remove();
      L.GridLayer.prototype.onRemove.call(this, map);
    },
    getEvents: function () {
      var events = L.GridLayer.prototype.getEvents.call(this), self = this;
      var settle = function (base) {  // after Leaflet has made the tiles of the new view
        return function (e) { base.call(self, e); self._viewChanged(); };
      };
      events.moveend = settle(events.moveend);
      if (events.zoomanim) events.zoomanim = settle(events.zoomanim);
      return events;
    },
    // The tiles in view, and one ring around them (drawn after the view, when idle, so a pan finds them).
    _getTiledPixelBounds: function (center) {
      var bounds = L.GridLayer.prototype._getTiledPixelBounds.call(this, center);
      this._inView = this._pxBoundsToTileRange(bounds);
      return L.bounds(bounds.min.subtract([TILE, TILE]), bounds.max.add([TILE, TILE]));
    },
    createTile: function (coords, done) {
      var tile = document.createElement("canvas"), m = L.Browser.retina ? 2 : 1;
      tile.width = tile.height = TILE * m;
      tile.sm = {coords: coords, done: done, ok: false};
      this._schedule();
      return tile;
    },
    // A tile shows at once when drawn (no fade): `painted` means what is on screen.
    _tileReady: function (coords, err, tile) {
      var map = this._map, fade = map && map._fadeAnimated;
      if (map) map._fadeAnimated = false;
      try { return L.GridLayer.prototype._tileReady.call(this, coords, err, tile); } finally { if (map) map._fadeAnimated = fade; }
    },

    // ------------------------------------------------------------ drawing the tiles, a slice at a time
    // The next slice as a message to itself: a chain of setTimeout(0) is clamped to 4 ms a link after five,
    // which left the tab idle for about a quarter of the drawing.
    _schedule: function () {
      if (this._pumping) return;
      this._pumping = true;
      if (!this._pumpChannel) {
        var self = this;
        this._pumpChannel = new MessageChannel();
        this._pumpChannel.port1.onmessage = function () { self._pumping = false; self._pump(); };
      }
      this._pumpChannel.port2.postMessage(null);
    },
    _visible: function (coords) {
      var v = this._inView;
      return coords.z === this._tileZoom && v && coords.x >= v.min.x && coords.x <= v.max.x && coords.y >= v.min.y && coords.y <= v.max.y;
    },
    // Tiles of the current zoom still to draw: those in view first, then (once due) the ring, nearest the centre.
    _pending: function () {
      var out = [], v = this._inView, cx = v ? (v.min.x + v.max.x) / 2 : 0, cy = v ? (v.min.y + v.max.y) / 2 : 0;
      var ringDue = performance.now() >= this._ringAt;
      for (var key in this._tiles) {
        var el = this._tiles[key].el, c = el.sm && el.sm.coords;
        if (!c || el.sm.ok || c.z !== this._tileZoom) continue;
        var visible = this._visible(c);
        if (!visible && !ringDue) continue;
        out.push({el: el, order: (visible ? 0 : 1e6) + Math.abs(c.x + 0.5 - cx) + Math.abs(c.y + 0.5 - cy)});
      }
      return out.sort(function (a, b) { return a.order - b.order; });
    },
    _pump: function () {
      if (!this._map) return;
      var start = performance.now(), todo = this._pending();
      for (var k = 0; k < todo.length; k++) {
        if (k && performance.now() - start > SLICE_MS) { this._schedule(); break; }
        var el = todo[k].el;
        this._drawTile(el);
        el.sm.ok = true;
        if (el.sm.done) { var done = el.sm.done; el.sm.done = null; done(null, el); }
      }
      this._checkPainted();
    },
    _drawAhead: function () { this._ringAt = 0; },
    _viewChanged: function () { this._paintDue = true; this._schedule(); this._checkPainted(); },
    _checkPainted: function () {
      if (!this._paintDue || !this._map || (!this._tokens.coarse && !this._tokens.fine)) return;
      for (var key in this._tiles) {
        var el = this._tiles[key].el;
        if (el.sm && this._visible(el.sm.coords) && !el.sm.ok) return;
      }
      this._paintDue = false;
      var level = this._levelAt(this._tileZoom), self = this, shown = null;
      if (this._ringAt === Infinity) {  // the first view drawn
        this._ringAt = performance.now() + RING_DELAY_MS;
        window.setTimeout(function () { self._schedule(); }, RING_DELAY_MS);
      }
      var painted = this.painted = {token: this._tokens[level] || this._tokens.coarse || this._tokens.fine,
                                    level: level, at: performance.now(), frame: null};
      // the start of the animation frame that puts the drawn tiles on screen (benchmarks time to it)
      window.requestAnimationFrame(function (t) { painted.frame = t; });
      // how many patches the view shows, counted when asked (it takes a pass over them)
      Object.defineProperty(this.painted, "shown", {enumerable: true, get: function () {
        if (shown === null) shown = self._map ? self._inBox(self._worldBox(0)).length : 0;
        return shown;
      }});
      performance.mark("smp:painted");
      if (this.onPainted) this.onPainted(this.painted);
    },
    // Every tile drawn anew (their old picture stays until then); with a box list, only those they meet.
    _redraw: function (boxes, minZoom) {
      for (var key in this._tiles) {
        var el = this._tiles[key].el, c = el.sm && el.sm.coords;
        if (!c || c.z < (minZoom || 0) || (boxes && !this._tileMeets(c, boxes))) continue;
        el.sm.ok = false;
      }
      this._viewChanged();
    },
    _tileMeets: function (c, boxes) {
      var n = Math.pow(2, c.z), pad = MARGIN / (TILE * n);
      var x0 = c.x / n - pad, y0 = c.y / n - pad, x1 = (c.x + 1) / n + pad, y1 = (c.y + 1) / n + pad;
      for (var k = 0; k < boxes.length; k++) {
        var b = boxes[k];
        if (b[0] <= x1 && b[2] >= x0 && b[1] <= y1 && b[3] >= y0) return true;
      }
      return false;
    },

    _drawTile: function (el) {
      var c = el.sm.coords, m = el.width / TILE, ctx = el.getContext("2d");
      ctx.setTransform(m, 0, 0, m, 0, 0);
      ctx.clearRect(0, 0, TILE, TILE);
      if (!this._tokens.coarse && !this._tokens.fine) return;
      var scale = TILE * Math.pow(2, c.z), pad = MARGIN / scale, cfg = SMP.cfg;
      var shown = this._within(c.x * TILE / scale - pad, c.y * TILE / scale - pad, (c.x + 1) * TILE / scale + pad,
                               (c.y + 1) * TILE / scale + pad);
      if (!shown.length) return;
      var t = {scale: scale, ox: c.x * TILE, oy: c.y * TILE, level: this._levelAt(c.z), zoom: c.z, m: m};
      var byCat = cfg.cats.map(function () { return []; });
      for (var k = 0; k < shown.length; k++) if (byCat[shown[k].cat]) byCat[shown[k].cat].push(shown[k]);
      var covers = this.hideUnderMarkers ? this._markerCovers(byCat, t) : [];
      for (var cat = 0; cat < byCat.length; cat++) {
        if (!byCat[cat].length) continue;
        if (cfg.facility[cat]) this._drawFacilities(ctx, byCat[cat], cat, t);
        else this._drawCategory(ctx, byCat[cat], cat, t, covers[cat] || null);
      }
    },
    // Per category, the tile's pixels that the markers of the facility categories drawn after it paint
    // opaque (a Cover), or none. Far out a district's markers can hide nearly every patch drawn before them.
    _markerCovers: function (byCat, t) {
      var cfg = SMP.cfg, out = [], later = null, self = this;
      for (var cat = byCat.length - 1; cat >= 0; cat--) {
        if (!byCat[cat].length) continue;
        if (!cfg.facility[cat]) { out[cat] = later; continue; }
        var sprite = this._sprite("facility", 0, cat), half = sprite.width / sprite.sm / 2, runs = opaqueRuns(sprite);
        later = later ? later.copy() : new Cover(TILE * t.m);
        byCat[cat].forEach(function (r) {
          var at = self._geo(r, t.level), parts = at[0].src, i = at[1];
          for (var p = parts.start[i]; p < parts.start[i + 1]; p++) {  // where _drawFacilities puts it
            later.add(runs, Math.round(parts.ox[p] * t.scale - t.ox - half) * t.m, Math.round(parts.oy[p] * t.scale - t.oy - half) * t.m);
          }
        });
      }
      return out;
    },
    // The parts of patch i in tile pixels into the scratch this._px (x, y pairs; this._ends: where each part
    // ends, in vertices); a vertex less than STEP_PX from the last one kept is skipped (a part's last never).
    // Returns how many parts.
    _trace: function (parts, i, t) {
      var s = parts.start, off = parts.off, d = parts.d, sc = t.scale, count = s[i + 1] - s[i], n = 0;
      var need = 2 * (off[s[i + 1]] - off[s[i]] + count);
      if (this._px.length < need) this._px = new Float64Array(2 * need);
      if (this._ends.length < count) this._ends = new Uint32Array(2 * count);
      var px = this._px, ends = this._ends;
      for (var p = s[i]; p < s[i + 1]; p++) {
        var x0 = parts.ox[p] * sc - t.ox, y0 = parts.oy[p] * sc - t.oy, k = off[p], end = off[p + 1] - 1;
        var lx = x0 + d[2 * k] * sc, ly = y0 + d[2 * k + 1] * sc;
        px[n++] = lx; px[n++] = ly;
        for (k = k + 1; k <= end; k++) {
          var x = x0 + d[2 * k] * sc, y = y0 + d[2 * k + 1] * sc;
          if (k < end && Math.abs(x - lx) < STEP_PX && Math.abs(y - ly) < STEP_PX) continue;
          px[n++] = x; px[n++] = y;
          lx = x; ly = y;
        }
        ends[p - s[i]] = n / 2;
      }
      return count;
    },
    // The traced parts (_trace) added to a path, rings closed when `close`.
    _emit: function (path, count, close) {
      var px = this._px, ends = this._ends, a = 0;
      for (var p = 0; p < count; p++) {
        path.moveTo(px[2 * a], px[2 * a + 1]);
        for (var k = a + 1; k < ends[p]; k++) path.lineTo(px[2 * k], px[2 * k + 1]);
        if (close) path.closePath();
        a = ends[p];
      }
    },
    _byGrade: function (records) {
      var out = {};
      records.forEach(function (r) { (out[r.g] = out[r.g] || []).push(r); });
      return out;
    },
    // Per grade: the patch polygons (grade fill, category outline), then their source lines and bridge
    // points on top. Paths are drawn BATCH patches at a time: one path of thousands costs far more.
    _drawCategory: function (ctx, records, c, t, cover) {
      var style = SMP.cfg.styles[c], groups = this._byGrade(records);
      var pen = {c: c, outline: style.outline, dash: style.dash ? style.dash.split(/[ ,]+/).map(Number) : [],
                 far: t.zoom < SMP.cfg.closeZoom, weight: sourceWeight(t.zoom), cover: cover};
      // A polygon this close (px) to its own source line lies wholly under that line's opaque stroke, drawn
      // after it in the same grade: it is not drawn (far out, the strips along roads are under 1 px wide).
      // The margin: half the polygon's outline and a pixel's diagonal (every pixel it touches is covered).
      pen.under = this.hideUnderSources ? pen.weight / 2 - OUTLINE_PX / 2 - Math.SQRT2 : 0;
      for (var g in groups) {
        var list = groups[g];
        for (var a = 0; a < list.length; a += BATCH) this._drawPolygons(ctx, list.slice(a, a + BATCH), +g, pen, t);
        for (a = 0; a < list.length; a += BATCH) this._drawSources(ctx, list.slice(a, a + BATCH), +g, pen, t);
      }
      ctx.globalAlpha = 1;
    },
    _drawPolygons: function (ctx, list, g, pen, t) {
      if (pen.cover && this._polygonsHidden(list, pen, t)) return;
      var thin = new Path2D(), thick = new Path2D(), hasThick = false, sc = t.scale;
      for (var k = 0; k < list.length; k++) {
        var at = this._geo(list[k], t.level), box = at[0].box, i = at[1];
        var w = (box[4 * i + 2] - box[4 * i]) * sc, h = (box[4 * i + 3] - box[4 * i + 1]) * sc;
        if (pen.under > 0 && !(w < pen.weight && h < pen.weight) && underSource(at[0], i, pen.under / sc)) continue;
        if (w < TINY_PX && h < TINY_PX) {
          thin.rect(box[4 * i] * sc - t.ox, box[4 * i + 1] * sc - t.oy, Math.max(w, 1), Math.max(h, 1));
        } else {
          var dashed = !(w < DASH_PX && h < DASH_PX);
          this._emit(dashed ? thick : thin, this._trace(at[0].poly, i, t), true);
          hasThick = hasThick || dashed;
        }
      }
      ctx.globalAlpha = 0.5;
      ctx.fillStyle = SM.gradeColor(g);
      ctx.fill(thin, "evenodd");
      if (hasThick) ctx.fill(thick, "evenodd");
      ctx.globalAlpha = 0.95;
      ctx.strokeStyle = pen.outline;
      ctx.lineWidth = OUTLINE_PX;  // a small patch's outline: a hairline (a wide one would hide its grade colour)
      ctx.lineJoin = "miter";
      ctx.lineCap = "butt";
      ctx.stroke(thin);
      if (hasThick) {  // big enough for the category's dash pattern
        ctx.lineWidth = THICK_PX;
        ctx.setLineDash(pen.dash);
        ctx.lineJoin = ctx.lineCap = "round";
        ctx.stroke(thick);
        ctx.setLineDash([]);
      }
    },
    // Markers drawn later cover what is drawn before them, and far out they can hide nearly every patch. A
    // batch is left out whole or drawn whole (a path's antialiasing depends on everything it holds, so a
    // path with some patches taken out could differ in pixels the cover does not hide).
    _polygonsHidden: function (list, pen, t) {
      var sc = t.scale, e = OUTLINE_PX / 2 * Math.SQRT2;  // a box's miter corners
      for (var k = 0; k < list.length; k++) {
        var at = this._geo(list[k], t.level), box = at[0].box, i = at[1];
        var x = box[4 * i] * sc - t.ox, y = box[4 * i + 1] * sc - t.oy;
        var w = (box[4 * i + 2] - box[4 * i]) * sc, h = (box[4 * i + 3] - box[4 * i + 1]) * sc, hidden;
        if (w < TINY_PX && h < TINY_PX) {
          hidden = pen.cover.hides(x - e, y - e, x + Math.max(w, 1) + e, y + Math.max(h, 1) + e, t.m);
        } else {
          var dashed = !(w < DASH_PX && h < DASH_PX), count = this._trace(at[0].poly, i, t);
          hidden = dashed ? this._strokeHidden(pen.cover, count, THICK_PX / 2, false, false, true, t)
                          : this._strokeHidden(pen.cover, count, OUTLINE_PX / 2, true, false, true, t);
        }
        if (!hidden) return false;
      }
      return true;
    },
    _linesHidden: function (list, pen, t) {  // the batch's source lines (not its points: each is a sprite)
      var r = pen.weight / 2;
      for (var k = 0; k < list.length; k++) {
        var at = this._geo(list[k], t.level), parts = at[0].src, i = at[1];
        if (!hasLine(parts, i)) continue;
        var hidden;
        if (blotOf(at[0].box, i, t, pen.weight)) {
          hidden = pen.cover.hides(blot[0], blot[1], blot[0] + blot[2], blot[1] + blot[3], t.m);
        } else {
          hidden = this._strokeHidden(pen.cover, this._trace(parts, i, t), r, pen.far, pen.far, false, t);
        }
        if (!hidden) return false;
      }
      return true;
    },
    // Whether the stroke of the traced parts (_trace) lies wholly under the cover: half-width r, miter joins
    // (else round) and square caps (else round), rings closed. First the box of its vertices grown by the
    // most a join or cap can reach; when that is not hidden, grown by what each vertex's own reaches (reach).
    _strokeHidden: function (cover, count, r, miter, square, closed, t) {
      var px = this._px, n = count ? 2 * this._ends[count - 1] : 0, x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (var k = 0; k < n; k += 2) {
        var x = px[k], y = px[k + 1];
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
      var most = r * Math.max(miter ? WIDEST_MITER : 1, square ? Math.SQRT2 : 1);
      if (cover.hides(x0 - most, y0 - most, x1 + most, y1 + most, t.m)) return true;
      if (most === r) return false;
      var b = reach(px, this._ends, count, r, miter, square, closed);
      return cover.hides(b[0], b[1], b[2], b[3], t.m);
    },
    _drawSources: function (ctx, list, g, pen, t) {
      var lines = new Path2D(), blots = new Path2D(), points = [], sc = t.scale, weight = pen.weight, cover = pen.cover;
      var half = POINT_R + MARKER_LINE;  // half a point's sprite (_sprite), drawn at whole pixels below
      var hidden = cover && this._linesHidden(list, pen, t);
      for (var k = 0; k < list.length; k++) {
        var at = this._geo(list[k], t.level), parts = at[0].src, i = at[1];
        for (var p = parts.start[i]; p < parts.start[i + 1]; p++) {
          if (parts.off[p + 1] - parts.off[p] !== 1) continue;
          var px = parts.ox[p] * sc - t.ox, py = parts.oy[p] * sc - t.oy, x = Math.round(px - half), y = Math.round(py - half);
          if (!cover || !cover.hides(x, y, x + 2 * half, y + 2 * half, t.m)) points.push(x, y);
        }
        if (hidden || !hasLine(parts, i)) continue;
        if (blotOf(at[0].box, i, t, weight)) blots.rect(blot[0], blot[1], blot[2], blot[3]);  // a short line
        else this._emit(lines, this._trace(parts, i, t), false);
      }
      ctx.globalAlpha = 1;
      ctx.strokeStyle = ctx.fillStyle = SM.gradeColor(g);
      if (!hidden) {
        ctx.lineWidth = weight;
        // Far out (a wide line on a patch of a few px) miter joins and square caps look the same as round
        // ones to within a pixel and are much cheaper for Skia to rasterize; close in, round as before.
        // Miter joins (not bevel) so that a line covers every point within half its width (underSource).
        ctx.lineJoin = pen.far ? "miter" : "round";
        ctx.lineCap = pen.far ? "square" : "round";
        ctx.stroke(lines);
        ctx.fill(blots);
      }
      if (!points.length) return;
      var dot = this._sprite("point", g, pen.c);
      for (var q = 0; q < points.length; q += 2) ctx.drawImage(dot, points[q], points[q + 1], 2 * half, 2 * half);
    },
    _drawFacilities: function (ctx, records, c, t) {  // a round marker in the layer's colour with its symbol
      var sprite = this._sprite("facility", 0, c), half = sprite.width / sprite.sm / 2, self = this;
      records.forEach(function (r) {
        var at = self._geo(r, t.level), parts = at[0].src, i = at[1];
        for (var p = parts.start[i]; p < parts.start[i + 1]; p++) {
          ctx.drawImage(sprite, Math.round(parts.ox[p] * t.scale - t.ox - half), Math.round(parts.oy[p] * t.scale - t.oy - half), 2 * half, 2 * half);
        }
      });
    },
    // A marker drawn once, then copied (drawImage) wherever it goes: a facility (round, in the layer's
    // colour, with its symbol) or a point source (a bridge: grade colour, the layer's outline).
    _sprite: function (kind, g, c) {
      var key = kind + g + "_" + c;
      this._sprites = this._sprites || {};
      if (this._sprites[key]) return this._sprites[key];
      var style = SMP.cfg.styles[c], m = L.Browser.retina ? 2 : 1, radius = kind === "facility" ? FACILITY_R : POINT_R;
      var size = 2 * (radius + MARKER_LINE);
      var el = document.createElement("canvas"), ctx = el.getContext("2d");
      el.width = el.height = size * m;
      el.sm = m;
      ctx.scale(m, m);
      ctx.beginPath();
      ctx.arc(size / 2, size / 2, radius, 0, 2 * Math.PI);
      ctx.fillStyle = kind === "facility" ? style.outline : SM.gradeColor(g);
      ctx.fill();
      ctx.strokeStyle = kind === "facility" ? "#fff" : style.outline;
      ctx.lineWidth = MARKER_LINE;
      ctx.stroke();
      if (kind === "facility") {
        ctx.font = "600 11px sans-serif";
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.fillStyle = "#fff";
        ctx.fillText(style.symbol || "", size / 2, size / 2 + 0.5);
      }
      return (this._sprites[key] = el);
    },

    // The selected patch: a Leaflet line of its rings and source lines in its own pane above the tiles,
    // so a selection never redraws them.
    _showSelected: function () {
      if (this._selectedLayer) { this._selectedLayer.remove(); this._selectedLayer = null; }
      var r = this._selected && this._records.get(this._selected);
      if (!r || !this._map) return;
      var at = this._geo(r, "fine"), lines = latLngs(at[0].poly, at[1], true).concat(latLngs(at[0].src, at[1], false));
      this._selectedLayer = L.polyline(lines, {pane: "smSelected", color: SMP.cfg.selectedColor, weight: 5, opacity: 1,
                                              interactive: false}).addTo(this._map);
    },

    // ------------------------------------------------------------ state from the page
    state: function (s) {
      this._wanted = s.token;
      var filter = s.only ? {only: new Set(s.only)} : s.except ? {except: new Set(s.except)} : null;
      var filterChanged = !sameFilter(filter, this._filter);
      this._filter = filter;
      var selectedChanged = (s.selected || null) !== this._selected;
      this._selected = s.selected || null;
      this._viewKey = s.viewKey || null;
      this._load("coarse");
      if (this._tokens.fine) this._load("fine");  // the fine cells held follow by delta
      this._loadCells();
      if (filterChanged) this._redraw();
      if (selectedChanged) this._showSelected();
    },

    _load: function (level) {
      var self = this, want = this._wanted;
      if (!want || this._tokens[level] === want) return this._fetching[level] || Promise.resolve();
      if (this._fetching[level]) return this._fetching[level].then(function () { return self._load(level); });
      var from = this._tokens[level];
      if (level === "fine" && !from) return Promise.resolve();  // the fine level comes in cells (_loadCells)
      var url = api("patches/" + level + "/" + (from ? from + "/" : "") + want);
      var fetched = function () {
        return fetch(url, {credentials: "same-origin"}).then(function (response) {
          if (response.status === 404 && from) {  // the old revision is no longer kept: take the whole
            delete self._tokens[level];
            if (level === "fine") self._dropFine();
            return null;
          }
          if (!response.ok) throw new Error("patches " + level + " " + want + ": HTTP " + response.status);
          return readPayload(response);
        });
      };
      var asked = !from && early(url);
      this._fetching[level] = (asked ? asked.then(function (block) { return block || fetched(); }) : fetched()).then(function (block) {
        if (block) {
          self.bytes += block.bytes;
          mark(level, from, "decoded");  // (as it arrived)
          if (from) self.deltas.push({level: level, from: from, to: want, bytes: block.bytes,
                                      codes: block.header.code.slice(0, 100), removed: block.header.removed});
          self._tokens[level] = want;
          self._apply(level, block, !from);
          mark(level, from, "applied");
        }
      }).finally(function () {
        delete self._fetching[level];
      }).then(function () {
        if (self._tokens[level] !== self._wanted) return self._load(level);  // newer state meanwhile (or a 404)
        if (level === "fine") self._loadCells();
      });
      this._fetching[level].catch(function (error) { console.error(error); });
      return this._fetching[level];
    },

    // The fine level of the cells a zoomed-in view meets, each fetched once per revision held.
    _loadCells: function () {
      var map = this._map, want = this._wanted, size = SMP.cfg.cellDeg;
      if (!map || !want || map.getZoom() < SMP.cfg.fineZoom) return;
      if (this._tokens.fine && this._tokens.fine !== want) return;  // its delta first (_load)
      var b = map.getBounds();
      for (var cx = Math.floor(b.getWest() / size); cx <= Math.floor(b.getEast() / size); cx++) {
        for (var cy = Math.floor(b.getSouth() / size); cy <= Math.floor(b.getNorth() / size); cy++) {
          this._loadCell(cx, cy, want);
        }
      }
    },
    _loadCell: function (cx, cy, want) {
      var self = this, key = cx + "_" + cy;
      if (this._cells.has(key)) return;
      this._cells.add(key);
      fetch(api("patches/fine/" + want + "/cell/" + cx + "/" + cy), {credentials: "same-origin"}).then(function (response) {
        if (!response.ok) throw new Error("fine cell " + key + ": HTTP " + response.status);
        return response.arrayBuffer();
      }).then(function (buffer) {
        if (self._tokens.fine && self._tokens.fine !== want) { self._cells.delete(key); return; }  // outdated
        self.bytes += buffer.byteLength;
        self._tokens.fine = want;
        self._apply("fine", decode(buffer), false, true);
        if (self._wanted !== want) self._load("fine");
      }).catch(function (error) { self._cells.delete(key); console.error(error); });
    },
    _dropFine: function () {
      this._records.forEach(function (r) { r.at.fine = null; });
      this._cells.clear();
    },

    // Take in a block (a whole level, a delta or a fine cell) and redraw the tiles it touches.
    _apply: function (level, block, whole, cell) {
      var h = block.header, records = this._records, boxes = whole ? null : [];
      if (whole) records.forEach(function (r) { r.at[level] = null; });
      h.removed.forEach(function (code) {
        var r = records.get(code);
        if (r && boxes) boxes.push(boxOf(r));
        records.delete(code);
      });
      var added = 0, fineOnly = false;
      for (var i = 0; i < block.n; i++) {
        var code = h.code[i], r = records.get(code);
        if (!r) {  // made whole at once (one object shape, no property added later)
          r = {code: code, cat: block.cat[i], g: block.grade[i], f: block.flags[i], tb: block, ti: i,
               at: {coarse: null, fine: null}};
          records.set(code, r);
          added++;
        } else {
          if (boxes && !cell) boxes.push(boxOf(r));
          r.cat = block.cat[i]; r.g = block.grade[i]; r.f = block.flags[i];
          if (!cell) { r.tb = block; r.ti = i; }  // (a fine cell's texts are its revision's: a cell is not kept for them)
        }
        fineOnly = fineOnly || !r.at.coarse;
        r.at[level] = [block, i];
        if (boxes && !cell) boxes.push(boxOf(r));
      }
      if (whole) records.forEach(function (r, code) { if (!r.at.coarse && !r.at.fine) records.delete(code); });
      // the grid holds the coarse boxes (a patch held only at the fine level: its fine box)
      if (whole || added || fineOnly || h.removed.length || level === "coarse") this._index();
      if (cell) {  // a fine cell: the tiles drawn at the fine level that it meets
        this._redraw([unionBox(block)], SMP.cfg.fineZoom);
      } else {
        this._redraw(whole ? null : boxes.length > 64 ? [unionOf(boxes)] : boxes);
      }
      if (this._selected && (whole || records.get(this._selected) === undefined || h.code.indexOf(this._selected) >= 0)) {
        this._showSelected();
      }
    },

    // The grid of the patches' (coarse) boxes: per patch with geometry a slot, its box copied into one flat
    // array, and per grid cell the slots whose box meets it. A query reads typed arrays only and touches a
    // record when its box meets the query's (following each record to its block cost ~1 µs a patch).
    _index: function () {
      var slots = [], box = new Float64Array(4 * this._records.size), grid = new Map();
      this._records.forEach(function (r) {
        var at = r.at.coarse || r.at.fine, b = at[0].box, i = at[1], j = slots.length;
        if (!(b[4 * i] <= b[4 * i + 2])) return;  // no geometry
        slots.push(r);
        box[4 * j] = b[4 * i]; box[4 * j + 1] = b[4 * i + 1]; box[4 * j + 2] = b[4 * i + 2]; box[4 * j + 3] = b[4 * i + 3];
        for (var cx = Math.floor(b[4 * i] / CELL); cx <= Math.floor(b[4 * i + 2] / CELL); cx++) {
          for (var cy = Math.floor(b[4 * i + 1] / CELL); cy <= Math.floor(b[4 * i + 3] / CELL); cy++) {
            var key = cx * 1048576 + cy, cell = grid.get(key);
            if (!cell) grid.set(key, cell = []);
            cell.push(j);
          }
        }
      });
      this._grid = grid;
      this._slots = slots;
      this._slotBox = box;
      this._seen = new Uint32Array(slots.length);
      this._stamp = 0;
    },

    // ------------------------------------------------------------ what is shown
    _shown: function (r) {
      var cfg = SMP.cfg;
      if (this._hiddenCats[cfg.cats[r.cat]]) return false;
      var f = this._filter;
      return !f || (f.only ? f.only.has(r.code) : !f.except.has(r.code));
    },
    _levelAt: function (zoom) { return zoom >= SMP.cfg.fineZoom && this._tokens.fine ? "fine" : "coarse"; },
    _viewLevel: function () { return this._levelAt(this._map.getZoom()); },
    _geo: function (r, level) { return level === "fine" ? r.at.fine || r.at.coarse : r.at.coarse || r.at.fine; },

    // records shown whose box meets the world box [x0, y0, x1, y1]
    _within: function (x0, y0, x1, y1) {
      var out = [], slots = this._slots, box = this._slotBox, seen = this._seen, j;
      if (!slots) return out;
      var cx0 = Math.floor(x0 / CELL), cx1 = Math.floor(x1 / CELL), cy0 = Math.floor(y0 / CELL), cy1 = Math.floor(y1 / CELL);
      if ((cx1 - cx0 + 1) * (cy1 - cy0 + 1) > this._grid.size) {  // most of the ledger: every slot once
        for (j = 0; j < slots.length; j++) {
          if (box[4 * j] <= x1 && box[4 * j + 2] >= x0 && box[4 * j + 1] <= y1 && box[4 * j + 3] >= y0 && this._shown(slots[j])) {
            out.push(slots[j]);
          }
        }
        return out;
      }
      var stamp = ++this._stamp;  // marks the slots seen by this query (a patch can be in several cells)
      if (stamp > 0xfffffff0) { seen.fill(0); stamp = this._stamp = 1; }
      for (var cx = cx0; cx <= cx1; cx++) for (var cy = cy0; cy <= cy1; cy++) {
        var cell = this._grid.get(cx * 1048576 + cy);
        if (!cell) continue;
        for (var k = 0; k < cell.length; k++) {
          j = cell[k];
          if (seen[j] === stamp) continue;
          seen[j] = stamp;
          if (box[4 * j] <= x1 && box[4 * j + 2] >= x0 && box[4 * j + 1] <= y1 && box[4 * j + 3] >= y0 && this._shown(slots[j])) {
            out.push(slots[j]);
          }
        }
      }
      return out;
    },
    _inBox: function (box) { return this._within(box[0], box[1], box[2], box[3]); },
    _worldBox: function (pad) {
      var map = this._map, b = map.getPixelBounds(), scale = map.options.crs.scale(map.getZoom());
      var size = b.getSize(), px = size.x * pad, py = size.y * pad;
      return [(b.min.x - px) / scale, (b.min.y - py) / scale, (b.max.x + px) / scale, (b.max.y + py) / scale];
    },

    // ------------------------------------------------------------ hit testing, tooltip, click
    _hit: function (latlng) {
      if (!this._map) return null;
      var map = this._map, zoom = map.getZoom(), scale = map.options.crs.scale(zoom), cfg = SMP.cfg;
      var facilityR = FACILITY_R + MARKER_LINE / 2, tolerance = this.options.tolerance;
      var pt = map.project(latlng, zoom), x = pt.x / scale, y = pt.y / scale, tol = (tolerance + facilityR) / scale;
      var level = this._viewLevel(), best = null, bestArea = Infinity, weight = sourceWeight(zoom);
      var candidates = this._within(x - tol, y - tol, x + tol, y + tol);
      for (var k = 0; k < candidates.length; k++) {
        var r = candidates[k], at = this._geo(r, level), block = at[0], i = at[1];
        var near = cfg.facility[r.cat] ? facilityR : tolerance + weight / 2;
        var hit = (!cfg.facility[r.cat] && inside(block.poly, i, x, y))
          || distance(block.src, i, x, y) * scale <= Math.max(near, POINT_R + tolerance)
          || distance(block.poly, i, x, y, true) * scale <= tolerance;
        if (!hit) continue;
        var area = (block.box[4 * i + 2] - block.box[4 * i]) * (block.box[4 * i + 3] - block.box[4 * i + 1]);
        if (cfg.facility[r.cat]) area = -1;  // a marker sits on top
        if (area < bestArea) { best = r; bestArea = area; }
      }
      return best;
    },
    _props: function (r) {
      var texts = textsOf(r.tb), i = r.ti;
      var p = {code: r.code, n: texts.name[i], g: r.g, r: texts.route[i], s: texts.stakes[i]};
      if (r.f & FACILITY) p.x = 1;
      if (r.f & OVERDUE) p.o = 1;
      if (r.f & FOG) p.f = 1;
      return p;
    },
    _onMouseMove: function (e) {
      var self = this;
      this._lastMove = e.latlng;
      if (this._moveQueued) return;
      this._moveQueued = true;
      window.requestAnimationFrame(function () {
        self._moveQueued = false;
        var r = self._hit(self._lastMove);
        self._map.getContainer().style.cursor = r ? "pointer" : "";
        if (!r) return self._hideTip();
        if (!self._tip) self._tip = L.tooltip({sticky: true, className: "sm-tooltip", direction: "auto"});
        if (self._tipCode !== r.code) { self._tip.setContent(SM.tipBox(self._props(r))); self._tipCode = r.code; }
        self._tip.setLatLng(self._lastMove);
        if (!self._map.hasLayer(self._tip)) self._map.openTooltip(self._tip);
      });
    },
    _hideTip: function () {
      if (this._tip && this._map && this._map.hasLayer(this._tip)) this._map.closeTooltip(this._tip);
      this._tipCode = null;
    },
    _onClick: function (e) {
      var r = this._hit(e.latlng);
      if (!r) return;
      var feature = {type: "Feature", geometry: null, properties: this._props(r)};
      // streamlit-folium's click handler listens on this layer: last_object_clicked and last_active_drawing
      this.fire("click", {latlng: e.latlng, layer: {toGeoJSON: function () { return feature; }}});
    },
    _onToggle: function (e) {
      var key = e.layer && e.layer.options && e.layer.options.smKey;
      if (!key) return;
      var hidden = e.type === "overlayremove";
      if (!!this._hiddenCats[key] === hidden) return;
      this._hiddenCats[key] = hidden;
      this._redraw();
    },

    // ------------------------------------------------------------ the view: told to the server, put in the address
    // No rerun: the page reads the reported view at its next run (filters fit to it, the address keeps it).
    _writeView: function () {
      var map = this._map, c = map.getCenter(), b = map.getBounds();
      this._loadCells();
      if (this._viewKey) {
        fetch(api("view/" + encodeURIComponent(this._viewKey)), {method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json"},
          body: JSON.stringify({z: map.getZoom(), centre: [c.lat, c.lng],
                              bounds: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]})
        }).catch(function (error) { console.warn("the map view was not reported", error); });
      }
      try {
        var top = window.parent, url = new URL(top.location.href);
        // Only while the page that made the map is shown: a late move must not write into another page's address.
        if (this._pagePath === undefined) this._pagePath = top.location.pathname;
        if (top.location.pathname !== this._pagePath || !document.body.isConnected) return;
        url.searchParams.set("z", String(map.getZoom()));
        url.searchParams.set("lat", c.lat.toFixed(5));
        url.searchParams.set("lon", c.lng.toFixed(5));
        if (url.href !== top.location.href) top.history.replaceState(top.history.state, "", url.href);
      } catch (error) {
        console.warn("the map view could not be written to the address", error);
      }
    },

    // ------------------------------------------------------------ for tests and benchmarks
    drawnCodes: function () {
      var box = this._worldBox(0.5);
      return this._within(box[0], box[1], box[2], box[3]).map(function (r) { return r.code; });
    },
    fillOf: function (code) { var r = this._records.get(code); return r ? SM.gradeColor(r.g) : null; },
    count: function () { return this._records.size; }
  });

  // The steps of taking in a level's whole payload, as performance marks (benchmarks: where its time goes).
  function mark(level, from, step) { if (!from) performance.mark("smp:" + level + ":" + step); }

  // A source line's width: wider far out, so a patch never shrinks to a hairline.
  function sourceWeight(zoom) { return zoom >= SMP.cfg.closeZoom ? SMP.cfg.sourceWeight : SMP.cfg.sourceWeightFar; }

  // The same filter (codes shown, or codes hidden) as before: a rerun that keeps it redraws nothing.
  function sameFilter(a, b) {
    if (!a || !b) return a === b;
    var sa = a.only || a.except, sb = b.only || b.except;
    if (!a.only !== !b.only || sa.size !== sb.size) return false;
    for (var code of sa) if (!sb.has(code)) return false;
    return true;
  }

  function hasLine(parts, i) {  // whether patch i has a source line (not only points)
    for (var p = parts.start[i]; p < parts.start[i + 1]; p++) if (parts.off[p + 1] - parts.off[p] !== 1) return true;
    return false;
  }
  // A source line shorter than its stroke's width each way is drawn as the box that stroke would cover:
  // [x, y, w, h] in tile px written into the scratch `blot` (no array per line: far out a view has ~100,000);
  // false for a longer line.
  var blot = new Float64Array(4);
  function blotOf(box, i, t, weight) {
    var sc = t.scale, w = (box[4 * i + 2] - box[4 * i]) * sc, h = (box[4 * i + 3] - box[4 * i + 1]) * sc;
    if (!(w < weight && h < weight)) return false;
    var sx = Math.max(w, weight), sy = Math.max(h, weight);
    blot[0] = (box[4 * i] + box[4 * i + 2]) / 2 * sc - t.ox - sx / 2;
    blot[1] = (box[4 * i + 1] + box[4 * i + 3]) / 2 * sc - t.oy - sy / 2;
    blot[2] = sx;
    blot[3] = sy;
    return true;
  }

  // ------------------------------------------------------------ what markers hide
  // The pixels of a tile (device px, `size` a side) that markers paint opaque: a marker's sprite is copied as
  // it is (drawImage at whole pixels), so where its alpha is 255 nothing drawn before shows. A summed-area
  // table tells in four reads whether every pixel of a box is covered.
  function Cover(size) { this.size = size; this.mask = new Uint8Array(size * size); this.sums = null; }
  Cover.prototype.copy = function () { var out = new Cover(this.size); out.mask.set(this.mask); return out; };
  Cover.prototype.add = function (runs, x, y) {  // a sprite's opaque runs with its corner at device px (x, y)
    var S = this.size;
    for (var v = 0; v < runs.length; v++) {
      var row = y + v, r = runs[v];
      if (row < 0 || row >= S) continue;
      for (var q = 0; q < r.length; q += 2) {
        var a = Math.max(0, x + r[q]), b = Math.min(S, x + r[q + 1]);
        if (a < b) this.mask.fill(1, row * S + a, row * S + b);
      }
    }
    this.sums = null;
  };
  // Whether everything drawn within the box (tile CSS px; m device px each) is hidden: every
  // device pixel it touches, and one more each way for antialiasing, is covered (outside the tile: unseen).
  Cover.prototype.hides = function (bx0, by0, bx1, by1, m) {
    var S = this.size;
    var x0 = Math.max(0, Math.floor((bx0 - 1) * m)), y0 = Math.max(0, Math.floor((by0 - 1) * m));
    var x1 = Math.min(S, Math.ceil((bx1 + 1) * m)), y1 = Math.min(S, Math.ceil((by1 + 1) * m));
    if (!(x0 < x1 && y0 < y1)) return true;
    if (!this.sums) this.sums = summed(this.mask, S);
    var W = S + 1, s = this.sums;
    return s[y1 * W + x1] - s[y0 * W + x1] - s[y1 * W + x0] + s[y0 * W + x0] === (x1 - x0) * (y1 - y0);
  };
  function summed(mask, S) {  // sums[y * (S + 1) + x]: the covered pixels above and left of (x, y)
    var W = S + 1, sums = new Int32Array(W * W);
    for (var y = 0; y < S; y++) {
      var row = 0;
      for (var x = 0; x < S; x++) { row += mask[y * S + x]; sums[(y + 1) * W + x + 1] = sums[y * W + x + 1] + row; }
    }
    return sums;
  }
  // Per row of a canvas, its runs of opaque pixels as [from, to, from, to, …] (read once per sprite).
  function opaqueRuns(canvas) {
    if (canvas.runs) return canvas.runs;
    var w = canvas.width, data = canvas.getContext("2d").getImageData(0, 0, w, canvas.height).data, out = [];
    for (var y = 0; y < canvas.height; y++) {
      var row = [], from = -1;
      for (var x = 0; x <= w; x++) {
        var opaque = x < w && data[4 * (y * w + x) + 3] === 255;
        if (opaque && from < 0) from = x;
        if (!opaque && from >= 0) { row.push(from, x); from = -1; }
      }
      out.push(row);
    }
    return (canvas.runs = out);
  }

  // The box [x0, y0, x1, y1] (tile px) that the stroke of the traced parts lies in: half-width r, miter
  // joins (else round) and square caps (else round), rings closed. A miter join reaches r / sin(half its
  // angle) from its vertex, up to the canvas's miterLimit (10; sharper is bevelled); a square cap's corners
  // r·√2 from the line's end. Next to a segment under SHORT_PX (Skia may drop it) a join is taken at its widest.
  var MITER_LIMIT = 10, SHORT_PX = 0.01, WIDEST_MITER = MITER_LIMIT * 1.01;  // (a margin for rounding at the limit)
  function reach(px, ends, count, r, miter, square, closed) {
    var out = [Infinity, Infinity, -Infinity, -Infinity], a = 0;
    for (var p = 0; p < count; p++) {
      var b = ends[p];
      for (var k = a; k < b; k++) {
        var end = !closed && (k === a || k === b - 1), e = r;
        if (end && square) e = r * Math.SQRT2;
        else if (!end && miter) e = r * miterRatio(px, a, b, k);
        var x = px[2 * k], y = px[2 * k + 1];
        if (x - e < out[0]) out[0] = x - e;
        if (y - e < out[1]) out[1] = y - e;
        if (x + e > out[2]) out[2] = x + e;
        if (y + e > out[3]) out[3] = y + e;
      }
      a = b;
    }
    return out;
  }
  function miterRatio(px, a, b, k) {  // of the join at vertex k of the part [a, b) (neighbours taken round a ring)
    var prev = k > a ? k - 1 : b - 1, next = k < b - 1 ? k + 1 : a;
    var ux = px[2 * k] - px[2 * prev], uy = px[2 * k + 1] - px[2 * prev + 1];
    var wx = px[2 * next] - px[2 * k], wy = px[2 * next + 1] - px[2 * k + 1];
    var lu = Math.sqrt(ux * ux + uy * uy), lw = Math.sqrt(wx * wx + wy * wy);
    if (lu < SHORT_PX || lw < SHORT_PX) return WIDEST_MITER;
    var sinHalf = Math.sqrt(Math.max(0, (1 + (ux * wx + uy * wy) / (lu * lw)) / 2));
    var ratio = sinHalf > 0 ? 1 / sinHalf : Infinity;
    return ratio > WIDEST_MITER ? 1 : Math.max(ratio, 1);  // beyond the limit: a bevel, within r
  }

  // World boxes [x0, y0, x1, y1]; an empty one (no geometry) is [Infinity, Infinity, -Infinity, -Infinity]
  // and leaves a union as it was.
  function grow(out, b, j) {  // out grown to take in box j of the flat box array b
    out[0] = Math.min(out[0], b[4 * j]); out[1] = Math.min(out[1], b[4 * j + 1]);
    out[2] = Math.max(out[2], b[4 * j + 2]); out[3] = Math.max(out[3], b[4 * j + 3]);
    return out;
  }
  function emptyBox() { return [Infinity, Infinity, -Infinity, -Infinity]; }

  function boxOf(r) {  // of a record's geometry (either level)
    var out = emptyBox();
    LEVELS.forEach(function (level) { if (r.at[level]) grow(out, r.at[level][0].box, r.at[level][1]); });
    return out;
  }

  function unionOf(boxes) { return boxes.reduce(function (out, b) { return grow(out, b, 0); }, emptyBox()); }

  function unionBox(block) {  // of every patch in a block
    var out = emptyBox();
    for (var i = 0; i < block.n; i++) grow(out, block.box, i);
    return out;
  }

  // The parts of patch i as Leaflet latlngs (rings closed); single points are left out.
  function latLngs(parts, i, close) {
    var out = [];
    for (var p = parts.start[i]; p < parts.start[i + 1]; p++) {
      var line = [];
      for (var k = parts.off[p]; k < parts.off[p + 1]; k++) {
        var x = parts.ox[p] + parts.d[2 * k], y = parts.oy[p] + parts.d[2 * k + 1];
        line.push([Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) * 180 / Math.PI, x * 360 - 180]);
      }
      if (close && line.length) line.push(line[0]);
      if (line.length > 1) out.push(line);
    }
    return out;
  }

  // Whether the polygon of patch i lies within `limit` (world units) of its source lines, so that their
  // stroke (miter joins, square caps: it covers every point within half its width) hides it. A source
  // with a point, or none, hides nothing. Judged by the polygon's boundary: each ring edge has both ends
  // within the limit of one same source segment (the distance to a segment is convex, so the whole edge
  // is); the boundary of a strip along a road bounds its inside. Per patch and block the largest limit
  // known to fail and the least known to hold are kept, so each patch is judged about once per zoom.
  function underSource(block, i, limit) {
    var near = block.near;
    if (limit >= near[2 * i + 1]) return true;
    if (limit <= near[2 * i]) return false;
    var ok = within(block.poly, block.src, i, limit * limit);
    near[2 * i + (ok ? 1 : 0)] = limit;
    return ok;
  }
  var segs = new Float64Array(256);  // scratch of within
  function within(poly, src, i, limit2) {
    var S = 0, p, k, j;
    for (p = src.start[i]; p < src.start[i + 1]; p++) {
      var sx = src.ox[p], sy = src.oy[p], d = src.d;
      if (src.off[p + 1] - src.off[p] < 2) return false;
      for (k = src.off[p] + 1; k < src.off[p + 1]; k++, S++) {
        if (4 * S + 4 > segs.length) { var grown = new Float64Array(2 * segs.length); grown.set(segs); segs = grown; }
        segs[4 * S] = sx + d[2 * k - 2]; segs[4 * S + 1] = sy + d[2 * k - 1];
        segs[4 * S + 2] = sx + d[2 * k]; segs[4 * S + 3] = sy + d[2 * k + 1];
      }
    }
    if (!S || poly.start[i] === poly.start[i + 1]) return false;
    var near = function (x, y, j) {  // (x, y) within the limit of segment j
      var x1 = segs[4 * j], y1 = segs[4 * j + 1], dx = segs[4 * j + 2] - x1, dy = segs[4 * j + 3] - y1;
      var len = dx * dx + dy * dy, t = len ? ((x - x1) * dx + (y - y1) * dy) / len : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      var ex = x1 + t * dx - x, ey = y1 + t * dy - y;
      return ex * ex + ey * ey <= limit2;
    };
    var last = 0;  // the segment the last edge was near: a strip's edges follow its line
    for (p = poly.start[i]; p < poly.start[i + 1]; p++) {
      var a = poly.off[p], m = poly.off[p + 1] - a, px = poly.ox[p], py = poly.oy[p], pd = poly.d;
      for (k = 0; k < m; k++) {  // each edge (the ring closed): both ends near one same segment
        var q = a + (k + 1) % m, ax = px + pd[2 * (a + k)], ay = py + pd[2 * (a + k) + 1];
        var bx = px + pd[2 * q], by = py + pd[2 * q + 1], found = false;
        for (var n = 0; n < S && !found; n++) {
          j = (last + n) % S;
          found = near(ax, ay, j) && near(bx, by, j);
        }
        if (!found) return false;
        last = j;
      }
    }
    return true;
  }

  // Every segment of the parts of patch i in world units, closing rings when `closed`; a part of one
  // vertex (a point) as a segment of length 0.
  function eachSegment(parts, i, closed, visit) {
    for (var p = parts.start[i]; p < parts.start[i + 1]; p++) {
      var ox = parts.ox[p], oy = parts.oy[p], d = parts.d, a = parts.off[p], b = parts.off[p + 1];
      if (b - a === 1) { visit(ox + d[2 * a], oy + d[2 * a + 1], ox + d[2 * a], oy + d[2 * a + 1]); continue; }
      for (var k = a + 1; k < b + (closed ? 1 : 0); k++) {
        var q = k === b ? a : k;
        visit(ox + d[2 * (k - 1)], oy + d[2 * (k - 1) + 1], ox + d[2 * q], oy + d[2 * q + 1]);
      }
    }
  }

  // Point in the polygon rings of patch i (even-odd), coordinates in world units.
  function inside(parts, i, x, y) {
    var odd = false;
    eachSegment(parts, i, true, function (xi, yi, xj, yj) {
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) odd = !odd;
    });
    return odd;
  }

  // Distance from (x, y) to the parts of patch i (lines, points, or closed rings), in world units.
  function distance(parts, i, x, y, closed) {
    var best = Infinity;
    eachSegment(parts, i, closed, function (x1, y1, x2, y2) { best = Math.min(best, segment(x1, y1, x2, y2, x, y)); });
    return best;
  }

  function segment(x1, y1, x2, y2, x, y) {
    var dx = x2 - x1, dy = y2 - y1, len = dx * dx + dy * dy;
    var t = len ? Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / len)) : 0;
    return Math.hypot(x1 + t * dx - x, y1 + t * dy - y);
  }

  window.SMP = {
    cfg: null,
    layer: function (cfg) { SMP.cfg = cfg; return (SMP.current = new Layer()); },
    state: function (s) { if (SMP.current) SMP.current.state(s); },
    drawnCodes: function () { return SMP.current ? SMP.current.drawnCodes() : []; },
    fillOf: function (code) { return SMP.current ? SMP.current.fillOf(code) : null; },
    decode: decode,
    readPayload: readPayload
  };
})();
