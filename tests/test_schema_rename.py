"""Labels live in the schema only: renaming 名称 → 图斑名称 and 风险等级 → 风险级别 in a copy of the schema
(SAFETYMAP_SCHEMA) changes the CLI, the ledger page, every export and the legend, and nothing crashes."""
from __future__ import annotations

import shutil
import zipfile

import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook

from conftest import page_test
from safetymap import cli, mapview
from safetymap.errors import SchemaError
from safetymap.io.export import export
from safetymap.schema import DEFAULT_SCHEMA_PATH, load_schema
from safetymap.seed import init_database
from safetymap.store import open_store

RENAMED = {"名称": "图斑名称", "风险等级": "风险级别"}


@pytest.fixture(scope="module")
def renamed_template(tmp_path_factory):
    """A copy of the schema with the two labels renamed, and a sample ledger seeded under it: seeded once
    for the module (it takes seconds), copied for each test."""
    folder = tmp_path_factory.mktemp("renamed")
    text = DEFAULT_SCHEMA_PATH.read_text(encoding="utf-8")
    for old, new in RENAMED.items():
        text = text.replace(f'label = "{old}"', f'label = "{new}"')
    path = folder / "schema.toml"
    path.write_text(text, encoding="utf-8")
    schema = load_schema(path)
    assert schema.field("name").label == "图斑名称" and schema.field("risk_grade").label == "风险级别"
    init_database(folder / "renamed.gpkg", sample=True, schema=schema).close()
    return path, folder / "renamed.gpkg"


@pytest.fixture
def renamed(renamed_template, tmp_path, monkeypatch):
    """A sample ledger under a schema copy with the two labels renamed (SAFETYMAP_SCHEMA, SAFETYMAP_DB)."""
    schema_path, template = renamed_template
    monkeypatch.setenv("SAFETYMAP_SCHEMA", str(schema_path))
    db = tmp_path / "renamed.gpkg"
    shutil.copy(template, db)
    monkeypatch.setenv("SAFETYMAP_DB", str(db))
    store = open_store(db, load_schema())
    yield store
    store.close()


def test_cli_list_uses_the_new_labels(renamed, capsys):
    assert cli.main(["list", "--db", str(renamed.path)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "图斑名称" in header and "风险级别" in header and "风险等级" not in header


def test_ledger_page_uses_the_new_labels(renamed):
    app = page_test("ledger_page", "查看员", "viewer")
    app.run()
    assert not app.exception
    columns = set(app.dataframe[0].value.columns)
    assert {"图斑名称", "风险级别"} <= columns and not {"名称", "风险等级"} & columns
    assert any(m.label == "风险级别" for m in app.multiselect)


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "gpkg", "geojson", "shp", "kml"])
def test_every_export_uses_the_new_labels(renamed, tmp_path, fmt):
    out = tmp_path / f"out.{fmt if fmt != 'shp' else 'zip'}"
    export(renamed.read(), fmt, out, renamed.schema)
    names = _exported_names(out, fmt)
    assert "风险等级" not in names and "名称" not in names
    assert ({"图斑名称", "风险级别"} <= names) if fmt != "shp" else "图斑名称" in names  # shp: in the glossary


def _exported_names(out, fmt) -> set[str]:
    if fmt == "xlsx":
        wb = load_workbook(out)
        return {c.value for ws in wb.worksheets[1:] for c in ws[2] if c.value}
    if fmt == "csv":
        return set(pd.read_csv(out, encoding="utf-8-sig", nrows=0).columns)
    if fmt in ("gpkg", "geojson"):
        layer = pyogrio.list_layers(out)[0][0]
        return set(pyogrio.read_info(out, layer=layer)["fields"])
    if fmt == "kml":
        text = out.read_text(encoding="utf-8")
        return {label for label in ("图斑名称", "风险级别", "名称", "风险等级")  # the balloon's table headers
                if f'&lt;th align="left"&gt;{label}&lt;/th&gt;' in text}
    with zipfile.ZipFile(out) as zf:  # shapefile: short ASCII names, the labels in the field glossary
        glossary = next(n for n in zf.namelist() if n.endswith(".csv"))
        table = pd.read_csv(zf.open(glossary), encoding="utf-8-sig")
    return {v for col in table.columns for v in table[col].astype(str)}


def test_legend_and_tooltips_use_the_new_labels(renamed):
    config = mapview.sm_config(renamed.schema)
    assert ["n", "图斑名称"] in config["tip"] and ["g", "风险级别"] in config["tip"]
    assert "风险级别" in mapview.legend_html(renamed.schema)


def test_a_broken_schema_is_one_chinese_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(DEFAULT_SCHEMA_PATH.read_text(encoding="utf-8").replace('role = "rectified"', 'role = "done"'),
                    encoding="utf-8")
    with pytest.raises(SchemaError, match="rect_statuses 第 3 项"):
        load_schema(path)
    monkeypatch.setenv("SAFETYMAP_SCHEMA", str(path))
    assert cli.main(["list", "--db", str(tmp_path / "none.gpkg")]) == cli.EXIT_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and "role" in err
