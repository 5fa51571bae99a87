"""``export --format qgis``: a zip with a QGIS project (``.qgz``) over a GeoPackage of the exported patches.

The GeoPackage is a ledger file of its own (made by the GeoPackage backend, so it carries the Chinese
aliases, value lists, default styles, K-stake text and the guards against unrecorded edits), holding the
chosen patches with their source geometry, the route network and the district boundary; no accounts,
sessions or logs. The project, written here as XML (the app does not need QGIS), has a layer group per
category (current patches only: ``"archived" = 0``), a base-map group with routes and the district, and a
print layout 台账图 with title, map and legend. Opens in QGIS ≥ 3.22 with every layer valid.
"""
from __future__ import annotations

import sqlite3
import tempfile
import uuid
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pandas as pd
from pyproj import CRS

from .. import styles as style
from ..backends import gpkg, gpkg_meta
from ..backends.geopackage import GeoPackageBackend
from ..backends.gpkg_live import MARKER_TABLE, TRIGGER_PREFIX
from ..backends.tables import SOURCE_TABLE, SRS_ID
from ..schema import Schema
from ..values import to_sql
from .tables import by_category

GPKG_NAME = "ledger.gpkg"
PROJECT_NAME = "ledger.qgz"
DISTRICT_TABLE = "district"
QGIS_VERSION = style.QGIS_VERSION
PAGE_W, PAGE_H = 297.0, 210.0  # A4 landscape, mm
README = """台账 QGIS 工程（QGIS 3.22 及以上）

解压后双击 {project} 打开。图层在 {gpkg} 里：每个类别一个图层组（只显示未归档图斑），
「基础图层」组里是路线中心线和区界；打印布局「台账图」带图例。
字段显示中文别名，可选值字段是下拉列表；风险等级按国家四色填色，图斑编号为标注；
设施图层（不定级）按设施种类显示点符号，标注编号和名称。
这是导出时的副本：在这里的修改不会回到台账系统。
"""


# ---------------------------------------------------------------- the GeoPackage
def _write_geopackage(path: Path, frame: pd.DataFrame, schema: Schema, routes) -> dict[str, int]:
    backend = GeoPackageBackend(path, schema, create=True)
    counts = {}
    try:
        with backend.transaction() as con:  # an app write: the copy's guards stay quiet
            for c in schema.categories:
                part = frame[frame["category"] == c.key] if len(frame) else frame
                counts[c.table] = len(part)
                if not len(part):
                    continue
                keys = [f.key for f in c.fields if f.key in part.columns]
                cols = ["geom", *keys, "archived"]
                values = [backend.encode(part.geometry.to_numpy()),
                          *(to_sql(c.field(k), part[k].reset_index(drop=True)) for k in keys),
                          [bool(v) for v in part.get("archived", pd.Series(False, index=part.index))]]
                con.executemany(f'INSERT INTO "{c.table}" ({", ".join(f"{q}" for q in map(_quote, cols))}) '
                                f'VALUES ({", ".join("?" * len(cols))})', list(zip(*values)))
                con.executemany(f"INSERT INTO {SOURCE_TABLE} (geom, code, category) VALUES (?, ?, ?)",
                                list(zip(backend.encode(part["source_geometry"].to_numpy()), part["code"],
                                         [c.key] * len(part))))
                gpkg.update_extent(con, c.table)
            if routes is not None and len(routes):
                con.executemany("INSERT INTO routes (geom, route_code, name, start_stake_m) VALUES (?, ?, ?, ?)",
                                list(zip(backend.encode(routes.geometry.to_numpy()), routes["route_code"],
                                         routes["name"], routes["start_stake_m"].astype(float))))
                gpkg.update_extent(con, "routes")
            if schema.district is not None:
                gpkg.create_feature_table(con, DISTRICT_TABLE, f"{schema.district.name}区界", "行政区界",
                                          "MULTIPOLYGON", SRS_ID, ["name TEXT"])
                boundary = schema.district.boundary
                if boundary.geom_type == "Polygon":
                    from shapely.geometry import MultiPolygon
                    boundary = MultiPolygon([boundary])
                con.execute(f"INSERT INTO {DISTRICT_TABLE} (geom, name) VALUES (?, ?)",
                            (backend.encode([boundary])[0], schema.district.name))
                con.execute("INSERT INTO gpkg_data_columns (table_name, column_name, name, title) "
                            "VALUES (?, 'name', '名称', '名称')", (DISTRICT_TABLE,))
                gpkg.update_extent(con, DISTRICT_TABLE)
            con.execute(f"DELETE FROM {MARKER_TABLE}")
        backend.checkpoint()
    finally:
        backend.close()
    single = sqlite3.connect(path, isolation_level=None)
    try:
        # a copy: edits to it do not come back to the ledger, so it carries none of the live file's guards
        # (and an upload of it is not refused for having triggers); GDAL's own R-tree triggers stay
        for (name,) in single.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?",
                                      (TRIGGER_PREFIX + "%",)).fetchall():
            single.execute(f'DROP TRIGGER "{name}"')
        single.execute(f"DROP TABLE {MARKER_TABLE}")
        single.execute("PRAGMA journal_mode = DELETE")  # one self-contained file: no -wal beside it in the zip
    finally:
        single.close()
    return counts


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------- the project XML
def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def _srs(parent: ET.Element) -> None:
    crs = CRS.from_epsg(SRS_ID)
    ref = _sub(parent, "spatialrefsys")
    _sub(ref, "wkt", crs.to_wkt())
    _sub(ref, "srid", str(SRS_ID))
    _sub(ref, "authid", f"EPSG:{SRS_ID}")
    _sub(ref, "description", crs.name)
    _sub(ref, "projectionacronym", "longlat")
    _sub(ref, "ellipsoidacronym", "EPSG:1024")
    _sub(ref, "geographicflag", "true")


def _extent(parent: ET.Element, tag: str, box) -> None:
    el = _sub(parent, tag)
    for name, value in zip(("xmin", "ymin", "xmax", "ymax"), box):
        _sub(el, name, repr(float(value)))


def _style_children(qml: str) -> tuple[list[ET.Element], bool]:
    """The elements of a QML style to put inside a <maplayer>, and whether it turns labels on."""
    root = ET.fromstring(qml.split("\n", 1)[1])
    return list(root), root.get("labelsEnabled") == "1"


class _Layer:
    def __init__(self, table: str, name: str, geometry: str, qml: str, subset: str = ""):
        self.table, self.name, self.geometry, self.qml, self.subset = table, name, geometry, qml, subset
        self.id = f"{table}_{uuid.uuid4().hex[:12]}"

    @property
    def source(self) -> str:
        return f"./{GPKG_NAME}|layername={self.table}" + (f"|subset={self.subset}" if self.subset else "")


def _maplayer(parent: ET.Element, layer: _Layer, box) -> None:
    children, labels = _style_children(layer.qml)
    wkb = {"polygon": "Polygon", "line": "LineString", "multipolygon": "MultiPolygon"}[layer.geometry]
    geometry = {"polygon": "Polygon", "line": "Line", "multipolygon": "Polygon"}[layer.geometry]
    ml = _sub(parent, "maplayer", type="vector", geometry=geometry, wkbType=wkb, labelsEnabled="1" if labels else "0",
              readOnly="0", styleCategories="AllStyleCategories", hasScaleBasedVisibilityFlag="0", minScale="0",
              maxScale="0")
    _extent(ml, "extent", box)
    _sub(ml, "id", layer.id)
    _sub(ml, "datasource", layer.source)
    _sub(ml, "layername", layer.name)
    _srs(_sub(ml, "srs"))
    _sub(ml, "provider", "ogr", encoding="UTF-8")
    for child in children:
        ml.append(child)


def _tree_layer(parent: ET.Element, layer: _Layer) -> None:
    node = _sub(parent, "layer-tree-layer", id=layer.id, name=layer.name, source=layer.source, providerKey="ogr",
                checked="Qt::Checked", expanded="1")
    _sub(_sub(node, "customproperties"), "Option")


def _layout_common(item: ET.Element) -> None:
    _sub(item, "FrameColor", alpha="255", red="0", green="0", blue="0")
    _sub(item, "BackgroundColor", alpha="255", red="255", green="255", blue="255")


def _layout_item(parent: ET.Element, item_type: int, position: tuple[float, float], size: tuple[float, float],
                 z: int, **attrs) -> ET.Element:
    uid = "{" + str(uuid.uuid4()) + "}"
    common = dict(type=item_type, uuid=uid, templateUuid=uid, id="", zValue=z,
                  position=f"{position[0]},{position[1]},mm", positionOnPage=f"{position[0]},{position[1]},mm",
                  size=f"{size[0]},{size[1]},mm", referencePoint="0", visibility="1", opacity="1", blendMode="0",
                  frame="false", background="true", outlineWidthM="0.3,mm", frameJoinStyle="miter", itemRotation="0",
                  positionLock="false", groupUuid="", excludeFromExports="0")
    item = _sub(parent, "LayoutItem", **(common | attrs))
    _layout_common(item)
    return item


def _layout(parent: ET.Element, title: str, box) -> None:
    layout = _sub(parent, "Layout", name="台账图", units="mm", printResolution="300", worldFileMap="")
    pages = _sub(layout, "PageCollection")
    _layout_item(pages, 65638, (0, 0), (PAGE_W, PAGE_H), 0)  # the page
    _sub(pages, "GuideCollection", visible="1")
    label = _layout_item(layout, 65641, (10, 5), (270, 12), 3, labelText=title, htmlState="0", halign="4",
                         valign="32", marginX="0", marginY="0", background="false")
    _sub(label, "LabelFont", style="", description="Noto Sans CJK SC,18,-1,5,75,0,0,0,0,0")
    _sub(label, "FontColor", alpha="255", red="0", green="0", blue="0")
    minx, miny, maxx, maxy = box
    map_item = _layout_item(layout, 65639, (10, 20), (200, 180), 1, mapRotation="0", keepLayerSet="false",
                            drawCanvasItems="true", mapFlags="0", followPreset="false", followPresetName="",
                            labelMargin="0,mm", isTemporal="0")
    _sub(map_item, "Extent", xmin=repr(minx), ymin=repr(miny), xmax=repr(maxx), ymax=repr(maxy))
    _sub(map_item, "LayerSet")
    map_uuid = map_item.get("uuid")
    _layout_item(layout, 65642, (215, 20), (75, 180), 2, map_uuid=map_uuid, title="图例", columnCount="1",
                          resizeToContents="1", symbolWidth="7", symbolHeight="4", boxSpace="2", columnSpace="2",
                          lineSpacing="1", wrapChar="", splitLayer="0", equalColumnWidth="0", legendFilterByAtlas="0",
                          titleAlignment="1", symbolAlignment="1", rasterBorder="1", rasterBorderColor="0,0,0,255",
                          rasterBorderWidth="0", fontColor="#000000", wmsLegendWidth="50", wmsLegendHeight="25",
                          minSymbolSize="0", maxSymbolSize="0")
    _sub(layout, "Atlas", enabled="0", coverageLayer="", hideCoverage="0", filterFeatures="0", sortFeatures="0",
         pageNameExpression="", filenamePattern="'output_'||@atlas_featurenumber")


def project_xml(schema: Schema, title: str, box, with_district: bool) -> str:
    """The .qgs text of a project over ``ledger.gpkg`` beside it."""
    qml = {table: text for table, (text, _sld) in gpkg_meta.styles(schema).items()}  # as in the copy's layer_styles
    patch_layers = [(c, _Layer(c.table, c.label, "polygon", qml[c.table], '"archived" = 0'))
                    for c in schema.categories]
    base = [_Layer("routes", "路线中心线", "line", qml["routes"])]
    if with_district:
        base.append(_Layer(DISTRICT_TABLE, f"{schema.district.name}区界", "multipolygon", style.district_qml()))
    root = ET.Element("qgis", version=QGIS_VERSION, projectname=title)
    _sub(root, "homePath", path="")
    _sub(root, "title", title)
    _srs(_sub(root, "projectCrs"))
    tree = _sub(root, "layer-tree-group")
    _sub(_sub(tree, "customproperties"), "Option")
    for c, layer in patch_layers:
        group = _sub(tree, "layer-tree-group", name=c.label, checked="Qt::Checked", expanded="1")
        _sub(_sub(group, "customproperties"), "Option")
        _tree_layer(group, layer)
    group = _sub(tree, "layer-tree-group", name="基础图层", checked="Qt::Checked", expanded="1")
    _sub(_sub(group, "customproperties"), "Option")
    for layer in base:
        _tree_layer(group, layer)
    canvas = _sub(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    _sub(canvas, "units", "degrees")
    _extent(canvas, "extent", box)
    _sub(canvas, "rotation", "0")
    _srs(_sub(canvas, "destinationsrs"))
    layers = _sub(root, "projectlayers")
    for layer in [lyr for _, lyr in patch_layers] + base:
        _maplayer(layers, layer, box)
    props = _sub(root, "properties")
    paths = _sub(props, "Paths")
    _sub(paths, "Absolute", "false", type="bool")
    _layout(_sub(root, "Layouts"), title, box)
    ET.indent(root, space=" ")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")


# ---------------------------------------------------------------- the package
def export_qgis_project(frame: pd.DataFrame, out: str | Path, schema: Schema, *, routes=None) -> list[str]:
    """Write the zip (``ledger.qgz``, ``ledger.gpkg``, 说明.txt) to ``out``; returns the layer names."""
    out = Path(out)
    by_category(frame, schema)  # an empty selection is refused, as by every format
    title = schema.meta.get("title", "风险图斑台账")
    box = schema.district.bounds if schema.district is not None else tuple(frame.total_bounds)
    with tempfile.TemporaryDirectory(prefix="safetymap-qgis-") as tmp:
        tmp = Path(tmp)
        _write_geopackage(tmp / GPKG_NAME, frame, schema, routes)
        qgs = project_xml(schema, title, box, schema.district is not None)
        with zipfile.ZipFile(tmp / PROJECT_NAME, "w", zipfile.ZIP_DEFLATED) as qgz:
            qgz.writestr("ledger.qgs", qgs)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(tmp / PROJECT_NAME, PROJECT_NAME)
            z.write(tmp / GPKG_NAME, GPKG_NAME)
            z.writestr("说明.txt", README.format(project=PROJECT_NAME, gpkg=GPKG_NAME))
    return [c.label for c in schema.categories] + ["路线中心线"] + (["区界"] if schema.district is not None else [])
