"""One entry point for every export format: ``export(frame, format, out, schema, ...)``."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import Problem, RequestError
from ..ledger import today
from ..schema import Schema
from . import formats

FORMATS = formats.REGISTRY  # key -> FileFormat (label, suffixes, mime, writer, reader)


@dataclass
class ExportResult:
    path: Path
    format: str
    count: int
    layers: list[str]
    warnings: list[str] = field(default_factory=list)


def export(frame: pd.DataFrame, fmt: str, out: str | Path, schema: Schema, *, encoding: str = "utf-8",
           rfc7946: bool = False, tables: dict[str, pd.DataFrame] | None = None,
           on: dt.date | None = None, database: str | Path | None = None) -> ExportResult:
    """Write ``frame`` (patches as read from the store, possibly filtered) to ``out`` in format ``fmt``.
    ``encoding`` is for shapefiles, ``rfc7946`` for GeoJSON, ``tables`` (history, inspections, fog events)
    for GeoPackage. ``database``: the ledger's own file, which ``out`` must not be."""
    writer = formats.get(fmt).writer
    out = Path(out)
    if database is not None and _same_file(out, Path(database)):
        raise RequestError([Problem("输出文件", f"{out} 是台账数据库本身，不能用导出覆盖它；请换一个文件名")])
    out.parent.mkdir(parents=True, exist_ok=True)
    options = {"encoding": encoding, "rfc7946": rfc7946, "tables": tables, "on": on, "database": database}
    layers, warnings = writer(frame, out, schema, options)
    return ExportResult(out, fmt, len(frame), layers, warnings)


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or any(a.resolve() == Path(f"{b.resolve()}{s}") for s in ("-wal", "-shm"))


def related_tables(store, codes) -> dict[str, pd.DataFrame]:
    """History, inspections and fog events of the exported patches (for the GeoPackage export)."""
    codes = set(codes)
    tables = {"history": store.history(), "inspections": store.inspections(), "fog_events": store.fog_events()}
    return {name: table[table["code"].isin(codes)].reset_index(drop=True) for name, table in tables.items()}


def default_filename(fmt: str, on: dt.date | None = None) -> str:
    on = on or today()  # the bureau's date, as in the Excel title
    return f"风险图斑台账_{on:%Y%m%d}{FORMATS[fmt].suffix}"
