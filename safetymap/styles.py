"""Every layer style for desktop GIS, generated from the schema: QGIS ``.qml`` and OGC SLD 1.0 ``.sld``
(ArcGIS Pro, GeoServer), for the live GeoPackage (``backends.gpkg_meta``) and the exports (shapefile
sidecars, the GeoPackage's ``layer_styles``, the QGIS project).

- Risk layers: fill (or line, or marker) by 风险等级 in the grade colours, outline in the category's colour
  and dash, labels by 图斑编号.
- Facility layers (``kind = "facility"``): not graded, so no grade style: one marker of the category's
  ``marker`` shape in its colour (on a polygon at its centre, on a line at its middle), labels by
  图斑编号 and 名称.
- Routes and the district boundary, for the live store and the QGIS project.

``name`` maps a schema field to the layer's column: ``f.key`` in the live store, ``f.shp`` in a
shapefile, the Chinese label in an exported GeoPackage. ``current_only`` (the live store, where
archived patches stay in the table) draws and labels only rows with ``"archived" = 0``; ``fields``
adds Chinese aliases and value-map widgets: (column, alias, allowed values).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Callable

from .schema import Category, Field, Schema

GEOMETRY_KINDS = ("polygon", "line", "point")
QGIS_VERSION = "3.22.16-Białowieża"
QML_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
FILL_ALPHA = 160  # of 255: the road under a patch stays visible
FACILITY_FILL_ALPHA = 50  # a facility's small buffer polygon: its marker is what matters
OUTLINE_WIDTH_MM = 0.6
LINE_WIDTH_MM = 1.2
MARKER_SIZE_MM = 3.2
FACILITY_MARKER_SIZE_MM = 4.0
LABEL_SIZE_PT = 9
CURRENT = '"archived" = 0'
# QGIS SimpleMarker names and the SLD WellKnownName of the same shape (schema ``marker`` of a facility)
SLD_MARKS = {"circle": "circle", "square": "square", "triangle": "triangle", "star": "star", "cross": "cross"}
SLD_NS = {"": "http://www.opengis.net/sld", "ogc": "http://www.opengis.net/ogc",
          "xlink": "http://www.w3.org/1999/xlink", "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
SLD_SCHEMA = "http://www.opengis.net/sld http://schemas.opengis.net/sld/1.0.0/StyledLayerDescriptor.xsd"

Naming = Callable[[Field], str]
AliasRows = list[tuple[str, str, tuple[str, ...]]]


def _shp_name(f: Field) -> str:
    return f.shp


# ---------------------------------------------------------------- colours and small parts
def _rgb(hex_rgb: str) -> tuple[int, int, int]:
    value = hex_rgb.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def qcolor(hex_rgb: str, alpha: int = 255) -> str:
    """``#E60012`` -> ``230,0,18,255`` (QGIS writes colours as r,g,b,a)."""
    return ",".join(str(v) for v in (*_rgb(hex_rgb), alpha))


def _dash(category: Category) -> list[str]:
    """The category's dash pattern ("6 4" on the map) as numbers; empty for a solid outline."""
    return category.dash.replace(",", " ").split()


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quoted(column: str) -> str:
    """A column in a QGIS expression."""
    return '"' + column.replace('"', '""') + '"'


def _column(category: Category, key: str, name: Naming) -> str:
    return name(category.field(key))


def _document(root: ET.Element) -> str:
    ET.indent(root, space=" ")
    return QML_DOCTYPE + ET.tostring(root, encoding="unicode")


# ---------------------------------------------------------------- QML symbols
def _options(parent: ET.Element, values: dict[str, str]) -> None:
    box = ET.SubElement(parent, "Option", type="Map")
    for key, value in values.items():
        ET.SubElement(box, "Option", name=key, type="QString", value=value)


def _symbol(parent: ET.Element, qtype: str, name: str) -> ET.Element:
    return ET.SubElement(parent, "symbol", {"type": qtype, "name": name, "alpha": "1", "clip_to_extent": "1",
                                            "force_rhr": "0"})


def _symbol_layer(symbol: ET.Element, cls: str, values: dict[str, str]) -> ET.Element:
    layer = ET.SubElement(symbol, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"})
    _options(layer, values)
    return layer


def _line_options(color: str, width_mm: float, category: Category | None) -> dict[str, str]:
    dash = _dash(category) if category is not None else []
    return {"line_color": color, "line_width": str(width_mm), "line_width_unit": "MM", "line_style": "solid",
            "capstyle": "round", "joinstyle": "round", "use_custom_dash": "1" if dash else "0",
            "customdash": ";".join(dash) or "5;2", "customdash_unit": "Pixel"}


def _grade_symbol(symbols: ET.Element, index: int, kind: str, grade_color: str, category: Category) -> None:
    """A risk layer's symbol for one grade."""
    qtype = {"polygon": "fill", "line": "line", "point": "marker"}[kind]
    symbol = _symbol(symbols, qtype, str(index))
    outline = qcolor(category.outline)
    if kind == "polygon":  # a fill without outline, then the category's (dashed) outline on top
        _symbol_layer(symbol, "SimpleFill", {"color": qcolor(grade_color, FILL_ALPHA), "style": "solid",
                                             "outline_style": "no"})
        _symbol_layer(symbol, "SimpleLine", _line_options(outline, OUTLINE_WIDTH_MM, category))
    elif kind == "line":
        _symbol_layer(symbol, "SimpleLine", _line_options(qcolor(grade_color), LINE_WIDTH_MM, category))
    else:
        _symbol_layer(symbol, "SimpleMarker", {"name": "circle", "color": qcolor(grade_color),
                                               "outline_color": outline, "outline_width": "0.6",
                                               "outline_width_unit": "MM", "size": str(MARKER_SIZE_MM),
                                               "size_unit": "MM"})


def _facility_marker(parent: ET.Element, name: str, category: Category) -> None:
    """The facility's marker: its shape filled in its colour, outlined in white."""
    symbol = _symbol(parent, "marker", name)
    _symbol_layer(symbol, "SimpleMarker", {"name": category.marker, "color": qcolor(category.outline),
                                           "outline_color": "255,255,255,255", "outline_width": "0.4",
                                           "outline_width_unit": "MM", "size": str(FACILITY_MARKER_SIZE_MM),
                                           "size_unit": "MM"})


def _facility_symbol(symbols: ET.Element, kind: str, category: Category) -> None:
    """A facility layer's one symbol: the marker, on a polygon at its centre, on a line at its middle."""
    if kind == "point":
        _facility_marker(symbols, "0", category)
        return
    if kind == "polygon":
        symbol = _symbol(symbols, "fill", "0")
        _symbol_layer(symbol, "SimpleFill", {"color": qcolor(category.outline, FACILITY_FILL_ALPHA), "style": "solid",
                                             "outline_color": qcolor(category.outline), "outline_style": "solid",
                                             "outline_width": "0.3", "outline_width_unit": "MM"})
        centre = _symbol_layer(symbol, "CentroidFill", {"point_on_surface": "1", "point_on_all_parts": "0",
                                                        "clip_points": "0", "clip_on_current_part_only": "0"})
    else:
        symbol = _symbol(symbols, "line", "0")
        _symbol_layer(symbol, "SimpleLine", _line_options(qcolor(category.outline), OUTLINE_WIDTH_MM, None))
        centre = _symbol_layer(symbol, "MarkerLine", {"placement": "centralpoint", "rotate": "0",
                                                      "offset": "0", "offset_unit": "MM"})
    _facility_marker(centre, "@0@1", category)


# ---------------------------------------------------------------- QML renderers and labels
def _grade_renderer(root: ET.Element, schema: Schema, category: Category, kind: str, grade: str,
                    current_only: bool) -> None:
    """Categorised by grade (exports), or rule-based with 未定级 and only current patches (the live store)."""
    if not current_only:
        renderer = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=grade, symbollevels="0",
                                 enableorderby="0", forceraster="0")
        categories = ET.SubElement(renderer, "categories")
        symbols = ET.SubElement(renderer, "symbols")
        for i, g in enumerate(schema.grades):
            ET.SubElement(categories, "category", symbol=str(i), value=g.label, label=g.label, render="true")
            _grade_symbol(symbols, i, kind, g.color, category)
        return
    renderer = ET.SubElement(root, "renderer-v2", type="RuleRenderer", symbollevels="0", enableorderby="0",
                             forceraster="0")
    rules = ET.SubElement(renderer, "rules", key="root")
    symbols = ET.SubElement(renderer, "symbols")
    column = _quoted(grade)
    for i, g in enumerate(schema.grades):
        ET.SubElement(rules, "rule", key=f"grade{i}", symbol=str(i), label=g.label,
                      filter=f"{CURRENT} AND {column} = {_sql_text(g.label)}")
        _grade_symbol(symbols, i, kind, g.color, category)
    n = len(schema.grades)
    listed = ", ".join(_sql_text(g.label) for g in schema.grades)
    ET.SubElement(rules, "rule", key="ungraded", symbol=str(n), label=schema.ungraded_label,
                  filter=f"{CURRENT} AND ({column} IS NULL OR {column} NOT IN ({listed}))")
    _grade_symbol(symbols, n, kind, schema.meta.get("ungraded_color", "#999999"), category)


def _facility_renderer(root: ET.Element, category: Category, kind: str, current_only: bool) -> None:
    """One symbol for every facility of the layer (current ones only in the live store)."""
    if current_only:
        renderer = ET.SubElement(root, "renderer-v2", type="RuleRenderer", symbollevels="0", enableorderby="0",
                                 forceraster="0")
        rules = ET.SubElement(renderer, "rules", key="root")
        ET.SubElement(rules, "rule", key="facility", symbol="0", label=category.label, filter=CURRENT)
    else:
        renderer = ET.SubElement(root, "renderer-v2", type="singleSymbol", symbollevels="0", enableorderby="0",
                                 forceraster="0")
    _facility_symbol(ET.SubElement(renderer, "symbols"), kind, category)


def _label_settings(parent: ET.Element, text: str, is_expression: bool, kind: str) -> None:
    settings = ET.SubElement(parent, "settings", calloutType="simple")
    style = ET.SubElement(settings, "text-style", fieldName=text, isExpression="1" if is_expression else "0",
                          fontSize=str(LABEL_SIZE_PT), fontSizeUnit="Point", textColor="0,0,0,255", textOpacity="1",
                          namedStyle="Regular")
    ET.SubElement(style, "text-buffer", bufferDraw="1", bufferSize="1", bufferSizeUnits="MM",
                  bufferColor="255,255,255,255", bufferOpacity="1")
    placement = {"polygon": "1", "line": "2", "point": "0"}[kind]  # OverPoint, Line, AroundPoint
    ET.SubElement(settings, "placement", placement=placement, dist="1", distUnits="MM")
    ET.SubElement(settings, "rendering", drawLabels="1", obstacle="1", scaleVisibility="0")


def _labels(root: ET.Element, text: str, is_expression: bool, kind: str, current_only: bool) -> None:
    if not current_only:
        _label_settings(ET.SubElement(root, "labeling", type="simple"), text, is_expression, kind)
        return
    rules = ET.SubElement(ET.SubElement(root, "labeling", type="rule-based"), "rules", key="root")
    rule = ET.SubElement(rules, "rule", key="label", filter=CURRENT, description="标注")
    _label_settings(rule, text, is_expression, kind)


def field_config(root: ET.Element, fields: AliasRows) -> None:
    """Aliases and editor widgets (a value map where a field has a list of values)."""
    config = ET.SubElement(root, "fieldConfiguration")
    for col, _alias, values in fields:
        field = ET.SubElement(config, "field", name=col, configurationFlags="None")
        widget = ET.SubElement(field, "editWidget", type="ValueMap" if values else "TextEdit")
        cfg = ET.SubElement(widget, "config")
        if values:
            box = ET.SubElement(cfg, "Option", type="Map")
            lst = ET.SubElement(box, "Option", name="map", type="List")
            for v in values:
                ET.SubElement(ET.SubElement(lst, "Option", type="Map"), "Option", name=v, type="QString", value=v)
        else:
            ET.SubElement(cfg, "Option")
    aliases = ET.SubElement(root, "aliases")
    for i, (col, alias, _values) in enumerate(fields):
        ET.SubElement(aliases, "alias", field=col, index=str(i), name=alias)


def facility_label(category: Category, name: Naming = _shp_name) -> str:
    """The QGIS expression labelling a facility: its code and name."""
    code, title = _column(category, "code", name), _column(category, "name", name)
    return f"concat({_quoted(code)}, ' ', {_quoted(title)})"


def description(category: Category) -> str:
    """What a category's default style shows, in a word (layer_styles' description)."""
    if category.is_facility:
        return "设施不定级：按设施种类显示点符号，标注编号和名称"
    return "按风险等级填色，按类别描边，标注图斑编号"


def qml(schema: Schema, category: Category, kind: str, name: Naming = _shp_name, *, current_only: bool = False,
        fields: AliasRows | None = None) -> str:
    """A QGIS 3.x style for a ``kind`` ("polygon", "line", "point") layer of ``category``."""
    if kind not in GEOMETRY_KINDS:
        raise ValueError(f"unknown geometry kind {kind}")
    categories = "AllStyleCategories" if fields is not None else "Symbology|Labeling"
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories=categories, labelsEnabled="1")
    if category.is_facility:
        _facility_renderer(root, category, kind, current_only)
        _labels(root, facility_label(category, name), True, kind, current_only)
    else:
        _grade_renderer(root, schema, category, kind, _column(category, "risk_grade", name), current_only)
        _labels(root, _column(category, "code", name), False, kind, current_only)
    if fields is not None:
        field_config(root, fields)
        ET.SubElement(root, "previewExpression").text = _quoted(_column(category, "code", name))
        ET.SubElement(root, "layerGeometryType").text = str(GEOMETRY_KINDS[::-1].index(kind))  # 0 point … 2 polygon
    return _document(root)


def routes_qml(fields: AliasRows, code_column: str = "route_code") -> str:
    """Route centrelines: dark grey lines labelled by route code."""
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="AllStyleCategories", labelsEnabled="1")
    renderer = ET.SubElement(root, "renderer-v2", type="singleSymbol", symbollevels="0", enableorderby="0",
                             forceraster="0")
    symbol = _symbol(ET.SubElement(renderer, "symbols"), "line", "0")
    _symbol_layer(symbol, "SimpleLine", {"line_color": "90,90,90,255", "line_width": "0.8", "line_width_unit": "MM",
                                         "line_style": "solid"})
    settings = ET.SubElement(ET.SubElement(root, "labeling", type="simple"), "settings", calloutType="simple")
    ET.SubElement(settings, "text-style", fieldName=code_column, isExpression="0", fontSize="8",
                  fontSizeUnit="Point", textColor="60,60,60,255", textOpacity="1", namedStyle="Bold")
    ET.SubElement(settings, "placement", placement="2", dist="0", distUnits="MM")
    ET.SubElement(settings, "rendering", drawLabels="1", obstacle="0", scaleVisibility="0")
    field_config(root, fields)
    return _document(root)


def district_qml() -> str:
    """The district boundary: a dashed dark outline, no fill."""
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="AllStyleCategories", labelsEnabled="0")
    renderer = ET.SubElement(root, "renderer-v2", type="singleSymbol", symbollevels="0", enableorderby="0",
                             forceraster="0")
    symbol = _symbol(ET.SubElement(renderer, "symbols"), "fill", "0")
    _symbol_layer(symbol, "SimpleFill", {"color": "255,255,255,0", "style": "no", "outline_color": "60,60,60,255",
                                         "outline_style": "dash", "outline_width": "0.8", "outline_width_unit": "MM"})
    return _document(root)


# ---------------------------------------------------------------- OGC SLD 1.0
def _css(parent: ET.Element, tag: str, values: dict[str, str]) -> None:
    box = ET.SubElement(parent, tag)
    for key, value in values.items():
        ET.SubElement(box, "CssParameter", name=key).text = value


def _stroke(parent: ET.Element, color: str, width_px: str, category: Category | None) -> None:
    values = {"stroke": color, "stroke-width": width_px, "stroke-linejoin": "round"}
    if category is not None and _dash(category):
        values["stroke-dasharray"] = " ".join(_dash(category))
    _css(parent, "Stroke", values)


def _sld_mark(rule: ET.Element, shape: str, fill: str, stroke: str, size: str) -> None:
    graphic = ET.SubElement(ET.SubElement(rule, "PointSymbolizer"), "Graphic")
    mark = ET.SubElement(graphic, "Mark")
    ET.SubElement(mark, "WellKnownName").text = shape
    _css(mark, "Fill", {"fill": fill})
    _css(mark, "Stroke", {"stroke": stroke, "stroke-width": "2"})
    ET.SubElement(graphic, "Size").text = size


def _sld_grade_symbolizer(rule: ET.Element, kind: str, grade_color: str, category: Category) -> None:
    if kind == "polygon":
        symbolizer = ET.SubElement(rule, "PolygonSymbolizer")
        _css(symbolizer, "Fill", {"fill": grade_color, "fill-opacity": f"{FILL_ALPHA / 255:.2f}"})
        _stroke(symbolizer, category.outline, "2", category)
    elif kind == "line":
        _stroke(ET.SubElement(rule, "LineSymbolizer"), grade_color, "4", category)
    else:
        _sld_mark(rule, "circle", grade_color, category.outline, "12")


def _sld_facility_symbolizer(rule: ET.Element, kind: str, category: Category) -> None:
    """The buffer or line faintly, then the marker (GeoServer puts it at a polygon's or line's centre)."""
    if kind == "polygon":
        symbolizer = ET.SubElement(rule, "PolygonSymbolizer")
        _css(symbolizer, "Fill", {"fill": category.outline, "fill-opacity": f"{FACILITY_FILL_ALPHA / 255:.2f}"})
        _stroke(symbolizer, category.outline, "1", None)
    elif kind == "line":
        _stroke(ET.SubElement(rule, "LineSymbolizer"), category.outline, "2", None)
    _sld_mark(rule, SLD_MARKS[category.marker], category.outline, "#FFFFFF", "14")


def _sld_label(rule: ET.Element, columns: list[str]) -> None:
    text = ET.SubElement(rule, "TextSymbolizer")
    label = ET.SubElement(text, "Label")
    for i, column in enumerate(columns):  # mixed content: the columns' values joined by spaces
        prop = ET.SubElement(label, "ogc:PropertyName")
        prop.text = column
        if i < len(columns) - 1:
            prop.tail = " "
    _css(text, "Font", {"font-size": str(LABEL_SIZE_PT + 3)})
    halo = ET.SubElement(text, "Halo")
    ET.SubElement(halo, "Radius").text = "1"
    _css(halo, "Fill", {"fill": "#FFFFFF"})


def _sld_rule(parent: ET.Element, title: str) -> ET.Element:
    rule = ET.SubElement(parent, "Rule")
    ET.SubElement(rule, "Name").text = title
    ET.SubElement(rule, "Title").text = title
    return rule


def _sld_equal(rule: ET.Element, column: str, value: str) -> None:
    equal = ET.SubElement(ET.SubElement(rule, "ogc:Filter"), "ogc:PropertyIsEqualTo")
    ET.SubElement(equal, "ogc:PropertyName").text = column
    ET.SubElement(equal, "ogc:Literal").text = value


def sld(schema: Schema, category: Category, kind: str, layer: str, name: Naming = _shp_name) -> str:
    """An SLD 1.0 style for the ``kind`` layer ``layer`` of ``category``: a rule per grade, or (a
    facility) one rule with the facility's marker."""
    root = ET.Element("StyledLayerDescriptor", {"version": "1.0.0", "xmlns": SLD_NS[""],
                                                "xmlns:ogc": SLD_NS["ogc"], "xmlns:xlink": SLD_NS["xlink"],
                                                "xmlns:xsi": SLD_NS["xsi"], "xsi:schemaLocation": SLD_SCHEMA})
    named = ET.SubElement(root, "NamedLayer")
    ET.SubElement(named, "Name").text = layer
    user = ET.SubElement(named, "UserStyle")
    ET.SubElement(user, "Name").text = layer
    how = "设施，不定级" if category.is_facility else "按风险等级"
    ET.SubElement(user, "Title").text = f"{category.label}（{how}）"
    feature_style = ET.SubElement(user, "FeatureTypeStyle")
    code = _column(category, "code", name)
    if category.is_facility:
        rule = _sld_rule(feature_style, category.label)
        _sld_facility_symbolizer(rule, kind, category)
        _sld_label(rule, [code, _column(category, "name", name)])
    else:
        grade = _column(category, "risk_grade", name)
        for g in schema.grades:
            rule = _sld_rule(feature_style, g.label)
            _sld_equal(rule, grade, g.label)
            _sld_grade_symbolizer(rule, kind, g.color, category)
            _sld_label(rule, [code])
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
