"""Move a whole ledger between backends (GeoPackage file ⇄ PostgreSQL + PostGIS): patches with their
versions, history, fog events, inspections, photos, users, audit log, routes and meta.

A raw row copy, ids and timestamps kept, not a re-validation: the target then holds the same ledger,
not a new one made from it. The target must be empty; the copy is one transaction (all or nothing)
read from one consistent snapshot of the source."""
from __future__ import annotations

import os
from pathlib import Path

from .backends import is_database_url
from .backends.tables import META_TABLE, ledger_tables
from .errors import MigrationRefused
from .store import Store, open_store
from .upgrades import VERSION_KEY

BATCH_ROWS = 500  # rows read and written at a time (photos can be large)


def migrate(source: str | os.PathLike, target: str | os.PathLike) -> dict[str, int]:
    """Copy the ledger at ``source`` into the empty ledger at ``target`` (created if it is a new file);
    returns the number of rows copied per table."""
    if str(source) == str(target):
        raise MigrationRefused("源和目标是同一个数据库")
    src = open_store(source)
    try:
        dst = _open_target(target, src)
    except BaseException:
        src.close()
        raise
    try:
        with src.backend.snapshot() as scon, dst.transaction() as tcon:
            _refuse_non_empty(dst, tcon)
            tcon.execute(f"DELETE FROM {META_TABLE}")  # the target's own created_at: the source's comes over
            counts = {table: _copy_table(src, scon, dst, tcon, table, key)
                      for table, key in ledger_tables(src.schema)}
        dst.checkpoint()
        return counts
    finally:
        src.close()
        dst.close()


def _open_target(target, src: Store) -> Store:
    if not is_database_url(target):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    return open_store(target, src.schema, create=True)


def _refuse_non_empty(dst: Store, con) -> None:
    filled = []
    for table, _key in ledger_tables(dst.schema):
        where = f" WHERE key NOT IN ('created_at', '{VERSION_KEY}')" if table == META_TABLE else ""
        if con.execute(f'SELECT count(*) FROM "{table}"{where}').fetchone()[0]:
            filled.append(table)
    if filled:
        raise MigrationRefused(f"目标数据库不是空的（{'、'.join(filled)} 中已有数据），迁移不会覆盖；请换一个新的数据库或文件")


def _copy_table(src: Store, scon, dst: Store, tcon, table: str, key: str) -> int:
    source, target = src.backend, dst.backend
    target_columns = target.table_columns(tcon, table)
    columns = [c for c in source.table_columns(scon, table) if c in target_columns]
    booleans = [i for i, c in enumerate(columns) if target_columns[c] == "BOOLEAN"]
    select = ", ".join(source.geom_out('"geom"') if c == "geom" else f'"{c}"' for c in columns)
    insert = (f'INSERT INTO "{table}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)}) '
              f'VALUES ({", ".join(target.geom_param if c == "geom" else "?" for c in columns)})')
    last, total = None, 0
    while True:
        after = "" if last is None else f' WHERE "{key}" > ?'
        rows = scon.execute(f'SELECT {select} FROM "{table}"{after} ORDER BY "{key}" LIMIT {BATCH_ROWS}',
                            () if last is None else (last,)).fetchall()
        if not rows:
            break
        tcon.executemany(insert, _convert(source, target, rows, columns, booleans))
        last, total = rows[-1][columns.index(key)], total + len(rows)
    target.after_copy(tcon, table, key)
    if "geom" in columns:
        target.after_geometry_write(tcon, table)
    return total


def _convert(source, target, rows: list, columns: list[str], booleans: list[int]) -> list[list]:
    """Rows as the target takes them: geometry re-encoded, booleans as bool; everything else as is."""
    out = [list(row) for row in rows]
    if "geom" in columns:
        g = columns.index("geom")
        for row, value in zip(out, target.encode(source.decode([row[g] for row in out]))):
            row[g] = value
    for row in out:
        for i in booleans:
            row[i] = None if row[i] is None else bool(row[i])
    return out
