"""Shapefile export: a zip with one shapefile per category and geometry type (a polygon written into a
line file is silently degraded by GDAL), ASCII field names from the schema, a field glossary
(字段对照表), ``.prj`` for EPSG:4490 and ``.cpg`` for the encoding."""
from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from ..errors import Problem, ValidationError
from ..geo import format_stake
from ..schema import Category, Schema

MAX_FIELD_BYTES = 254
DATE32 = pd.ArrowDtype(pa.date32())
ENCODINGS = {"utf-8": "UTF-8", "utf8": "UTF-8", "gbk": "cp936", "cp936": "cp936", "gb2312": "cp936"}
GEOMETRY_PARTS = {"patch": ("Polygon", "图斑"), "line": ("LineString", "源线"), "point": ("Point", "源点")}
GLOSSARY_NAME = "字段对照表.csv"
LONG_TEXT_NAME = "超长文本.csv"


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
    dates as dates."""
    out = {}
    for f in category.fields:
        values = frame[f.key] if f.key in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        if f.type == "stake":
            values = values.map(format_stake).astype(object)
        elif f.type == "bool":
            values = values.map(lambda v: None if pd.isna(v) else ("是" if v else "否")).astype(object)
        elif f.type == "datetime":
            values = values.map(lambda v: None if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d %H:%M:%S")).astype(object)
        elif f.type == "date":
            values = pd.to_datetime(values).dt.date.astype(DATE32)  # written as a dBASE Date
        out[f.shp] = values
    return pd.DataFrame(out, index=frame.index)


def _fit_text(table: pd.DataFrame, category: Category, codes: pd.Series, layer: str, codec: str):
    """Cut texts over 254 encoded bytes at a character boundary, and list each one (never silently)."""
    long_rows = []
    for f in category.fields:
        if f.type not in ("str", "text", "enum"):
            continue
        col = table[f.shp]
        for idx, value in col.items():
            if value is None or pd.isna(value):
                continue
            encoded = str(value).encode(codec)
            if len(encoded) > MAX_FIELD_BYTES:
                long_rows.append({"code": codes[idx], "layer": layer, "field": f.shp, "label": f.label,
                                  "bytes": len(encoded), "text": str(value)})
                table.at[idx, f.shp] = encoded[:MAX_FIELD_BYTES].decode(codec, errors="ignore")
    return long_rows


def _encoding_problems(table: pd.DataFrame, category: Category, codes: pd.Series, codec: str) -> list[Problem]:
    problems = []
    for f in category.fields:
        for idx, value in table[f.shp].items():
            if isinstance(value, str):
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


def export_shapefile(frame: gpd.GeoDataFrame, out_zip: str | Path, schema: Schema, *,
                     encoding: str = "utf-8") -> ShapefileExport:
    """Write patches (as read from the store) to a zipped set of shapefiles."""
    codec = python_encoding(encoding)
    out_zip = Path(out_zip)
    layers: dict[str, Category] = {}
    long_rows: list[dict] = []
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="safetymap-shp-") as tmp:
        tmp = Path(tmp)
        for c in schema.categories:
            part = frame[frame["category"] == c.key]
            if not len(part):
                continue
            table = attribute_table(c, part)
            problems += _encoding_problems(table, c, part["code"], codec) if codec != "UTF-8" else []
            for suffix, (geom_type, _label) in GEOMETRY_PARTS.items():
                geoms = part.geometry if suffix == "patch" else part["source_geometry"]
                mask = (shapely.get_type_id(geoms.to_numpy()) == {"Polygon": 3, "LineString": 1, "Point": 0}[geom_type])
                if not mask.any():
                    continue
                layer = f"{c.key}_{suffix}"
                sub = table[mask].copy()
                long_rows += _fit_text(sub, c, part["code"], layer, codec)
                gdf = gpd.GeoDataFrame(sub, geometry=gpd.GeoSeries(geoms[mask].to_numpy(), index=sub.index, crs=frame.crs), crs=frame.crs)
                if not problems:
                    pyogrio.write_dataframe(gdf, tmp / f"{layer}.shp", driver="ESRI Shapefile", encoding=codec,
                                            geometry_type=geom_type, use_arrow=True)
                layers[layer] = c
        if problems:
            raise ValidationError(problems)
        if not layers:
            raise ValidationError([Problem("", "没有可导出的图斑（筛选结果为空）")])
        long_texts = pd.DataFrame(long_rows, columns=["code", "layer", "field", "label", "bytes", "text"])
        glossary(schema, layers).to_csv(tmp / GLOSSARY_NAME, index=False, encoding="utf-8-sig")
        if len(long_texts):
            long_texts.to_csv(tmp / LONG_TEXT_NAME, index=False, encoding="utf-8-sig")
        out_zip.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(tmp.iterdir()):
                zf.write(file, file.name)
    return ShapefileExport(out_zip, list(layers), long_texts)
