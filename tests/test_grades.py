"""Grades that are always right: recomputed from L × C on every save unless directly determined with a
basis, and databases of the previous release upgraded on open with nothing lost."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from safetymap import stats
from safetymap.errors import ValidationError
from safetymap.schema import load_schema
from safetymap.store import create_store, open_store
from safetymap.upgrades import LATEST, VERSION_KEY

RELEASE1 = Path(__file__).parent / "fixtures" / "release1_sample.gpkg"  # made by the previous release's code
EDITOR = "编辑员"


def test_a_grade_from_the_matrix_follows_a_later_change_of_l_and_c(store):
    low = store.update("JW-005", {"likelihood": 1, "consequence": 1}, store.get("JW-005")["version"], EDITOR)
    assert (low["risk_grade"], low["grade_method"]) == ("较小", "矩阵计算")
    high = store.update("JW-005", {"likelihood": 5, "consequence": 5}, low["version"], EDITOR)
    assert (high["risk_score"], high["risk_grade"]) == (25, "重大")
    assert store.read().set_index("code").loc["JW-005", "risk_grade"] == "重大"  # map, statistics, report read this
    assert stats.summary(store.read(), store.schema) is not None


def test_a_typed_grade_does_not_outvote_the_matrix(store):
    record = store.get("JW-005")
    saved = store.update("JW-005", {"risk_grade": "重大", "likelihood": 1, "consequence": 1}, record["version"], EDITOR)
    assert saved["risk_grade"] == "较小"


def test_a_direct_determination_is_kept_with_its_basis(store):
    record = store.get("JW-005")
    saved = store.update("JW-005", {"grade_method": "直接判定", "risk_grade": "重大", "grade_basis": "专家组现场研判",
                                    "likelihood": 1, "consequence": 1}, record["version"], EDITOR)
    assert (saved["risk_grade"], saved["grade_basis"]) == ("重大", "专家组现场研判")
    again = store.update("JW-005", {"resp_person": "王工"}, saved["version"], EDITOR)
    assert again["risk_grade"] == "重大"


def test_a_direct_determination_without_basis_is_refused_and_changes_nothing(store):
    record = store.get("JW-005")
    with pytest.raises(ValidationError, match="直接判定须填写判定依据"):
        store.update("JW-005", {"grade_method": "直接判定", "risk_grade": "重大"}, record["version"], EDITOR)
    assert store.get("JW-005")["version"] == record["version"]


def test_an_import_row_whose_grade_disagrees_with_its_l_and_c_is_asked_about(store):
    values = {k: v for k, v in store.get("JW-005").items() if k in store.schema.category("curve").keys}
    values.update(code="JW-900", risk_grade="重大", likelihood=1, consequence=1, grade_method=None, grade_basis=None)
    with pytest.raises(ValidationError, match="与 L×C 矩阵结果不一致"):
        store.insert("curve", values, store.get("JW-005")["source_geometry"], EDITOR)


@pytest.fixture
def release1(tmp_path) -> Path:
    path = tmp_path / "release1.gpkg"
    shutil.copy(RELEASE1, path)
    return path


def raw_rows(path: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_database_of_the_previous_release_opens_with_everything_kept_and_grades_migrated(release1):
    tables = [t for t in (c.table for c in load_schema().categories)  # layers added later are created on open
              if raw_rows(release1, f"SELECT name FROM sqlite_master WHERE name = '{t}'")]
    versions_before = {t: raw_rows(release1, f'SELECT code, version, risk_grade FROM "{t}" ORDER BY code') for t in tables}
    history_before = raw_rows(release1, "SELECT * FROM history ORDER BY id")
    store = open_store(release1)
    assert store.meta(VERSION_KEY) == str(LATEST)
    frame = store.read().set_index("code")
    for t, rows in versions_before.items():
        for code, version, grade in rows:
            assert (frame.loc[code, "version"], frame.loc[code, "risk_grade"]) == (version, grade)
    assert raw_rows(release1, "SELECT * FROM history ORDER BY id") == history_before
    assert frame.loc["JW-001", "grade_method"] == "直接判定" and frame.loc["JW-001", "grade_basis"] == "历史数据"
    assert frame.loc["JW-005", "grade_method"] == "矩阵计算"
    direct = frame[frame["grade_method"] == "直接判定"]
    assert set(direct.index) == {"JW-001", "TW-003", "TW-010", "JW-006"}  # the hand-typed grade and grade-only rows
    assert (direct["grade_basis"] == "历史数据").all()
    manual = frame.loc[["TW-005", "TW-013"], ["fog_events_manual", "fog_manual_basis"]]
    assert manual["fog_events_manual"].isna().all()  # old yearly averages had no year: kept in words, not counted
    assert manual["fog_manual_basis"].tolist() == ["原人工填报年均 4 次/年（未注明年份，新规则不计入）",
                                                   "原人工填报年均 1.5 次/年（未注明年份，新规则不计入）"]
    upgrades = store.audit().query("action == 'upgrade'")
    assert len(upgrades) == LATEST
    open_store(release1)  # opening again runs nothing twice
    assert len(open_store(release1).audit().query("action == 'upgrade'")) == LATEST


def test_after_the_upgrade_edits_recompute_the_grade(release1):
    store = open_store(release1)
    record = store.get("JW-005")
    saved = store.update("JW-005", {"likelihood": 5, "consequence": 5}, record["version"], EDITOR)
    assert saved["risk_grade"] == "重大" and saved["version"] == record["version"] + 1
    assert pd.notna(saved["updated_at"])


def test_every_layer_has_the_versions_index_the_change_check_reads_new_or_upgraded(release1, tmp_path):
    """``Store.changes_since`` checks each layer's count and sum of versions: with the index (upgrade 5 for a
    ledger of an earlier release, created with the table for a new one) SQLite reads the index alone, not
    the layer's wide rows (0.16-0.2 s a check at 100,000 patches)."""
    fresh = tmp_path / "new.gpkg"
    create_store(fresh).close()
    open_store(release1).close()
    for path in (release1, fresh):
        for c in load_schema().categories:
            plan = raw_rows(path, f'EXPLAIN QUERY PLAN SELECT count(*), coalesce(sum(version), 0) FROM "{c.table}" '
                                  "WHERE NOT archived")
            assert "COVERING INDEX" in " ".join(str(step[-1]) for step in plan), (path.name, c.table, plan)
