"""The scale-out backend: the ledger in PostgreSQL + PostGIS (``SAFETYMAP_DB=postgresql://…``), for
several app servers. It offers the same public surface as ``geopackage.GeoPackageBackend``; every rule
(versions and conflicts, history, archive, roles, events) is the ledger's, in ``safetymap.store``.

- geometry: PostGIS ``geometry(…, 4490)`` columns with GiST indexes, written with
  ``ST_GeomFromWKB(?, 4490)``, read with ``ST_AsBinary``, bounding boxes with ``&& ST_MakeEnvelope``;
- the write transaction: ``BEGIN`` + ``pg_advisory_xact_lock`` on one key per ledger (schema), which
  serialises writers exactly as SQLite's ``BEGIN IMMEDIATE`` does, so conflicts behave identically;
- connections: a ``psycopg_pool`` pool; a statement outside a transaction borrows a connection for
  itself; sqlite3-style SQL (``?`` placeholders) is translated by a thin wrapper;
- values: the DDL is derived from the same column specs (REAL → DOUBLE PRECISION, DATETIME →
  TIMESTAMPTZ, BLOB → BYTEA, TEXT → TEXT COLLATE "C" for SQLite's byte order), and the connection
  loads timestamps and dates back as the same text the GeoPackage holds, so the ledger sees the
  same Python values on both backends (booleans come back as bool; the code treats 0/1 alike).
"""
from __future__ import annotations

import datetime as dt
import os
import threading
from contextlib import contextmanager, nullcontext

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import shapely
from psycopg.adapt import Loader
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from ..clock import now_utc, utc_text
from ..errors import BackupUnsupported, DatabaseUnavailable, LedgerExists, LedgerMissing
from ..schema import Schema
from ..redaction import redact
from .frames import query_frame
from .rows import executemany_rows
from .tables import (ARCHIVE_COLUMNS, FEATURE_TABLES, HAZARD_TABLE, INDEXES, META_TABLE, SOURCE_TABLE, SRS_ID,
                     attribute_tables, category_column_defs, category_columns, missing_hazard_columns, versions_index)

PG_TYPES = {"TEXT": 'TEXT COLLATE "C"', "INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "DATE": "DATE",
            "DATETIME": "TIMESTAMPTZ", "BOOLEAN": "BOOLEAN", "BLOB": "BYTEA"}
WRITE_LOCK_KEY = 0x5AFE  # pg_advisory_xact_lock(WRITE_LOCK_KEY, hashtext(current_schema())): one per ledger
POOL_MAX_DEFAULT = 10
CONNECT_TIMEOUT_S = 10


def pg_column(spec: str) -> str:
    """One SQLite column definition of the store -> the PostgreSQL one (name quoted, type mapped)."""
    name, sql_type, *rest = spec.split(maxsplit=2)
    constraints = rest[0] if rest else ""
    if sql_type == "BOOLEAN":
        constraints = constraints.replace("DEFAULT 0", "DEFAULT false").replace("DEFAULT 1", "DEFAULT true")
    return " ".join(part for part in (f'"{name.strip(chr(34))}"', PG_TYPES[sql_type], constraints) if part)


def to_pg_sql(sql: str) -> str:
    """The store's sqlite3 placeholders (``?``) as psycopg's (``%s``); a literal ``%`` doubled."""
    return sql.replace("%", "%%").replace("?", "%s")


# ---------------------------------------------------------------- values as the GeoPackage has them
class UtcTextLoader(Loader):
    """timestamptz -> GeoPackage DATETIME text: UTC, milliseconds, ``Z`` (e.g. 2026-05-01T02:03:04.120Z)."""

    def load(self, data) -> str:
        return utc_text(dt.datetime.fromisoformat(bytes(data).decode()))


class DateTextLoader(Loader):
    """date -> GeoPackage DATE text (``YYYY-MM-DD``; the session's DateStyle is ISO)."""

    def load(self, data) -> str:
        return bytes(data).decode()


def _configure(conn: psycopg.Connection) -> None:
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET DateStyle = 'ISO, YMD'")
    conn.adapters.register_loader("timestamptz", UtcTextLoader)
    conn.adapters.register_loader("date", DateTextLoader)


# ---------------------------------------------------------------- sqlite3-style connections
class Rows:
    """A statement's result, fetched at once (so its connection can go back to the pool)."""

    def __init__(self, cursor: psycopg.Cursor):
        self.description = cursor.description
        self.rowcount = cursor.rowcount
        self._rows = cursor.fetchall() if cursor.description else []
        self._next = 0

    def fetchone(self):
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list:
        rest, self._next = self._rows[self._next:], len(self._rows)
        return rest

    def __iter__(self):
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection with the sqlite3 surface the store uses: ``execute``/``executemany`` with
    ``?`` placeholders, ``in_transaction``."""

    def __init__(self, raw: psycopg.Connection):
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params=()) -> Rows:
        cursor = self.raw.execute(to_pg_sql(sql), params) if params else self.raw.execute(sql)
        return Rows(cursor)

    def executemany(self, sql: str, rows) -> None:
        rows = list(rows)
        if rows:
            with self.raw.cursor() as cursor:
                cursor.executemany(to_pg_sql(sql), rows)


class PgSession:
    """What ``_con()`` returns, one per thread: inside a transaction its connection; otherwise each
    statement borrows a pooled connection (autocommit) and gives it back at once."""

    def __init__(self, pool: ConnectionPool):
        self.pool = pool
        self.pinned: PgConnection | None = None

    @property
    def in_transaction(self) -> bool:
        return self.pinned is not None

    def execute(self, sql: str, params=()) -> Rows:
        if self.pinned is not None:
            return self.pinned.execute(sql, params)
        with self.pool.connection() as raw:
            return PgConnection(raw).execute(sql, params)

    def executemany(self, sql: str, rows) -> None:
        if self.pinned is not None:
            return self.pinned.executemany(sql, rows)
        with self.pool.connection() as raw:
            return PgConnection(raw).executemany(sql, rows)


def _check_server(url: str) -> None:
    """Fail early with the cause in Chinese: server unreachable, or PostGIS not installed."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True) as conn:
            has_postgis = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone()
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"无法连接 PostgreSQL 数据库 {redact(url)}：{str(exc).strip()}") from exc
    if not has_postgis:
        raise DatabaseUnavailable(f"数据库 {redact(url)} 未安装 PostGIS 扩展；请由数据库管理员执行 CREATE EXTENSION postgis")


def pool_max_size() -> int:
    return int(os.environ.get("SAFETYMAP_DB_POOL_MAX") or POOL_MAX_DEFAULT)


class PostGISBackend:
    """A ledger's tables in a PostgreSQL + PostGIS database (the schema first on the URL's search_path).
    Shareable between threads; any number of processes and servers may use it at once."""

    geom_param = f"ST_GeomFromWKB(?, {SRS_ID})"
    path = None  # no file: backup and file checks do not apply

    def __init__(self, url: str, schema: Schema, *, create: bool = False):
        self.location = url
        _check_server(url)
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_max_size(), open=True, configure=_configure,
                                    kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
                                    check=ConnectionPool.check_connection,  # a server restart costs no failed save
                                    name="safetymap")
        self._local = threading.local()
        try:
            self._ensure_tables(schema, create)
        except BaseException:
            self._pool.close()
            raise

    def __repr__(self) -> str:
        return f"PostGISBackend({redact(self.location)!r})"

    # ---------------------------------------------------------------- connections
    def connection(self) -> PgSession:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = PgSession(self._pool)
        return session

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def transaction(self):
        """One write transaction, serialised with every other writer of this ledger (advisory lock
        taken first, so reads inside it are current). Nested, it joins the open one."""
        session = self.connection()
        if session.pinned is not None:
            yield session.pinned
            return
        with self._pool.connection() as raw:
            con = session.pinned = PgConnection(raw)
            try:
                con.execute("BEGIN")
                con.execute("SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))", (WRITE_LOCK_KEY,))
                yield con
            except BaseException:
                if not raw.closed:
                    raw.execute("ROLLBACK")
                raise
            else:
                con.execute("COMMIT")
            finally:
                session.pinned = None

    @contextmanager
    def snapshot(self):
        """A consistent view for several SELECTs (inside a transaction: that transaction's view)."""
        session = self.connection()
        if session.pinned is not None:
            yield session.pinned
            return
        with self._pool.connection() as raw:
            con = PgConnection(raw)
            con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield con
            finally:
                con.execute("COMMIT")

    def query_frame(self, sql: str, params=(), con=None) -> pd.DataFrame:
        """A SELECT as a DataFrame."""
        return query_frame(con or self.connection(), sql, params)

    def checkpoint(self) -> None:
        """Nothing to do: the server has no WAL file for other tools to miss."""

    def backup(self, dest):
        raise BackupUnsupported("PostgreSQL 台账请用 pg_dump 备份（可在使用中进行），例如："
                                "pg_dump -Fc -f 台账.dump 'postgresql://…'；恢复用 pg_restore。"
                                "也可用 python -m safetymap migrate 导出为 GeoPackage 文件")

    # ---------------------------------------------------------------- geometry
    @staticmethod
    def geom_out(column: str) -> str:
        return f"ST_AsBinary({column})"

    @staticmethod
    def encode(geoms) -> list:
        geoms = np.asarray(geoms, dtype=object)
        return list(shapely.to_wkb(geoms, output_dimension=2, flavor="iso"))

    @classmethod
    def encode_array(cls, geoms) -> pa.Array:
        """``encode`` as one Arrow binary array (nulls for missing geometries)."""
        return pa.array(cls.encode(geoms), pa.binary())

    @staticmethod
    def decode(values) -> np.ndarray:
        return shapely.from_wkb(np.array(list(values), dtype=object))

    @staticmethod
    def wkb(values) -> list:
        """Stored geometries (``geom_out``: WKB already) as bytes."""
        return [None if v is None else bytes(v) for v in values]

    @staticmethod
    def box_select(table: str) -> tuple[list[str], str]:
        """SQL columns for the box (minx, miny, maxx, maxy) of alias ``t``'s geometry (no join needed)."""
        return (["ST_XMin(t.geom)", "ST_YMin(t.geom)", "ST_XMax(t.geom)", "ST_YMax(t.geom)"], "")

    @staticmethod
    def bbox_clause(table: str, bbox) -> tuple[str, list]:
        minx, miny, maxx, maxy = bbox
        return f"t.geom && ST_MakeEnvelope(?, ?, ?, ?, {SRS_ID})", [minx, miny, maxx, maxy]

    @staticmethod
    def after_geometry_write(con, table: str) -> None:
        """Nothing to do: PostGIS keeps its GiST indexes current and has no extents table."""

    @staticmethod
    def derived_columns(c) -> dict[str, str]:
        """No columns derived in the INSERT: PostGIS keeps no K-stake texts."""
        return {}

    def insert_rows(self, con, table: str, rows: pa.Table, constants: dict, category=None) -> None:
        """New rows of ``table`` in order (as ``GeoPackageBackend.insert_rows``), bound row by row."""
        executemany_rows(con, table, rows, constants, self.geom_param, {})

    @staticmethod
    def bulk_insert(con, table: str, geoms):
        """Nothing to do around a bulk insert: PostGIS maintains its GiST indexes in C."""
        return nullcontext()

    @staticmethod
    def after_copy(con, table: str, key: str) -> None:
        """After rows were copied with their ids (``migrate``): new rows continue after the highest, and
        the planner knows the table's size (so bounding boxes use the GiST index from the start)."""
        con.execute(f"SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max(\"{key}\"), 0) + 1, false) "
                    f"FROM \"{table}\"", (f'"{table}"', key))
        con.execute(f'ANALYZE "{table}"')

    # ---------------------------------------------------------------- tables
    @staticmethod
    def table_exists(con, table: str) -> bool:
        return con.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                           "AND table_name = ?", (table,)).fetchone() is not None

    @staticmethod
    def table_columns(con, table: str) -> dict[str, str]:
        rows = con.execute("SELECT column_name, upper(data_type) FROM information_schema.columns "
                           "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
                           (table,)).fetchall()
        return dict(rows)

    def _missing_parts(self, con, schema: Schema) -> bool:
        if not all(self.table_exists(con, t) for t in (SOURCE_TABLE, *attribute_tables(schema))):
            return True
        if missing_hazard_columns(schema, self.table_columns(con, HAZARD_TABLE)):
            return True
        return any(not self.table_exists(con, c.table)
                   or set(category_columns(c)) - set(self.table_columns(con, c.table)) for c in schema.categories)

    def _ensure_tables(self, schema: Schema, create: bool) -> None:
        with self.transaction() as con:  # the write lock also keeps two servers from creating at once
            if con.execute("SELECT current_schema()").fetchone()[0] is None:
                raise DatabaseUnavailable(f"数据库 {redact(self.location)} 的 search_path 中没有可用的 schema")
            if not self._missing_parts(con, schema):
                return
            if not create and not self.table_exists(con, SOURCE_TABLE):
                raise LedgerMissing(redact(self.location))
            _create_tables(con, schema)

    def drop_tables(self, schema: Schema) -> None:
        """Remove the ledger's tables (``init --force``)."""
        tables = [*FEATURE_TABLES, *attribute_tables(schema), *(c.table for c in schema.categories)]
        with self.transaction() as con:
            con.execute(f'DROP TABLE IF EXISTS {", ".join(f"{chr(34)}{t}{chr(34)}" for t in tables)} CASCADE')


def _create_tables(con, schema: Schema) -> None:
    for table, (_identifier, _description, geometry_type, cols) in FEATURE_TABLES.items():
        _create_feature_table(con, table, geometry_type, cols)
    for table, (_identifier, cols) in attribute_tables(schema).items():
        con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, '
                    f'{", ".join(map(pg_column, cols))})')
    for definition in missing_hazard_columns(schema, PostGISBackend.table_columns(con, HAZARD_TABLE)):
        con.execute(f'ALTER TABLE "{HAZARD_TABLE}" ADD COLUMN {pg_column(definition)}')  # a field added later
    for ddl in INDEXES:
        con.execute(ddl)
    con.execute(f"INSERT INTO {META_TABLE} (key, value) VALUES ('created_at', ?) ON CONFLICT (key) DO NOTHING",
                (now_utc(),))
    for c in schema.categories:
        defs = category_column_defs(c)
        _create_feature_table(con, c.table, "POLYGON", list(defs.values()) + ARCHIVE_COLUMNS)
        con.execute(versions_index(c))
        existing = PostGISBackend.table_columns(con, c.table)
        for key in defs.keys() - existing.keys():  # a field added to the schema later: add its column
            con.execute(f'ALTER TABLE "{c.table}" ADD COLUMN {pg_column(defs[key])}')

def _create_feature_table(con, table: str, geometry_type: str, column_defs: list[str]) -> None:
    cols = ["fid BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", f"geom geometry({geometry_type}, {SRS_ID})",
            *map(pg_column, column_defs)]
    con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({", ".join(cols)})')
    con.execute(f'CREATE INDEX IF NOT EXISTS "{table}_geom_gist" ON "{table}" USING GIST (geom)')


def create(url: str, schema: Schema, *, force: bool = False) -> PostGISBackend:
    """A new, empty ledger in the database at ``url``; refuses one that has a ledger unless ``force``."""
    try:
        existing = PostGISBackend(url, schema)
    except LedgerMissing:
        return PostGISBackend(url, schema, create=True)
    if not force:
        existing.close()
        raise LedgerExists(redact(url))
    existing.drop_tables(schema)
    existing.close()
    return PostGISBackend(url, schema, create=True)
