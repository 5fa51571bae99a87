"""Layer styles for desktop GIS, generated from the schema (its grade colours and each category's
outline colour and dash): QGIS ``.qml`` and OGC SLD 1.0 ``.sld`` (ArcGIS Pro, GeoServer). Fill (or
line, or marker) by 风险等级 in the grade colours, outline in the category's colour and dash, labels by
图斑编号. ``name`` maps a schema field to the layer's column name (``f.shp`` in a shapefile, the
Chinese label in a GeoPackage)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..schema import Category, Field, Schema

GEOMETRY_KINDS = ("polygon", "line", "point")
FILL_ALPHA = 160  # of 255: the road under a patch stays visible
OUTLINE_WIDTH_MM = 0.6
LINE_WIDTH_MM = 1.2
MARKER_SIZE_MM = 3.2
LABEL_SIZE_PT = 9
QGIS_VERSION = "3.22.16-Białowieża"
SLD_NS = {"": "http://www.opengis.net/sld", "ogc": "http://www.opengis.net/ogc",
          "xlink": "http://www.w3.org/1999/xlink", "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
SLD_SCHEMA = "http://www.opengis.net/sld http://schemas.opengis.net/sld/1.0.0/StyledLayerDescriptor.xsd"


def _rgb(hex_rgb: str) -> tuple[int, int, int]:
    value = hex_rgb.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _qcolor(hex_rgb: str, alpha: int = 255) -> str:
    return ",".join(str(v) for v in (*_rgb(hex_rgb), alpha))


def _dash(category: Category) -> list[str]:
    """The category's dash pattern ("6 4" on the map) as numbers; empty for a solid outline."""
    return category.dash.replace(",", " ").split()


def _field_name(category: Category, key: str, name) -> str:
    f: Field = category.field(key)
    return name(f)


# ---------------------------------------------------------------- QGIS .qml
def _options(parent: ET.Element, values: dict[str, str]) -> None:
    box = ET.SubElement(parent, "Option", type="Map")
    for key, value in values.items():
        ET.SubElement(box, "Option", name=key, type="QString", value=value)


def _symbol_layer(symbol: ET.Element, cls: str, values: dict[str, str]) -> None:
    layer = ET.SubElement(symbol, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"})
    _options(layer, values)


def _line_options(color: str, width_mm: float, category: Category) -> dict[str, str]:
    dash = _dash(category)
    return {"line_color": color, "line_width": str(width_mm), "line_width_unit": "MM", "line_style": "solid",
            "capstyle": "round", "joinstyle": "round", "use_custom_dash": "1" if dash else "0",
            "customdash": ";".join(dash) or "5;2", "customdash_unit": "Pixel"}


def _qml_symbol(symbols: ET.Element, index: int, kind: str, grade_color: str, category: Category) -> None:
    qtype = {"polygon": "fill", "line": "line", "point": "marker"}[kind]
    symbol = ET.SubElement(symbols, "symbol", {"type": qtype, "name": str(index), "alpha": "1",
                                               "clip_to_extent": "1", "force_rhr": "0"})
    outline = _qcolor(category.outline)
    if kind == "polygon":  # a fill without outline, then the category's (dashed) outline on top
        _symbol_layer(symbol, "SimpleFill", {"color": _qcolor(grade_color, FILL_ALPHA), "style": "solid",
                                             "outline_style": "no"})
        _symbol_layer(symbol, "SimpleLine", _line_options(outline, OUTLINE_WIDTH_MM, category))
    elif kind == "line":
        _symbol_layer(symbol, "SimpleLine", _line_options(_qcolor(grade_color), LINE_WIDTH_MM, category))
    else:
        _symbol_layer(symbol, "SimpleMarker", {"name": "circle", "color": _qcolor(grade_color),
                                               "outline_color": outline, "outline_width": "0.6",
                                               "outline_width_unit": "MM", "size": str(MARKER_SIZE_MM),
                                               "size_unit": "MM"})


def _qml_labels(root: ET.Element, code_field: str, kind: str) -> None:
    labeling = ET.SubElement(root, "labeling", type="simple")
    settings = ET.SubElement(labeling, "settings", calloutType="simple")
    text = ET.SubElement(settings, "text-style", fieldName=code_field, isExpression="0", fontSize=str(LABEL_SIZE_PT),
                         fontSizeUnit="Point", textColor="0,0,0,255", textOpacity="1", namedStyle="Regular")
    ET.SubElement(text, "text-buffer", bufferDraw="1", bufferSize="1", bufferSizeUnits="MM",
                  bufferColor="255,255,255,255", bufferOpacity="1")
    placement = {"polygon": "1", "line": "2", "point": "0"}[kind]  # OverPoint, Line, AroundPoint
    ET.SubElement(settings, "placement", placement=placement, dist="1", distUnits="MM")
    ET.SubElement(settings, "rendering", drawLabels="1", obstacle="1", scaleVisibility="0")


def qml(schema: Schema, category: Category, kind: str, name=lambda f: f.shp) -> str:
    """A QGIS 3.x style for a ``kind`` ("polygon", "line", "point") layer of ``category``."""
    grade_field = _field_name(category, "risk_grade", name)
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology|Labeling", labelsEnabled="1")
    renderer = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=grade_field,
                             symbollevels="0", enableorderby="0", forceraster="0")
    categories = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for i, g in enumerate(schema.grades):
        ET.SubElement(categories, "category", symbol=str(i), value=g.label, label=g.label, render="true")
        _qml_symbol(symbols, i, kind, g.color, category)
    _qml_labels(root, _field_name(category, "code", name), kind)
    ET.indent(root, space=" ")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")


# ---------------------------------------------------------------- OGC SLD 1.0
def _css(parent: ET.Element, tag: str, values: dict[str, str]) -> None:
    box = ET.SubElement(parent, tag)
    for key, value in values.items():
        ET.SubElement(box, "CssParameter", name=key).text = value


def _stroke(parent: ET.Element, color: str, width_px: str, category: Category) -> None:
    values = {"stroke": color, "stroke-width": width_px, "stroke-linejoin": "round"}
    if _dash(category):
        values["stroke-dasharray"] = " ".join(_dash(category))
    _css(parent, "Stroke", values)


def _sld_symbolizer(rule: ET.Element, kind: str, grade_color: str, category: Category) -> None:
    if kind == "polygon":
        symbolizer = ET.SubElement(rule, "PolygonSymbolizer")
        _css(symbolizer, "Fill", {"fill": grade_color, "fill-opacity": f"{FILL_ALPHA / 255:.2f}"})
        _stroke(symbolizer, category.outline, "2", category)
    elif kind == "line":
        _stroke(ET.SubElement(rule, "LineSymbolizer"), grade_color, "4", category)
    else:
        graphic = ET.SubElement(ET.SubElement(rule, "PointSymbolizer"), "Graphic")
        mark = ET.SubElement(graphic, "Mark")
        ET.SubElement(mark, "WellKnownName").text = "circle"
        _css(mark, "Fill", {"fill": grade_color})
        _css(mark, "Stroke", {"stroke": category.outline, "stroke-width": "2"})
        ET.SubElement(graphic, "Size").text = "12"


def _sld_rule(parent: ET.Element, label: str, grade_field: str, code_field: str, kind: str, color: str,
              category: Category) -> None:
    rule = ET.SubElement(parent, "Rule")
    ET.SubElement(rule, "Name").text = label
    ET.SubElement(rule, "Title").text = label
    equal = ET.SubElement(ET.SubElement(rule, "ogc:Filter"), "ogc:PropertyIsEqualTo")
    ET.SubElement(equal, "ogc:PropertyName").text = grade_field
    ET.SubElement(equal, "ogc:Literal").text = label
    _sld_symbolizer(rule, kind, color, category)
    text = ET.SubElement(rule, "TextSymbolizer")
    ET.SubElement(ET.SubElement(text, "Label"), "ogc:PropertyName").text = code_field
    _css(text, "Font", {"font-size": str(LABEL_SIZE_PT + 3)})
    halo = ET.SubElement(text, "Halo")
    ET.SubElement(halo, "Radius").text = "1"
    _css(halo, "Fill", {"fill": "#FFFFFF"})


def sld(schema: Schema, category: Category, kind: str, layer: str, name=lambda f: f.shp) -> str:
    """An SLD 1.0 style for the ``kind`` layer ``layer`` of ``category``: a rule per grade."""
    root = ET.Element("StyledLayerDescriptor", {"version": "1.0.0", "xmlns": SLD_NS[""],
                                                "xmlns:ogc": SLD_NS["ogc"], "xmlns:xlink": SLD_NS["xlink"],
                                                "xmlns:xsi": SLD_NS["xsi"], "xsi:schemaLocation": SLD_SCHEMA})
    named = ET.SubElement(root, "NamedLayer")
    ET.SubElement(named, "Name").text = layer
    user = ET.SubElement(named, "UserStyle")
    ET.SubElement(user, "Name").text = layer
    ET.SubElement(user, "Title").text = f"{category.label}（按风险等级）"
    feature_style = ET.SubElement(user, "FeatureTypeStyle")
    grade_field = _field_name(category, "risk_grade", name)
    code_field = _field_name(category, "code", name)
    for g in schema.grades:
        _sld_rule(feature_style, g.label, grade_field, code_field, kind, g.color, category)
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
