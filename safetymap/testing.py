"""Assertions the tests (and benchmarks) share, kept in the package so that they use only its public
interface: e.g. "nothing changed" and "migrated intact" compare ``ledger_snapshot``s."""
from __future__ import annotations

import shapely

from .backends.tables import ledger_tables
from .store import Store


def ledger_snapshot(store: Store) -> dict[str, list[tuple]]:
    """Every row of every ledger table, by key, columns by name, geometry as WKB hex, booleans as 0/1.
    Equal snapshots mean equal ledgers, on either backend."""
    with store.backend.snapshot() as con:
        return {table: _table_rows(store, con, table, key) for table, key in ledger_tables(store.schema)}


def _table_rows(store: Store, con, table: str, key: str) -> list[tuple]:
    backend = store.backend
    columns = sorted(backend.table_columns(con, table))
    select = ", ".join(backend.geom_out('"geom"') if c == "geom" else f'"{c}"' for c in columns)
    rows = [list(r) for r in con.execute(f'SELECT {select} FROM "{table}" ORDER BY "{key}"').fetchall()]
    if "geom" in columns:
        g = columns.index("geom")
        for row, geom in zip(rows, backend.decode([r[g] for r in rows])):
            row[g] = None if geom is None else shapely.to_wkb(geom, hex=True, output_dimension=2)
    return [tuple(int(v) if isinstance(v, bool) else v for v in row) for row in rows]
