"""The raw GeoPackage layer over the standard ``sqlite3`` module: geometry blobs, metadata tables,
feature tables with GDAL-compatible R-tree spatial indexes.

Why not GDAL here: pyogrio's GDAL carries its own SQLite library, and two SQLite copies in one
process ignore each other's locks. The live database is therefore only ever touched through
``sqlite3``; GDAL/QGIS still read (and may edit) the file, since it is a plain GeoPackage 1.2.
"""
from __future__ import annotations

import sqlite3
import struct
from contextlib import contextmanager

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from . import gpkg_rtree

GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10200
_ENVELOPE_SIZES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_HEADER = struct.Struct("<2sBBi")
_ENVELOPE = struct.Struct("<4d")


# ---------------------------------------------------------------- geometry blobs
_HEADER_WITH_ENVELOPE = np.dtype([("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs_id", "<i4"),
                                  ("envelope", "<f8", 4)])  # _HEADER + _ENVELOPE as one record
FLAGS_XY_ENVELOPE = 0b00000011  # little-endian, XY envelope
FLAGS_EMPTY = 0b00010001  # little-endian, no envelope, empty


def encode(geoms, srs_id: int) -> list[bytes | None]:
    """Shapely geometries -> GeoPackage binary (``GP`` header, XY envelope, little-endian WKB). Headers
    are built column-wise as one record array; only the joining of header and WKB is per row."""
    geoms = np.asarray(geoms, dtype=object)
    out = np.full(len(geoms), None, dtype=object)
    present = np.flatnonzero(~shapely.is_missing(geoms))
    if not len(present):
        return out.tolist()
    wkbs = shapely.to_wkb(geoms[present], byte_order=1, output_dimension=2, flavor="iso")
    bounds = shapely.bounds(geoms[present])
    heads = np.zeros(len(present), _HEADER_WITH_ENVELOPE)
    heads["magic"], heads["flags"], heads["srs_id"] = b"GP", FLAGS_XY_ENVELOPE, srs_id
    heads["envelope"] = bounds[:, [0, 2, 1, 3]]  # minx, maxx, miny, maxy
    raw_heads = heads.view(np.dtype((np.void, _HEADER_WITH_ENVELOPE.itemsize))).tolist()
    out[present] = [head + wkb for head, wkb in zip(raw_heads, wkbs)]
    empty = np.isnan(bounds[:, 0])  # empty geometry: no envelope, empty flag set
    out[present[empty]] = [_HEADER.pack(b"GP", 0, FLAGS_EMPTY, srs_id) + wkb for wkb in wkbs[empty]]
    return out.tolist()


def wkb_part(blob: bytes | None) -> bytes | None:
    """The WKB of a GeoPackage geometry (its header and envelope cut off)."""
    if blob is None:
        return None
    magic, _version, flags, _srs = _HEADER.unpack_from(blob)
    if magic != b"GP":
        raise ValueError("不是 GeoPackage 几何数据")
    return blob[_HEADER.size + _ENVELOPE_SIZES[(flags >> 1) & 0b111]:]


def decode(blobs) -> np.ndarray:
    """GeoPackage binary -> array of shapely geometries (None stays None)."""
    return shapely.from_wkb(np.array([wkb_part(b) for b in blobs], dtype=object))


def _envelope(blob: bytes | None):
    if blob is None:
        return None
    _magic, _version, flags, _srs = _HEADER.unpack_from(blob)
    if flags & 0b00010000:
        return None
    size = _ENVELOPE_SIZES[(flags >> 1) & 0b111]
    if size:
        return _ENVELOPE.unpack_from(blob, _HEADER.size)
    geom = shapely.from_wkb(wkb_part(blob))
    minx, miny, maxx, maxy = geom.bounds
    return (minx, maxx, miny, maxy)


def register_functions(con: sqlite3.Connection) -> None:
    """The SQL functions GDAL's R-tree triggers call, so that writes here keep the index current."""
    con.create_function("ST_IsEmpty", 1, lambda b: 1 if b is None or _envelope(b) is None else 0, deterministic=True)
    for name, idx in (("ST_MinX", 0), ("ST_MaxX", 1), ("ST_MinY", 2), ("ST_MaxY", 3)):
        con.create_function(name, 1, lambda b, i=idx: (_envelope(b) or (None,) * 4)[i], deterministic=True)


# ---------------------------------------------------------------- metadata
_META_DDL = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
CREATE TABLE IF NOT EXISTS gpkg_data_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT, description TEXT,
  mime_type TEXT, constraint_name TEXT,
  CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
  CONSTRAINT gdc_tn UNIQUE (table_name, name));
"""


def run_script(con: sqlite3.Connection, script: str) -> None:
    """Run several statements inside the caller's transaction (``executescript`` would commit it)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            con.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement: {statement!r}")


def set_header(con: sqlite3.Connection) -> None:
    """Mark the file as a GeoPackage; done before WAL mode so it lands in the file header itself."""
    con.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")


def create_metadata(con: sqlite3.Connection, srs_ids: tuple[int, ...] = (4490,)) -> None:
    run_script(con, _META_DDL)
    rows = [
        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
    ]
    for srs_id in (4326, *srs_ids):
        crs = CRS.from_epsg(srs_id)
        rows.append((crs.name, srs_id, "EPSG", srs_id, crs.to_wkt("WKT1_GDAL"), crs.name))
    con.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)", rows)


def table_exists(con: sqlite3.Connection, name: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in con.execute(f'PRAGMA table_info("{table}")')]


def create_feature_table(con: sqlite3.Connection, table: str, identifier: str, description: str,
                         geometry_type: str, srs_id: int, column_defs: list[str]) -> None:
    """A feature table with ``fid`` and ``geom`` plus ``column_defs``, registered in the metadata, with an
    R-tree spatial index maintained by the same triggers GDAL writes."""
    cols = ",\n  ".join(["fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL", f"geom {geometry_type}", *column_defs])
    con.execute(f'CREATE TABLE "{table}" (\n  {cols})')
    con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
                "VALUES (?, 'features', ?, ?, ?)", (table, identifier, description, srs_id))
    con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)", (table, geometry_type, srs_id))
    _create_rtree(con, table)


def create_attribute_table(con: sqlite3.Connection, table: str, identifier: str, description: str,
                           column_defs: list[str]) -> None:
    cols = ",\n  ".join(["id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL", *column_defs])
    con.execute(f'CREATE TABLE "{table}" (\n  {cols})')
    con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
                "VALUES (?, 'attributes', ?, ?)", (table, identifier, description))


def _create_rtree(con: sqlite3.Connection, t: str, c: str = "geom", i: str = "fid") -> None:
    r = f"rtree_{t}_{c}"
    con.execute(f'CREATE VIRTUAL TABLE "{r}" USING rtree(id, minx, maxx, miny, maxy)')
    con.execute("INSERT INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', "
                "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')", (t, c))
    box = (f"ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}), ST_MinY(NEW.{c}), ST_MaxY(NEW.{c})")
    run_script(con, f"""
CREATE TRIGGER "{r}_insert" AFTER INSERT ON "{t}" WHEN (new.{c} NOT NULL AND NOT ST_IsEmpty(NEW.{c}))
BEGIN INSERT OR REPLACE INTO "{r}" VALUES (NEW.{i}, {box}); END;
CREATE TRIGGER "{r}_update1" AFTER UPDATE OF {c} ON "{t}"
WHEN OLD.{i} = NEW.{i} AND (NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c}))
BEGIN INSERT OR REPLACE INTO "{r}" VALUES (NEW.{i}, {box}); END;
CREATE TRIGGER "{r}_update2" AFTER UPDATE OF {c} ON "{t}"
WHEN OLD.{i} = NEW.{i} AND (NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))
BEGIN DELETE FROM "{r}" WHERE id = OLD.{i}; END;
CREATE TRIGGER "{r}_update3" AFTER UPDATE ON "{t}"
WHEN OLD.{i} != NEW.{i} AND (NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c}))
BEGIN DELETE FROM "{r}" WHERE id = OLD.{i}; INSERT OR REPLACE INTO "{r}" VALUES (NEW.{i}, {box}); END;
CREATE TRIGGER "{r}_update4" AFTER UPDATE ON "{t}"
WHEN OLD.{i} != NEW.{i} AND (NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))
BEGIN DELETE FROM "{r}" WHERE id IN (OLD.{i}, NEW.{i}); END;
CREATE TRIGGER "{r}_delete" AFTER DELETE ON "{t}" WHEN old.{c} NOT NULL
BEGIN DELETE FROM "{r}" WHERE id = OLD.{i}; END;
""")


def update_extent(con: sqlite3.Connection, table: str) -> None:
    """Record the layer's extent in gpkg_contents (QGIS uses it for 'zoom to layer')."""
    r = f"rtree_{table}_geom"
    row = con.execute(f'SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "{r}"').fetchone()
    con.execute("UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=?, "
                "last_change=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name=?", (*row, table))


# ---------------------------------------------------------------- bulk R-tree maintenance
@contextmanager
def rtree_bulk_insert(con: sqlite3.Connection, table: str, geoms, column: str = "geom", fid: str = "fid"):
    """Rows inserted into ``table`` in the block, whose geometries are ``geoms`` in insertion order, enter
    its R-tree in one statement afterwards instead of through the insert trigger (which calls the Python
    ST_* functions five times a row). The trigger is dropped and re-created inside the caller's
    transaction, and SQLite's schema changes are transactional: other connections never see the table
    without its trigger, nor the R-tree short of its rows. Must run inside a write transaction."""
    if not con.in_transaction:
        raise RuntimeError("rtree_bulk_insert needs the caller's write transaction")
    name = f"rtree_{table}_{column}_insert"
    row = con.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)).fetchone()
    last = con.execute(f'SELECT coalesce(max("{fid}"), 0) FROM "{table}"').fetchone()[0]
    if row is not None:
        con.execute(f'DROP TRIGGER "{name}"')
    try:
        yield
        if row is not None:
            fill_rtree(con, table, last, geoms, column, fid)
    finally:
        if row is not None:
            con.execute(row[0])


def fill_rtree(con: sqlite3.Connection, table: str, after_fid: int, geoms, column: str = "geom",
               fid: str = "fid") -> None:
    """Add the rows of ``table`` with ``fid`` > ``after_fid`` (inserted in the order of ``geoms``) to its
    R-tree, with envelopes computed column-wise; empty and missing geometries stay out, as with GDAL's
    triggers. At least as many new boxes as the tree holds: the tree is rebuilt packed, old boxes and new
    (``gpkg_rtree``, a fifth of the time of inserting them); fewer: inserted in Hilbert order."""
    fids = np.array([r[0] for r in con.execute(f'SELECT "{fid}" FROM "{table}" WHERE "{fid}" > ? ORDER BY "{fid}"',
                                               (after_fid,))], dtype=np.int64)
    geoms = np.asarray(geoms, dtype=object)
    if len(fids) != len(geoms):
        raise RuntimeError(f"{table}: {len(fids)} new rows, {len(geoms)} geometries")
    bounds = shapely.bounds(geoms)  # NaN for empty and missing
    keep = np.flatnonzero(~np.isnan(bounds[:, 0]))
    rtree = f"rtree_{table}_{column}"
    if len(keep) >= con.execute(f'SELECT count(*) FROM "{rtree}_rowid"').fetchone()[0]:
        _rebuild_rtree(con, rtree, fids[keep], bounds[keep][:, [0, 2, 1, 3]])
        return
    keep = keep[_hilbert_order(bounds[keep])]
    rows = np.column_stack([bounds[keep][:, 0], bounds[keep][:, 2], bounds[keep][:, 1], bounds[keep][:, 3]])
    con.executemany(f'INSERT OR REPLACE INTO "{rtree}" VALUES (?, ?, ?, ?, ?)',
                    zip(fids[keep].tolist(), *rows.T.tolist()))


def _rebuild_rtree(con: sqlite3.Connection, rtree: str, ids: np.ndarray, boxes: np.ndarray) -> None:
    """R-tree ``rtree`` rebuilt with its boxes and ``boxes`` (minx, maxx, miny, maxy) of rows ``ids``, which
    replace any it holds for the same ids (as ``INSERT OR REPLACE`` would)."""
    held = np.array(con.execute(f'SELECT id, minx, maxx, miny, maxy FROM "{rtree}"').fetchall(), dtype=float)
    held = held.reshape(-1, 5)[~np.isin(held.reshape(-1, 5)[:, 0], ids)]
    gpkg_rtree.rebuild(con, rtree, np.concatenate([held[:, 0].astype(np.int64), ids]),
                       gpkg_rtree.rounded_boxes(np.concatenate([held[:, 1:], boxes])))


def _hilbert_order(bounds: np.ndarray) -> np.ndarray:
    """The order of boxes along a Hilbert curve through their centres: neighbours enter the R-tree one
    after another and touch the same few nodes (a third less time than in table order at 100,000 rows)."""
    if len(bounds) == 0:
        return np.arange(0)
    centres = shapely.points((bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2)
    return np.argsort(gpd.GeoSeries(centres).hilbert_distance().to_numpy(), kind="stable")
