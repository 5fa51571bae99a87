"""The pages that list the ledger (台账, 导入导出, 图斑编辑, 巡查上报, 团雾台账) through AppTest on a real
GeoPackage: a rerun with no change in the ledger reads no patches again (issue 16: derived data is kept
once per revision for the process), a change is seen on the next run, and so is a new day (逾期)."""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import streamlit as st
from conftest import page_test

from safetymap import ledger, stats
from safetymap.auth import User
from safetymap.editing import nearest_patches
from safetymap.errors import PermissionDenied
from safetymap.filters import PatchFilter
from safetymap.store import Store, open_store
from safetymap.ui import common, patch_lists
from safetymap.ui.files_page import _export_bytes

WHOLE_READS = ("read", "read_columns", "rows", "codes")  # Store methods that read many patches (``get`` reads one)


def counting(method, name: str, counts: Counter):
    def spy(self, *args, **kwargs):
        counts[name] += 1
        return method(self, *args, **kwargs)
    return spy


@pytest.fixture
def reads(monkeypatch):
    """How often each whole-ledger read of the real store ran: a counting wrapper around the method."""
    counts: Counter = Counter()
    for name in WHOLE_READS:
        monkeypatch.setattr(Store, name, counting(getattr(Store, name), name, counts))
    return counts


@pytest.fixture(autouse=True)
def fresh_caches(sample_db, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    common.clear_revision_cache()
    yield
    st.cache_resource.clear()
    common.clear_revision_cache()


def run(at):
    at.run()
    assert not at.exception, at.exception
    return at


def other_writer(sample_db):
    return open_store(sample_db)  # another process's store: the page learns of its write only from the ledger


def archive(sample_db, code: str) -> None:
    writer = other_writer(sample_db)
    writer.archive(code, "另一位管理员")
    writer.close()


PAGES = {  # page module: (role, session state preset)
    "ledger_page": ("editor", {}),
    "files_page": ("editor", {}),
    "edit_page": ("admin", {}),
    "field_page": ("inspector", {}),
    "fog_page": ("viewer", {}),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_a_rerun_with_no_change_reads_no_patches_again(page, reads):
    role, _ = PAGES[page]
    at = run(page_test(page, "用户甲", role))
    assert sum(reads.values()), "the first run reads the ledger"
    first = Counter(reads)
    run(at)
    run(at)
    assert reads == first, f"{page}: a rerun read the ledger again: {dict(reads - first)}"


def test_a_second_session_and_the_other_pages_share_the_first_read(reads):
    """One frame per revision for the process: the map's, which 导入导出, 图斑编辑 and 巡查上报 pick from."""
    run(page_test("files_page", "用户甲", "editor"))
    run(page_test("files_page", "用户乙", "editor"))
    run(page_test("edit_page", "用户丙", "admin"))
    run(page_test("field_page", "用户丁", "inspector"))
    # codes: 图斑编辑's archived patches (once per revision) and 新增图斑's next code (once for its session)
    assert reads == Counter(read_columns=1, codes=2)


def table(at):
    return at.dataframe[0].value


def test_ledger_page_sees_an_archive_elsewhere_on_its_next_run(sample_db, store):
    at = run(page_test("ledger_page", "用户甲", "viewer"))
    code = store.read()["code"].iloc[3]
    assert code in set(table(at)["图斑编号"])
    n = len(table(at))
    archive(sample_db, code)
    run(at)
    assert len(table(at)) == n - 1 and code not in set(table(at)["图斑编号"])


def test_ledger_page_marks_a_patch_overdue_when_the_day_passes(sample_db, store, monkeypatch):
    """The day is part of the cache's key: the same revision on a later day shows 逾期 anew."""
    patch = store.read().iloc[5]
    writer = other_writer(sample_db)
    writer.update(patch["code"], {"rect_status": "整改中", "rect_deadline": ledger.today() + dt.timedelta(days=1)},
                  int(patch["version"]), "编辑员")
    writer.close()
    at = run(page_test("ledger_page", "用户甲", "viewer"))
    row = table(at).set_index("图斑编号").loc[patch["code"]]
    assert row[ledger.OVERDUE_COLUMN] == ""
    later = ledger.today() + dt.timedelta(days=3)
    for module in (ledger, common):
        monkeypatch.setattr(module, "today", lambda: later)
    run(at)
    assert table(at).set_index("图斑编号").loc[patch["code"]][ledger.OVERDUE_COLUMN] == "逾期"


def test_files_page_counts_an_archive_elsewhere_and_exports_what_is_there_on_click(sample_db, store):
    at = run(page_test("files_page", "用户甲", "editor"))
    n = at.metric[0].value
    assert int(n) == len(store.read())
    archive(sample_db, store.read()["code"].iloc[0])
    run(at)
    assert int(at.metric[0].value) == int(n) - 1


def test_edit_page_marks_a_patch_archived_elsewhere_on_its_next_run(sample_db, store):
    code = store.read()["code"].iloc[2]
    at = run(page_test("edit_page", "用户甲", "admin"))
    box = at.selectbox[0]
    assert "已归档" not in box.format_func(code)
    archive(sample_db, code)
    run(at)
    assert at.selectbox[0].format_func(code).endswith("（已归档）")
    assert len(at.selectbox[0].options) == len(box.options)  # still there to restore


def test_field_page_drops_a_patch_archived_elsewhere_on_its_next_run(sample_db, store):
    code = store.read()["code"].iloc[2]
    at = run(page_test("field_page", "用户甲", "inspector"))
    options = at.selectbox(key="field_search").options
    assert any(o.startswith(code) for o in options)
    archive(sample_db, code)
    run(at)
    assert not any(o.startswith(code) for o in at.selectbox(key="field_search").options)
    assert len(at.selectbox(key="field_search").options) == len(options) - 1


def test_fog_page_counts_a_fog_event_reported_elsewhere_on_its_next_run(sample_db, store):
    at = run(page_test("fog_page", "用户甲", "viewer"))
    listed = int(at.metric[0].value)
    counts = stats.fog_ledger_table(store.read(), store.fog_events(), store.schema, every_segment=True)
    unlisted = counts.loc[~counts[stats.IN_LEDGER].astype(bool), "图斑编号"].iloc[0]
    last_year = ledger.today().year - 1  # the rule's window ends with the last whole year
    writer = other_writer(sample_db)
    for k in range(12):
        writer.add_fog_event(unlisted, dt.date(last_year, 6, 1 + k), "巡查员", min_visibility_m=30)
    writer.close()
    run(at)
    assert int(at.metric[0].value) == listed + 1


def test_the_nearest_patches_from_the_column_read_are_those_of_the_whole_read(store):
    """巡查上报's 离我最近 measures the source geometries read column-wise: the same patches, the same
    distances as from ``Store.read``."""
    everything = store.read()
    lon, lat = everything["source_geometry"].iloc[7].centroid.coords[0]
    expected = nearest_patches(everything, lon, lat, n=5)
    got = nearest_patches(patch_lists.patch_places(store), lon, lat, n=5)
    assert list(got["code"]) == list(expected["code"]) and list(got["distance_m"]) == list(expected["distance_m"])
    assert got["code"].iloc[0] == everything["code"].iloc[7]


def test_an_export_is_refused_before_the_ledger_is_read(store, reads):
    """The download reads its patches on click, only after the store has checked the user."""
    build = _export_bytes(store, PatchFilter(), 65, "csv", {}, User("查看员", "viewer"))
    with pytest.raises(PermissionDenied):
        build()
    assert not reads
