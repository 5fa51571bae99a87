"""Refuse an uploaded GeoPackage holding SQL that runs when it is read, before GDAL opens it.

A view is a query GDAL runs to read the layer: one over an endless recursive query, registered as a
feature layer, kept GDAL busy forever (issue 15). Triggers run on writes only, but nothing a ledger
export needs is written that way, so only those of GDAL and of the GeoPackage standard are accepted.
The check reads ``sqlite_master`` with Python's sqlite3 on a copy opened read-only and immutable (no
journal, no -wal or -shm files, nothing written next to the upload)."""
from __future__ import annotations

import re
import shutil
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import quote

from .uploads import refuse

# GDAL's spatial index (rtree_<table>_<column>_insert …) and feature count triggers; the standard's own.
KNOWN_TRIGGERS = re.compile(r"^(rtree_.+_(insert|update\d|delete)|trigger_(insert|delete)_feature_count_.+|"
                            r"gpkg_(tile_matrix|metadata_reference)_.+)$")
FIX_HINT = "请在 QGIS 中把需要的图层另存为新的 GeoPackage（或导出为 Shapefile）后再导入"


def _active_content(path: Path) -> list[tuple[str, str]]:
    uri = f"file:{quote(str(path))}?mode=ro&immutable=1"
    con = sqlite3.connect(uri, uri=True)
    try:
        return con.execute("SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger') "
                           "ORDER BY type DESC, name").fetchall()
    finally:
        con.close()


def check_geopackage(path: str | Path, shown: str) -> None:
    """Raise ImportRefused if the GeoPackage has a view or a trigger of its own, or is not SQLite."""
    with tempfile.TemporaryDirectory(prefix="safetymap-gpkg-check-") as tmp:
        copy = Path(tmp) / "upload.gpkg"
        shutil.copyfile(path, copy)
        try:
            found = _active_content(copy)
        except sqlite3.DatabaseError as exc:
            raise refuse(shown, f"不是有效的 GeoPackage 文件（SQLite 无法打开：{exc}）") from None
    views = [name for kind, name in found if kind == "view"]
    triggers = [name for kind, name in found if kind == "trigger" and not KNOWN_TRIGGERS.match(name)]
    if views:
        raise refuse(shown, f"GeoPackage 含有视图「{'」「'.join(views[:5])}」，读取时会执行其中的查询，"
                            f"出于安全考虑不予导入；{FIX_HINT}")
    if triggers:
        raise refuse(shown, f"GeoPackage 含有触发器「{'」「'.join(triggers[:5])}」，出于安全考虑不予导入；{FIX_HINT}")
