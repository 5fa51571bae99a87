"""QGIS 3.22 as a desktop client of the ledger, for test_qgis_live.py. Run with the system Python that
has ``qgis.core`` (Debian ``python3-qgis``), QT_QPA_PLATFORM=offscreen; prints one JSON object.

  qgis_client.py commits GPKG LAYER CODE N      N edit-and-commit rounds on one patch (hazard field)
  qgis_client.py edit GPKG LAYER CODE FIELD VALUE
  qgis_client.py group-edit GPKG LAYER CODE FIELD VALUE   the same with the project's transaction groups on
                                                the edit goes to the file at once; QGIS then touches
                                                GPKG.held and saves once GPKG.release exists
  qgis_client.py open GPKG LAYER                open, read every feature, close
  qgis_client.py read-twice GPKG LAYER          read every feature; touch GPKG.held, wait for GPKG.release
                                                and read them again with the layer still open, then
                                                with the layer added again
  qgis_client.py layer GPKG LAYER               what QGIS makes of one layer (style, aliases, widgets)
  qgis_client.py project PROJECT.qgz            every layer of a project: valid, styled, spatial
"""
import json
import sys
import time
from pathlib import Path

from qgis.core import QgsApplication, QgsFeatureRequest, QgsProject, QgsVectorLayer

app = QgsApplication([], False)
app.initQgis()


def layer(path, name):
    lyr = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    if not lyr.isValid():
        raise SystemExit(json.dumps({"error": f"layer {name} not valid"}))
    return lyr


def find(lyr, code):
    request = QgsFeatureRequest().setFilterExpression(f"\"code\" = '{code}'")
    it = lyr.getFeatures(request)
    try:
        for f in it:
            return f
    finally:
        it.close()  # an open iterator keeps a read snapshot, and a snapshot older than a write cannot write
    raise SystemExit(json.dumps({"error": f"no feature {code}"}))


def commit_one(lyr, fid, field, value):
    lyr.startEditing()
    lyr.changeAttributeValue(fid, lyr.fields().indexOf(field), value)
    ok = lyr.commitChanges()
    errors = list(lyr.commitErrors())
    if not ok:
        lyr.rollBack()
    return ok, errors


def wait_for_release(path):
    """Touch PATH.held and wait (at most two minutes) until the test has created PATH.release."""
    Path(f"{path}.held").touch()
    deadline = time.monotonic() + 120
    while not Path(f"{path}.release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def describe(lyr):
    fields = lyr.fields()
    renderer = lyr.renderer()
    return {
        "valid": lyr.isValid(), "spatial": lyr.isSpatial(), "crs": lyr.crs().authid(),
        "features": lyr.featureCount(), "renderer": renderer.type() if renderer else None,
        "rules": [r.label() for r in renderer.rootRule().children()] if renderer and renderer.type() == "RuleRenderer" else [],
        "labels": lyr.labelsEnabled(),
        "aliases": {fields.at(i).name(): lyr.attributeDisplayName(i) for i in range(fields.count())},
        "widgets": {fields.at(i).name(): lyr.editorWidgetSetup(i).type() for i in range(fields.count())},
        "subset": lyr.subsetString(),
    }


def main(args):
    cmd = args[0]
    if cmd == "commits":  # N edits; a refused commit is saved again, as QGIS keeps the edit (at most R times)
        path, name, code, n, retries = args[1], args[2], args[3], int(args[4]), int(args[5])
        lyr = layer(path, name)
        fid = find(lyr, code).id()
        first_try, failures, lost, values = 0, [], 0, []
        for i in range(n):
            value = f"QGIS 第{i}次"
            for attempt in range(retries + 1):
                good, errors = commit_one(lyr, fid, "hazard", value)
                if good:
                    first_try += attempt == 0
                    values.append(value)
                    break
                failures.append(errors)
                time.sleep(0.2)
            else:
                lost += 1
            time.sleep(0.05)
        return {"first_try": first_try, "failed_commits": len(failures), "gave_up": lost, "values": values,
                "errors": failures[:2]}
    if cmd == "edit":
        path, name, code, field, value = args[1:6]
        lyr = layer(path, name)
        good, errors = commit_one(lyr, find(lyr, code).id(), field, value)
        return {"ok": good, "errors": errors}
    if cmd == "group-edit":  # Project > Properties > Data Sources > Automatically create transaction groups
        path, name, code, field, value = args[1:6]
        project = QgsProject.instance()
        project.setAutoTransaction(True)
        lyr = project.addMapLayer(layer(path, name))
        fid = find(lyr, code).id()
        lyr.startEditing()
        changed = lyr.changeAttributeValue(fid, lyr.fields().indexOf(field), value)
        wait_for_release(path)
        ok = lyr.commitChanges()
        return {"changed": changed, "ok": ok, "errors": list(lyr.commitErrors())}
    if cmd == "open":
        lyr = layer(args[1], args[2])
        return {"features": sum(1 for _ in lyr.getFeatures())}
    if cmd == "read-twice":
        lyr = layer(args[1], args[2])
        first = sum(1 for _ in lyr.getFeatures())
        wait_for_release(args[1])
        second = sum(1 for _ in lyr.getFeatures())
        return {"first": first, "second": second, "added_again": sum(1 for _ in layer(args[1], args[2]).getFeatures())}
    if cmd == "layer":
        return describe(layer(args[1], args[2]))
    if cmd == "project":
        project = QgsProject.instance()
        read = project.read(args[1])
        root = project.layerTreeRoot()
        layers = {lyr.name(): describe(lyr) for lyr in project.mapLayers().values()}
        groups = [g.name() for g in root.findGroups()]
        layouts = []
        for lay in project.layoutManager().layouts():
            items = [i for i in lay.items() if hasattr(i, "type")]
            legends = [i for i in items if type(i).__name__ == "QgsLayoutItemLegend"]
            layouts.append({"name": lay.name(), "items": sorted({type(i).__name__ for i in items}),
                            "legend_rows": legends[0].model().rowCount() if legends else 0})
        return {"read": read, "layers": layers, "groups": groups, "layouts": layouts}
    raise SystemExit(f"unknown command {cmd}")


try:
    print(json.dumps(main(sys.argv[1:]), ensure_ascii=False))
finally:
    QgsApplication.exitQgis()
