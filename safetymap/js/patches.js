/* safetymap: the ledger's patches drawn by the browser (issue 16).
 *
 * SMP.layer(options) makes one Leaflet renderer (a canvas, zoom-animated like L.Canvas) that fetches the
 * ledger's payload once per revision from the app's data route (safetymap.mapdata, served by
 * safetymap.ui.web), keeps every patch in memory with a grid index, and draws the patches in view
 * itself: pan and zoom never ask the server for anything. The page passes only small state per rerun
 * (SMP.state: revision, filter, selected patch); a new revision fetches only the delta.
 *
 * A click on a patch is reported the way streamlit-folium reports a clicked GeoJSON feature: a "click"
 * event on a layer it listens to, whose `layer.toGeoJSON()` gives the feature with the patch code.
 * User text (names, routes) arrives as JSON data and reaches the page only through textContent (SM.tipBox).
 */
(function () {
  "use strict";
  var TYPES = {u8: Uint8Array, i8: Int8Array, u32: Uint32Array, i32: Int32Array};
  var CELL = 1 / 16384;  // grid cell in world units (Web Mercator 0..1): about 1.8 km here
  var LEVELS = ["coarse", "fine"];
  var OVERDUE = 1, FOG = 2, FACILITY = 4;

  function mercX(lon) { return (lon + 180) / 360; }
  function mercY(lat) {
    var s = Math.sin(lat * Math.PI / 180);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  }

  function parse(buffer) {
    var size = new DataView(buffer).getUint32(0, true);
    var header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, size)));
    var offset = 4 + size, arrays = {};
    header.arrays.forEach(function (a) {
      var T = TYPES[a[1]];
      arrays[a[0]] = new T(buffer, offset, a[2]);
      offset += a[2] * T.BYTES_PER_ELEMENT;
      offset += (4 - offset % 4) % 4;
    });
    return {header: header, arrays: arrays};
  }

  // Parts (rings or lines/points) of every patch: per part its origin in world units (float64) and the
  // vertices as float32 offsets from it (precise to well under a pixel at zoom 18).
  function decodeParts(perPatch, lens, xy, quantum, box) {
    var n = perPatch.length, P = lens.length, start = new Uint32Array(n + 1), off = new Uint32Array(P + 1);
    for (var i = 0; i < n; i++) start[i + 1] = start[i] + perPatch[i];
    for (var p = 0; p < P; p++) off[p + 1] = off[p] + lens[p];
    var d = new Float32Array(2 * off[P]), ox = new Float64Array(P), oy = new Float64Array(P), k = 0;
    for (i = 0; i < n; i++) {
      for (p = start[i]; p < start[i + 1]; p++) {
        var x = 0, y = 0;
        for (var j = 0; j < lens[p]; j++, k++) {
          x += xy[2 * k]; y += xy[2 * k + 1];
          var mx = mercX(x * quantum), my = mercY(y * quantum);
          if (j === 0) { ox[p] = mx; oy[p] = my; }
          d[2 * k] = mx - ox[p]; d[2 * k + 1] = my - oy[p];
          if (mx < box[4 * i]) box[4 * i] = mx;
          if (my < box[4 * i + 1]) box[4 * i + 1] = my;
          if (mx > box[4 * i + 2]) box[4 * i + 2] = mx;
          if (my > box[4 * i + 3]) box[4 * i + 3] = my;
        }
      }
    }
    return {start: start, off: off, d: d, ox: ox, oy: oy};
  }

  function decode(buffer) {
    var parsed = parse(buffer), h = parsed.header, a = parsed.arrays, n = h.n;
    var box = new Float64Array(4 * n);
    for (var i = 0; i < n; i++) { box[4 * i] = box[4 * i + 1] = Infinity; box[4 * i + 2] = box[4 * i + 3] = -Infinity; }
    return {header: h, n: n, cat: a.cat, grade: a.grade, flags: a.flags, box: box,
            poly: decodeParts(a.polyParts, a.polyLen, a.polyXY, h.quantum, box),
            src: decodeParts(a.srcParts, a.srcLen, a.srcXY, h.quantum, box)};
  }

  function api(route) {  // the app's root as seen from the component's iframe (…/component/<name>/index.html)
    var path = window.location.pathname, at = path.indexOf("/component/");
    return (at >= 0 ? path.slice(0, at) : "") + "/api/" + route;
  }

  var Layer = L.Renderer.extend({
    options: {padding: 0.3, tolerance: 3},

    initialize: function (options) {
      L.Renderer.prototype.initialize.call(this, options);
      this._records = new Map();  // code -> {code, cat, g, f, n, r, s, at: {level: [block, i]}}
      this._tokens = {};  // level -> revision token held
      this._loading = {};  // level -> promise
      this._grid = new Map();
      this._cells = new Set();  // fine cells held ("cx_cy")
      this._hiddenCats = {};
      this._filter = null;
      this._selected = null;
      this._wanted = null;
      this.painted = null;  // {token, at, shown}: set after a draw with data (benchmarks, tests)
      this.bytes = 0;  // payload bytes received (after the transfer's gzip is undone)
      this.deltas = [];  // the deltas applied (tests, benchmarks)
    },

    // ------------------------------------------------------------ Leaflet renderer plumbing (as L.Canvas)
    _initContainer: function () {
      var c = this._container = document.createElement("canvas");
      this._ctx = c.getContext("2d");
      c.style.pointerEvents = "none";
    },
    _destroyContainer: function () { L.DomUtil.remove(this._container); delete this._ctx; delete this._container; },
    onAdd: function (map) {
      L.Renderer.prototype.onAdd.call(this, map);
      map.on("click", this._onClick, this);
      map.on("mousemove", this._onMove, this);
      map.on("mouseout", this._hideTip, this);
      map.on("overlayadd overlayremove", this._onToggle, this);
      map.on("moveend", this._writeView, this);
      var self = this;
      window.setTimeout(function () { if (self._map) self._writeView(); }, 0);  // where the map starts
    },
    onRemove: function (map) {
      map.off("click", this._onClick, this);
      map.off("mousemove", this._onMove, this);
      map.off("mouseout", this._hideTip, this);
      map.off("overlayadd overlayremove", this._onToggle, this);
      map.off("moveend", this._writeView, this);
      L.Renderer.prototype.onRemove.call(this, map);
    },
    _update: function () {
      if (this._map._animatingZoom && this._bounds) return;
      L.Renderer.prototype._update.call(this);
      var b = this._bounds, c = this._container, size = b.getSize(), m = L.Browser.retina ? 2 : 1;
      L.DomUtil.setPosition(c, b.min);
      c.width = m * size.x; c.height = m * size.y;
      c.style.width = size.x + "px"; c.style.height = size.y + "px";
      this._ctx.setTransform(m, 0, 0, m, -b.min.x * m, -b.min.y * m);
      this._draw();
    },
    _updatePaths: function () {},

    // ------------------------------------------------------------ state from the page
    state: function (s) {
      this._wanted = s.token;
      this._filter = s.only ? {only: new Set(s.only)} : s.except ? {except: new Set(s.except)} : null;
      this._selected = s.selected || null;
      this._viewKey = s.viewKey || null;
      this._load("coarse");
      if (this._tokens.fine) this._load("fine");  // the fine cells held follow by delta
      this._loadCells();
      this.redraw();
    },
    redraw: function () { if (this._map && this._ctx) this._draw(); },

    _load: function (level) {
      var self = this, want = this._wanted;
      if (!want || this._tokens[level] === want) return this._loading[level] || Promise.resolve();
      if (this._loading[level]) return this._loading[level].then(function () { return self._load(level); });
      var from = this._tokens[level];
      if (level === "fine" && !from) return Promise.resolve();  // the fine level comes in cells (_loadCells)
      var url = api("patches/" + level + "/" + (from ? from + "/" : "") + want);
      this._loading[level] = fetch(url, {credentials: "same-origin"}).then(function (response) {
        if (response.status === 404 && from) {  // the old revision is no longer kept: take the whole
          delete self._tokens[level];
          if (level === "fine") self._dropFine();
          return null;
        }
        if (!response.ok) throw new Error("patches " + level + " " + want + ": HTTP " + response.status);
        return response.arrayBuffer();
      }).then(function (buffer) {
        if (buffer) {
          self.bytes += buffer.byteLength;
          var block = decode(buffer);
          if (from) self.deltas.push({level: level, from: from, to: want, bytes: buffer.byteLength,
                                      codes: block.header.code.slice(0, 100), removed: block.header.removed});
          self._apply(level, block, !from);
          self._tokens[level] = want;
        }
      }).finally(function () {
        delete self._loading[level];
      }).then(function () {
        if (self._tokens[level] !== self._wanted) return self._load(level);  // newer state meanwhile (or a 404)
        if (level === "fine") self._loadCells();
        self.redraw();
      });
      this._loading[level].catch(function (error) { console.error(error); });
      return this._loading[level];
    },

    // The fine level of the cells a zoomed-in view meets, each fetched once per revision held.
    _loadCells: function () {
      var map = this._map, want = this._wanted, self = this, size = SMP.cfg.cellDeg;
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
        self._apply("fine", decode(buffer), false);
        self._tokens.fine = want;
        if (self._wanted !== want) self._load("fine");
        self.redraw();
      }).catch(function (error) { self._cells.delete(key); console.error(error); });
    },
    _dropFine: function () {
      this._records.forEach(function (r) { delete r.at.fine; });
      this._cells.clear();
    },

    _apply: function (level, block, whole) {
      var h = block.header, records = this._records;
      if (whole) records.forEach(function (r) { delete r.at[level]; });
      h.removed.forEach(function (code) { records.delete(code); });
      var added = 0;
      for (var i = 0; i < block.n; i++) {
        var code = h.code[i], r = records.get(code);
        if (!r) { r = {code: code, at: {}}; records.set(code, r); added++; }
        r.cat = block.cat[i]; r.g = block.grade[i]; r.f = block.flags[i];
        r.n = h.name[i]; r.r = h.route[i]; r.s = h.stakes[i];
        r.at[level] = [block, i];
      }
      if (whole) records.forEach(function (r, code) { if (!r.at.coarse && !r.at.fine) records.delete(code); });
      this.lastBlock = {level: level, whole: whole, n: block.n, codes: h.code.slice(0, 100), removed: h.removed};
      if (whole || added || h.removed.length || level === "coarse") this._index();  // the grid uses coarse boxes
    },

    _index: function () {
      var grid = new Map();
      this._records.forEach(function (r) {
        var at = r.at.coarse || r.at.fine, b = at[0].box, i = at[1];
        if (!(b[4 * i] <= b[4 * i + 2])) return;  // no geometry
        for (var cx = Math.floor(b[4 * i] / CELL); cx <= Math.floor(b[4 * i + 2] / CELL); cx++) {
          for (var cy = Math.floor(b[4 * i + 1] / CELL); cy <= Math.floor(b[4 * i + 3] / CELL); cy++) {
            var key = cx * 1048576 + cy, cell = grid.get(key);
            if (!cell) grid.set(key, cell = []);
            cell.push(r);
          }
        }
      });
      this._grid = grid;
    },

    // ------------------------------------------------------------ what is shown
    _shown: function (r) {
      var cfg = SMP.cfg;
      if (this._hiddenCats[cfg.cats[r.cat]]) return false;
      var f = this._filter;
      return !f || (f.only ? f.only.has(r.code) : !f.except.has(r.code));
    },
    _level: function () { return this._map.getZoom() >= SMP.cfg.fineZoom && this._tokens.fine ? "fine" : "coarse"; },
    _geo: function (r, level) { return r.at[level] || r.at[level === "fine" ? "coarse" : "fine"]; },

    // records shown whose box meets the world box [x0, y0, x1, y1]
    _within: function (x0, y0, x1, y1) {
      var out = [], seen = new Set(), self = this;
      var cx0 = Math.floor(x0 / CELL), cx1 = Math.floor(x1 / CELL), cy0 = Math.floor(y0 / CELL), cy1 = Math.floor(y1 / CELL);
      var visit = function (cell) {
        for (var k = 0; k < cell.length; k++) {
          var r = cell[k];
          if (seen.has(r)) continue;
          seen.add(r);
          var at = r.at.coarse || r.at.fine, b = at[0].box, i = at[1];
          if (b[4 * i] <= x1 && b[4 * i + 2] >= x0 && b[4 * i + 1] <= y1 && b[4 * i + 3] >= y0 && self._shown(r)) out.push(r);
        }
      };
      if ((cx1 - cx0 + 1) * (cy1 - cy0 + 1) > this._grid.size) {
        this._grid.forEach(visit);
      } else {
        for (var cx = cx0; cx <= cx1; cx++) for (var cy = cy0; cy <= cy1; cy++) {
          var cell = this._grid.get(cx * 1048576 + cy);
          if (cell) visit(cell);
        }
      }
      return out;
    },
    _worldBox: function (pad) {
      var map = this._map, b = map.getPixelBounds(), scale = 256 * Math.pow(2, map.getZoom());
      var size = b.getSize(), px = size.x * pad, py = size.y * pad;
      return [(b.min.x - px) / scale, (b.min.y - py) / scale, (b.max.x + px) / scale, (b.max.y + py) / scale];
    },

    // ------------------------------------------------------------ drawing
    _draw: function () {
      var ctx = this._ctx, map = this._map, b = this._bounds, cfg = SMP.cfg;
      if (!ctx || !b) return;
      ctx.save();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, this._container.width, this._container.height);
      ctx.restore();
      if (!this._tokens.coarse && !this._tokens.fine) return;
      var zoom = map.getZoom(), scale = 256 * Math.pow(2, zoom), origin = map.getPixelOrigin();
      var level = this._level(), box = this._worldBox(this.options.padding);
      var shown = this._within(box[0], box[1], box[2], box[3]);
      var byCat = cfg.cats.map(function () { return []; });
      shown.forEach(function (r) { if (byCat[r.cat]) byCat[r.cat].push(r); });
      var t = {scale: scale, ox: origin.x, oy: origin.y, level: level};
      for (var c = 0; c < byCat.length; c++) {
        if (!byCat[c].length) continue;
        if (cfg.facility[c]) this._drawFacilities(ctx, byCat[c], c, t);
        else this._drawCategory(ctx, byCat[c], c, t, zoom);
      }
      var selected = this._selected && this._records.get(this._selected);
      if (selected) this._drawSelected(ctx, selected, t);
      this.painted = {token: this._tokens[level] || this._tokens.coarse || this._tokens.fine, shown: shown.length,
                      level: level, at: performance.now()};
      if (this.onPainted) this.onPainted(this.painted);
    },
    _path: function (ctx, parts, i, t, close) {
      var s = parts.start, off = parts.off, d = parts.d;
      for (var p = s[i]; p < s[i + 1]; p++) {
        var x0 = parts.ox[p] * t.scale - t.ox, y0 = parts.oy[p] * t.scale - t.oy, k = off[p];
        ctx.moveTo(x0 + d[2 * k] * t.scale, y0 + d[2 * k + 1] * t.scale);
        for (k = k + 1; k < off[p + 1]; k++) ctx.lineTo(x0 + d[2 * k] * t.scale, y0 + d[2 * k + 1] * t.scale);
        if (close) ctx.closePath();
      }
    },
    _byGrade: function (records) {
      var out = {};
      records.forEach(function (r) { (out[r.g] = out[r.g] || []).push(r); });
      return out;
    },
    _drawCategory: function (ctx, records, c, t, zoom) {
      var cfg = SMP.cfg, style = cfg.styles[c], groups = this._byGrade(records), self = this;
      Object.keys(groups).forEach(function (g) {  // the patch polygons: grade fill, category outline
        ctx.beginPath();
        groups[g].forEach(function (r) { var at = self._geo(r, t.level); self._path(ctx, at[0].poly, at[1], t, true); });
        ctx.globalAlpha = 0.5;
        ctx.fillStyle = SM.gradeColor(+g);
        ctx.fill("evenodd");
        ctx.globalAlpha = 0.95;
        ctx.strokeStyle = style.outline;
        ctx.lineWidth = 2;
        ctx.setLineDash(style.dash ? style.dash.split(/[ ,]+/).map(Number) : []);
        ctx.lineJoin = ctx.lineCap = "round";
        ctx.stroke();
      });
      ctx.setLineDash([]);
      ctx.globalAlpha = 1;
      var weight = zoom >= cfg.closeZoom ? cfg.sourceWeight : cfg.sourceWeightFar;
      Object.keys(groups).forEach(function (g) {  // the source lines on top, and bridge points
        var points = [];
        ctx.beginPath();
        groups[g].forEach(function (r) {
          var at = self._geo(r, t.level), parts = at[0].src, i = at[1];
          for (var p = parts.start[i]; p < parts.start[i + 1]; p++) {
            if (parts.off[p + 1] - parts.off[p] === 1) points.push([parts.ox[p] * t.scale - t.ox, parts.oy[p] * t.scale - t.oy]);
          }
          self._path(ctx, parts, i, t, false);
        });
        ctx.strokeStyle = SM.gradeColor(+g);
        ctx.lineWidth = weight;
        ctx.stroke();
        if (!points.length) return;
        ctx.beginPath();
        points.forEach(function (q) { ctx.moveTo(q[0] + 5, q[1]); ctx.arc(q[0], q[1], 5, 0, 2 * Math.PI); });
        ctx.fillStyle = SM.gradeColor(+g);
        ctx.fill();
        ctx.strokeStyle = style.outline;
        ctx.lineWidth = 2;
        ctx.stroke();
      });
    },
    _drawFacilities: function (ctx, records, c, t) {  // a round marker in the layer's colour with its symbol
      var style = SMP.cfg.styles[c], self = this;
      ctx.font = "600 11px sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      records.forEach(function (r) {
        var at = self._geo(r, t.level), parts = at[0].src, i = at[1];
        for (var p = parts.start[i]; p < parts.start[i + 1]; p++) {
          var x = parts.ox[p] * t.scale - t.ox, y = parts.oy[p] * t.scale - t.oy;
          ctx.beginPath();
          ctx.arc(x, y, 10, 0, 2 * Math.PI);
          ctx.fillStyle = style.outline;
          ctx.fill();
          ctx.strokeStyle = "#fff";
          ctx.lineWidth = 2;
          ctx.stroke();
          ctx.fillStyle = "#fff";
          ctx.fillText(style.symbol || "", x, y + 0.5);
        }
      });
    },
    _drawSelected: function (ctx, r, t) {
      var at = this._geo(r, "fine");
      ctx.beginPath();
      this._path(ctx, at[0].poly, at[1], t, true);
      this._path(ctx, at[0].src, at[1], t, false);
      ctx.strokeStyle = SMP.cfg.selectedColor;
      ctx.lineWidth = 5;
      ctx.globalAlpha = 1;
      ctx.stroke();
    },

    // ------------------------------------------------------------ hit testing, tooltip, click
    _hit: function (latlng) {
      if (!this._map) return null;
      var map = this._map, zoom = map.getZoom(), scale = 256 * Math.pow(2, zoom), cfg = SMP.cfg;
      var x = mercX(latlng.lng), y = mercY(latlng.lat), tol = (this.options.tolerance + 11) / scale;
      var level = this._level(), best = null, bestArea = Infinity;
      var weight = zoom >= cfg.closeZoom ? cfg.sourceWeight : cfg.sourceWeightFar;
      var candidates = this._within(x - tol, y - tol, x + tol, y + tol);
      for (var k = 0; k < candidates.length; k++) {
        var r = candidates[k], at = this._geo(r, level), block = at[0], i = at[1];
        var near = cfg.facility[r.cat] ? 11 : this.options.tolerance + weight / 2;
        var hit = (!cfg.facility[r.cat] && inside(block.poly, i, x, y))
          || distance(block.src, i, x, y) * scale <= Math.max(near, 5 + this.options.tolerance)
          || distance(block.poly, i, x, y, true) * scale <= this.options.tolerance;
        if (!hit) continue;
        var area = (block.box[4 * i + 2] - block.box[4 * i]) * (block.box[4 * i + 3] - block.box[4 * i + 1]);
        if (cfg.facility[r.cat]) area = -1;  // a marker sits on top
        if (area < bestArea) { best = r; bestArea = area; }
      }
      return best;
    },
    _props: function (r) {
      var p = {code: r.code, n: r.n, g: r.g, r: r.r, s: r.s};
      if (r.f & FACILITY) p.x = 1;
      if (r.f & OVERDUE) p.o = 1;
      if (r.f & FOG) p.f = 1;
      return p;
    },
    _onMove: function (e) {
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
      this._hiddenCats[key] = e.type === "overlayremove";
      this.redraw();
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

  // Point in the polygon rings of patch i (even-odd), coordinates in world units.
  function inside(parts, i, x, y) {
    var odd = false;
    for (var p = parts.start[i]; p < parts.start[i + 1]; p++) {
      var ox = parts.ox[p], oy = parts.oy[p], d = parts.d, a = parts.off[p], b = parts.off[p + 1];
      for (var k = a, m = b - 1; k < b; m = k++) {
        var xi = ox + d[2 * k], yi = oy + d[2 * k + 1], xj = ox + d[2 * m], yj = oy + d[2 * m + 1];
        if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) odd = !odd;
      }
    }
    return odd;
  }

  // Distance from (x, y) to the parts of patch i (lines, points, or closed rings), in world units.
  function distance(parts, i, x, y, closed) {
    var best = Infinity;
    for (var p = parts.start[i]; p < parts.start[i + 1]; p++) {
      var ox = parts.ox[p], oy = parts.oy[p], d = parts.d, a = parts.off[p], b = parts.off[p + 1];
      if (b - a === 1) { best = Math.min(best, Math.hypot(ox + d[2 * a] - x, oy + d[2 * a + 1] - y)); continue; }
      for (var k = a + 1; k < b + (closed ? 1 : 0); k++) {
        var q = k === b ? a : k;
        best = Math.min(best, segment(ox + d[2 * (k - 1)], oy + d[2 * (k - 1) + 1], ox + d[2 * q], oy + d[2 * q + 1], x, y));
      }
    }
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
    decode: decode
  };
})();
