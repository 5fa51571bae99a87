"""KML and KMZ for Google Earth and 奥维互动地图: per category a folder of patch polygons and a folder
of source lines (and one of source points), each placemark named ``编号 名称`` with one geometry type
(QGIS opens a MultiGeometry of polygon and line as a table without geometry), styled in the grade
colour, with a description table of every attribute (HTML-escaped) and the values as ExtendedData
(so the file imports back). KML coordinates are lon/lat; CGCS2000 is written as is (it differs from
WGS 84 by centimetres). Reading is done here too, with the standard library: KML needs no GDAL driver."""
from __future__ import annotations

import html
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from ..errors import KmlTooDeep
from ..schema import Category, Schema
from ..values import display_value
from .tables import by_category, labelled

KML_NS = "http://www.opengis.net/kml/2.2"
KML_CRS = "EPSG:4326"
FILL_ALPHA = "80"
DECIMALS = 8
# ExtendedData names are the field keys (GDAL turns non-ASCII names into underscores), except where a
# key would clash with a placemark's own element (GDAL matches ``name`` to <name>).
KML_FIELD_NAMES = {"name": "patch_name"}
FROM_KML_NAMES = {v: k for k, v in KML_FIELD_NAMES.items()}
# Folder name suffix per source geometry type (the polygon folder is named by the category alone); the
# importer takes the category from the folder name's prefix.
SOURCE_FOLDERS = {"LineString": "_源几何", "Point": "_源几何点"}
# GDAL's LIBKML driver aborts on an <IconStyle> without <Icon>: the standard pushpin Google Earth knows.
ICON_HREF = "http://maps.google.com/mapfiles/kml/pushpin/wht-pushpin.png"
MAX_DEPTH = 32  # nested MultiGeometry or Folder levels read; a hostile file nests thousands (RecursionError)


def kml_color(hex_rgb: str, alpha: str = "ff") -> str:
    """``#E60012`` -> KML ``aabbggrr``."""
    rgb = hex_rgb.lstrip("#")
    return f"{alpha}{rgb[4:6]}{rgb[2:4]}{rgb[0:2]}".lower()


def _style(doc: ET.Element, style_id: str, color: str) -> None:
    style = ET.SubElement(doc, "Style", id=style_id)
    ET.SubElement(ET.SubElement(style, "LineStyle"), "color").text = kml_color(color)
    ET.SubElement(style.find("LineStyle"), "width").text = "3"
    poly = ET.SubElement(style, "PolyStyle")
    ET.SubElement(poly, "color").text = kml_color(color, FILL_ALPHA)
    icon_style = ET.SubElement(style, "IconStyle")
    ET.SubElement(icon_style, "color").text = kml_color(color)
    ET.SubElement(ET.SubElement(icon_style, "Icon"), "href").text = ICON_HREF


def _coords(coords) -> str:
    return " ".join(f"{x:.{DECIMALS}f},{y:.{DECIMALS}f}" for x, y in np.asarray(coords)[:, :2])


def _geometry(parent: ET.Element, geom) -> None:
    kind = geom.geom_type
    if kind == "Point":
        ET.SubElement(ET.SubElement(parent, "Point"), "coordinates").text = _coords(geom.coords)
    elif kind == "LineString":
        ET.SubElement(ET.SubElement(parent, "LineString"), "coordinates").text = _coords(geom.coords)
    elif kind == "Polygon":
        poly = ET.SubElement(parent, "Polygon")
        ring = ET.SubElement(ET.SubElement(poly, "outerBoundaryIs"), "LinearRing")
        ET.SubElement(ring, "coordinates").text = _coords(geom.exterior.coords)
        for interior in geom.interiors:
            ring = ET.SubElement(ET.SubElement(poly, "innerBoundaryIs"), "LinearRing")
            ET.SubElement(ring, "coordinates").text = _coords(interior.coords)
    else:
        for part in geom.geoms:
            _geometry(parent, part)


def description_html(row: pd.Series) -> str:
    """A two-column table of the placemark's attributes; every value is HTML-escaped."""
    cells = "".join(f"<tr><th align=\"left\">{html.escape(name)}</th>"
                    f"<td>{html.escape(display_value(None, v))}</td></tr>"
                    for name, v in row.items())
    return f"<table border=\"1\" cellpadding=\"2\" style=\"border-collapse:collapse\">{cells}</table>"


def _placemark(folder: ET.Element, c: Category, record: pd.Series, labels: pd.Series, geom, grade_ids) -> None:
    pm = ET.SubElement(folder, "Placemark")
    ET.SubElement(pm, "name").text = f"{record['code']} {display_value(None, record['name'])}".strip()
    ET.SubElement(pm, "description").text = description_html(labels)
    ET.SubElement(pm, "styleUrl").text = "#" + grade_ids.get(record.get("risk_grade"), "grade-none")
    data = ET.SubElement(pm, "ExtendedData")
    for f, value in zip(c.fields, labels):
        item = ET.SubElement(data, "Data", name=KML_FIELD_NAMES.get(f.key, f.key))
        ET.SubElement(item, "displayName").text = f.label_with_unit
        ET.SubElement(item, "value").text = display_value(None, value)
    _geometry(pm, geom)


def _folders(c: Category, part: pd.DataFrame) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(folder name, row mask, geometries): the patch polygons, then the source geometries by type."""
    out = [(c.label, np.ones(len(part), bool), part.geometry.to_numpy())]
    sources = part["source_geometry"].to_numpy()
    types = np.array([None if g is None else g.geom_type for g in sources], dtype=object)
    for kind, suffix in SOURCE_FOLDERS.items():
        mask = types == kind
        if mask.any():
            out.append((c.label + suffix, mask, sources))
    return out


def kml_document(parts: list[tuple[Category, pd.DataFrame]], schema: Schema) -> bytes:
    """The KML of ``parts`` (``tables.by_category``): a folder per category."""
    root = ET.Element("kml", xmlns=KML_NS)
    doc = ET.SubElement(root, "Document")
    ET.SubElement(doc, "name").text = schema.meta.get("title", "风险图斑台账")
    grade_ids = {g.label: f"grade-{g.key}" for g in schema.grades}
    for g in schema.grades:
        _style(doc, grade_ids[g.label], g.color)
    _style(doc, "grade-none", schema.grade_color(None))
    for c, part in parts:
        table = labelled(c, part, "text")
        for name, mask, geoms in _folders(c, part):
            folder = ET.SubElement(doc, "Folder")
            ET.SubElement(folder, "name").text = name
            for i in np.flatnonzero(mask):
                _placemark(folder, c, part.iloc[i], table.iloc[i], geoms[i], grade_ids)
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def export_kml(frame, out: str | Path, schema: Schema, *, kmz: bool = False) -> list[str]:
    parts = by_category(frame, schema)
    document = kml_document(parts, schema)
    if kmz:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("doc.kml", document)
    else:
        Path(out).write_bytes(document)
    return [name for c, part in parts for name, _, _ in _folders(c, part)]


# ---------------------------------------------------------------- reading
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in elem if _local(e.tag) == name]


def _child_text(elem: ET.Element, name: str) -> str | None:
    found = _children(elem, name)
    return found[0].text.strip() if found and found[0].text else None


def _parse_coords(text: str | None) -> np.ndarray:
    rows = [[float(v) for v in item.split(",")] for item in (text or "").split()]
    if not rows:
        return np.empty((0, 2))
    width = max(len(r) for r in rows)
    out = np.array([r + [0.0] * (width - len(r)) for r in rows])
    if out.shape[1] > 2 and not np.any(out[:, 2]):  # Google Earth writes altitude 0: keep it 2D
        out = out[:, :2]
    return out


def _geoms(elem: ET.Element, depth: int = 0) -> list:
    kind = _local(elem.tag)
    if kind == "Point":
        coords = _parse_coords(_child_text(elem, "coordinates"))
        return [shapely.Point(coords[0]) if len(coords) else shapely.Point()]
    if kind == "LineString":
        coords = _parse_coords(_child_text(elem, "coordinates"))
        return [shapely.LineString(coords) if len(coords) else shapely.LineString()]
    if kind == "Polygon":
        rings = [_parse_coords(_child_text(r, "coordinates")) for b in elem for r in b if _local(r.tag) == "LinearRing"]
        return [shapely.Polygon(rings[0], rings[1:]) if rings and len(rings[0]) else shapely.Polygon()]
    if kind == "MultiGeometry":
        if depth >= MAX_DEPTH:
            raise KmlTooDeep("MultiGeometry", MAX_DEPTH)
        return [g for child in elem for g in _geoms(child, depth + 1)]
    return []


def _source_geometry(placemark: ET.Element):
    """The placemark's line/point (its polygon, if any, is the derived patch and is dropped when a
    line or point is there); several lines become a MultiLineString, which the checks then refuse."""
    parts = [g for child in placemark for g in _geoms(child)]
    if not parts:
        return None
    sources = [g for g in parts if g.geom_type not in ("Polygon", "MultiPolygon")] or parts
    if len(sources) == 1:
        return sources[0]
    kinds = {g.geom_type for g in sources}
    if kinds == {"LineString"}:
        return shapely.MultiLineString(sources)
    return shapely.MultiPoint(sources) if kinds == {"Point"} else shapely.GeometryCollection(sources)


def _extended(placemark: ET.Element) -> dict[str, str | None]:
    values = {}
    for data in placemark.iter():
        tag = _local(data.tag)
        name = FROM_KML_NAMES.get(data.get("name"), data.get("name"))
        if tag == "Data":
            values[name] = _child_text(data, "value")
        elif tag == "SimpleData":
            values[name] = data.text.strip() if data.text else None
    return values


def _walk(elem: ET.Element, folder: str | None, out: list, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise KmlTooDeep("Folder", MAX_DEPTH)
    for child in elem:
        tag = _local(child.tag)
        if tag == "Placemark":
            values = _extended(child)
            if not any(k in values for k in ("name", "名称", "NAME")):
                values["名称"] = _child_text(child, "name")
            out.append((folder, values, _source_geometry(child)))
        elif tag in ("Folder", "Document"):
            _walk(child, _child_text(child, "name") if tag == "Folder" else folder, out, depth + 1)


def read_kml_bytes(data: bytes) -> list[tuple[str | None, pd.DataFrame, np.ndarray]]:
    """(folder name, attribute frame, source geometries) per folder of a KML document."""
    root = ET.fromstring(data)
    placemarks: list = []
    _walk(root, None, placemarks)
    folders: dict = {}
    for folder, values, geom in placemarks:
        folders.setdefault(folder, []).append((values, geom))
    out = []
    for folder, items in folders.items():
        frame = pd.DataFrame([v for v, _ in items], dtype=object)
        out.append((folder, frame, np.array([g for _, g in items], dtype=object)))
    return out

