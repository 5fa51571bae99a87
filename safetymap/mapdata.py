"""The ledger's patches for the browser (issue 16): one compact, column-wise payload per ledger revision,
and the delta between two revisions, so that the browser holds the geometry and draws it itself.

A payload is one binary body (gzip'd on the wire)::

    uint32 header length | UTF-8 JSON header | arrays, each aligned to 4 bytes

The header carries the texts the tooltip needs (code, name, route, stakes: JSON, shown with
``textContent``), the codes a delta removes and the list of arrays (name, type, length). The arrays:
category index, grade index (-1: none), flags (overdue, fog ledger, facility), for the patch polygons and
the source lines/points the number of parts per patch, the vertices per part and the coordinates,
quantised to ``QUANTUM`` degrees as int32 (a part's first vertex absolute, the others as differences).

Two levels of detail: ``coarse`` (simplified to half a pixel at zoom ``FINE_ZOOM - 1``), the whole ledger
for the first paint and far views; ``fine`` (half a pixel at zoom 17), fetched from zoom ``FINE_ZOOM`` on in
cells of ``CELL_DEG`` degrees, only those a view meets (a province's fine level whole would be tens of MB).

``publish()`` keeps, per ledger, the few newest revisions in a process-wide cache (never pickled): their
index (code -> version and flags, what a delta compares) and the bodies built so far. A delta between two
revisions carries the patches whose version or flags differ, the new ones, and the codes gone.
"""
from __future__ import annotations

import gzip
import json
import math
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from .geo import stake_ranges
from .mapview import CELL_DEG, FINE_ZOOM, simplify_for_zoom
from .schema import Schema

QUANTUM = 1e-6  # degrees per coordinate unit (about 0.1 m)
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
    facility = {c.key for c in schema.categories if c.is_facility}
    out = np.zeros(len(frame), dtype=np.uint8)
    for column, bit in (("overdue", OVERDUE), ("fog_ledger", FOG)):
        if column in frame:
            out |= np.where(frame[column].fillna(False).astype(bool).to_numpy(), bit, 0).astype(np.uint8)
    return out | np.where(frame["category"].isin(facility).to_numpy(), FACILITY, 0).astype(np.uint8)


def stamps(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Per patch a number that changes when what the browser draws of it may: its version and flags."""
    version = pd.to_numeric(frame["version"], errors="coerce").fillna(0).to_numpy(np.int64) if "version" in frame \
        else np.zeros(len(frame), np.int64)
    return version * 8 + flags(frame, schema)


def _texts(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame:
        return [""] * len(frame)
    return ["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in frame[column].tolist()]


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


def _quantised_deltas(coords: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """int32 (x, y) pairs: each part's first vertex absolute, the others as differences to the previous."""
    q = np.rint(coords / QUANTUM).astype(np.int64)
    if not len(q):
        return np.zeros(0, np.int32)
    d = np.diff(q, axis=0, prepend=q[:1])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    starts = starts[counts > 0]
    d[starts] = q[starts]
    return d.astype(np.int32).ravel()


def encode(frame: pd.DataFrame, schema: Schema, level: str, removed: list[str] = ()) -> bytes:
    """The payload of ``frame``'s patches at ``level`` (plus the ``removed`` codes, for a delta); not compressed."""
    zoom = LEVEL_ZOOMS[level]
    cats = [c.key for c in schema.categories]
    facility = {c.key for c in schema.categories if c.is_facility}
    grade_index = {g.label: g.rank for g in schema.grades}
    n = len(frame)
    is_facility = frame["category"].isin(facility).to_numpy() if n else np.zeros(0, bool)
    polygons = np.asarray(frame.geometry.values, dtype=object) if n else np.zeros(0, object)
    polygons = np.where(is_facility, None, polygons)
    sources = np.asarray(frame["source_geometry"].values, dtype=object) if "source_geometry" in frame \
        else np.full(n, None, dtype=object)
    poly_n, poly_len, poly_xy = _parts(simplify_for_zoom(polygons, zoom) if n else polygons, True)
    src_n, src_len, src_xy = _parts(simplify_for_zoom(sources, zoom) if n else sources, False)
    arrays = [
        ("cat", "u8", frame["category"].map({k: i for i, k in enumerate(cats)}).fillna(255).to_numpy(np.uint8)
         if n else np.zeros(0, np.uint8)),
        ("grade", "i8", frame["risk_grade"].map(grade_index).fillna(-1).to_numpy(np.int8)
         if n and "risk_grade" in frame else np.full(n, -1, np.int8)),
        ("flags", "u8", flags(frame, schema) if n else np.zeros(0, np.uint8)),
        ("polyParts", "u32", poly_n), ("polyLen", "u32", poly_len),
        ("polyXY", "i32", _quantised_deltas(poly_xy, poly_len)),
        ("srcParts", "u32", src_n), ("srcLen", "u32", src_len),
        ("srcXY", "i32", _quantised_deltas(src_xy, src_len)),
    ]
    header = {"n": n, "level": level, "quantum": QUANTUM, "removed": list(removed),
              "code": _texts(frame, "code"), "name": _texts(frame, "name"), "route": _texts(frame, "route_code"),
              "stakes": stake_ranges(frame) if n else [],
              "arrays": [[name, kind, int(len(values))] for name, kind, values in arrays]}
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 4)
    body = [struct.pack("<I", len(head)), head]
    for _name, _kind, values in arrays:
        raw = np.ascontiguousarray(values).astype(values.dtype.newbyteorder("<"), copy=False).tobytes()
        body += [raw, b"\0" * (-len(raw) % 4)]
    return b"".join(body)


def decode_header(body: bytes) -> dict:
    """The JSON header of a payload (tests and benchmarks)."""
    (size,) = struct.unpack_from("<I", body)
    return json.loads(body[4:4 + size].decode("utf-8"))


def decode_arrays(body: bytes) -> dict[str, np.ndarray]:
    """The arrays of a payload by name (tests and benchmarks)."""
    header = decode_header(body)
    (offset,) = struct.unpack_from("<I", body)
    offset += 4
    types = {"u8": "<u1", "i8": "<i1", "u32": "<u4", "i32": "<i4"}
    out = {}
    for name, kind, count in header["arrays"]:
        dtype = np.dtype(types[kind])
        out[name] = np.frombuffer(body, dtype, count, offset)
        offset += count * dtype.itemsize
        offset += -offset % 4
    return out


# ---------------------------------------------------------------- the per-revision cache
@dataclass
class Revision:
    """One ledger revision as the browser sees it: the index a delta compares, the frame (kept for the
    newest revision only, to build bodies and deltas from) and the gzip'd bodies built so far."""
    token: str
    schema: Schema
    codes: np.ndarray
    stamps: np.ndarray
    frame: pd.DataFrame | None
    bodies: dict = field(default_factory=dict)  # level or ("cell", cx, cy) -> gzip'd payload
    boxes: np.ndarray | None = None  # the patches' bounds, for cells
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cell(self, cx: int, cy: int) -> bytes:
        """The gzip'd fine payload of the patches whose box meets cell (cx, cy) of ``CELL_DEG`` degrees."""
        key = ("cell", cx, cy)
        with self.lock:
            if key not in self.bodies:
                if self.frame is None:
                    raise Unknown(self.token)
                if self.boxes is None:
                    self.boxes = shapely.bounds(np.asarray(self.frame.geometry.values, dtype=object))
                x0, y0 = cx * CELL_DEG, cy * CELL_DEG
                b = self.boxes
                meets = (b[:, 0] <= x0 + CELL_DEG) & (b[:, 2] >= x0) & (b[:, 1] <= y0 + CELL_DEG) & (b[:, 3] >= y0)
                if sum(1 for k in self.bodies if k[0] == "cell") >= CELLS_KEPT:
                    for old in [k for k in self.bodies if k[0] == "cell"][:CELLS_KEPT // 4]:
                        del self.bodies[old]
                self.bodies[key] = gzip.compress(encode(self.frame[meets], self.schema, "fine"), GZIP_LEVEL)
            return self.bodies[key]

    def body(self, level: str) -> bytes:
        """The whole payload at ``level``, gzip'd, built once."""
        if level not in LEVEL_ZOOMS:
            raise Unknown(level)
        with self.lock:
            if level not in self.bodies:
                if self.frame is None:
                    raise Unknown(self.token)
                self.bodies[level] = gzip.compress(encode(self.frame, self.schema, level), GZIP_LEVEL)
            return self.bodies[level]


_LEDGERS: dict[str, OrderedDict[str, Revision]] = {}
_GUARD = threading.Lock()


def publish(location: str, token: str, frame: pd.DataFrame, schema: Schema, *, prepare: bool = True) -> Revision:
    """Keep ``frame`` (every current patch, with the ``overdue`` and ``fog_ledger`` flags) as revision
    ``token`` of ledger ``location`` for the data routes; returns it. Cheap when already kept. With
    ``prepare`` the coarse body is built in the background, so the browser's first request finds it ready."""
    with _GUARD:
        kept = _LEDGERS.setdefault(location, OrderedDict())
        if token in kept:
            return kept[token]
        order = np.argsort(frame["code"].to_numpy(dtype=str), kind="stable")
        revision = Revision(token, schema, frame["code"].to_numpy(dtype=str)[order], stamps(frame, schema)[order],
                            frame.copy(deep=False))
        for older in kept.values():
            older.frame = None  # deltas are served to the newest revision only
        kept[token] = revision
        while len(kept) > KEPT:
            kept.popitem(last=False)
    if prepare:
        threading.Thread(target=_prepare, args=(revision,), daemon=True, name="mapdata-coarse").start()
    return revision


def _prepare(revision: Revision) -> None:
    try:
        revision.body("coarse")
    except Unknown:  # a newer revision came first: nobody will ask for this one whole
        pass


def revision(location: str, token: str) -> Revision:
    with _GUARD:
        found = _LEDGERS.get(location, {}).get(token)
    if found is None:
        raise Unknown(token)
    return found


def full(location: str, token: str, level: str) -> bytes:
    """The gzip'd whole payload of revision ``token`` at ``level``; Unknown if not kept."""
    return revision(location, token).body(level)


def fine_cell(location: str, token: str, cx: int, cy: int) -> bytes:
    """The gzip'd fine payload of one cell of revision ``token``; Unknown if not kept (or not the newest)."""
    return revision(location, token).cell(cx, cy)


def changed_codes(old: Revision, new: Revision) -> tuple[np.ndarray, list[str]]:
    """The codes of the patches added or changed (version or flags) since ``old``, and the codes removed."""
    pos = np.searchsorted(old.codes, new.codes)
    pos = np.clip(pos, 0, max(len(old.codes) - 1, 0))
    found = (old.codes[pos] == new.codes) if len(old.codes) else np.zeros(len(new.codes), bool)
    same = found & (old.stamps[pos] == new.stamps)
    removed = np.setdiff1d(old.codes, new.codes, assume_unique=True)
    return new.codes[~same], removed.tolist()


def delta(location: str, old_token: str, new_token: str, level: str) -> bytes:
    """The gzip'd payload of what changed from ``old_token`` to ``new_token`` at ``level``; Unknown when
    either revision is not kept here (or ``new_token`` is no longer the newest)."""
    old, new = revision(location, old_token), revision(location, new_token)
    if level not in LEVEL_ZOOMS:
        raise Unknown(level)
    frame = new.frame
    if frame is None:
        raise Unknown(new_token)
    codes, removed = changed_codes(old, new)
    part = frame[frame["code"].isin(set(codes.tolist()))]
    return gzip.compress(encode(part, new.schema, level, removed), GZIP_LEVEL)


def forget(location: str | None = None) -> None:
    """Drop the kept revisions (of one ledger, or all): tests."""
    with _GUARD:
        if location is None:
            _LEDGERS.clear()
        else:
            _LEDGERS.pop(location, None)


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
