"""The file formats the ledger exports (and may import), one entry each: key, label, suffixes, MIME type,
writer and reader. A new format is one module plus one ``register(FileFormat(...))``; the CLI, the files
page and ``export()`` list formats from here.

Writers are called as ``writer(frame, out, schema, options)`` and return ``(layers, warnings)``; options
a format does not take are ignored. A reader is ``reader(path, name, schema) -> io.reader.ReadResult``;
``None`` means the built-in reader (``io.reader.read_file``) knows the suffix. The built-in writers import
their modules only when called, so listing formats stays cheap (the CLI builds its parser from this)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import Problem, RequestError


@dataclass(frozen=True)
class FileFormat:
    key: str
    label: str  # shown on the files page
    suffixes: tuple[str, ...]  # the first is the exported file's
    mime: str
    writer: Callable[..., tuple[list[str], list[str]]]
    reader: Callable | None = None

    @property
    def suffix(self) -> str:
        return self.suffixes[0]


REGISTRY: dict[str, FileFormat] = {}


def register(fmt: FileFormat) -> FileFormat:
    REGISTRY[fmt.key] = fmt
    return fmt


def unregister(key: str) -> None:
    REGISTRY.pop(key, None)


def get(key: str) -> FileFormat:
    if key not in REGISTRY:
        raise RequestError([Problem("格式", f"不支持的导出格式「{key}」，可选：{'、'.join(REGISTRY)}")])
    return REGISTRY[key]


def reader_for(name: str | Path) -> Callable | None:
    """The registered reader of a file named ``name`` (by suffix), or None for the built-in reader."""
    suffix = Path(name).suffix.lower()
    return next((f.reader for f in REGISTRY.values() if f.reader is not None and suffix in f.suffixes), None)


# ---------------------------------------------------------------- the built-in formats
def _shapefile(frame, out, schema, options):
    from .shapefile import export_shapefile

    result = export_shapefile(frame, out, schema, encoding=options.get("encoding", "utf-8"))
    return result.layers, result.warnings


def _geopackage(frame, out, schema, options):
    from .geopackage import export_geopackage

    return export_geopackage(frame, out, schema, tables=options.get("tables")), []


def _geojson(frame, out, schema, options):
    from .geojson import export_geojson

    return export_geojson(frame, out, schema, rfc7946=options.get("rfc7946", False)), []


def _kml(kmz: bool):
    def write(frame, out, schema, options):
        from .kml import export_kml

        return export_kml(frame, out, schema, kmz=kmz), []
    return write


def _excel(frame, out, schema, options):
    from .excel import export_excel

    return export_excel(frame, out, schema, on=options.get("on")), []


def _csv(frame, out, schema, options):
    from .csv import export_csv

    return export_csv(frame, out, schema), []


def _qgis(frame, out, schema, options):
    from .qgis_project import export_qgis_project

    routes, warnings = None, []
    if options.get("database"):
        from ..store import open_store

        routes = open_store(options["database"], schema).routes()
    else:
        warnings.append("没有台账数据库可读路线，工程中的路线中心线图层为空")
    return export_qgis_project(frame, out, schema, routes=routes), warnings


for _fmt in (
    FileFormat("shp", "Shapefile（zip 压缩包）", (".zip", ".shp"), "application/zip", _shapefile),
    FileFormat("gpkg", "GeoPackage", (".gpkg",), "application/geopackage+sqlite3", _geopackage),
    FileFormat("geojson", "GeoJSON", (".geojson", ".json"), "application/geo+json", _geojson),
    FileFormat("kml", "KML（奥维互动地图、Google Earth）", (".kml",), "application/vnd.google-earth.kml+xml", _kml(False)),
    FileFormat("kmz", "KMZ（压缩的 KML）", (".kmz",), "application/vnd.google-earth.kmz", _kml(True)),
    FileFormat("xlsx", "Excel 台账", (".xlsx",), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               _excel),
    FileFormat("csv", "CSV（UTF-8，Excel 可直接打开）", (".csv",), "text/csv", _csv),
    FileFormat("qgis", "QGIS 工程（zip：.qgz 工程 + GeoPackage，含样式、图例和打印布局）", (".zip",),
               "application/zip", _qgis),
):
    register(_fmt)
