"""`python -m safetymap export` and `import` run as a user runs them."""
from __future__ import annotations

import getpass
import json

import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook

from conftest import database_dump
from test_cli import run


@pytest.mark.parametrize("fmt, suffix", [("shp", "zip"), ("gpkg", "gpkg"), ("geojson", "geojson"), ("kml", "kml"),
                                         ("kmz", "kmz"), ("xlsx", "xlsx"), ("csv", "csv")])
def test_export_every_format_with_filters(sample_db, tmp_path, fmt, suffix):
    out = tmp_path / f"part.{suffix}"
    proc = run("export", "--db", sample_db, "--format", fmt, "--out", out, "--category", "独柱墩桥梁",
               "--grade", "重大", "--grade", "较大")
    bridges = [r for r in json.loads(run("list", "--db", sample_db, "--json", "--category", "bridge").stdout)
               if r["risk_grade"] in ("重大", "较大")]
    assert f"已导出 {len(bridges)} 个图斑" in proc.stdout and out.stat().st_size > 0
    if fmt == "xlsx":
        assert load_workbook(out).sheetnames == ["汇总", "独柱墩桥梁", "GIS表"]
    if fmt == "gpkg":
        assert len(pyogrio.read_dataframe(out, layer="独柱墩桥梁")) == len(bridges)


def test_export_refuses_to_overwrite_the_database(sample_db):
    before = database_dump(sample_db)
    proc = run("export", "--db", sample_db, "--format", "gpkg", "--out", sample_db, check=False)
    assert proc.returncode != 0 and "台账数据库本身" in proc.stderr
    assert database_dump(sample_db) == before


def test_import_dry_run_then_commit(sample_db, tmp_path):
    out = tmp_path / "ledger.csv"
    run("export", "--db", sample_db, "--format", "csv", "--out", out)
    table = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    code = table.at[0, "图斑编号"]
    table.at[0, "责任人"] = "王五"
    table.to_csv(out, index=False, encoding="utf-8-sig")
    before = database_dump(sample_db)
    dry = run("import", out, "--db", sample_db, "--dry-run")
    assert "更新 1 个" in dry.stdout and f"{code} 责任人" in dry.stdout and "未写入" in dry.stdout
    assert database_dump(sample_db) == before
    done = run("import", out, "--db", sample_db)  # recorded as the operating-system user, never a typed name
    assert "已导入：新增 0 个，更新 1 个" in done.stdout
    shown = json.loads(run("show", code, "--db", sample_db, "--json").stdout)
    assert shown["resp_person"] == "王五" and shown["updated_by"] == f"命令行:{getpass.getuser()}" and shown["version"] == 2


def test_refused_import_exits_non_zero_and_writes_nothing(sample_db, tmp_path):
    out = tmp_path / "bad.csv"
    run("export", "--db", sample_db, "--format", "csv", "--out", out)
    table = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    table.at[0, "整改时限"] = "2026-02-30"
    table.at[1, "风险等级"] = "特大"
    table.to_csv(out, index=False, encoding="utf-8-sig")
    before = database_dump(sample_db)
    proc = run("import", out, "--db", sample_db, check=False)
    assert proc.returncode != 0
    assert "第 2 行，字段「整改时限」" in proc.stdout and "「特大」" in proc.stdout
    assert "导入被拒绝，未写入任何数据" in proc.stderr
    assert database_dump(sample_db) == before


def test_import_options_crs_and_category(sample_db, tmp_path):
    out = tmp_path / "new.csv"
    pd.DataFrame([{"图斑编号": "DZ-950", "名称": "新桥", "路线编码": "X024", "起点桩号": "K3+000", "乡镇": "湾沟镇",
                   "风险等级": "一般", "整改状态": "待整改", "经度": 126.70, "纬度": 42.00}]).to_csv(out, index=False)
    refused = run("import", out, "--db", sample_db, check=False)
    assert refused.returncode != 0 and "没有坐标系" in refused.stdout
    run("import", out, "--db", sample_db, "--crs", "4490", "--category", "独柱墩桥梁")
    assert json.loads(run("show", "DZ-950", "--db", sample_db, "--json").stdout)["category"] == "bridge"
