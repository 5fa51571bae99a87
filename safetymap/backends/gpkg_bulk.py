"""Many new rows of a live GeoPackage table written by C code rather than bound value by value from Python.

GDAL writes the rows (an Arrow table of the values to store, ``values.sql_array``) into a temporary
SQLite file of their own and closes it; the store's ``sqlite3`` connection then attaches that file and
copies the rows with one ``INSERT … SELECT`` inside its write transaction. The ledger's own file is
never opened by GDAL: pyogrio's GDAL carries its own SQLite library, and two copies in one process
ignore each other's locks (DESIGN.md, one SQLite library per file). An attached file cannot be
detached inside a transaction, so it stays attached, read-only in practice, until the transaction
ends (``Attached.release``); SQLite attaches at most 10 files to a connection, so a transaction that
has used them all binds its further rows row by row (``Attached.has_room``). The values arrive as the
same SQLite values ``executemany`` would bind (text, integer, real, blob, NULL) and the target columns'
affinities apply to them alike (``tests/test_bulk_copy.py`` compares every stored value of both paths)."""
from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyogrio

from .rows import quoted

LAYER = "rows"


@dataclass
class Attached:
    """The temporary files one connection has attached in its current transaction."""

    names: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)

    def add(self) -> tuple[str, Path]:
        """A new temporary file's schema name and path (in a folder of its own, deleted by ``release``)."""
        name = f"safetymap_bulk_{len(self.names) + 1}"
        folder = tempfile.mkdtemp(prefix="safetymap-bulk-")
        self.folders.append(folder)
        return name, Path(folder) / "rows.sqlite"

    @staticmethod
    def has_room(con) -> bool:
        """Whether ``con`` can attach one more file (SQLite's limit, 10 unless compiled otherwise)."""
        attached = [row for row in con.execute("PRAGMA database_list") if row[1] not in ("main", "temp")]
        return len(attached) < con.getlimit(sqlite3.SQLITE_LIMIT_ATTACHED)

    def attach(self, con, name: str, path: Path) -> None:
        con.execute("ATTACH DATABASE ? AS " + name, (str(path),))
        self.names.append(name)

    def release(self, con) -> None:
        """Detach and delete them (after the transaction ended, committed or not)."""
        for name in self.names:
            con.execute(f"DETACH DATABASE {name}")
        for folder in self.folders:
            shutil.rmtree(folder)
        self.names.clear()
        self.folders.clear()


def _for_gdal(rows: pa.Table) -> pa.Table:
    """Booleans as integers 1/0, which is what SQLite stores for a bound Python bool."""
    columns = [pc.cast(col, pa.int64()) if pa.types.is_boolean(col.type) else col for col in rows.columns]
    return pa.table(columns, names=rows.column_names)


def copy_rows(con, attached: Attached, table: str, rows: pa.Table, constants: dict,
              rounded: dict[str, str], derived: dict[str, str]) -> None:
    """Insert ``rows`` (columns named as ``table``'s) in order, with ``constants`` (column -> one value for
    every row) and the ``derived`` columns (name -> SQL over the row's columns and the ``rounded`` ones,
    alias -> SQL computed once a row in the subquery: ``gpkg_live.stake_text_select``)."""
    name, path = attached.add()
    pyogrio.write_arrow(_for_gdal(rows), path, layer=LAYER, driver="SQLite", geometry_name=None,
                        geometry_type=None, layer_options={"LAUNDER": "NO"})  # the column names as they are
    attached.attach(con, name, path)
    source = ", ".join([quoted(rows.column_names), *(f'{sql} AS "{alias}"' for alias, sql in rounded.items())])
    columns = [*rows.column_names, *constants, *derived]
    values = [quoted(rows.column_names), *(["?"] * len(constants)), *derived.values()]
    # OFFSET: the subquery is not flattened into the SELECT, so its columns are computed once a row
    con.execute(f'INSERT INTO "{table}" ({quoted(columns)}) SELECT {", ".join(values)} '
                f'FROM (SELECT {source} FROM {name}."{LAYER}" ORDER BY rowid LIMIT -1 OFFSET 0)',
                list(constants.values()))
