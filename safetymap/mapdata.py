"""The ledger's patches for the browser (issue 16): one compact, column-wise payload per ledger revision,
and the delta between two revisions, so that the browser holds the geometry and draws it itself.

A payload is one binary body (gzip'd on the wire)::

    uint32 header length | UTF-8 JSON header | arrays, each aligned to 4 bytes

The header carries the patch codes, the codes a delta removes and the list of arrays (name, type,
length). The arrays: category index, grade index (-1: none), flags (overdue, fog ledger, facility), for the
patch polygons and the source lines/points the number of parts per patch, the vertices per part and the
coordinates, quantised to ``QUANTUM`` degrees: a part's first vertex absolute (int32), each later one as its
step from the one before (int16: an edge longer than a step can be is carried in several), and ``texts``:
the UTF-8 JSON of the texts only a tooltip or a click needs (name, route, stakes; shown with
``textContent``), apart from the header so that the browser reads them only then.

Two levels of detail: ``coarse`` (simplified to half a pixel at zoom ``FINE_ZOOM - 1``), the whole ledger
for the first paint and far views; ``fine`` (half a pixel at zoom 17), fetched from zoom ``FINE_ZOOM`` on in
cells of ``CELL_DEG`` degrees, only those a view meets (a province's fine level whole would be tens of MB).

``publish()`` keeps, per ledger, the few newest revisions in a process-wide cache (never pickled): their
index (code -> version and flags, what a delta compares) and the bodies built so far. No frame of patches is
kept: bodies are built from the store's WKB (``Store.read_columns``), a whole one category at a time, a fine
cell by the spatial index, a delta by code, and a new revision's whole from the previous one's ``Pieces``
and the patches that changed. A delta between two revisions carries the patches whose version or flags
differ, the new ones, and the codes gone.
"""
from __future__ import annotations

import json
import math
import struct
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from .geo import stake_ranges
from .ledger import OVERDUE_KEYS, overdue
from .mapview import CELL_DEG, FINE_ZOOM, simplify_for_zoom
from .memory import trim_memory
from .schema import Schema
from .text import is_missing

QUANTUM = 1e-6  # degrees per coordinate unit (about 0.1 m)
KINDS = {"u8": "<u1", "i8": "<i1", "i16": "<i2", "u32": "<u4", "i32": "<i4"}  # a payload array's type names
STEP_MAX = 2 ** 15 - 1  # units: the longest step between two vertices a payload carries (int16; ~3.6 km N-S)
LEVEL_ZOOMS = {"coarse": FINE_ZOOM - 1, "fine": 17}  # simplified to half a pixel at this zoom
LEVELS = tuple(LEVEL_ZOOMS)
OVERDUE, FOG, FACILITY = 1, 2, 4
KEPT = 8  # revisions kept per ledger (deltas are served from any of them to the newest)
CELLS_KEPT = 512  # gzip'd fine cells kept per revision
GZIP_LEVEL = 3  # the payload is built while the first user waits: speed over the last 10 % of size


class Unknown(LookupError):
    """A revision (or level) this process does not hold: the browser asks for the whole payload instead."""


def token_of(revision: tuple[int, ...], day) -> str:
    """The payload's name for a store revision on a day (overdue flags change with the day)."""
    return "-".join(str(int(v)) for v in revision) + f"-{pd.Timestamp(day):%Y%m%d}"


# ---------------------------------------------------------------- columns
def flags(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    out = np.zeros(len(frame), dtype=np.uint8)
    for column, bit in (("overdue", OVERDUE), ("fog_ledger", FOG)):
        if column in frame:
            out |= np.where(frame[column].fillna(False).astype(bool).to_numpy(), bit, 0).astype(np.uint8)
    return out | np.where(frame["category"].isin(schema.facility_keys).to_numpy(), FACILITY, 0).astype(np.uint8)


def stamps(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Per patch a number that changes when what the browser draws of it may: its version and flags."""
    version = pd.to_numeric(frame["version"], errors="coerce").fillna(0).to_numpy(np.int64) if "version" in frame \
        else np.zeros(len(frame), np.int64)
    return version * 8 + flags(frame, schema)


def _texts(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame:
        return [""] * len(frame)
    return ["" if is_missing(v) else str(v) for v in frame[column].tolist()]


def _parts(geoms: np.ndarray, polygons: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per geometry its number of parts (rings of polygons; lines or points), per part its vertex count,
    and the vertices (x, y). Polygon rings lose their closing vertex (the browser closes them)."""
    geoms = np.asarray(geoms, dtype=object)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    geoms = np.where(empty, None, geoms)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    if polygons:
        rings, ring_owner = shapely.get_rings(parts, return_index=True)
        parts, owner = rings, owner[ring_owner]
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    counts = np.bincount(part_of, minlength=len(parts))
    if polygons and len(coords):  # drop each ring's closing vertex
        last = np.cumsum(counts) - 1
        keep = np.ones(len(coords), bool)
        keep[last] = False
        coords, counts = coords[keep], counts - 1
    per_geom = np.bincount(owner, minlength=len(geoms)).astype(np.uint32)
    return per_geom, counts.astype(np.uint32), coords


def _quantised_steps(coords: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per part its first vertex quantised (int32 x, y) and its vertex count; per later vertex its step from
    the one before (int16 x, y). An edge longer than ``STEP_MAX`` units either way is carried as equal steps
    (extra vertices on the edge, within a unit of it after rounding), so every step fits."""
    q = np.rint(coords / QUANTUM).astype(np.int32)  # (|x| <= 3.6e8: int32, half the memory of int64)
    counts = counts.astype(np.int64)
    starts, later = _first_vertices(counts)
    first = np.zeros((len(counts), 2), np.int32)
    first[counts > 0] = q[starts]
    steps = np.subtract(q[1:], q[:-1])[later[1:]] if len(q) else np.zeros((0, 2), np.int32)
    if steps.max(initial=0) > STEP_MAX or steps.min(initial=0) < -STEP_MAX:
        steps, counts = _split(steps.astype(np.int64), counts)
    return first.ravel(), steps.astype(np.int16).ravel(), counts.astype(np.uint32)


def _first_vertices(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For parts of ``counts`` vertices, laid end to end: where each non-empty part's first vertex is, and a
    mask of the vertices after a part's first (those carried as steps)."""
    counts = counts.astype(np.int64)
    starts = (np.cumsum(counts) - counts)[counts > 0]
    later = np.ones(int(counts.sum()), bool)
    later[starts] = False
    return starts, later


def _steps_per_part(counts: np.ndarray) -> np.ndarray:
    """How many steps each part carries: its vertices after the first."""
    return np.maximum(counts.astype(np.int64) - 1, 0)


def _split(steps: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each step longer than ``STEP_MAX`` either way as equal steps (piece j of s: floor((j+1) d / s) -
    floor(j d / s), which add up to d exactly); the parts' vertex ``counts`` grown by the vertices added."""
    pieces = np.maximum(1, -(-np.abs(steps).max(axis=1) // STEP_MAX))
    owner = np.repeat(np.arange(len(steps)), pieces)
    j = (np.arange(len(owner)) - np.repeat(np.cumsum(pieces) - pieces, pieces))[:, None]
    whole, s = steps[owner], pieces[owner][:, None]
    part_of_step = np.repeat(np.arange(len(counts)), _steps_per_part(counts))
    added = np.bincount(part_of_step, weights=pieces - 1, minlength=len(counts)).astype(np.int64)
    return (j + 1) * whole // s - j * whole // s, counts + added


@dataclass
class Parts:
    """Geometries as a payload carries them: per patch its number of parts, per part its vertex count and its
    first vertex (quantised, int32), per later vertex its step from the one before (int16: half the bytes of
    a coordinate). Each part stands alone, so a payload's patches can be taken out and joined without
    touching a coordinate."""
    per_patch: np.ndarray  # uint32
    lengths: np.ndarray  # uint32
    first: np.ndarray  # int32, two per part
    steps: np.ndarray  # int16, two per vertex after a part's first

    @classmethod
    def of(cls, geoms: np.ndarray, polygons: bool) -> Parts:
        per_patch, lengths, coords = _parts(geoms, polygons)
        first, steps, lengths = _quantised_steps(coords, lengths)
        return cls(per_patch, lengths, first, steps)

    def take(self, keep: np.ndarray) -> Parts:
        parts = np.repeat(keep, self.per_patch)
        later = np.repeat(parts, _steps_per_part(self.lengths))
        return Parts(self.per_patch[keep], self.lengths[parts], self.first.reshape(-1, 2)[parts].ravel(),
                     self.steps.reshape(-1, 2)[later].ravel())

    @classmethod
    def join(cls, pieces: list[Parts]) -> Parts:
        return cls(*(np.concatenate([getattr(p, field) for p in pieces]).astype(KINDS[kind])
                     for field, _name, kind in PARTS_ARRAYS))

    def arrays(self, prefix: str) -> list[tuple[str, str, np.ndarray]]:
        """The payload's arrays of these parts (name, type, values), in the order the browser reads them."""
        return [(prefix + name, kind, getattr(self, field)) for field, name, kind in PARTS_ARRAYS]

    def vertices(self) -> np.ndarray:
        """Every vertex as quantised (x, y), int64, part after part: what the browser decodes (tests)."""
        lengths = self.lengths.astype(np.int64)
        starts, later = _first_vertices(lengths)
        xy = np.zeros((len(later), 2), np.int64)
        xy[starts] = self.first.reshape(-1, 2)[lengths > 0]
        xy[later] = self.steps.reshape(-1, 2)
        total = np.cumsum(xy, axis=0)
        return total - np.repeat(total[starts] - xy[starts], lengths[lengths > 0], axis=0)


# A Parts field, its array's name after the prefix (poly, src) and its type, in the order the browser reads them.
PARTS_ARRAYS = (("per_patch", "Parts", "u32"), ("lengths", "Len", "u32"), ("first", "First", "i32"),
                ("steps", "Step", "i16"))


TEXTS = ("code", "name", "route", "stakes")  # the payload's texts, one per patch
LAZY_TEXTS = TEXTS[1:]  # in the ``texts`` array (read by the browser on a tooltip or click), not the header


@dataclass
class Pieces:
    """A payload's patches before they are written out: texts and per-patch columns, and their geometry at
    one level. ``take`` and ``join`` make a revision's whole payload from the one before and the patches
    that changed (no geometry read or simplified again for the others)."""
    level: str
    texts: dict  # name in TEXTS -> object array
    cat: np.ndarray
    grade: np.ndarray
    flags: np.ndarray
    poly: Parts
    src: Parts

    @property
    def n(self) -> int:
        return len(self.cat)

    def take(self, keep: np.ndarray) -> Pieces:
        keep = np.asarray(keep, dtype=bool)
        return Pieces(self.level, {k: v[keep] for k, v in self.texts.items()}, self.cat[keep], self.grade[keep],
                      self.flags[keep], self.poly.take(keep), self.src.take(keep))

    @classmethod
    def join(cls, level: str, pieces: list[Pieces]) -> Pieces:
        return cls(level, {k: np.concatenate([p.texts[k] for p in pieces]) for k in TEXTS},
                   *(np.concatenate([getattr(p, k) for p in pieces]).astype(kind)
                     for k, kind in (("cat", np.uint8), ("grade", np.int8), ("flags", np.uint8))),
                   Parts.join([p.poly for p in pieces]), Parts.join([p.src for p in pieces]))

    def _chunks(self, removed=()):
        """The payload's parts in order: the length of the header, the header, then each array padded to 4
        bytes, the arrays as buffers of themselves (no copy on a little-endian machine)."""
        arrays = [("cat", "u8", self.cat), ("grade", "i8", self.grade), ("flags", "u8", self.flags),
                  *self.poly.arrays("poly"), *self.src.arrays("src"),
                  ("texts", "u8", np.frombuffer(_json({k: self.texts[k].tolist() for k in LAZY_TEXTS}), np.uint8))]
        header = {"n": self.n, "level": self.level, "quantum": QUANTUM, "removed": list(removed),
                  "code": self.texts["code"].tolist(),
                  "arrays": [[name, kind, int(len(values))] for name, kind, values in arrays]}
        head = _json(header)
        head += b" " * (-len(head) % 4)
        yield struct.pack("<I", len(head))
        yield head
        for _name, _kind, values in arrays:
            little = np.ascontiguousarray(values).astype(values.dtype.newbyteorder("<"), copy=False)
            yield memoryview(little).cast("B")
            yield b"\0" * (-little.nbytes % 4)

    def body(self, removed=()) -> bytes:
        """The payload (not compressed), with the ``removed`` codes of a delta."""
        return b"".join(self._chunks(removed))

    def gzipped(self, removed=()) -> bytes:
        """``body`` gzip'd, compressed part by part: the whole uncompressed payload never exists (at 100,000
        patches it and the copies of its arrays were ~60 MB of the app's peak memory)."""
        zipper = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: with gzip's header and trailer
        return b"".join([zipper.compress(chunk) for chunk in self._chunks(removed)] + [zipper.flush()])


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def pieces(frame: pd.DataFrame, schema: Schema, level: str, polygons=None, sources=None) -> Pieces:
    """The payload's pieces of ``frame``'s patches at ``level``: their geometry is ``polygons`` and
    ``sources`` (arrays of shapely geometries) or else the frame's ``geometry`` and ``source_geometry``;
    flags from its ``overdue`` and ``fog_ledger`` columns."""
    zoom = LEVEL_ZOOMS[level]
    n = len(frame)
    cats = {c.key: i for i, c in enumerate(schema.categories)}
    grade_index = {g.label: g.rank for g in schema.grades}
    if polygons is None:
        polygons = np.asarray(frame.geometry.values, dtype=object) if n else np.zeros(0, object)
    if sources is None:
        sources = np.asarray(frame["source_geometry"].values, dtype=object) if "source_geometry" in frame \
            else np.full(n, None, dtype=object)
    flag = flags(frame, schema) if n else np.zeros(0, np.uint8)
    polygons = np.where(flag & FACILITY, None, polygons) if n else polygons  # a facility is drawn by its points
    texts = {"code": _texts(frame, "code"), "name": _texts(frame, "name"), "route": _texts(frame, "route_code"),
             "stakes": stake_ranges(frame) if n else []}
    return Pieces(level, {k: np.array(v, dtype=object) for k, v in texts.items()},
                  frame["category"].map(cats).fillna(255).to_numpy(np.uint8) if n else np.zeros(0, np.uint8),
                  frame["risk_grade"].map(grade_index).fillna(-1).to_numpy(np.int8)
                  if n and "risk_grade" in frame else np.full(n, -1, np.int8),
                  flag,
                  Parts.of(simplify_for_zoom(polygons, zoom) if n else polygons, True),
                  Parts.of(simplify_for_zoom(sources, zoom) if n else sources, False))


def encode(frame: pd.DataFrame, schema: Schema, level: str, removed: list[str] = ()) -> bytes:
    """The payload of ``frame``'s patches at ``level`` (plus the ``removed`` codes, for a delta); not compressed."""
    return pieces(frame, schema, level).body(removed)


def _header(body: bytes) -> dict:
    (size,) = struct.unpack_from("<I", body)
    return json.loads(body[4:4 + size].decode("utf-8"))


def decode_header(body: bytes) -> dict:
    """The JSON header of a payload with its lazily read texts (name, route, stakes) added (tests and
    benchmarks)."""
    return {**_header(body), **json.loads(decode_arrays(body)["texts"].tobytes().decode("utf-8"))}


def decode_arrays(body: bytes) -> dict[str, np.ndarray]:
    """The arrays of a payload by name (tests and benchmarks)."""
    header = _header(body)
    (offset,) = struct.unpack_from("<I", body)
    offset += 4
    out = {}
    for name, kind, count in header["arrays"]:
        dtype = np.dtype(KINDS[kind])
        out[name] = np.frombuffer(body, dtype, count, offset)
        offset += count * dtype.itemsize
        offset += -offset % 4
    return out


# ---------------------------------------------------------------- reading the store
READ_KEYS = ("name", "route_code", "risk_grade", *OVERDUE_KEYS, "version", "start_stake", "end_stake",
             "stake_prefix")  # what a payload needs of a patch (its flags and texts)


def stored_pieces(store, level: str, day, fog: frozenset, **which) -> Pieces:
    """The pieces of the current patches ``which`` selects (``read_columns``: category, codes, bbox) read
    straight from the store: its WKB decoded, simplified and dropped again, one category at a time (no
    frame of shapely geometries outlives the call). Overdue is judged on ``day``; ``fog`` holds the codes in
    the fog ledger. A ``bbox`` keeps only the patches whose exact box meets it (the index's box is coarser)."""
    frame = store.read_columns(READ_KEYS, geometry=True, **which)
    polygons, sources = shapely.from_wkb(frame["wkb"].to_numpy()), shapely.from_wkb(frame["source_wkb"].to_numpy())
    if which.get("bbox") is not None and len(frame):
        minx, miny, maxx, maxy = which["bbox"]
        b = shapely.bounds(polygons)
        meets = (b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny)
        frame, polygons, sources = frame[meets], polygons[meets], sources[meets]
    frame = frame.drop(columns=["wkb", "source_wkb"])
    frame["overdue"] = overdue(frame, day, store.schema).fillna(False).to_numpy(bool) if len(frame) \
        else np.zeros(0, bool)
    frame["fog_ledger"] = frame["code"].isin(fog).to_numpy()
    return pieces(frame, store.schema, level, polygons, sources)


def whole_pieces(store, level: str, day, fog: frozenset) -> Pieces:
    """Every current patch at ``level``, read one category at a time (memory stays one category's WKB)."""
    return Pieces.join(level, [stored_pieces(store, level, day, fog, category=c.key) for c in store.schema.categories])


# ---------------------------------------------------------------- the per-revision cache
@dataclass
class Revision:
    """One ledger revision as the browser sees it: the index a delta compares (codes and stamps, from the
    page's column-wise frame), the fog ledger's codes and the day (what flags are judged with), and the
    gzip'd whole bodies built so far. Patches themselves are read from the store when a body is built (the
    ledger's current data: at least as new as the index, which a later delta makes good). The newest
    revision with a built whole also keeps its ``pieces``: the next revision's whole is made from them and
    the patches that changed (the previous whole plus the delta, in a second or so) instead of from scratch."""
    token: str
    store: object
    day: object
    codes: np.ndarray
    stamps: np.ndarray
    fog: frozenset
    bodies: dict = field(default_factory=dict)  # level -> gzip'd whole payload
    pieces: dict = field(default_factory=dict)  # level -> Pieces of the whole (newest built revision only)
    lock: threading.Lock = field(default_factory=threading.Lock)
    builds: int = 0  # wholes built (tests: one build per revision and level, however many ask at once)

    @property
    def location(self) -> str:
        return self.store.location

    def body(self, level: str) -> bytes:
        """The whole payload at ``level``, gzip'd, built once (concurrent callers wait for that one build)."""
        if level not in LEVEL_ZOOMS:
            raise Unknown(level)
        with self.lock:
            if level not in self.bodies:
                built = self._whole(level)
                _keep_newest_pieces(self, level, built)  # before the body is written: older pieces let go
                self.bodies[level] = built.gzipped()
                self.builds += 1
                del built
                trim_memory()
            return self.bodies[level]

    def _whole(self, level: str) -> Pieces:
        base = _take_previous_pieces(self, level)
        if base is None:
            return whole_pieces(self.store, level, self.day, self.fog)
        older, held = base
        del base
        changed, _removed = changed_codes(older, self)
        unchanged = np.setdiff1d(self.codes, changed, assume_unique=True)
        held_codes = held.texts["code"].astype(str)
        keep = np.isin(held_codes, unchanged)  # removed patches drop out too
        missing = np.setdiff1d(self.codes, held_codes[keep], assume_unique=True)  # changed, new, not in the base
        kept = held.take(keep)
        del held  # the older revision's pieces are this build's alone now: gone before the join copies again
        if not len(missing):
            return kept
        return Pieces.join(level, [kept, stored_pieces(self.store, level, self.day, self.fog, codes=missing.tolist())])


_LEDGERS: dict[str, OrderedDict[str, Revision]] = {}
_GUARD = threading.Lock()


def _take_previous_pieces(revision: Revision, level: str) -> tuple[Revision, Pieces] | None:
    """The newest older revision of the same ledger that holds its whole's pieces at ``level``, and those
    pieces, taken out of it: ``revision``'s whole is built from them and the newest keeps the pieces anyway
    (at 100,000 patches, the older pieces held through the build and the body's writing were ~50 MB of the
    app's peak)."""
    with _GUARD:
        kept = list(_LEDGERS.get(revision.location, {}).values())
    older = kept[:kept.index(revision)] if revision in kept else []
    for candidate in reversed(older):
        with candidate.lock:  # a build of it under way (which took the pieces before it) is waited for
            held = candidate.pieces.pop(level, None)
        if held is not None:
            return candidate, held
    return None


def _keep_newest_pieces(revision: Revision, level: str, built: Pieces) -> None:
    """Pieces are kept by the newest revision that has them only; whole bodies by the newest two."""
    with _GUARD:
        kept = list(_LEDGERS.get(revision.location, {}).values())
        if revision not in kept:
            return
        position = kept.index(revision)
        if not any(level in later.pieces for later in kept[position + 1:]):
            revision.pieces[level] = built
            for older in kept[:position]:
                older.pieces.pop(level, None)
        for older in kept[:-2]:
            older.bodies.pop(level, None)


def publish(store, token: str, frame: pd.DataFrame, day, *, prepare: bool = True) -> Revision:
    """Keep revision ``token`` of ``store``'s ledger for the data routes: its index from ``frame`` (every
    current patch: code, category, version and the ``overdue`` and ``fog_ledger`` flags judged on ``day``);
    returns it. Cheap when already kept. With ``prepare`` its coarse whole is built in the background (from
    the previous one when held), so a browser's request finds it ready."""
    with _GUARD:
        kept = _LEDGERS.setdefault(store.location, OrderedDict())
        if token in kept:
            return kept[token]
        codes = frame["code"].to_numpy(dtype=str)
        order = np.argsort(codes, kind="stable")
        fog = frozenset(frame.loc[frame["fog_ledger"].fillna(False).astype(bool), "code"].astype(str)) \
            if "fog_ledger" in frame else frozenset()
        revision = Revision(token, store, day, _shared_codes(kept, codes[order]), stamps(frame, store.schema)[order],
                            fog)
        kept[token] = revision
        while len(kept) > KEPT:
            kept.popitem(last=False)
    if prepare:
        threading.Thread(target=revision.body, args=("coarse",), daemon=True, name="mapdata-coarse").start()
    return revision


def _shared_codes(kept: OrderedDict, codes: np.ndarray) -> np.ndarray:
    """The newest kept revision's array of codes when ``codes`` equals it: an edit changes no code, and each
    of the ``KEPT`` revisions holding its own copy was ~6 MB at 100,000 patches."""
    if kept:
        last = next(reversed(kept.values())).codes
        if last.dtype == codes.dtype and np.array_equal(last, codes):
            return last
    return codes


def revision(location: str, token: str) -> Revision:
    with _GUARD:
        found = _LEDGERS.get(location, {}).get(token)
    if found is None:
        raise Unknown(token)
    return found


def newest(location: str) -> Revision:
    with _GUARD:
        kept = _LEDGERS.get(location)
        if not kept:
            raise Unknown(location)
        return next(reversed(kept.values()))


def full(location: str, token: str, level: str) -> bytes:
    """The gzip'd whole payload of revision ``token`` at ``level``; Unknown if not kept. A revision no
    longer the newest whose whole was not built is answered with the newest one's (at least as new as
    asked: the browser's next delta from ``token`` sends what changed again)."""
    asked = revision(location, token)
    if level not in asked.bodies and asked is not newest(location):
        return newest(location).body(level)
    return asked.body(level)


# gzip'd fine cells of every ledger and revision, least recently used dropped first beyond CELL_BYTES
CELL_BYTES = 32 * 2 ** 20
_cells: OrderedDict[tuple, bytes] = OrderedDict()
_cells_lock = threading.Lock()


def fine_cell(location: str, token: str, cx: int, cy: int) -> bytes:
    """The gzip'd fine payload of the patches whose box meets cell (cx, cy) of ``CELL_DEG`` degrees, read
    from the store by its spatial index; Unknown if revision ``token`` is not kept."""
    key = (location, token, cx, cy)
    with _cells_lock:
        if key in _cells:
            _cells.move_to_end(key)
            return _cells[key]
    found = revision(location, token)
    x0, y0 = cx * CELL_DEG, cy * CELL_DEG
    part = stored_pieces(found.store, "fine", found.day, found.fog, bbox=(x0, y0, x0 + CELL_DEG, y0 + CELL_DEG))
    body = part.gzipped()
    del part
    trim_memory()  # the cell's WKB and geometries: a view asks for several cells, each read in a thread
    with _cells_lock:
        _cells[key] = body
        while sum(len(b) for b in _cells.values()) > CELL_BYTES and len(_cells) > 1:
            _cells.popitem(last=False)
    return body


def changed_codes(old: Revision, new: Revision) -> tuple[np.ndarray, list[str]]:
    """The codes of the patches added or changed (version or flags) since ``old``, and the codes removed."""
    pos = np.searchsorted(old.codes, new.codes)
    pos = np.clip(pos, 0, max(len(old.codes) - 1, 0))
    found = (old.codes[pos] == new.codes) if len(old.codes) else np.zeros(len(new.codes), bool)
    same = found & (old.stamps[pos] == new.stamps)
    removed = np.setdiff1d(old.codes, new.codes, assume_unique=True)
    return new.codes[~same], removed.tolist()


def delta(location: str, old_token: str, new_token: str, level: str) -> bytes:
    """The gzip'd payload of what changed from ``old_token`` to ``new_token`` at ``level``, its patches read
    from the store by code; Unknown when either revision is not kept here (or ``new_token`` is no longer
    the newest)."""
    old, new = revision(location, old_token), revision(location, new_token)
    if level not in LEVEL_ZOOMS:
        raise Unknown(level)
    if new is not newest(location):
        raise Unknown(new_token)
    codes, removed = changed_codes(old, new)
    part = stored_pieces(new.store, level, new.day, new.fog, codes=codes.tolist()) if len(codes) \
        else pieces(pd.DataFrame({"code": [], "category": []}), new.store.schema, level)
    body = part.gzipped(removed)
    del part
    trim_memory()
    return body


def forget(location: str | None = None) -> None:
    """Drop the kept revisions and cells (of one ledger, or all): tests."""
    with _GUARD, _cells_lock:
        if location is None:
            _LEDGERS.clear()
            _cells.clear()
        else:
            _LEDGERS.pop(location, None)
            for key in [k for k in _cells if k[0] == location]:
                del _cells[key]


# ---------------------------------------------------------------- the view each map reports
VIEWS_KEPT = 10_000
_views: OrderedDict[str, dict] = OrderedDict()  # view key (one per page session) -> the map's last view
_views_lock = threading.Lock()


def valid_view(data) -> dict | None:
    """A reported view {"z", "bounds": [w, s, e, n], "centre": [lat, lon]} with finite numbers, or None."""
    try:
        zoom, bounds, centre = float(data["z"]), [float(v) for v in data["bounds"]], [float(v) for v in data["centre"]]
    except (KeyError, TypeError, ValueError):
        return None
    if len(bounds) != 4 or len(centre) != 2 or not all(math.isfinite(v) for v in [zoom, *bounds, *centre]):
        return None
    return {"z": zoom, "bounds": bounds, "centre": centre}


def remember_view(key: str, view: dict) -> None:
    with _views_lock:
        _views[key] = view
        _views.move_to_end(key)
        while len(_views) > VIEWS_KEPT:
            _views.popitem(last=False)


def view_of(key: str | None) -> dict | None:
    """The last view the map of page session ``key`` reported (the page reads it at its next run)."""
    with _views_lock:
        return _views.get(key or "")
