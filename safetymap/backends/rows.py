"""New rows of a table from an Arrow table of the values to store (``values.sql_array``), bound row by row
with ``executemany``: what both backends do with a few rows, and PostgreSQL with many."""
from __future__ import annotations

import pyarrow as pa

CHUNK = 10_000  # rows turned into Python values at once: memory stays bounded


def quoted(names) -> str:
    return ", ".join(f'"{name}"' for name in names)


def insert_sql(table: str, columns: list[str], geom_param: str, derived: dict[str, str]) -> str:
    """INSERT of one row of ``table`` from ``columns`` (``geom`` given as the backend's ``geom_param``
    takes it), with the ``derived`` columns (name -> SQL over the row's columns) in the same statement."""
    values = [geom_param if name == "geom" else "?" for name in columns]
    if not derived:
        return f'INSERT INTO "{table}" ({quoted(columns)}) VALUES ({", ".join(values)})'
    row = ", ".join(f'{value} AS "{name}"' for value, name in zip(values, columns))
    return (f'INSERT INTO "{table}" ({quoted([*columns, *derived])}) '
            f'SELECT {quoted(columns)}, {", ".join(derived.values())} FROM (SELECT {row})')


def executemany_rows(con, table: str, rows: pa.Table, constants: dict, geom_param: str,
                     derived: dict[str, str]) -> None:
    """Insert ``rows`` (columns named as ``table``'s) with ``constants`` (column -> one value for every
    row), in order, a chunk at a time."""
    sql = insert_sql(table, [*rows.column_names, *constants], geom_param, derived)
    for start in range(0, rows.num_rows, CHUNK):
        part = rows.slice(start, CHUNK)
        n = part.num_rows
        con.executemany(sql, zip(*(column.to_pylist() for column in part.columns),
                                 *([value] * n for value in constants.values())))
