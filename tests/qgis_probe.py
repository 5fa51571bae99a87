"""Opens layers in real QGIS (Debian python3-qgis, run by /usr/bin/python3 in a subprocess: QGIS's
bindings live outside the project's Python) and prints what a desktop user would see, as JSON.

Input (argv[1]): a JSON list of {"uri", "provider", "text_field"?} or, built here with QGIS's own URL
classes (non-ASCII field names must be percent-encoded), {"provider": "delimitedtext", "path", "params"}
and {"provider": "virtual", "source", "query", "srid"} (a table made spatial with SQL). Output: one object
per layer with valid, spatial, crs, count, geometry type, the values of ``text_field``, the renderer type
and its number of categories, rule labels and filters, symbol layers (class and marker shape, sub-symbols
too) and the label text (after QGIS loaded the layer's default ``.qml``, if any)."""
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (QgsApplication, QgsRenderContext, QgsSimpleMarkerSymbolLayerBase,  # noqa: E402
                       QgsVectorLayer, QgsVirtualLayerDefinition, QgsWkbTypes)
from qgis.PyQt.QtCore import QUrl, QUrlQuery  # noqa: E402


def uri_of(spec: dict) -> str:
    provider = spec.get("provider", "ogr")
    if provider == "delimitedtext":
        url, query = QUrl.fromLocalFile(spec["path"]), QUrlQuery()
        for key, value in spec["params"].items():
            query.addQueryItem(key, value)
        url.setQuery(query)
        return bytes(url.toEncoded()).decode("ascii")
    if provider == "virtual":
        definition = QgsVirtualLayerDefinition()
        definition.addSource("t", spec["source"], "ogr")
        definition.setQuery(spec["query"])
        definition.setGeometryField("geom")
        definition.setGeometryWkbType(QgsWkbTypes.Point)
        definition.setGeometrySrid(spec["srid"])
        return definition.toString()
    return spec["uri"]


def symbol_layers(symbol) -> list[str]:
    """``Class`` or ``Class:shape`` of every symbol layer of ``symbol``, its sub-symbols' too."""
    out = []
    for sl in symbol.symbolLayers():
        name = sl.layerType()
        if isinstance(sl, QgsSimpleMarkerSymbolLayerBase):
            name += ":" + QgsSimpleMarkerSymbolLayerBase.encodeShape(sl.shape())
        out.append(name)
        if sl.subSymbol() is not None:
            out += symbol_layers(sl.subSymbol())
    return out


def style_of(layer) -> dict:
    renderer = layer.renderer()
    if renderer is None:
        return {}
    rules = renderer.rootRule().children() if renderer.type() == "RuleRenderer" else []
    labeling = layer.labeling()
    settings = labeling.settings() if labeling is not None and labeling.type() == "simple" else None
    if labeling is not None and labeling.type() == "rule-based":
        settings = labeling.rootRule().children()[0].settings()
    return {"rules": [r.label() for r in rules], "filters": [r.filterExpression() for r in rules],
            "symbol_layers": [n for s in renderer.symbols(QgsRenderContext()) for n in symbol_layers(s)],
            "attr": getattr(renderer, "classAttribute", lambda: "")(),
            "label_text": settings.fieldName if settings is not None else ""}


def describe(spec: dict) -> dict:
    layer = QgsVectorLayer(uri_of(spec), "layer", spec.get("provider", "ogr"))
    out = {"uri": spec.get("uri") or spec.get("path") or spec.get("source"), "valid": layer.isValid()}
    if not layer.isValid():
        return out
    renderer = layer.renderer()
    out.update(spatial=layer.isSpatial(), crs=layer.crs().authid(), count=layer.featureCount(),
               geometry=QgsWkbTypes.displayString(layer.wkbType()),
               fields=[f.name() for f in layer.fields()],
               renderer=renderer.type() if renderer else None,
               categories=len(renderer.categories()) if renderer and hasattr(renderer, "categories") else 0,
               labels=layer.labelsEnabled(), **style_of(layer))
    field = spec.get("text_field")
    if field:
        values = [f[field] for f in layer.getFeatures()]
        out["texts"] = [v for v in values if isinstance(v, str) and v]
    return out


def main() -> None:
    specs = json.loads(sys.argv[1])
    app = QgsApplication([], False)
    app.initQgis()
    try:
        print(json.dumps([describe(s) for s in specs], ensure_ascii=False))
    finally:
        app.exitQgis()


if __name__ == "__main__":
    main()
