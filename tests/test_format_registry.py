"""A format is one module plus one registry entry: a throwaway format (JSON lines with WKT geometry)
registered here is exported by ``export()``, offered by the CLI and read back by the importer."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from conftest import database_dump
from safetymap.cli import build_parser
from safetymap.io import formats
from safetymap.io.csv import csv_frame
from safetymap.io.export import FORMATS, export
from safetymap.io.importer import import_file, preview_import
from safetymap.io.reader import RawLayer, ReadResult

GEOMETRY = "WKT"


def write_jsonl(frame, out, schema, options):
    table = csv_frame(frame, schema).astype(object).where(lambda t: t.notna(), None)
    table[GEOMETRY] = [shapely.to_wkt(g, rounding_precision=-1) for g in frame["source_geometry"]]
    with open(out, "w", encoding="utf-8") as fh:
        for record in table.to_dict("records"):
            fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return ["patches"], []


def read_jsonl(path, name, schema):
    with open(path, encoding="utf-8") as fh:
        frame = pd.DataFrame([json.loads(line) for line in fh if line.strip()])
    geoms = shapely.from_wkt(frame.pop(GEOMETRY).to_numpy())
    return ReadResult(layers=[RawLayer(name, None, frame, np.arange(1, len(frame) + 1), geoms, CRS("EPSG:4490"))])


@pytest.fixture
def jsonl():
    fmt = formats.register(formats.FileFormat("jsonl", "JSON Lines（测试）", (".jsonl",), "application/jsonl",
                                              write_jsonl, read_jsonl))
    yield fmt
    formats.unregister("jsonl")


def test_a_registered_format_round_trips(store, tmp_path, jsonl):
    assert FORMATS["jsonl"] is jsonl
    out = tmp_path / f"ledger{jsonl.suffix}"
    result = export(store.read(), "jsonl", out, store.schema)
    assert result.count == len(store.read()) and out.stat().st_size > 0
    before = database_dump(store.path)
    preview = preview_import(store, out)
    assert preview.ok, preview.problems[:3]
    assert len(preview.adds) == 0 and preview.n_updated == 0 and preview.unchanged == len(store.read())
    assert database_dump(store.path) == before


def test_a_registered_format_fills_an_empty_ledger(store, empty_store, tmp_path, jsonl):
    out = tmp_path / "ledger.jsonl"
    export(store.read(), "jsonl", out, store.schema)
    import_file(empty_store, out, "测试员")
    assert sorted(empty_store.read()["code"]) == sorted(store.read()["code"])


def test_the_cli_offers_every_registered_format(jsonl):
    args = build_parser().parse_args(["export", "--format", "jsonl", "--out", "x.jsonl"])
    assert args.format == "jsonl"


def test_an_unknown_format_is_refused_naming_the_choices(store, tmp_path):
    with pytest.raises(Exception, match="不支持的导出格式「dxf」"):
        export(store.read(), "dxf", tmp_path / "x.dxf", store.schema)
