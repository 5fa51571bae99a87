"""Small generated hostile uploads (issue 15): each is built in a moment and is a few kB to a few hundred
kB, yet once took the server down (endless reads, recursion, quadratic memory, decompression bombs)."""
from __future__ import annotations

import io
import sqlite3
import struct
import zipfile
import zlib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from safetymap.io.export import export

ENDLESS_VIEW = "endless"


def plain_gpkg(path: Path) -> Path:
    """A normal one-layer GeoPackage written by GDAL."""
    line = shapely.LineString([(126.59, 41.94), (126.60, 41.95)])
    gdf = gpd.GeoDataFrame({"图斑编号": ["TW-901"], "名称": ["团雾路段"]}, geometry=[line], crs="EPSG:4490")
    pyogrio.write_dataframe(gdf, path, layer="fog_line", driver="GPKG")
    return path


def recursive_view_gpkg(path: Path) -> Path:
    """A GeoPackage with a view over an endless recursive query, registered as a feature layer: GDAL
    counting its features never returns."""
    plain_gpkg(path)
    with sqlite3.connect(path) as con:
        con.execute(f"""CREATE VIEW {ENDLESS_VIEW} AS
            WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r)
            SELECT r.n AS fid, f.geom AS geom, f."图斑编号" AS "图斑编号" FROM r, fog_line f""")
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
                    f"VALUES ('{ENDLESS_VIEW}', 'features', '{ENDLESS_VIEW}', 4490)")
        con.execute("INSERT INTO gpkg_geometry_columns VALUES "
                    f"('{ENDLESS_VIEW}', 'geom', 'LINESTRING', 4490, 0, 0)")
    return path


def trigger_gpkg(path: Path) -> Path:
    plain_gpkg(path)
    with sqlite3.connect(path) as con:
        con.execute("CREATE TRIGGER sneaky AFTER INSERT ON fog_line BEGIN DELETE FROM fog_line; END")
    return path


def nested_kml(depth: int) -> bytes:
    inner = "<Point><coordinates>126.59,41.94</coordinates></Point>"
    body = "<MultiGeometry>" * depth + inner + "</MultiGeometry>" * depth
    return (f'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
            f"<Placemark><name>TW-901 嵌套</name>{body}</Placemark></Document></kml>").encode()


# ---------------------------------------------------------------- xlsx written by hand
CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
</Types>"""
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="团雾多发路段" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
</Relationships>"""
SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = b"</sheetData></worksheet>"


def _cell(value) -> str:
    if isinstance(value, (int, float)):
        return f"<c><v>{value}</v></c>"
    return f'<c t="inlineStr"><is><t>{value}</t></is></c>'


def row_xml(values) -> bytes:
    return ("<row>" + "".join(_cell(v) for v in values) + "</row>").encode()


def handmade_xlsx(path: Path, rows) -> Path:
    """An .xlsx with one sheet and no <dimension>, whose rows (an iterable of bytes from ``row_xml``)
    are streamed into the zip."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", ROOT_RELS)
        zf.writestr("xl/workbook.xml", WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with zf.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(SHEET_HEAD)
            for row in rows:
                sheet.write(row)
            sheet.write(SHEET_TAIL)
    return path


# ---------------------------------------------------------------- other files
def duplicate_code_csv(store, path: Path, copies: int, code: str = "TW-900") -> Path:
    """The first patch of the ledger (its category, code, name and grade), ``copies`` times under one new
    code: no geometry, so each row costs little beyond the duplicate check."""
    export(store.read(), "csv", path, store.schema)
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    first = table[table["类别"] == "团雾多发路段"].head(1).assign(图斑编号=code)[["类别", "图斑编号", "名称", "风险等级"]]
    pd.concat([first] * copies, ignore_index=True).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def blank_png(width: int, height: int) -> bytes:
    """A black greyscale PNG, compressed row by row: a few hundred kB whatever its pixel count."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + one byte per pixel
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def heic_photo(width: int = 64, height: int = 48) -> bytes:
    import pillow_heif
    from PIL import Image

    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (width, height), (200, 30, 30))).save(buffer, quality=80)
    return buffer.getvalue()
