"""The embedded backend: one GeoPackage file, read and written only through the standard ``sqlite3``
module (pyogrio's GDAL carries its own SQLite, and two copies in one process ignore each other's
locks). Safe to share between threads (one connection per thread) and between processes (WAL)."""
from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..clock import now_utc
from ..errors import DatabaseExists, DatabaseMissing
from ..schema import Category, Schema
from . import gpkg, gpkg_bulk, gpkg_live, gpkg_meta
from .frames import query_frame
from .rows import executemany_rows
from .tables import (ARCHIVE_COLUMNS, FEATURE_TABLES, HAZARD_TABLE, INDEXES, META_TABLE, SOURCE_TABLE, SQL_TYPES,
                     SRS_ID, attribute_tables, category_column_defs, category_columns, missing_hazard_columns,
                     versions_index)

BUSY_TIMEOUT_S = 60
BULK_ROWS = 50  # from this many rows an insert fills the R-tree in bulk
COPY_ROWS = 1000  # from this many rows an insert is written by GDAL and copied in SQL (``gpkg_bulk``)
POOLED_CONNECTIONS = 8  # connections kept for the next threads


class _Lease:
    """A thread's connection, held in its locals: when the thread ends they are freed, and the connection is
    handed to ``give_back``."""

    def __init__(self, con: sqlite3.Connection, give_back):
        self.con = con
        self.ended = weakref.finalize(self, give_back, con)
        self.ended.atexit = False


class GeoPackageBackend:
    """A ledger's tables in one GeoPackage file (created when ``create`` and missing)."""

    geom_param = "?"  # SQL for a geometry parameter (values from ``encode``)

    def __init__(self, path: str | os.PathLike, schema: Schema, *, create: bool = False):
        self.path = Path(path)
        self.location = str(self.path)
        if not self.path.exists() and not create:
            raise DatabaseMissing(self.path)
        self._local = threading.local()
        self._pool: list[sqlite3.Connection] = []  # connections that ended threads gave back
        self._pool_lock = threading.Lock()
        self._closed = False
        self._marked = False  # whether app transactions mark themselves (gpkg_live)
        self._ensure_tables(schema)
        self._ensure_live(schema)
        self._held = self._hold_open()

    def __repr__(self) -> str:
        return f"GeoPackageBackend({self.location!r})"

    # ---------------------------------------------------------------- connections
    def connection(self) -> sqlite3.Connection:
        """This thread's connection, taken from those that ended threads gave back (each Streamlit run is
        a new thread, and a new connection parses the GeoPackage's schema, ~25 ms of every run) or opened;
        it goes back when the thread ends. Every connection turns WAL on when opened: a desktop client
        closing the file may have switched it to a rollback journal, where its read-only connections take
        no locks (and while any is open it cannot switch it back)."""
        lease = getattr(self._local, "lease", None)
        if lease is None:
            lease = self._local.lease = _Lease(self._take(), self._give_back)
        return lease.con

    def _take(self) -> sqlite3.Connection:
        with self._pool_lock:
            if self._pool:
                return self._pool.pop()
        return self._open()

    def _give_back(self, con: sqlite3.Connection) -> None:
        with self._pool_lock:
            if not self._closed and not con.in_transaction and len(self._pool) < POOLED_CONNECTIONS:
                self._pool.append(con)
                return
        con.close()

    def _open(self) -> sqlite3.Connection:
        """A new connection, used by one thread at a time but not always the same one (``connection``)."""
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        if gpkg.table_exists(con, "gpkg_contents"):
            con.execute("PRAGMA journal_mode = WAL")  # reads the file: the connection now holds the -wal and -shm
        con.execute("PRAGMA synchronous = FULL")
        gpkg.register_functions(con)
        return con

    def _hold_open(self) -> sqlite3.Connection:
        """A connection open for the backend's whole life, whichever threads come and go (the threads'
        connections are taken and given back, and the pool may be empty). While any connection is open the file stays
        in WAL: QGIS, closing a layer when it is alone with the file, switches it back to a rollback journal
        and reads it on in GDAL's no-lock mode, and those readers find nothing once the app turns WAL on again
        ("this file is a WAL-enabled database. It cannot be opened because it is presumably read-only …")."""
        return self._open()

    def close(self) -> None:
        """Close this thread's connection, those given back and the one held open (other threads' close
        when their threads end)."""
        lease = getattr(self._local, "lease", None)
        if lease is not None:
            lease.ended.detach()
            lease.con.close()
            self._local.lease = None
        with self._pool_lock:
            self._closed = True
            pooled, self._pool = self._pool, []
        for con in pooled:
            con.close()
        self._held.close()

    @contextmanager
    def transaction(self):
        """One write transaction; the write lock is taken at the start so reads inside it are current.
        Opened inside another transaction of this thread, it joins that one."""
        con = self.connection()
        if con.in_transaction:
            yield con
            return
        con.execute("BEGIN IMMEDIATE")
        try:
            if self._marked:  # the app's own write: the triggers for other clients stay quiet
                con.execute(f"INSERT INTO {gpkg_live.MARKER_TABLE} (id) VALUES (1)")
            yield con
            if self._marked:
                con.execute(f"DELETE FROM {gpkg_live.MARKER_TABLE}")
        except BaseException:
            con.execute("ROLLBACK")
            self._attached().release(con)
            raise
        con.execute("COMMIT")
        self._attached().release(con)

    def _attached(self) -> gpkg_bulk.Attached:
        """The temporary files this thread's transaction attached (``insert_rows``)."""
        if getattr(self._local, "attached", None) is None:
            self._local.attached = gpkg_bulk.Attached()
        return self._local.attached

    @contextmanager
    def snapshot(self):
        """A consistent view for several SELECTs (inside a transaction: that transaction's view)."""
        con = self.connection()
        if con.in_transaction:
            yield con
            return
        con.execute("BEGIN")
        try:
            yield con
        finally:
            con.execute("COMMIT")

    def query_frame(self, sql: str, params=(), con=None) -> pd.DataFrame:
        """A SELECT as a DataFrame."""
        return query_frame(con or self.connection(), sql, params)

    # ---------------------------------------------------------------- geometry
    @staticmethod
    def geom_out(column: str) -> str:
        """SQL reading a geometry column as what ``decode`` takes."""
        return column

    @staticmethod
    def encode(geoms) -> list:
        return gpkg.encode(geoms, SRS_ID)

    @staticmethod
    def encode_array(geoms) -> pa.Array:
        """``encode`` as one Arrow binary array (nulls for missing geometries)."""
        return pa.array(gpkg.encode(geoms, SRS_ID), pa.binary())

    @staticmethod
    def decode(values) -> np.ndarray:
        return gpkg.decode(values)

    @staticmethod
    def wkb(values) -> list:
        """Stored geometries -> WKB (the GeoPackage header cut off), without building geometries."""
        return [gpkg.wkb_part(v) for v in values]

    @staticmethod
    def box_select(table: str) -> tuple[list[str], str]:
        """SQL columns for the box (minx, miny, maxx, maxy) of alias ``t``'s geometry, and the join they
        need: the R-tree's, so no geometry is read."""
        return (["r.minx", "r.miny", "r.maxx", "r.maxy"], f' LEFT JOIN "rtree_{table}_geom" r ON r.id = t.fid')

    @staticmethod
    def bbox_clause(table: str, bbox) -> tuple[str, list]:
        """A WHERE clause on alias ``t`` of ``table`` for rows whose geometry meets ``bbox``."""
        minx, miny, maxx, maxy = bbox
        return (f't.fid IN (SELECT id FROM "rtree_{table}_geom" WHERE minx <= ? AND maxx >= ? AND miny <= ? '
                'AND maxy >= ?)', [maxx, minx, maxy, miny])

    @staticmethod
    def after_geometry_write(con, table: str) -> None:
        gpkg.update_extent(con, table)

    @staticmethod
    def derived_columns(c: Category) -> dict[str, str]:
        """Columns of ``c``'s table an INSERT computes from the row's other columns: the K-stake texts."""
        return gpkg_live.stake_text_columns(c)

    def insert_rows(self, con, table: str, rows: pa.Table, constants: dict, category: Category | None = None) -> None:
        """New rows of ``table`` in order: ``rows`` (columns named as the table's, values as ``values.sql_array``
        gives them, the geometry as ``encode_array``) with ``constants`` (column -> one value for every row);
        the K-stake texts of ``category``'s table computed in the same statement. Many rows are written by
        GDAL into a file of their own and copied in SQL (``gpkg_bulk``: a third of the time of binding wide
        rows value by value), a few bound row by row (and all once the transaction has attached as many files as
        SQLite allows)."""
        if rows.num_rows < COPY_ROWS or not gpkg_bulk.Attached.has_room(con):
            derived = self.derived_columns(category) if category is not None else {}
            executemany_rows(con, table, rows, constants, self.geom_param, derived)
            return
        rounded, derived = gpkg_live.stake_text_select(category) if category is not None else ({}, {})
        gpkg_bulk.copy_rows(con, self._attached(), table, rows, constants, rounded, derived)

    @staticmethod
    def after_copy(con, table: str, key: str) -> None:
        """After rows were copied with their ids (``migrate``); SQLite's AUTOINCREMENT follows by itself."""

    @staticmethod
    @contextmanager
    def bulk_insert(con, table: str, geoms):
        """Around inserting many rows of ``table`` (with geometries ``geoms``, in order) in one transaction:
        the R-tree is filled in one statement at the end, and the K-stake texts come with the INSERT
        (``derived_columns``), instead of by triggers per row."""
        if len(geoms) < BULK_ROWS:
            yield
            return
        with gpkg.rtree_bulk_insert(con, table, geoms), _without_insert_triggers(con, table):
            yield

    # ---------------------------------------------------------------- tables
    @staticmethod
    def table_exists(con, table: str) -> bool:
        return gpkg.table_exists(con, table)

    @staticmethod
    def table_columns(con, table: str) -> dict[str, str]:
        """Column name -> declared type (upper case), of the ledger's data: not the K-stake text kept beside
        the metres for desktop clients (``gpkg_live``), which the database derives itself."""
        cols = {row[1]: row[2].upper() for row in con.execute(f'PRAGMA table_info("{table}")')}
        suffix = gpkg_live.STAKE_TEXT_SUFFIX
        return {name: kind for name, kind in cols.items()
                if not (name.endswith(suffix) and name[:-len(suffix)] in cols)}

    def _missing_parts(self, con, schema: Schema) -> bool:
        if not all(self.table_exists(con, t) for t in (SOURCE_TABLE, *attribute_tables(schema))):
            return True
        if missing_hazard_columns(schema, self.table_columns(con, HAZARD_TABLE)):
            return True
        return any(not self.table_exists(con, c.table)
                   or set(category_columns(c)) - set(self.table_columns(con, c.table)) for c in schema.categories)

    def _ensure_tables(self, schema: Schema) -> None:
        con = self.connection()
        if not self._missing_parts(con, schema):
            return
        if not gpkg.table_exists(con, "gpkg_contents"):
            gpkg.set_header(con)  # before WAL, so it lands in the file header itself (GDAL reads it there)
        con.execute("PRAGMA journal_mode = WAL")
        with self.transaction() as con:
            if not gpkg.table_exists(con, "gpkg_contents"):
                gpkg.create_metadata(con, (SRS_ID,))
            if not gpkg.table_exists(con, SOURCE_TABLE):
                for table, (identifier, description, geometry_type, cols) in FEATURE_TABLES.items():
                    gpkg.create_feature_table(con, table, identifier, description, geometry_type, SRS_ID, cols)
            for table, (identifier, cols) in attribute_tables(schema).items():
                if not gpkg.table_exists(con, table):  # tables added by later versions, too
                    gpkg.create_attribute_table(con, table, identifier, "", cols)
            for definition in missing_hazard_columns(schema, gpkg.columns(con, HAZARD_TABLE)):  # fields added later
                con.execute(f'ALTER TABLE "{HAZARD_TABLE}" ADD COLUMN {definition}')
            for ddl in INDEXES:
                con.execute(ddl)
            con.execute(f"INSERT OR IGNORE INTO {META_TABLE} (key, value) VALUES ('created_at', ?)", (now_utc(),))
            for c in schema.categories:
                _ensure_category_table(con, c)
        self.checkpoint()

    def _ensure_live(self, schema: Schema) -> None:
        """The guards against writes from other clients (``gpkg_live``) and what desktop clients show
        (aliases, value lists, default styles: ``gpkg_meta``), created or brought up to date."""
        with self.transaction() as con:
            changed = gpkg_live.ensure(con, schema)
            changed = gpkg_meta.ensure(con, schema) or changed
        self._marked = True
        if changed:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the WAL into the main file, so tools reading the file header (GDAL) see it."""
        self.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def backup(self, dest: str | os.PathLike) -> Path:
        """A consistent copy of the live database (SQLite online backup: one snapshot, taken while others
        keep writing), as a single self-contained GeoPackage file."""
        dest = Path(dest)
        if dest.exists():
            raise DatabaseExists(dest, "备份不会覆盖已有文件，请换一个文件名")
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        partial.unlink(missing_ok=True)
        target = sqlite3.connect(partial)
        try:
            self.connection().backup(target)  # all pages in one step: a single consistent snapshot
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
        partial.rename(dest)
        return dest


@contextmanager
def _without_insert_triggers(con, table: str):
    """Rows inserted into ``table`` in the block carry their K-stake texts (``gpkg_live``: start_stake_k
    beside start_stake) in the INSERT itself (``derived_columns``), so the insert trigger's UPDATE per row
    is dropped for the block; so is the trigger recording other clients' new rows while the app's marker
    row is there (it would only test that row for each new one: a tenth of a bulk insert's time). They
    are dropped and re-created inside the caller's transaction (as ``gpkg.rtree_bulk_insert`` does), so
    other connections never see them missing."""
    names = [gpkg_live.stakes_insert_trigger(table)]
    if con.execute(f"SELECT 1 FROM {gpkg_live.MARKER_TABLE}").fetchone():  # the app's write: quiet anyway
        names.append(gpkg_live.external_insert_trigger(table))
    found = con.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN "
                        f"({', '.join('?' * len(names))})", names).fetchall()
    if not found:
        yield
        return
    if not con.in_transaction:
        raise RuntimeError("_without_insert_triggers needs the caller's write transaction")
    for name in names:
        con.execute(f'DROP TRIGGER IF EXISTS "{name}"')
    try:
        yield
    finally:
        for (sql,) in found:
            con.execute(sql)


def _ensure_category_table(con, c: Category) -> None:
    defs = category_column_defs(c)
    if not gpkg.table_exists(con, c.table):
        gpkg.create_feature_table(con, c.table, c.label, f"{c.label} 图斑", "POLYGON", SRS_ID,
                                  list(defs.values()) + ARCHIVE_COLUMNS)
        con.execute(versions_index(c))
        con.executemany("INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title, description) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [(c.table, f.key, f.label, f.label_with_unit, f.help) for f in c.fields])
        return
    existing = set(gpkg.columns(con, c.table))
    for f in c.fields:  # a field added to the schema later: add its column
        if f.key not in existing:
            con.execute(f'ALTER TABLE "{c.table}" ADD COLUMN "{f.key}" {SQL_TYPES[f.type]}')


def remove_file(path: Path) -> None:
    """Delete a GeoPackage file with its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def create(path: str | os.PathLike, schema: Schema, *, force: bool = False) -> GeoPackageBackend:
    """A new, empty ledger file; refuses to replace an existing one unless ``force``."""
    path = Path(path)
    if path.exists() and not force:
        raise DatabaseExists(path)
    remove_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return GeoPackageBackend(path, schema, create=True)
