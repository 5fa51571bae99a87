/* safetymap: the map payload's decoder (issue 16), shared by the page and a worker.
 *
 * In the map's iframe it defines SMPdecode (patches.js decodes deltas and fine cells with it). In the worker
 * early.js starts before anything else of the map loads, the worker's first statement fetches the coarse
 * payload and its second loads this script; SMPdecode.serve then decodes the payload as it arrives and posts
 * the decoded block to the page, its arrays transferred, not copied, and then the fetch's timing. The
 * download and the decoding so run beside the page's main thread, which meanwhile loads and runs Leaflet, its
 * plugins and patches.js (on the main thread the payload's transfer took ~0.3 s longer at 100,000 patches, its
 * reads waiting for that work).
 */
(function (scope) {
  "use strict";
  var TYPES = {u8: Uint8Array, i8: Int8Array, i16: Int16Array, u32: Uint32Array, i32: Int32Array};
  // The arrays of a kind (poly, src) that must be whole before its parts are decoded as their steps arrive.
  var WHOLE_FIRST = ["Parts", "Len", "First"];
  // The arrays' places in a payload whose header (`size` bytes) is `header`: [name, type, count, offset] each,
  // and the payload's whole length.
  function layout(header, size) {
    var offset = 4 + size, out = [];
    header.arrays.forEach(function (a) {
      out.push([a[0], TYPES[a[1]], a[2], offset]);
      offset += a[2] * TYPES[a[1]].BYTES_PER_ELEMENT;
      offset += (4 - offset % 4) % 4;
    });
    return {arrays: out, length: offset};
  }

  // Parts (rings or lines/points) of every patch: per part its origin in world units (float64) and the
  // vertices as float32 offsets from it (precise to well under a pixel at zoom 18). A part arrives as its
  // first vertex (int32) and the steps to each later one (int16). A patch's box is kept in locals and written
  // once. The Mercator y of a vertex comes from a second-order Taylor expansion about an anchor latitude
  // computed exactly (one sin and one log per anchor, not per vertex); the anchor is renewed when a vertex is
  // more than ANCHOR_RAD (about 3 km) away, which keeps the error under 2e-10 world units up to 70° latitude
  // (a pixel at zoom 18 is 1.5e-8).
  // Decoded a patch at a time as its steps arrive (run): the same steps in the same order, so the same
  // numbers, however the payload came in.
  var ANCHOR_RAD = 0.0005, DEG = Math.PI / 180;
  function PartsDecoder(perPatch, lens, first, steps, quantum, box) {
    var n = perPatch.length, P = lens.length, start = new Uint32Array(n + 1), off = new Uint32Array(P + 1);
    var stepOff = new Uint32Array(P + 1);  // steps before each part (a part of m vertices has m - 1)
    for (var i = 0; i < n; i++) start[i + 1] = start[i] + perPatch[i];
    for (var p = 0; p < P; p++) {
      off[p + 1] = off[p] + lens[p];
      stepOff[p + 1] = stepOff[p] + Math.max(lens[p] - 1, 0);
    }
    this.n = n; this.first = first; this.steps = steps; this.stepOff = stepOff; this.box = box;
    this.qx = quantum / 360; this.qr = quantum * DEG;
    this.i = 0; this.anchor = Infinity; this.ay = 0; this.c1 = 0; this.c2 = 0;
    this.parts = {start: start, off: off, d: new Float32Array(2 * off[P]), ox: new Float64Array(P), oy: new Float64Array(P)};
  }
  // Decode the patches whose steps are all among the first `available` received.
  PartsDecoder.prototype.run = function (available) {
    var parts = this.parts, start = parts.start, off = parts.off, d = parts.d, ox = parts.ox, oy = parts.oy;
    var first = this.first, steps = this.steps, stepOff = this.stepOff, box = this.box, qx = this.qx, qr = this.qr;
    var n = this.n, i = this.i, anchor = this.anchor, ay = this.ay, c1 = this.c1, c2 = this.c2;
    for (; i < n && stepOff[start[i + 1]] <= available; i++) {
      var x0 = box[4 * i], y0 = box[4 * i + 1], x1 = box[4 * i + 2], y1 = box[4 * i + 3];
      for (var p = start[i]; p < start[i + 1]; p++) {
        var x = first[2 * p], y = first[2 * p + 1], px = 0, py = 0, s = 2 * stepOff[p] - 2;
        for (var k = off[p], end = off[p + 1]; k < end; k++, s += 2) {
          if (k > off[p]) { x += steps[s]; y += steps[s + 1]; }
          var mx = x * qx + 0.5, phi = y * qr, dp = phi - anchor;
          if (!(dp < ANCHOR_RAD && dp > -ANCHOR_RAD)) {  // a new anchor: y, dy/dphi and d2y/dphi2 there
            var sn = Math.sin(phi), c = Math.cos(phi);
            anchor = phi; dp = 0;
            ay = 0.5 - Math.log((1 + sn) / (1 - sn)) / (4 * Math.PI);
            c1 = -1 / (2 * Math.PI * c);
            c2 = c1 * sn / c / 2;
          }
          var my = ay + dp * (c1 + dp * c2);
          if (k === off[p]) { px = ox[p] = mx; py = oy[p] = my; }
          d[2 * k] = mx - px; d[2 * k + 1] = my - py;
          if (mx < x0) x0 = mx;
          if (my < y0) y0 = my;
          if (mx > x1) x1 = mx;
          if (my > y1) y1 = my;
        }
      }
      box[4 * i] = x0; box[4 * i + 1] = y0; box[4 * i + 2] = x1; box[4 * i + 3] = y1;
    }
    this.i = i; this.anchor = anchor; this.ay = ay; this.c1 = c1; this.c2 = c2;
    return i === n;
  };

  // A payload decoded as its bytes come in (add): the header once it is in, then the polygons and the
  // source lines a patch at a time as their vertices arrive, so that decoding overlaps the transfer.
  // `block()`: the decoded block once every byte is in.
  function PayloadReader() {
    this.head = [];  // the bytes before the header is whole
    this.headBytes = 0;
    this.size = -1;  // the header's length, once known
    this.buffer = null;  // the payload, once its length is known (from the header)
    this.filled = 0;
  }
  PayloadReader.prototype.add = function (chunk) {
    if (!this.buffer) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
      if (this.size < 0) {
        if (this.headBytes < 4) return;
        this.head = [concat(this.head, this.headBytes)];
        this.size = new DataView(this.head[0].buffer).getUint32(0, true);
      }
      if (this.headBytes < 4 + this.size) return;
      chunk = concat(this.head, this.headBytes);
      this.head = null;
      this._start(JSON.parse(new TextDecoder().decode(chunk.subarray(4, 4 + this.size))), this.size);
    }
    if (this.filled + chunk.length > this.buffer.byteLength) throw new Error("payload longer than its header says");
    new Uint8Array(this.buffer, this.filled, chunk.length).set(chunk);
    this.filled += chunk.length;
    this._progress();
  };
  PayloadReader.prototype._start = function (header, size) {
    var places = layout(header, size), arrays = {}, n = header.n;
    this.buffer = new ArrayBuffer(places.length);
    this.header = header;
    this.places = {};
    for (var k = 0; k < places.arrays.length; k++) {
      var a = places.arrays[k];
      arrays[a[0]] = new a[1](this.buffer, a[3], a[2]);
      this.places[a[0]] = a;
    }
    this.arrays = arrays;
    this.box = new Float64Array(4 * n);
    for (var i = 0; i < n; i++) { this.box[4 * i] = this.box[4 * i + 1] = Infinity; this.box[4 * i + 2] = this.box[4 * i + 3] = -Infinity; }
    this.decoders = {};
  };
  PayloadReader.prototype._received = function (name) {  // how many elements of an array are in
    var a = this.places[name], el = a[1].BYTES_PER_ELEMENT;
    return Math.max(0, Math.min(a[2], Math.floor((this.filled - a[3]) / el)));
  };
  PayloadReader.prototype._progress = function () {
    var kinds = ["poly", "src"], a = this.arrays;
    for (var k = 0; k < kinds.length; k++) {
      var kind = kinds[k];
      if (!this.decoders[kind]) {
        for (var w = 0; w < WHOLE_FIRST.length; w++) {
          if (this._received(kind + WHOLE_FIRST[w]) < a[kind + WHOLE_FIRST[w]].length) return;
        }
        this.decoders[kind] = new PartsDecoder(a[kind + "Parts"], a[kind + "Len"], a[kind + "First"], a[kind + "Step"],
                                               this.header.quantum, this.box);
      }
      if (!this.decoders[kind].run(Math.floor(this._received(kind + "Step") / 2))) return;
    }
  };
  PayloadReader.prototype.block = function () {
    if (!this.buffer || this.filled !== this.buffer.byteLength) throw new Error("payload cut short");
    var h = this.header, a = this.arrays;
    return {header: h, n: h.n, cat: a.cat, grade: a.grade, flags: a.flags, box: this.box, textBytes: a.texts, texts: null,
            poly: this.decoders.poly.parts, src: this.decoders.src.parts, near: nearLimits(h.n), bytes: this.filled};
  };
  function concat(chunks, length) {
    var out = new Uint8Array(length), at = 0;
    chunks.forEach(function (c) { out.set(c, at); at += c.length; });
    return out;
  }

  function decode(buffer) {
    var reader = new PayloadReader();
    reader.add(new Uint8Array(buffer));
    return reader.block();
  }

  // A response's payload decoded as it arrives (the block, as decode gives it).
  function readPayload(response) {
    if (!response.body) return response.arrayBuffer().then(decode);
    var reader = new PayloadReader(), stream = response.body.getReader();
    function next() {
      return stream.read().then(function (part) {
        if (part.done) return reader.block();
        reader.add(part.value);
        return next();
      });
    }
    return next();
  }

  // Per patch the largest limit its polygon is known not to lie within of its source lines, and the least
  // it is known to (underSource): none known yet.
  function nearLimits(n) {
    var out = new Float64Array(2 * n);
    for (var i = 0; i < n; i++) out[2 * i + 1] = Infinity;
    return out;
  }


  // Every ArrayBuffer a decoded block's arrays are views of, once each (the list of what a worker transfers).
  function buffersOf(block) {
    var out = new Set([block.cat.buffer, block.grade.buffer, block.flags.buffer, block.textBytes.buffer,
                       block.box.buffer, block.near.buffer]);
    [block.poly, block.src].forEach(function (parts) {
      ["start", "off", "d", "ox", "oy"].forEach(function (k) { out.add(parts[k].buffer); });
    });
    return Array.from(out);
  }

  // In the worker: the decoded block of `asked` (the fetch of `url`) posted to the page at once, {block} (or
  // {error}), then {timing}: the fetch's resource timing (ms since the epoch, and its bytes on the wire), the
  // last message. The browser can record that timing a moment after the body's end (4 fetches in 200 here
  // had no entry yet when their reader was done), so it is waited for, not read with the block.
  function serve(asked, url) {
    var decoded = null;
    asked.then(function (response) {
      if (!response.ok) throw new Error("patches coarse: HTTP " + response.status);
      return readPayload(response);
    }).then(function (block) {
      decoded = performance.timeOrigin + performance.now();
      scope.postMessage({block: block}, buffersOf(block));
    }, function (error) {
      scope.postMessage({error: String(error && error.message || error)});
    }).then(function () {
      return recorded(url);
    }).then(function (entry) {
      scope.postMessage({timing: entry && timingOf(entry, decoded)});
    });
  }

  // The resource timing entry of `url` once the browser has recorded it; null if it has none after a second.
  function recorded(url) {
    return new Promise(function (resolve) {
      var observer = new PerformanceObserver(look), timer = setTimeout(function () { done(null); }, 1000);
      function done(entry) {
        observer.disconnect();
        clearTimeout(timer);
        resolve(entry);
      }
      function look() {
        var entry = performance.getEntriesByName(url)[0];
        if (entry) done(entry);
      }
      observer.observe({type: "resource"});
      look();  // (already recorded: the observer reports only entries to come)
    });
  }

  function timingOf(e, decoded) {
    var o = performance.timeOrigin;
    var decoder = performance.getEntriesByType("resource").filter(function (r) { return r !== e; })[0];
    return {start: o + e.startTime, requestStart: o + e.requestStart, responseStart: o + e.responseStart,
            responseEnd: o + e.responseEnd, transferSize: e.transferSize, decoded: decoded,
            decoderStart: decoder ? o + decoder.startTime : null};
  }

  scope.SMPdecode = {decode: decode, readPayload: readPayload, serve: serve};
})(self);
