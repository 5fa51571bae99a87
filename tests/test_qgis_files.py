"""Every export opened by the desktop clients engineers use: QGIS 3.22 (Debian python3-qgis, driven by
/usr/bin/python3 in a subprocess through ``qgis_probe.py``) and GDAL 3.6's ogr2ogr/ogrinfo (gdal-bin).
Without them these tests skip with the reason, except in CI ($SAFETYMAP_REQUIRE_DESKTOP=1), where
they fail: ``scripts/install_desktop_clients.sh`` installs both."""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from safetymap.io.csv import export_csv
from safetymap.io.excel import TABLE_SHEET
from safetymap.io.export import FORMATS, export, related_tables
from safetymap.io.tables import CENTRE_COLUMNS

SYSTEM_PYTHON = "/usr/bin/python3"
PROBE = Path(__file__).with_name("qgis_probe.py")
INSTALL = "bash scripts/install_desktop_clients.sh"
CRSES = {"EPSG:4490", "EPSG:4326"}
TIMEOUT = 300


def require(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("SAFETYMAP_REQUIRE_DESKTOP") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@functools.lru_cache(maxsize=1)
def qgis_missing() -> str | None:
    """Why QGIS's Python bindings cannot be used here, or None."""
    if not os.path.exists(SYSTEM_PYTHON):
        return f"没有 {SYSTEM_PYTHON}"
    done = subprocess.run([SYSTEM_PYTHON, "-c", "from qgis.core import QgsApplication"], capture_output=True,
                          text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, timeout=TIMEOUT)
    return None if done.returncode == 0 else f"QGIS 的 Python 接口不可用（{INSTALL}）：{done.stderr.strip()[-200:]}"


@pytest.fixture
def qgis():
    missing = qgis_missing()
    require(missing is None, missing or "")


@pytest.fixture
def gdal_tools():
    require(bool(shutil.which("ogr2ogr") and shutil.which("ogrinfo")), f"没有 ogr2ogr/ogrinfo（gdal-bin；{INSTALL}）")


def probe(specs: list[dict]) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    done = subprocess.run([SYSTEM_PYTHON, str(PROBE), json.dumps(specs)], capture_output=True, text=True,
                          env=env, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def exports(store, folder: Path) -> dict[str, Path]:
    frame = store.read()
    out = {}
    for fmt in FORMATS:
        path = folder / f"ledger-{fmt}{FORMATS[fmt].suffix}"  # shp and qgis are both zips
        tables = related_tables(store, frame["code"]) if fmt == "gpkg" else None
        export(frame, fmt, path, store.schema, tables=tables)
        out[fmt] = path
    export_csv(frame, folder / "ledger-wkt.csv", store.schema, location="wkt")
    out["csv-wkt"] = folder / "ledger-wkt.csv"
    return out


def layer_specs(paths: dict[str, Path], store, folder: Path) -> list[dict]:
    """Every layer of every export, as a QGIS user adds it, with the column holding the patch name."""
    specs = []
    shp = folder / "shp"
    zipfile.ZipFile(paths["shp"]).extractall(shp)
    specs += [{"uri": str(p), "text_field": "NAME", "kind": "shp"} for p in sorted(shp.glob("*.shp"))]
    assert len(specs) >= 2 * len(store.schema.categories), "the shapefile zip has a layer per category and geometry"
    labels = [c.label for c in store.schema.categories]
    gpkg_layers = [name for label in labels for name in (label, label + "_源几何")]
    specs += [{"uri": f"{paths['gpkg']}|layername={name}", "text_field": "名称"} for name in gpkg_layers]
    specs.append({"uri": str(paths["geojson"]), "text_field": "名称"})
    for fmt, base in (("kml", str(paths["kml"])), ("kmz", f"/vsizip/{paths['kmz']}/doc.kml")):
        specs += [{"uri": f"{base}|layername={name}", "text_field": "Name"} for name in kml_folders(store)]
    lon, lat = CENTRE_COLUMNS
    text = {"type": "csv", "crs": "EPSG:4490", "encoding": "UTF-8"}
    specs.append({"provider": "delimitedtext", "path": str(paths["csv"]), "text_field": "名称",
                  "params": {**text, "xField": lon, "yField": lat, "geomType": "point"}})
    specs.append({"provider": "delimitedtext", "path": str(paths["csv-wkt"]), "text_field": "名称",
                  "params": {**text, "wktField": "WKT", "geomType": "polygon"}})
    specs.append({"provider": "virtual", "source": f"{paths['xlsx']}|layername={TABLE_SHEET}", "srid": 4490,
                  "text_field": "名称", "query": f'SELECT *, make_point("{lon}", "{lat}") AS geom FROM t'})
    return specs


def kml_folders(store) -> list[str]:
    frame = store.read()
    names = []
    for c in store.schema.categories:
        kinds = {g.geom_type for g in frame[frame["category"] == c.key]["source_geometry"]}
        names += [c.label] + [c.label + s for k, s in (("LineString", "_源几何"), ("Point", "_源几何点")) if k in kinds]
    return names


def test_every_export_layer_is_spatial_in_qgis_with_its_crs_and_chinese(store, tmp_path, qgis):
    paths = exports(store, tmp_path)
    specs = layer_specs(paths, store, tmp_path)
    names = set(store.read()["name"])
    for spec, layer in zip(specs, probe(specs)):
        where = layer["uri"]
        assert layer["valid"], where
        assert layer["spatial"] and layer["count"] > 0, where
        assert layer["crs"] in CRSES, (where, layer["crs"])
        texts = layer["texts"]
        assert texts and all(any(name in t for name in names) for t in texts), (where, texts[:3])  # not garbled


def assert_graded(layer, schema) -> None:
    assert layer["renderer"] == "categorizedSymbol" and layer["categories"] == len(schema.grades), layer["uri"]
    assert layer["labels"], layer["uri"]


def assert_facility_style(layer, category, kind: str) -> None:
    """A facility layer: one symbol (no grade anywhere), the category's marker, labels by code and name."""
    where = layer["uri"]
    assert layer["renderer"] in ("singleSymbol", "RuleRenderer") and layer["categories"] == 0, where
    assert len(layer["rules"]) <= 1 and not any("grade" in f or "风险等级" in f or "GRADE" in f
                                                for f in layer["filters"] + [layer["attr"]]), where
    assert f"SimpleMarker:{category.marker}" in layer["symbol_layers"], (where, layer["symbol_layers"])
    assert kind != "polygon" or "CentroidFill" in layer["symbol_layers"], (where, layer["symbol_layers"])
    assert layer["labels"] and "concat" in layer["label_text"], (where, layer["label_text"])


def test_shapefile_styles_load_in_qgis_by_grade_and_facilities_by_their_marker(store, tmp_path, qgis):
    out = tmp_path / "ledger.zip"  # the shapefile export alone: its .qml styles are what is checked here
    export(store.read(), "shp", out, store.schema)
    zipfile.ZipFile(out).extractall(tmp_path / "shp")
    specs = [{"uri": str(p), "text_field": "NAME"} for p in sorted((tmp_path / "shp").glob("*.shp"))]
    assert len(specs) >= 2 * len(store.schema.categories)
    kinds = {"patch": "polygon", "line": "line", "point": "point"}
    facilities = 0
    for layer in probe(specs):
        key, suffix = Path(layer["uri"]).stem.rsplit("_", 1)
        category = store.schema.category(key)
        if category.is_facility:
            assert_facility_style(layer, category, kinds[suffix])
            facilities += 1
        else:
            assert_graded(layer, store.schema)
    assert facilities >= 2 * len(store.schema.facility_keys)  # the points and their patches


@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_kml_converts_to_kml_with_ogr2ogr_libkml(store, tmp_path, gdal_tools, fmt):
    source = tmp_path / f"ledger.{fmt}"
    export(store.read(), fmt, source, store.schema)
    out = tmp_path / "converted.kml"
    done = subprocess.run(["ogr2ogr", "-f", "LIBKML", str(out), str(source)], capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0 and out.exists(), done.stderr[-2000:]
    assert out.read_text(encoding="utf-8").count("<Placemark") == 2 * len(store.read())  # patch + source


def test_geopackage_opens_in_ogrinfo_without_a_warning(store, tmp_path, gdal_tools):
    out = tmp_path / "ledger.gpkg"
    export(store.read(), "gpkg", out, store.schema, tables=related_tables(store, store.read()["code"]))
    done = subprocess.run(["ogrinfo", "-ro", "-al", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, timeout=TIMEOUT)  # -al reads every feature: dates are parsed
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]


def test_gbk_shapefile_reads_as_chinese_in_qgis(store, tmp_path, qgis):
    out = tmp_path / "gbk.zip"
    export(store.read(), "shp", out, store.schema, encoding="gbk")
    zipfile.ZipFile(out).extractall(tmp_path / "gbk")
    names = set(store.read()["name"])
    layers = probe([{"uri": str(p), "text_field": "NAME"} for p in sorted((tmp_path / "gbk").glob("*.shp"))])
    for layer in layers:
        assert layer["valid"] and layer["spatial"] and layer["crs"] == "EPSG:4490", layer["uri"]
        assert layer["texts"] and set(layer["texts"]) <= names, (layer["uri"], layer["texts"][:3])


def test_geopackage_layers_open_in_qgis_with_their_default_style(store, tmp_path, qgis):
    out = tmp_path / "ledger.gpkg"
    export(store.read(), "gpkg", out, store.schema)
    schema = store.schema
    labels = [c.label for c in schema.categories if not c.is_facility]
    layers = probe([{"uri": f"{out}|layername={name}"} for name in [*labels, "团雾多发路段_源几何"]])
    for layer in layers:  # the patches, and a source layer of one geometry type
        assert_graded(layer, schema)
    facilities = [schema.category(k) for k in schema.facility_keys]
    names = [(c, c.label, "polygon") for c in facilities] + [(c, c.label + "_源几何", "point") for c in facilities
                                                               if c.geometry == ("Point",)]
    for (c, _name, kind), layer in zip(names, probe([{"uri": f"{out}|layername={n}"} for _, n, _ in names])):
        assert_facility_style(layer, c, kind)  # a facility is not graded: its marker, not grade colours
