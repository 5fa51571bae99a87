"""Read any supported file into raw layers: the file's own columns (not yet matched or typed), the row
number a user will recognise, the geometries in the file's CRS. Zips and KMZ are checked and unpacked
by ``uploads`` first; shapefiles are checked for their parts and encoding before GDAL opens them;
GeoPackages with views or triggers are refused before GDAL opens them. All reading runs in a child
process with a time and a memory limit (``sandbox``), and sheets are read with row and cell caps.

Row numbers: for spreadsheets (Excel, CSV) the row as Excel shows it; for GIS layers the feature number."""
from __future__ import annotations

import functools
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS

from .cells import restore
from ..errors import KmlTooDeep
from ..backends.tables import SOURCE_TABLE
from ..errors import ImportRefused, Problem
from ..schema import Schema
from . import kml, patch_twins, shapefile
from .columns import derived_columns, known_column
from .csv import read_csv_text
from .excel import SUMMARY_SHEET, TABLE_SHEET
from .geojson import SOURCE_WKT_COLUMN
from .geopackage import STYLE_TABLE, TABLE_NAMES
from .gpkg_check import check_geopackage
from .sandbox import run_bounded
from .tables import CATEGORY_COLUMN, GIS_ONLY_COLUMNS, WKT_COLUMN
from .uploads import DEFAULT_LIMITS, LOCAL_LIMITS, UploadLimits, refuse, safe_extract, zip_members

GIS_SUFFIXES = {".geojson", ".json", ".gpkg"}
TABLE_SUFFIXES = {".csv", ".xlsx", ".xlsm"}
SUPPORTED = {".zip", ".shp", ".kml", ".kmz"} | GIS_SUFFIXES | TABLE_SUFFIXES
SUPPORTED_TEXT = "zip 压缩的 Shapefile、GeoPackage、GeoJSON、KML/KMZ、Excel(.xlsx)、CSV"
SHAPEFILE_PARTS = {".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml", ".qmd", ".aih", ".ain", ".atx",
                   ".qml", ".sld"}  # .qml/.sld: the styles our exports carry
OWN_EXTRAS = {shapefile.GLOSSARY_NAME, shapefile.LONG_TEXT_NAME}
HEADER_SEARCH_ROWS = 10
# GDAL would turn the impossible date "2026-02-30" into 2026-03-02: read dates as text, validate them here.
GEOJSON_OPTIONS = {"DATE_AS_STRING": "YES"}
ARROW_TO_PANDAS = {"date_as_object": False}  # dates as datetime64, not one Python object each
OWN_TABLES = {*TABLE_NAMES.values(), STYLE_TABLE}  # history, inspections, fog events, styles in our GeoPackages


@dataclass
class RawLayer:
    file: str  # as problems name it, e.g. "台账.zip/fog_line.shp"
    name: str | None  # layer, sheet or KML folder name: may name the category
    frame: pd.DataFrame  # the file's columns, values as read
    rows: np.ndarray  # the row number shown for each record
    geometry: np.ndarray | None = None  # shapely geometries in ``crs``; None for a table
    crs: CRS | None = None
    crs_problem: str | None = None  # the file names a CRS that cannot be used


@dataclass
class ReadResult:
    layers: list[RawLayer] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: "ReadResult") -> None:
        self.layers += other.layers
        self.problems += other.problems
        self.warnings += other.warnings


def read_file(path: str | Path, name: str | None = None, schema: Schema | None = None, *,
              encoding: str | None = None, limits: UploadLimits = DEFAULT_LIMITS) -> ReadResult:
    """Every layer of the file at ``path`` (shown to users as ``name``), read in a child process within
    ``limits.read_seconds`` and ``limits.read_memory``."""
    path = Path(path)
    name = name or path.name
    try:
        packed = run_bounded(read_packed, path, name, schema, encoding, limits, name=name,
                             seconds=limits.read_seconds, memory=limits.read_memory)
    except ImportRefused as exc:
        return ReadResult(problems=exc.problems)
    return unpack(packed)


def read_packed(path: Path, name: str, schema: Schema | None, encoding: str | None, limits: UploadLimits) -> ReadResult:
    """``read_here`` in the form the child hands back: every layer's geometries as one Arrow array of
    WKB (pickling shapely geometries one by one cost more than reading them, 5 s at 100,000 patches)
    and its frame as an Arrow table where that round-trips exactly (pickled as buffers). GIS layers
    come from GDAL in that form already: no pandas or shapely objects are made in the child for them."""
    result = _read_raw(path, name, schema, encoding, limits)
    for layer in result.layers:
        if layer.geometry is not None and not _is_wkb(layer.geometry):
            layer.geometry = pa.array(shapely.to_wkb(np.asarray(layer.geometry, dtype=object)), pa.binary())
        if isinstance(layer.frame, pd.DataFrame):
            layer.frame = _as_table(layer.frame)
    return result


def _is_wkb(geometry) -> bool:
    return isinstance(geometry, (pa.Array, pa.ChunkedArray))


def _as_table(frame: pd.DataFrame) -> pd.DataFrame | pa.Table:
    """``frame`` as an Arrow table when ``to_pandas`` gives it back the same: string column names, a
    plain 0..n-1 index, no object columns (mixed cells of a sheet stay a frame)."""
    plain = (frame.index.equals(pd.RangeIndex(len(frame))) and frame.columns.is_unique
             and all(isinstance(c, str) for c in frame.columns) and not (frame.dtypes == object).any())
    return pa.Table.from_pandas(frame, preserve_index=False) if plain else frame


def unpack(result: ReadResult) -> ReadResult:
    """Layers with shapely geometries and pandas frames again (vectorised), from WKB arrays and Arrow
    tables (as GDAL gives them, or as ``read_packed`` made them)."""
    frames = {}  # a table two layers share (``_twin``) becomes one frame they share
    for layer in result.layers:
        if layer.geometry is not None and _is_wkb(layer.geometry):
            layer.geometry = shapely.from_wkb(layer.geometry.to_numpy(zero_copy_only=False))
        if isinstance(layer.frame, pa.Table):
            table = layer.frame
            if id(table) not in frames:
                frames[id(table)] = (table, table.to_pandas(**ARROW_TO_PANDAS))
            layer.frame = frames[id(table)][1]
    return result


def read_here(path: Path, name: str, schema: Schema | None, encoding: str | None, limits: UploadLimits) -> ReadResult:
    """``read_file`` in this process, without its time and memory limits."""
    return unpack(_read_raw(path, name, schema, encoding, limits))


def _read_raw(path: Path, name: str, schema: Schema | None, encoding: str | None, limits: UploadLimits) -> ReadResult:
    """Every layer of the file; GIS layers as GDAL reads them (Arrow table, WKB), others as frames."""
    suffix = Path(name).suffix.lower() or path.suffix.lower()
    try:
        if suffix in (".zip", ".kmz"):
            return _read_zip(path, name, schema, encoding, limits)
        return _read_one(path, name, suffix, schema, encoding, limits)
    except ImportRefused as exc:
        return ReadResult(problems=exc.problems)


def _refused(file: str, message: str) -> ReadResult:
    return ReadResult(problems=[Problem("", message, file=file)])


def _read_one(path: Path, name: str, suffix: str, schema: Schema | None, encoding: str | None,
              limits: UploadLimits) -> ReadResult:
    if suffix == ".shp":
        return _read_shapefile(path, name, encoding, schema)
    if suffix in GIS_SUFFIXES:
        return _read_gis(path, name, schema)
    if suffix == ".kml":
        return _read_kml(path.read_bytes(), name)
    if suffix == ".csv":
        return _read_csv(path, name, encoding)
    if suffix in (".xlsx", ".xlsm"):
        return _read_excel(path, name, schema, limits)
    if suffix == ".xls":
        return _refused(name, "不支持旧版 Excel(.xls)：请在 Excel 中另存为 .xlsx 后导入")
    return _refused(name, f"不支持的文件类型「{suffix or '无扩展名'}」；可导入：{SUPPORTED_TEXT}")


def _read_zip(path: Path, name: str, schema: Schema | None, encoding: str | None, limits: UploadLimits) -> ReadResult:
    """Check the zip and read every data file in it: shapefiles whose parts have plain names are read
    where they are (GDAL's ``/vsizip/``: the padded .dbf of an export was 1 GB written to disk and read
    back at 100,000 patches); every other member is unpacked into a temporary folder first."""
    members = zip_members(path, name, limits)
    in_zip = _shapefile_parts_in_zip(members)
    with tempfile.TemporaryDirectory(prefix="safetymap-import-") as tmp:
        files = safe_extract(path, tmp, name, limits, skip=in_zip)
        root = Path(tmp).resolve()
        long_texts = shapefile.long_texts_in(root)
        twins = {} if long_texts is not None else patch_twins.twin_sources(path, in_zip, root)
        parts: dict[str, ReadResult] = {}
        ordered = sorted(files + [root / member for member in in_zip])
        for file in ordered:
            member = file.relative_to(root).as_posix()
            if member not in in_zip:
                parts[member] = _read_member(file, f"{name}/{member}", name, schema, encoding, long_texts, limits)
            elif file.suffix == ".shp" and member not in twins:
                parts[member] = _restored(_read_shapefile(file, f"{name}/{member}", encoding, schema,
                                                          zipped=(path, member)), file, long_texts)
        for member, source in twins.items():
            parts[member] = _twin(parts[source], f"{name}/{member}", Path(member).stem) \
                or _read_shapefile(root / member, f"{name}/{member}", encoding, schema, zipped=(path, member))
    result = ReadResult()
    for file in ordered:
        result.extend(parts.get(file.relative_to(root).as_posix(), ReadResult()))
    if not result.layers and not result.problems:
        result.problems.append(Problem("", f"压缩包中没有可导入的数据文件（{SUPPORTED_TEXT}）", file=name))
    return result


def _twin(source: ReadResult, shown: str, layer: str) -> ReadResult | None:
    """A polygon layer that repeats ``source`` byte for byte (``patch_twins``) as ``source``'s rows (its
    Arrow table, not a copy) with empty polygons: their attributes are all the import takes from them.
    None when the source layer was refused or warned about: then the polygon layer is read on its own."""
    if source.problems or source.warnings or len(source.layers) != 1:
        return None
    rows = source.layers[0]
    empty = shapely.to_wkb(shapely.Polygon())
    geoms = pa.array([empty] * len(rows.rows), pa.binary())
    return ReadResult(layers=[RawLayer(shown, layer, rows.frame, rows.rows.copy(), geoms, rows.crs, rows.crs_problem)])


def _shapefile_parts_in_zip(members: list) -> set[str]:
    """The .shp, .shx and .dbf members read inside the zip: those of shapefiles whose three parts have
    plain ASCII names as stored (GDAL decodes other names its own way) with lower-case suffixes. Their
    sizes were checked from the zip's headers, and GDAL and ``zipfile`` read no more than those say."""
    plain = {n for info, n in members if n == info.filename and n.isascii() and "\\" not in n}
    stems = {n[:-4] for n in plain if n.endswith(".shp")}
    whole = {stem for stem in stems if f"{stem}.shx" in plain and f"{stem}.dbf" in plain}
    return {f"{stem}{suffix}" for stem in whole for suffix in (".shp", ".shx", ".dbf")}


def _read_member(file: Path, shown: str, archive: str, schema: Schema | None, encoding: str | None,
                 long_texts, limits: UploadLimits) -> ReadResult:
    """One unpacked file: a data file is read, a shapefile part or our own glossary skipped."""
    suffix = file.suffix.lower()
    if suffix in SHAPEFILE_PARTS:
        if suffix in (".shx", ".dbf") and shapefile.sidecar(file, ".shp") is None:
            return _refused(shown, f"缺少主文件 .shp（只有 {file.name}）")
        return ReadResult()
    if file.name in OWN_EXTRAS:
        return ReadResult()
    if suffix in (".zip", ".kmz") and Path(archive).suffix.lower() != ".kmz":
        return _refused(shown, "压缩包内不能再有压缩包，请解压后直接打包数据文件")
    if suffix not in SUPPORTED:
        return ReadResult(warnings=[f"已忽略压缩包中的文件 {shown}（不是可导入的数据文件）"])
    part = _read_one(file, shown, suffix, schema, encoding, limits)
    return _restored(part, file, long_texts) if suffix == ".shp" else part


def _restored(part: ReadResult, shp: Path, long_texts) -> ReadResult:
    """The texts our export cut to 254 bytes put back into the shapefile's layers."""
    if long_texts is not None:
        for layer in part.layers:
            frame = layer.frame.to_pandas(**ARROW_TO_PANDAS) if isinstance(layer.frame, pa.Table) else layer.frame
            layer.frame = shapefile.restore_long_texts(frame, shp.stem, long_texts)
    return part


# ---------------------------------------------------------------- GIS files (GDAL)
def _crs_of(crs: CRS | None, prj_missing: bool) -> tuple[CRS | None, str | None]:
    """(the layer's CRS, the problem with it: GDAL found a CRS definition it could not use)."""
    if crs is not None:
        return crs, None
    return None, None if prj_missing else "无法识别文件中的坐标系定义"


def _gis_layer(path: Path | str, shown: str, layer: str | None, schema: Schema | None, *,
               encoding: str | None = None, prj_missing: bool = False) -> RawLayer:
    """One layer as GDAL reads it: its frame an Arrow table, its geometries an Arrow array of WKB (made
    into pandas and shapely by ``unpack``, in the process that uses them). ``path`` may be a GDAL
    virtual path (``/vsizip/…``)."""
    options = GEOJSON_OPTIONS if str(path).lower().endswith((".geojson", ".json")) else {}
    info = pyogrio.read_info(path, layer=layer, encoding=encoding, **options)
    fields = list(info["fields"])
    columns = None
    if schema is not None:  # computed fields are derived again: not read at all
        skip = derived_columns(fields, schema)
        columns = [f for f in fields if f not in skip]
    if not _arrow_as_is(info, fields, columns):
        return _gis_layer_frame(path, shown, layer, encoding, columns, prj_missing, options)
    meta, table = pyogrio.read_arrow(path, layer=layer, encoding=encoding, columns=columns,
                                     datetime_as_string=True, **options)
    table.validate(full=True)  # text GDAL could not recode fails here (ArrowInvalid), not in the app
    geometry_name = meta["geometry_name"] or "wkb_geometry"
    geoms = table.column(geometry_name) if geometry_name in table.column_names else pa.nulls(len(table), pa.binary())
    frame = table.drop_columns([geometry_name]) if geometry_name in table.column_names else table
    crs, crs_problem = _crs_of(CRS.from_user_input(meta["crs"]) if meta["crs"] else None, prj_missing)
    return RawLayer(shown, layer, frame, np.arange(1, len(frame) + 1), geoms, crs, crs_problem)


def _arrow_as_is(info: dict, fields: list, columns: list | None) -> bool:
    """True when the Arrow table GDAL gives converts to the frame pyogrio would make without more work:
    no date-time read as text to be parsed, no JSON text (``read_dataframe`` treats those further)."""
    wanted = set(fields if columns is None else columns)
    return not any(name in wanted and ((dtype or "").startswith("datetime") and dtype != "datetime64[D]"
                                       or subtype == "OFSTJSON")
                   for name, dtype, subtype in zip(fields, info["dtypes"], info["ogr_subtypes"]))


def _gis_layer_frame(path, shown: str, layer: str | None, encoding: str | None, columns, prj_missing: bool,
                     options: dict) -> RawLayer:
    gdf = pyogrio.read_dataframe(path, layer=layer, encoding=encoding, columns=columns, use_arrow=True,
                                 arrow_to_pandas_kwargs=ARROW_TO_PANDAS, **options)
    geoms = gdf.geometry.to_numpy()
    crs, crs_problem = _crs_of(gdf.crs, prj_missing)
    frame = pd.DataFrame(gdf.drop(columns=[gdf.geometry.name]))
    return RawLayer(shown, layer, frame, np.arange(1, len(frame) + 1), geoms, crs, crs_problem)


def _read_shapefile(path: Path, shown: str, encoding: str | None, schema: Schema | None, *,
                    zipped: tuple[Path, str] | None = None) -> ReadResult:
    """One shapefile; ``zipped`` (zip, member): its .shp, .shx and .dbf are read inside that zip, the
    other parts (.cpg, .prj) beside ``path``, where they were unpacked."""
    missing = [] if zipped else shapefile.missing_parts(path)
    if missing:
        return _refused(shown, f"Shapefile 不完整，缺少{'、'.join(missing)}；请把同名的 .shp、.shx、.dbf、.prj"
                               "（和 .cpg）一起打包")
    open_dbf = functools.partial(_zip_member, zipped[0], f"{zipped[1][:-4]}.dbf") if zipped else None
    source = f"/vsizip/{{{zipped[0]}}}/{zipped[1]}" if zipped else path  # braces: a folder may be named *.zip
    prj = shapefile.sidecar(path, ".prj")
    prj_known = prj is None or shapefile.prj_is_known(prj)
    try:
        damage = shapefile.incomplete(*_shapefile_parts(path, zipped))
        if damage:
            return _refused(shown, damage)
        utf8 = shapefile.utf8_first(path, encoding, open_dbf) if prj_known else None
        if utf8 is not None:  # the usual case: read as UTF-8, checked as it is read
            try:
                return _shapefile_layer(path, source, shown, schema, shapefile.EncodingChoice(utf8), prj)
            except pa.ArrowInvalid:
                pass  # not UTF-8 after all: found the slow way, as any other encoding
        choice = shapefile.read_encoding(path, encoding, open_dbf)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        return _refused(shown, f"压缩包已损坏，无法解压（{exc}）")
    if choice.problem:
        return _refused(shown, choice.problem)
    if not prj_known:
        return _refused(shown, "未知坐标系：无法识别 .prj 中的坐标系定义；请改正 .prj，或删去它并指明坐标系")
    try:
        return _shapefile_layer(path, source, shown, schema, choice, prj)
    except pa.ArrowInvalid:  # GDAL passed on bytes it could not recode (a mixed-encoding .dbf)
        used = shapefile.encoding_label(choice.codec) if choice.codec else "声明的编码"
        return _refused(shown, f"属性表中有文字无法按 {used} 解码；请在 ArcGIS/QGIS 中另存为 UTF-8 后再导入")


def _shapefile_layer(path: Path, source, shown: str, schema: Schema | None, choice, prj: Path | None) -> ReadResult:
    """The shapefile's layer read with ``choice.codec`` (ArrowInvalid when its text does not decode)."""
    try:
        layer = _gis_layer(source, shown, None, schema, encoding=choice.codec, prj_missing=prj is None)
    except (DataSourceError, DataLayerError) as exc:
        return _refused(shown, f"Shapefile 无法读取（文件损坏？）：{exc}")
    layer.name = path.stem
    if prj is not None and layer.crs is None:
        layer.crs_problem = "未知坐标系：无法识别 .prj 中的坐标系定义"
    return ReadResult(layers=[layer], warnings=[f"{shown}：{choice.note}"] if choice.note else [])


def _shapefile_parts(shp: Path, zipped: tuple[Path, str] | None) -> list[shapefile.Part]:
    """The .shp, .shx and .dbf of the shapefile: in its zip (``zipped``: zip, member) or beside ``shp``."""
    if zipped is None:
        files = [shapefile.sidecar(shp, suffix) for suffix in (".shp", ".shx", ".dbf")]
        return [shapefile.Part(f.name, f.stat().st_size, functools.partial(open, f, "rb")) for f in files]
    archive, member = zipped
    with zipfile.ZipFile(archive) as zf:
        infos = [zf.getinfo(f"{member[:-4]}{suffix}") for suffix in (".shp", ".shx", ".dbf")]
    return [shapefile.Part(Path(i.filename).name, i.file_size, functools.partial(_zip_member, archive, i.filename))
            for i in infos]


@contextmanager
def _zip_member(zip_path: Path, member: str):
    """A zip member opened for reading, closing its zip with it."""
    with zipfile.ZipFile(zip_path) as zf, zf.open(member) as fh:
        yield fh


def _read_gis(path: Path, shown: str, schema: Schema | None) -> ReadResult:
    if path.suffix.lower() == ".gpkg":
        check_geopackage(path, shown)
    try:
        layers = pyogrio.list_layers(path)
    except (DataSourceError, DataLayerError) as exc:
        return _refused(shown, f"无法读取文件（格式不对或已损坏）：{exc}")
    ledger = _ledger_layout(path, shown, [str(n) for n, _ in layers], schema)
    if ledger is not None:
        return ledger
    result = ReadResult()
    for layer_name, geometry_type in layers:
        if geometry_type is None and layer_name in OWN_TABLES:
            continue
        if geometry_type is None:
            result.warnings.append(f"已忽略 {shown} 中的非空间表「{layer_name}」")
            continue
        try:
            layer = _gis_layer(path, shown if len(layers) == 1 else f"{shown}:{layer_name}", layer_name, schema)
        except (DataSourceError, DataLayerError) as exc:
            result.problems.append(Problem("", f"图层「{layer_name}」无法读取：{exc}", file=shown))
            continue
        result.layers.append(layer)
        result.extend(_source_geometry(layer))
    return result


def _source_geometry(layer: RawLayer) -> ReadResult:
    """A layer with a 源几何WKT column (our GeoJSON export: one polygon per patch) takes its geometries
    from that column, where given: the source line/point, from which the import derives the polygon.
    Returns the warnings and the problems (WKT that does not parse, by row)."""
    frame = layer.frame
    names = frame.column_names if isinstance(frame, pa.Table) else list(frame.columns)
    if SOURCE_WKT_COLUMN not in names:
        return ReadResult()
    if isinstance(frame, pa.Table):
        texts, layer.frame = frame.column(SOURCE_WKT_COLUMN).to_numpy(zero_copy_only=False), frame.drop_columns([SOURCE_WKT_COLUMN])
    else:
        texts, layer.frame = frame[SOURCE_WKT_COLUMN].to_numpy(dtype=object), frame.drop(columns=[SOURCE_WKT_COLUMN])
    given = np.array([isinstance(t, str) and bool(t.strip()) for t in texts], dtype=bool)
    sources = np.full(len(texts), None, dtype=object)
    sources[given] = shapely.from_wkt(texts[given], on_invalid="ignore")
    geoms = layer.geometry
    geoms = shapely.from_wkb(geoms.to_numpy(zero_copy_only=False)) if _is_wkb(geoms) else np.asarray(geoms, dtype=object)
    parsed = given & ~shapely.is_missing(sources)
    layer.geometry = np.where(parsed, sources, geoms)
    problems = [Problem(SOURCE_WKT_COLUMN, f"「{SOURCE_WKT_COLUMN}」不是可识别的 WKT 几何：{str(texts[i])[:40]}",
                        row=int(layer.rows[i]), file=layer.file) for i in np.flatnonzero(given & ~parsed)]
    return ReadResult(problems=problems, warnings=[f"{layer.file}：几何取自「{SOURCE_WKT_COLUMN}」列（路段线/桥梁点），"
                                                   "图斑面按规则重新生成"] if parsed.any() else [])


def _ledger_layout(path: Path, shown: str, names: list[str], schema: Schema | None) -> ReadResult | None:
    """A GeoPackage in the ledger's own layout (the QGIS project export's copy, edited in QGIS, or a copy of
    the live file): the attributes in one table per category (columns named by field key), the source
    line/point in ``patch_source``. Read as one layer per category with its source geometry (the patch
    polygon is derived again); archived patches are left out. None for any other GeoPackage."""
    if schema is None or SOURCE_TABLE not in names:
        return None
    categories = [c for c in schema.categories if c.table in names]
    if not categories:
        return None
    try:
        source = pyogrio.read_dataframe(path, layer=SOURCE_TABLE, columns=["code"])
        crs, crs_problem = _crs_of(source.crs, False)
        by_code = dict(zip(source["code"], source.geometry.to_numpy()))
        result = ReadResult(warnings=[f"{shown} 是台账格式的 GeoPackage：按类别图层读取属性，几何取自源几何图层"
                                      f"「{SOURCE_TABLE}」（路段线/桥梁点），图斑范围按规则重新生成"])
        for c in categories:
            fields = list(pyogrio.read_info(path, layer=c.table)["fields"])
            skip = derived_columns(fields, schema)
            columns = [f for f in fields if f in set(c.keys) and f not in skip]
            frame = pyogrio.read_dataframe(path, layer=c.table, columns=columns + ["archived"], read_geometry=False)
            archived = frame["archived"].fillna(0).astype(bool).to_numpy()
            if archived.any():
                result.warnings.append(f"{shown}:{c.table} 中 {int(archived.sum())} 个已归档图斑未读取")
            rows = np.flatnonzero(~archived) + 1
            frame = pd.DataFrame(frame.loc[~archived, columns]).reset_index(drop=True)
            frame.insert(0, CATEGORY_COLUMN, c.label)
            geoms = np.array([by_code.get(code) for code in frame["code"]], dtype=object)
            result.layers.append(RawLayer(f"{shown}:{c.table}", c.table, frame, rows, geoms, crs, crs_problem))
    except (DataSourceError, DataLayerError) as exc:
        return _refused(shown, f"台账格式的 GeoPackage 无法读取：{exc}")
    return result


def _read_kml(data: bytes, shown: str) -> ReadResult:
    try:
        folders = kml.read_kml_bytes(data)
    except KmlTooDeep as exc:
        return _refused(shown, f"KML 中的{exc.what}嵌套超过 {kml.MAX_DEPTH} 层，已拒绝（正常的地标不会嵌套这么深）")
    except (kml.ET.ParseError, ValueError) as exc:
        return _refused(shown, f"KML 文件格式不对，无法解析：{exc}")
    if not folders:
        return _refused(shown, "KML 中没有地标（Placemark）")
    layers = [RawLayer(shown if folder is None else f"{shown}:{folder}", folder, frame,
                       np.arange(1, len(frame) + 1), geoms, CRS.from_user_input(kml.KML_CRS))
              for folder, frame, geoms in folders]
    return ReadResult(layers=layers)


# ---------------------------------------------------------------- tables
CSV_FALLBACKS = (None, "gb18030")  # None: UTF-8, then GBK (``read_csv_text``)


def _csv_text(path: Path, shown: str, encoding: str | None) -> tuple[pd.DataFrame, str | None]:
    """(frame, note): read with the named encoding, else UTF-8, GBK, GB18030 in turn."""
    attempts = ([encoding] if encoding else []) + [e for e in CSV_FALLBACKS if e is None or e != encoding]
    for attempt in attempts:
        try:
            frame, used = read_csv_text(path, attempt)
        except UnicodeDecodeError:
            continue
        if encoding and attempt != encoding:
            return frame, (f"按指定的编码 {shapefile.encoding_label(encoding)} 无法解码，"
                           f"已按 {shapefile.encoding_label(used)} 读取；请核对导入预览中的中文")
        return frame, "按 GBK 编码读取" if used == "gbk" and not encoding else None
    named = [encoding] if encoding else []
    tried = "、".join(dict.fromkeys(shapefile.encoding_label(e) for e in [*named, "utf-8", "gbk", "gb18030"]))
    raise ImportRefused([Problem("", f"CSV 文件按 {tried} 都无法解码；请另存为 UTF-8 编码的 CSV", file=shown)])


def _read_csv(path: Path, shown: str, encoding: str | None) -> ReadResult:
    try:
        frame, note = _csv_text(path, shown, encoding)
    except ImportRefused as exc:  # here, not in ``read_file``: the other files of a zip are still read
        return ReadResult(problems=exc.problems)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return _refused(shown, f"CSV 文件格式不对：{exc}")
    warnings = [f"{shown} {note}"] if note else []
    if WKT_COLUMN in frame.columns:
        warnings.append(f"{shown}：「{WKT_COLUMN}」列（导出时的图斑面）不导入；几何取自路线桩号或台账中已有的几何")
    frame = frame.drop(columns=[c for c in GIS_ONLY_COLUMNS if c in frame.columns])  # derived on export
    return ReadResult(layers=[RawLayer(shown, None, frame, np.arange(2, len(frame) + 2))], warnings=warnings)


def _header_index(rows: list[tuple], schema: Schema | None) -> int | None:
    """The first of the top rows with at least two known column names (a title row may come first)."""
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = [v for v in row if isinstance(v, str) and v.strip()]
        if schema is None or sum(known_column(v, schema) for v in names) >= 2:
            return i if names else None
    return None


def _sheet_layer(sheet: str, rows: list[tuple], shown: str, schema: Schema | None) -> RawLayer | None:
    header = _header_index(rows, schema)
    if header is None:
        return None
    body = rows[header + 1:]
    width = max(len(r) for r in rows[header:])  # without <dimension>, a row may be wider than the header
    cells = list(rows[header]) + [None] * (width - len(rows[header]))
    names = [str(v).strip() if v is not None else f"列{i + 1}" for i, v in enumerate(cells)]
    numbers = np.arange(header + 2, header + 2 + len(body))
    keep = [i for i, r in enumerate(body) if any(v is not None and str(v).strip() for v in r)]
    frame = pd.DataFrame([list(body[i]) + [None] * (len(names) - len(body[i])) for i in keep],
                         columns=names, dtype=object) if keep else pd.DataFrame(columns=names, dtype=object)
    return RawLayer(f"{shown}:{sheet}", sheet, frame, numbers[keep])


def _sheet_rows(ws, shown: str, limits: UploadLimits, budget: int) -> list[tuple]:
    """The sheet's rows, streamed, refused as soon as a cap is passed (a sheet's <dimension> may be
    missing or lie, so rows and cells are counted as they come)."""
    rows = []
    for row in ws.iter_rows(values_only=True):
        if len(rows) >= limits.max_rows:
            raise refuse(shown, f"工作表「{ws.title}」超过 {limits.max_rows} 行的上限，已停止读取；请拆分后分批导入")
        if len(row) > limits.max_columns:
            raise refuse(shown, f"工作表「{ws.title}」第 {len(rows) + 1} 行有 {len(row)} 个单元格，"
                                f"超过 {limits.max_columns} 列的上限；请删去多余的列")
        budget -= len(row)
        if budget < 0:
            raise refuse(shown, f"Excel 文件超过 {limits.max_cells} 个单元格的上限，已停止读取；请拆分后分批导入")
        rows.append(tuple(restore(v) for v in row))  # text this app made inert, given back as it was
    return rows


def read_sheets(path: Path, shown: str | None = None, limits: UploadLimits = LOCAL_LIMITS) -> list[tuple[str, list[tuple]]]:
    """(sheet name, rows of cell values) for every sheet but the summary and the plain GIS table (the
    category sheets hold the same rows), within ``limits``."""
    shown = shown or Path(path).name
    zip_members(path, shown, limits)  # an .xlsx is a zip: the same bomb checks first
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        sheets, budget = [], limits.max_cells
        for ws in wb.worksheets:
            if ws.title in (SUMMARY_SHEET, TABLE_SHEET):
                continue
            ws.reset_dimensions()  # rows as stored, not padded to a declared (maybe huge) width
            rows = _sheet_rows(ws, shown, limits, budget)
            budget -= sum(len(r) for r in rows)
            sheets.append((ws.title, rows))
        return sheets
    finally:
        wb.close()


def _read_excel(path: Path, shown: str, schema: Schema | None, limits: UploadLimits) -> ReadResult:
    try:
        sheets = read_sheets(path, shown, limits)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, InvalidFileException) as exc:
        return _refused(shown, f"Excel 文件无法读取（格式不对或已损坏）：{exc}")
    result = ReadResult()
    for sheet, rows in sheets:
        layer = _sheet_layer(sheet, rows, shown, schema)
        if layer is None:
            result.warnings.append(f"工作表「{sheet}」前 {HEADER_SEARCH_ROWS} 行中没有找到表头，已忽略")
        else:
            result.layers.append(layer)
    if not result.layers:
        result.problems.append(Problem("", "Excel 文件中没有可导入的工作表（需要中文表头，如 图斑编号、名称）", file=shown))
    return result
