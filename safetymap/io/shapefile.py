"""Shapefile export: a zip with one shapefile per category and geometry type (a polygon written into a
line file is silently degraded by GDAL), ASCII field names from the schema, a field glossary
(字段对照表), ``.prj`` for EPSG:4490, ``.cpg`` for the encoding, and per layer a QGIS style ``.qml``
(loaded by QGIS with the layer) and an SLD ``.sld``. Text fields are as wide as the schema allows, so a
longer value typed later in ArcGIS or QGIS is not cut to the longest exported one."""
from __future__ import annotations

import codecs
import functools
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from ..errors import Problem, ValidationError
from ..schema import Category, Schema
from ..styles import qml, sld
from .tables import by_category, labelled

MAX_FIELD_BYTES = 254
ENCODINGS = {"utf-8": "UTF-8", "utf8": "UTF-8", "gbk": "cp936", "cp936": "cp936", "gb2312": "cp936"}
GEOMETRY_PARTS = {"patch": ("Polygon", 3), "line": ("LineString", 1), "point": ("Point", 0)}  # layer suffix: GDAL type, shapely type id
STYLE_KINDS = {"patch": "polygon", "line": "line", "point": "point"}
# Widths in bytes of fields written as fixed texts (是/否, K12+350.25, 2026-01-01 08:00:00).
TEXT_WIDTHS = {"bool": 3, "stake": 24, "datetime": 19}
GLOSSARY_NAME = "字段对照表.csv"
LONG_TEXT_NAME = "超长文本.csv"
# Coordinates (binary doubles) shrink by about a third and take most of the time to deflate: stored as is.
STORED_SUFFIXES = {".shp": zipfile.ZIP_STORED}
ZIP_LEVEL = 1  # the .dbf shrinks about tenfold already at level 1, twice as fast as the default 6


@dataclass
class ShapefileExport:
    path: Path
    layers: list[str]
    long_texts: pd.DataFrame  # code, layer, field, bytes, full text: values cut to fit 254 bytes

    @property
    def warnings(self) -> list[str]:
        unique = self.long_texts.drop_duplicates(["code", "field"])
        return [f"图斑 {r.code} 的「{r.label}」有 {r.bytes} 字节，超过 shapefile 的 {MAX_FIELD_BYTES} 字节上限，"
                f"在 .dbf 中截断，全文见 {LONG_TEXT_NAME}" for r in unique.itertuples()]


def python_encoding(encoding: str) -> str:
    try:
        return ENCODINGS[encoding.lower()]
    except KeyError:
        raise ValidationError([Problem("编码", f"不支持的编码「{encoding}」，可选 utf-8 或 gbk")]) from None


def attribute_table(category: Category, frame: pd.DataFrame) -> pd.DataFrame:
    """The category's fields under their shapefile names: stakes as K12+350 text, booleans as 是/否,
    dates as dBASE dates, times as text."""
    return labelled(category, frame, "shp", name=lambda f: f.shp)


def _too_long(values: pa.ChunkedArray, codec: str) -> np.ndarray:
    """Positions of texts over 254 bytes in ``codec`` (UTF-8 lengths in C; GBK is never longer than UTF-8,
    so only those candidates are encoded one by one)."""
    utf8 = pc.fill_null(pc.binary_length(values), 0).to_numpy()
    candidates = np.flatnonzero(utf8 > MAX_FIELD_BYTES)
    if codec == "UTF-8" or not len(candidates):
        return candidates
    return np.array([i for i in candidates if len(values[int(i)].as_py().encode(codec)) > MAX_FIELD_BYTES], dtype=int)


def _fit_text(table: pd.DataFrame, arrow: pa.Table, category: Category, codec: str) -> tuple[pa.Table, list[dict]]:
    """Cut texts over 254 encoded bytes at a character boundary, and list each one (never silently)."""
    long_rows = []
    for f in category.fields:
        if f.type not in ("str", "text", "enum"):
            continue
        column = table.columns.get_loc(f.shp)
        too_long = _too_long(arrow.column(column), codec)
        for i in too_long:
            value = str(table.iat[i, column])
            encoded = value.encode(codec)
            long_rows.append({"index": table.index[i], "field": f.shp, "label": f.label, "bytes": len(encoded),
                              "text": value})
            table.iat[i, column] = encoded[:MAX_FIELD_BYTES].decode(codec, errors="ignore")
        if len(too_long):
            arrow = arrow.set_column(column, arrow.schema.field(column), pa.array(table[f.shp], type=pa.string()))
    return arrow, long_rows


def _encoding_problems(table: pd.DataFrame, category: Category, codes: pd.Series, codec: str) -> list[Problem]:
    """Texts that GBK cannot hold (each column is tried whole first; only a failing one value by value)."""
    problems = []
    for f in category.fields:
        texts = table[f.shp][table[f.shp].map(type) == str]
        try:
            "\n".join(texts).encode(codec)
            continue
        except UnicodeEncodeError:
            pass
        for idx, value in texts.items():
            try:
                value.encode(codec)
            except UnicodeEncodeError as exc:
                problems.append(Problem(f.label, f"图斑 {codes[idx]} 的文字「{exc.object[exc.start:exc.end]}」"
                                                 f"无法用 GBK 编码，请改用 UTF-8 导出"))
    return problems


def glossary(schema: Schema, layers: dict[str, Category]) -> pd.DataFrame:
    rows = []
    for layer, c in layers.items():
        for f in c.fields:
            rows.append({"文件": f"{layer}.shp", "类别": c.label, "短字段名": f.shp, "字段键": f.key,
                         "中文名": f.label, "单位": f.unit, "类型": f.type,
                         "可选值": schema.separator.join(f.values)})
    return pd.DataFrame(rows)


class _Zipper:
    """Adds files to the zip in a background thread while GDAL writes the next layer (zlib and GDAL
    both release the GIL); the zip is only touched from that one thread."""

    def __init__(self, path: Path):
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="safetymap-zip")
        self.pending = []

    def add(self, files: list[Path]) -> None:
        self.pending.append(self.pool.submit(self._write, files))

    def _write(self, files: list[Path]) -> None:
        for file in files:
            self.zip.write(file, file.name, compress_type=STORED_SUFFIXES.get(file.suffix))

    def close(self) -> None:
        try:
            for job in self.pending:
                job.result()  # re-raises an error of the zip thread here
        finally:
            self.pool.shutdown()
            self.zip.close()


ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "date": pa.date32()}


def arrow_schema(category: Category) -> pa.Schema:
    """The Arrow types of the attribute table: texts for everything shown as text (stakes, 是/否, times)."""
    return pa.schema([pa.field(f.shp, ARROW_TYPES.get(f.type, pa.string())) for f in category.fields])


def field_width(f, separator: str) -> int:
    """The .dbf width (bytes) a text field needs for any value the schema allows: every allowed value
    of an enum (all of them joined, for a multiple choice), a fixed text's size, or 254 for free text."""
    if f.type == "enum" and f.values:
        sizes = [len(v.encode()) for v in f.values]
        wanted = sum(sizes) + len(separator.encode()) * (len(sizes) - 1) if f.multiple else max(sizes)
    else:
        wanted = TEXT_WIDTHS.get(f.type, MAX_FIELD_BYTES)
    return min(wanted, MAX_FIELD_BYTES)


def with_widths(arrow: pa.Table, category: Category, separator: str) -> pa.Table:
    """Each text field as wide as the schema allows (and never narrower than its longest value): GDAL
    would otherwise make it as wide as the longest value written, cutting a longer one typed later."""
    widths = {f.shp: field_width(f, separator) for f in category.fields}
    fields = []
    for field, column in zip(arrow.schema, arrow.columns):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            longest = pc.max(pc.binary_length(column)).as_py() or 1  # UTF-8 bytes: never fewer than GBK
            width = min(max(longest, widths.get(field.name, MAX_FIELD_BYTES)), MAX_FIELD_BYTES)
            field = field.with_metadata({"GDAL:OGR:width": str(width)})
        fields.append(field)
    return pa.Table.from_arrays(arrow.columns, schema=pa.schema(fields))


def write_styles(folder: Path, layer: str, schema: Schema, category: Category, suffix: str) -> None:
    """``layer.qml`` and ``layer.sld`` beside the layer's shapefile (by grade; a facility by its marker)."""
    kind = STYLE_KINDS[suffix]
    (folder / f"{layer}.qml").write_text(qml(schema, category, kind), encoding="utf-8")
    (folder / f"{layer}.sld").write_text(sld(schema, category, kind, layer), encoding="utf-8")


def _write_layer(arrow: pa.Table, geoms, path: Path, geom_type: str, codec: str, crs) -> None:
    wkb = pa.array(shapely.to_wkb(geoms, output_dimension=2), type=pa.binary())
    arrow = arrow.append_column(pa.field("geometry", pa.binary(), metadata={"ARROW:extension:name": "geoarrow.wkb"}), wkb)
    pyogrio.write_arrow(arrow, path, driver="ESRI Shapefile", geometry_name="geometry", geometry_type=geom_type,
                        crs=crs.to_wkt() if crs is not None else None, encoding=codec)


def _layer_parts(part: gpd.GeoDataFrame):
    """(layer suffix, GDAL geometry type, mask, geometries) of each geometry type the rows have."""
    for suffix, (geom_type, type_id) in GEOMETRY_PARTS.items():
        geoms = part.geometry if suffix == "patch" else part["source_geometry"]
        mask = shapely.get_type_id(geoms.to_numpy()) == type_id
        if mask.any():
            yield suffix, geom_type, mask, geoms[mask].to_numpy()


def export_shapefile(frame: gpd.GeoDataFrame, out_zip: str | Path, schema: Schema, *,
                     encoding: str = "utf-8") -> ShapefileExport:
    """Write patches (as read from the store) to a zipped set of shapefiles."""
    codec = python_encoding(encoding)
    out_zip = Path(out_zip)
    tables = [(c, part, attribute_table(c, part)) for c, part in by_category(frame, schema)]
    if codec != "UTF-8":
        problems = [p for c, part, table in tables for p in _encoding_problems(table, c, part["code"], codec)]
        if problems:
            raise ValidationError(problems)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    partial = out_zip.with_name(out_zip.name + ".part")
    layers: dict[str, Category] = {}
    long_rows: list[dict] = []
    try:
        with tempfile.TemporaryDirectory(prefix="safetymap-shp-") as tmp:
            tmp = Path(tmp)
            zipper = _Zipper(partial)
            try:
                for c, part, table in tables:
                    arrow = pa.Table.from_pandas(table, schema=arrow_schema(c), preserve_index=False)
                    arrow, long_texts = _fit_text(table, arrow, c, codec)
                    arrow = with_widths(arrow, c, schema.separator)
                    for suffix, geom_type, mask, geoms in _layer_parts(part):
                        layer = f"{c.key}_{suffix}"
                        _write_layer(arrow.filter(pa.array(mask)), geoms, tmp / f"{layer}.shp", geom_type, codec,
                                     frame.crs)
                        write_styles(tmp, layer, schema, c, suffix)
                        zipper.add(sorted(tmp.glob(f"{layer}.*")))
                        layers[layer] = c
                        rows = set(table.index[mask])
                        long_rows += [{"code": part["code"].loc[r["index"]], "layer": layer, **r}
                                      for r in long_texts if r["index"] in rows]
                long_table = pd.DataFrame(long_rows, columns=["code", "layer", "field", "label", "bytes", "text"])
                glossary(schema, layers).to_csv(tmp / GLOSSARY_NAME, index=False, encoding="utf-8-sig")
                extras = [tmp / GLOSSARY_NAME]
                if len(long_table):
                    long_table.to_csv(tmp / LONG_TEXT_NAME, index=False, encoding="utf-8-sig")
                    extras.append(tmp / LONG_TEXT_NAME)
                zipper.add(extras)
            finally:
                zipper.close()
        partial.replace(out_zip)
    finally:
        partial.unlink(missing_ok=True)
    return ShapefileExport(out_zip, list(layers), long_table)


# ---------------------------------------------------------------- reading (checks before GDAL opens it)
REQUIRED_PARTS = {".shx": "索引文件 .shx", ".dbf": "属性表 .dbf"}
DBF_LDID_OFFSET = 29  # dBASE language driver id; 0 = not given


def sidecar(shp: Path, suffix: str) -> Path | None:
    """The file beside ``shp`` with the same stem and ``suffix``, whatever the letter case."""
    for candidate in shp.parent.glob(f"{shp.stem}.*"):
        if candidate.stem == shp.stem and candidate.suffix.lower() == suffix:
            return candidate
    return None


def missing_parts(shp: Path) -> list[str]:
    """The required parts of a shapefile that are not beside it (.prj is checked with the CRS)."""
    return [label for suffix, label in REQUIRED_PARTS.items() if sidecar(shp, suffix) is None]


# .shp and .shx: a 100-byte header whose bytes 24-27 hold the file's length in 16-bit words (big-endian);
# then in the .shx one 8-byte entry per shape: its offset and content length in the .shp, in words.
MAIN_HEADER = 100
SHX_ENTRY = 8
SHP_RECORD_HEADER = 8
DAMAGED = "文件不完整或已损坏；请重新导出，或把完整的文件重新打包后导入"


@dataclass(frozen=True)
class Part:
    """One file of a shapefile, beside it or in its zip: the name messages give it, its size, how to open it."""
    name: str
    size: int
    open: Callable[[], BinaryIO]

    def head(self, n: int) -> bytes:
        with self.open() as fh:
            return fh.read(n)


def _declared_bytes(part: Part) -> int:
    """The length a .shp or .shx header gives for its file (0 when the header itself is cut)."""
    head = part.head(MAIN_HEADER)
    return int.from_bytes(head[24:28], "big") * 2 if len(head) == MAIN_HEADER else 0


def _whole_shapes(shp: Part, shx: Part, count: int) -> int:
    """How many of the ``count`` shapes the .shx indexes lie wholly within the .shp's bytes."""
    with shx.open() as fh:
        fh.read(MAIN_HEADER)
        index = np.frombuffer(fh.read(count * SHX_ENTRY), dtype=">i4").reshape(-1, 2).astype(np.int64) * 2
    ends = index[:, 0] + SHP_RECORD_HEADER + index[:, 1]
    inside = ends <= shp.size
    return int(np.argmin(inside)) if not inside.all() else count


def incomplete(shp: Part, shx: Part, dbf: Part) -> str | None:
    """What is missing when a part of the shapefile was cut short (a copy or download that stopped), judged
    from the headers and sizes before GDAL opens it: GDAL would read a cut .dbf only up to where it stops,
    without a word, and a cut .shp as shapes without geometry."""
    shx_bytes = _declared_bytes(shx)
    if shx.size < max(shx_bytes, MAIN_HEADER):
        whole = max(shx.size - MAIN_HEADER, 0) // SHX_ENTRY
        declared = max(shx_bytes - MAIN_HEADER, 0) // SHX_ENTRY
        return f"{shx.name} 只有 {whole} 个图形的索引，而文件头记载 {declared} 个：{DAMAGED}"
    shapes = (shx_bytes - MAIN_HEADER) // SHX_ENTRY
    if shp.size < max(_declared_bytes(shp), MAIN_HEADER):
        return (f"{shp.name} 只有前 {_whole_shapes(shp, shx, shapes)} 个图形完整，而 {shx.name} 索引了 {shapes} 个："
                f"{DAMAGED}")
    head = dbf.head(12)
    if len(head) < 12:
        return f"{dbf.name} 连文件头都不完整（只有 {dbf.size} 字节）：{DAMAGED}"
    declared = int.from_bytes(head[4:8], "little")
    header_bytes, record_bytes = int.from_bytes(head[8:10], "little"), int.from_bytes(head[10:12], "little")
    whole = min(declared, max(dbf.size - header_bytes, 0) // max(record_bytes, 1))
    if whole != shapes:
        said = f"（其文件头记载 {declared} 条）" if whole != declared else ""
        fewer = "只有" if whole < shapes else "有"
        return f"{dbf.name} {fewer} {whole} 条记录{said}，而 {shp.name} 有 {shapes} 个图形：{DAMAGED}"
    return None


ANSI_LDID = 0x57  # ArcGIS: "the system's ANSI code page" — unknown here (GDAL would read it as Latin-1)
GBK_LDIDS = {0x4D, 0x7A}  # code page 936
# Tried after a declared encoding that does not fit. GBK text is almost never valid UTF-8, but UTF-8
# text often decodes as (garbled) GBK: with nothing declared, UTF-8 is tried first.
FALLBACKS = ("cp936", "GB18030", "UTF-8")
UNDECLARED_ORDER = ("UTF-8", "cp936", "GB18030")
ENCODING_LABELS = {"utf-8": "UTF-8", "utf8": "UTF-8", "utf-8-sig": "UTF-8", "cp936": "GBK", "gbk": "GBK",
                   "gb18030": "GB18030"}
CPG_CODECS = ENCODINGS | {"65001": "UTF-8", "936": "cp936", "ansi 936": "cp936", "gb18030": "GB18030",
                          "54936": "GB18030"}


def encoding_label(codec: str) -> str:
    """How users know an encoding: UTF-8, GBK, GB18030."""
    return ENCODING_LABELS.get(codec.lower(), codec)


@dataclass
class EncodingChoice:
    codec: str | None  # what to read the .dbf with; None lets GDAL use the .cpg or the dBASE code page
    problem: str | None = None
    note: str | None = None  # how the encoding was found, for the preview


DECODE_CHUNK = 1 << 20  # decoded a megabyte at a time: the whole text as str took 2-3x the file in memory


def _dbf_opener(shp: Path, open_dbf=None):
    """How to open the .dbf's bytes: the file beside ``shp``, or ``open_dbf`` (a member of a zip)."""
    return open_dbf or (lambda: open(sidecar(shp, ".dbf"), "rb"))


def _decodes(open_dbf, codec: str) -> bool:
    """True when the .dbf's text (after its header) decodes with ``codec``, read a chunk at a time."""
    decoder = codecs.getincrementaldecoder(codec)()
    with open_dbf() as fh:
        head = fh.read(10)
        fh.seek(int.from_bytes(head[8:10], "little") if len(head) >= 10 else len(head))  # past the header
        try:
            while chunk := fh.read(DECODE_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _declared(shp: Path, encoding: str | None, open_dbf) -> tuple[str | None, str, bool]:
    """(declared codec, where it was declared, whether it is known at all) from the user, the .cpg
    or the .dbf's language driver byte."""
    if encoding:
        return python_encoding(encoding), "指定的编码", True
    cpg = sidecar(shp, ".cpg")
    if cpg is not None:
        text = cpg.read_bytes().decode("latin-1").strip().lower()
        return CPG_CODECS.get(text), ".cpg", text in CPG_CODECS
    with open_dbf() as fh:
        ldid = fh.read(DBF_LDID_OFFSET + 1)[DBF_LDID_OFFSET:]
    if ldid and ldid[0] in GBK_LDIDS:
        return "cp936", ".dbf 语言驱动", True
    if ldid and ldid[0] == ANSI_LDID:
        return None, f".dbf 语言驱动 0x{ANSI_LDID:02X}（ANSI，未指明代码页）且无 .cpg", True
    return None, "", not ldid or ldid[0] == 0


def read_encoding(shp: Path, encoding: str | None, open_dbf=None) -> EncodingChoice:
    """The encoding to read the .dbf with: the declared one if the text decodes with it, else the first
    of GBK, GB18030, UTF-8 that does (and the preview says so). A .dbf that declares nothing (no .cpg,
    no language driver), whose text is not UTF-8, needs the user to name its encoding. ``open_dbf`` opens
    the .dbf's bytes when they are not beside ``shp`` (a shapefile read inside its zip)."""
    text = _dbf_opener(shp, open_dbf)
    declared, where, known = _declared(shp, encoding, text)
    if not known:
        return EncodingChoice(None)  # a code page GDAL knows and we do not: GDAL reads it
    first = _first_codec(declared, where)
    if first is not None and _decodes(text, first):
        return EncodingChoice(first)
    if declared is None and not where:  # nothing declared at all
        return EncodingChoice(None, "缺少 .cpg 编码文件，属性表中的文字也不是 UTF-8（可能是 GBK）；"
                                    "请补上 .cpg，或指明编码（命令行 --encoding gbk，页面上选择 GBK）")
    order = UNDECLARED_ORDER if declared is None else [c for c in FALLBACKS if c != declared]
    found = next((c for c in order if _decodes(text, c)), None)
    tried = "、".join(encoding_label(c) for c in ([declared] if declared else []) + list(order))
    if found is None:
        return EncodingChoice(None, f"属性表中的文字按 {tried} 都无法解码（文件损坏，或是其他编码）；"
                                    "请在 ArcGIS/QGIS 中另存为 UTF-8 后再导入")
    if declared is None:
        return EncodingChoice(found, note=f"{where}：检测为 {encoding_label(found)} 编码，已按 {encoding_label(found)} 读取")
    return EncodingChoice(found, note=f"{where} {encoding_label(declared)} 无法解码属性表中的文字，"
                                      f"已按 {encoding_label(found)} 读取；请核对导入预览中的中文")


def _first_codec(declared: str | None, where: str) -> str | None:
    """The codec ``read_encoding`` tries first: the declared one, or UTF-8 when nothing is declared at all."""
    return "UTF-8" if declared is None and not where else declared


def utf8_first(shp: Path, encoding: str | None, open_dbf=None) -> str | None:
    """The codec ``read_encoding`` tries first when that is UTF-8 (declared so, or nothing declared), else
    None. A .dbf read as UTF-8 whose text then proves valid (Arrow checks it) needs no decoding pass of
    its own; one that is not goes through ``read_encoding``."""
    declared, where, known = _declared(shp, encoding, _dbf_opener(shp, open_dbf))
    first = _first_codec(declared, where) if known else None
    return first if first is not None and codecs.lookup(first).name == "utf-8" else None


def prj_is_known(prj: Path) -> bool:
    """True when pyproj understands the .prj (GDAL refuses to open a shapefile whose .prj it cannot parse)."""
    return _wkt_is_known(prj.read_bytes().decode("latin-1"))


@functools.lru_cache(maxsize=64)
def _wkt_is_known(wkt: str) -> bool:
    """Parsing a WKT takes pyproj ~20 ms; an export's 20-odd layers share one .prj text."""
    try:
        CRS.from_wkt(wkt)
    except CRSError:
        return False
    return True


def long_texts_in(folder: Path) -> pd.DataFrame | None:
    """The full texts an export of ours cut to fit 254 bytes (``超长文本.csv``), if the folder has them."""
    path = next((p for p in folder.rglob(LONG_TEXT_NAME)), None)
    if path is None:
        return None
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def restore_long_texts(frame: pd.DataFrame, layer: str, long_texts: pd.DataFrame | None) -> pd.DataFrame:
    """Put back, by code and short field name, the full texts that were cut in ``layer``."""
    if long_texts is None or not len(long_texts) or "CODE" not in frame.columns:
        return frame
    rows = long_texts[long_texts["layer"] == layer]
    if not len(rows):
        return frame
    frame = frame.copy()
    position = {code: i for i, code in enumerate(frame["CODE"])}
    for r in rows.itertuples():
        if r.code in position and r.field in frame.columns:
            frame.iloc[position[r.code], frame.columns.get_loc(r.field)] = r.text
    return frame
