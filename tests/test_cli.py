"""The CLI run as a user runs it: ``python -m safetymap`` in a subprocess."""
import json
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT, database_dump


def run(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "safetymap", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_init_refuses_to_overwrite_without_force(tmp_path):
    db = tmp_path / "t.gpkg"
    assert "示例数据" in run("init", "--db", db).stdout
    before = database_dump(db)
    refused = run("init", "--db", db, check=False)
    assert refused.returncode != 0 and "--force" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert database_dump(db) == before
    run("init", "--db", db, "--force", "--no-sample")
    assert json.loads(run("list", "--db", db, "--json").stdout) == []


def test_list_show_stats(sample_db):
    rows = json.loads(run("list", "--db", sample_db, "--json", "--category", "独柱墩桥梁").stdout)
    assert rows and {r["category"] for r in rows} == {"bridge"}
    shown = json.loads(run("show", rows[0]["code"], "--db", sample_db, "--json").stdout)
    assert shown["code"] == rows[0]["code"] and shown["version"] == 1 and shown["category"] == "bridge"
    assert shown["source_geometry"]["type"] in ("LineString", "Point") and shown["geometry"]["type"] == "Polygon"
    assert "起点桩号" in run("show", rows[0]["code"], "--db", sample_db).stdout
    stats = json.loads(run("stats", "--db", sample_db, "--json").stdout)
    listed = len(json.loads(run("list", "--db", sample_db, "--json").stdout))
    assert stats["total"] + sum(stats["facilities"].values()) == listed and all(stats["facilities"].values())
    assert sum(stats["by_category"].values()) == sum(stats["by_grade"].values()) == stats["total"]
    assert all(stats["by_grade"][g] > 0 for g in ("重大", "较大", "一般", "较小"))


def test_stats_prints_the_statistics_pages_headline_hazards_included(sample_db):
    """`stats` gives the same headline figures as the 统计 page (one function computes both), the
    hazard figures among them; a rate of nothing is null in the JSON, not NaN."""
    from safetymap import stats as figures
    from safetymap.store import open_store
    headline = json.loads(run("stats", "--db", sample_db, "--json").stdout)["headline"]
    store = open_store(sample_db)
    expected = figures.headline(figures.load(store), store.schema)
    store.close()
    assert headline == json.loads(json.dumps(expected, ensure_ascii=False).replace("NaN", "null"))
    assert {"未销号重大隐患", "逾期未整改隐患", "挂牌督办未销号隐患", "图斑总数"} <= set(headline)
    text = run("stats", "--db", sample_db).stdout
    assert "未销号重大隐患" in text and "逾期未整改" in text


@pytest.mark.parametrize("args, message", [
    (["show", "XX-404"], "找不到图斑"),
    (["list", "--category", "桥头跳车"], "未知类别"),
    (["export", "--out", "{tmp}/x.zip", "--category", "nope"], "未知类别"),
])
def test_errors_are_one_clear_line_and_nonzero(sample_db, tmp_path, args, message):
    before = database_dump(sample_db)
    proc = run(*[a.format(tmp=tmp_path) for a in args], "--db", sample_db, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert database_dump(sample_db) == before


def test_missing_database_is_reported(tmp_path):
    proc = run("list", "--db", tmp_path / "none.gpkg", check=False)
    assert proc.returncode != 0 and "不存在" in proc.stderr


def test_export_shapefile_from_the_cli(sample_db, tmp_path):
    out = tmp_path / "ledger.zip"
    run("export", "--db", sample_db, "--format", "shp", "--out", out, "--encoding", "gbk")
    names = zipfile.ZipFile(out).namelist()
    assert "fog_patch.shp" in names and "字段对照表.csv" in names


def test_output_cut_off_by_a_closed_pipe_ends_quietly_with_141(sample_db):
    """`safetymap stats | head -1`: the reader goes before the CLI writes (here at once, so every run is
    the same). No traceback; 141 = 128 + SIGPIPE, what other Unix tools give (pipefail sees the cut)."""
    proc = subprocess.Popen([sys.executable, "-m", "safetymap", "stats", "--db", str(sample_db)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _out, err = proc.communicate(timeout=300)
    assert (proc.returncode, err.decode()) == (141, "")
