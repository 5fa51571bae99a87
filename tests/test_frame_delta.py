"""After a change, the map page's frame (``map_frame.load``, one per ledger revision) and 台账's table
(``ledger_page.ledger_view``) are made from the previous revision's and the patches that changed, not read whole
again: they equal a whole read after every kind of change (edits, archive and restore, new patches, re-codes, fog
events, a desktop client's writes, a new day), and their unchanged rows are the previous ones' very objects."""
from __future__ import annotations

import datetime as dt
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import both_backends
from safetymap import frame_splice, ledger
from safetymap.backends import gpkg
from safetymap.store import open_store
from safetymap.ui import common, ledger_page, map_frame
from safetymap.ui.common import clear_revision_cache

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_io import synthetic  # noqa: E402

EDITOR = "编辑员"


def whole(store) -> pd.DataFrame:
    """The frame read whole, as a process that has not cached it yet reads it."""
    clear_revision_cache()
    return map_frame.load(store)


def updated_after(store, change) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frame before ``change(store)`` and the one the page gets after it (from the cache's previous one);
    台账's table (``ledger_page.ledger_view``) checked on the way."""
    before = whole(store)
    view = ledger_page.ledger_view(store)
    change(store)
    after = map_frame.load(store)
    assert_view_updated(store, view, ledger_page.ledger_view(store))
    return before, after


def assert_view_updated(store, before, after) -> None:
    """台账's table after a change equals one built whole, and its unchanged rows are the previous table's (the
    table's texts are pandas strings, not objects to compare: its filter values are)."""
    assert len(shared(before.keys, after.keys)) >= len(named(before.keys)) - 40 >= 40  # a few rows changed at most
    clear_revision_cache()
    fresh = ledger_page.ledger_view(store)
    assert after.revision == fresh.revision
    pd.testing.assert_frame_equal(after.keys, fresh.keys)
    pd.testing.assert_frame_equal(after.table, fresh.table)


def assert_as_read_whole(store, frame: pd.DataFrame) -> None:
    fresh = whole(store)
    assert frame.attrs["revision"] == fresh.attrs["revision"]
    if store.path is not None:  # the GeoPackage's order is Python's order of codes; a server's collation may differ
        pd.testing.assert_frame_equal(frame, fresh)
    by_code = lambda f: f.sort_values("code").reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(by_code(frame), by_code(fresh))


def shared(before: pd.DataFrame, after: pd.DataFrame, column: str = "name") -> set[str]:
    """The codes whose ``column`` value in ``after`` is the very object of ``before``'s (not read again)."""
    old = dict(zip(before["code"], before[column]))
    return {code for code, value in zip(after["code"], after[column])
            if isinstance(value, str) and old.get(code) is value}


def named(before: pd.DataFrame) -> set[str]:
    return set(before.loc[before["name"].map(lambda v: isinstance(v, str)), "code"])


def patch(store, row: int = 0) -> dict:
    return store.get(whole(store)["code"].iloc[row])


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_revision_cache()
    yield
    clear_revision_cache()


@both_backends
def test_after_one_edit_only_that_patch_is_read_again(store):
    """The unchanged rows are the previous frame's objects (a whole read makes new strings for every row)."""
    target = patch(store, 3)
    before, after = updated_after(store, lambda s: s.update(target["code"], {"name": "改过的名称"},
                                                             target["version"], EDITOR))
    assert shared(before, after) == named(before) - {target["code"]}
    assert shared(before, after, "code") == set(before["code"]) - {target["code"]}
    assert after.set_index("code").loc[target["code"], "name"] == "改过的名称"
    assert_as_read_whole(store, after)


@both_backends
def test_an_edit_of_grade_status_and_deadline_changes_the_flags_as_a_whole_read(store):
    target = patch(store, 5)
    late = ledger.today() - dt.timedelta(days=3)
    before, after = updated_after(store, lambda s: s.update(
        target["code"], {"rect_status": "整改中", "rect_deadline": late, "name": "逾期的图斑"}, target["version"], EDITOR))
    assert after.set_index("code").loc[target["code"], "overdue"]
    assert shared(before, after) == named(before) - {target["code"]}
    assert_as_read_whole(store, after)
    statuses = map_frame.load(store)["rect_status"].dropna()
    assert len({id(v) for v in statuses}) == statuses.nunique()  # one object per value, old and new rows


@both_backends
def test_archive_and_restore(store):
    target = patch(store, 7)
    before, after = updated_after(store, lambda s: s.archive(target["code"], EDITOR))
    assert target["code"] not in set(after["code"]) and len(after) == len(before) - 1
    assert shared(before, after) == named(before) - {target["code"]}
    assert_as_read_whole(store, after)
    before, after = updated_after(store, lambda s: s.restore(target["code"], EDITOR))
    assert target["code"] in set(after["code"])
    assert shared(before, after) == named(before)
    assert_as_read_whole(store, after)


@both_backends
def test_new_patches_of_an_insert_many_and_an_insert(store, schema):
    raw, geoms = synthetic(schema.category("bridge"), schema, 30, np.random.default_rng(5), 800)
    before, after = updated_after(store, lambda s: s.insert_many("bridge", raw, geoms, EDITOR))
    assert len(after) == len(before) + 30
    assert shared(before, after) == named(before)
    assert_as_read_whole(store, after)
    raw, geoms = synthetic(schema.category("fog"), schema, 1, np.random.default_rng(7), 900)
    before, after = updated_after(store, lambda s: s.insert("fog", raw.iloc[0].to_dict(), geoms[0], EDITOR))
    assert raw["code"].iloc[0] in set(after["code"])
    assert_as_read_whole(store, after)


@both_backends
def test_a_fog_event_lists_a_segment_as_a_whole_read_does(store):
    frame = whole(store)
    fog = frame[(frame["category"] == store.schema.fog_category) & ~frame["fog_ledger"]]
    code = fog["code"].iloc[0]
    last_year = ledger.today().year - 1

    def log_events(s):
        for month in range(1, 13):
            s.add_fog_event(code, dt.date(last_year, month, 10), EDITOR, min_visibility_m=50)

    before, after = updated_after(store, log_events)
    assert after.set_index("code").loc[code, "fog_per_year"] > before.set_index("code").loc[code, "fog_per_year"] \
        or pd.isna(before.set_index("code").loc[code, "fog_per_year"])
    assert shared(before, after) == named(before) - {code}
    assert_as_read_whole(store, after)


@both_backends
def test_a_new_day_judges_overdue_again_from_the_frame(store, monkeypatch):
    target = patch(store, 4)
    store.update(target["code"], {"rect_status": "整改中", "rect_deadline": ledger.today() + dt.timedelta(days=1)},
                 target["version"], EDITOR)
    before = whole(store)
    assert not before.set_index("code").loc[target["code"], "overdue"]
    later = ledger.today() + dt.timedelta(days=3)
    view = ledger_page.ledger_view(store)
    for module in (ledger, common, map_frame):
        monkeypatch.setattr(module, "today", lambda: later)
    after = map_frame.load(store)
    assert_view_updated(store, view, ledger_page.ledger_view(store))
    assert after.set_index("code").loc[target["code"], "overdue"]
    assert shared(before, after) == named(before)  # nothing read again
    assert_as_read_whole(store, after)


def test_a_new_year_reads_it_whole_the_fog_window_moved(store, monkeypatch):
    before = whole(store)
    next_year = dt.date(ledger.today().year + 1, 1, 2)
    for module in (ledger, common, map_frame):
        monkeypatch.setattr(module, "today", lambda: next_year)
    after = map_frame.load(store)
    assert not shared(before, after)
    assert_as_read_whole(store, after)


def other_client(store) -> sqlite3.Connection:
    con = sqlite3.connect(store.path, isolation_level=None)
    gpkg.register_functions(con)  # GDAL has ST_MinX … for its own R-tree triggers
    return con


def test_a_desktop_clients_edit_insert_and_delete(sample_db):
    """QGIS writes the file itself; the live GeoPackage's triggers leave the history rows the update reads."""
    store = open_store(sample_db)
    one, two = patch(store, 1), patch(store, 2)
    con = other_client(store)

    def edit(_store):
        con.execute(f'UPDATE "patch_{one["category"]}" SET name = ?, risk_grade = ? WHERE code = ?',
                    ("QGIS 里改的", "重大", one["code"]))
        con.execute(f'DELETE FROM "patch_{two["category"]}" WHERE code = ?', (two["code"],))
        con.execute(f'INSERT INTO "patch_{one["category"]}" (geom, code, name) VALUES (?, ?, ?)',
                    (gpkg.encode([one["geometry"]], 4490)[0], "QG-001", "QGIS 画的"))

    before, after = updated_after(store, edit)
    assert shared(before, after) == named(before) - {one["code"], two["code"]}
    assert "QG-001" in set(after["code"]) and two["code"] not in set(after["code"])
    assert_as_read_whole(store, after)


def test_a_recode_elsewhere_and_its_undo_in_the_app(sample_db):
    """A re-code carries the patch's history to the new code; its row names the old code, which goes."""
    store = open_store(sample_db)
    frame = whole(store)
    code = frame.loc[frame["category"] == store.schema.fog_category, "code"].iloc[0]  # with fog events
    category = frame.set_index("code").loc[code, "category"]
    con = other_client(store)
    before, after = updated_after(store, lambda s: con.execute(
        f'UPDATE "patch_{category}" SET code = ? WHERE code = ?', ("NEW-1", code)))
    assert "NEW-1" in set(after["code"]) and code not in set(after["code"])
    assert shared(before, after) == named(before) - {code}
    assert_as_read_whole(store, after)
    change = int(store.external_changes()["id"].iloc[0])
    before, after = updated_after(store, lambda s: s.resolve_external_change(change, "undo", "admin"))
    assert code in set(after["code"]) and "NEW-1" not in set(after["code"])
    assert shared(before, after) == named(before) - {"NEW-1"}
    assert_as_read_whole(store, after)


def test_a_write_that_left_no_history_is_caught_by_the_check_and_read_whole(sample_db):
    """A write the history does not show (here: one made as the app marks its own, without a history row) makes
    the frame's count or versions differ from the ledger's: the frame is read whole instead."""
    store = open_store(sample_db)
    silent, edited = patch(store, 1), patch(store, 2)
    before = whole(store)
    con = other_client(store)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO safetymap_app_write (id) VALUES (1)")
    con.execute(f'UPDATE "patch_{silent["category"]}" SET name = ?, version = version + 1 WHERE code = ?',
                ("悄悄改的", silent["code"]))
    con.execute("DELETE FROM safetymap_app_write")
    con.execute("COMMIT")
    store.update(edited["code"], {"name": "正常的修改"}, edited["version"], EDITOR)
    after = map_frame.load(store)
    assert not shared(before, after)  # read whole
    assert after.set_index("code").loc[silent["code"], "name"] == "悄悄改的"
    assert_as_read_whole(store, after)


@both_backends
def test_the_store_lists_what_changed_since_a_revision(store, schema):
    start = store.revision()
    target = patch(store, 3)
    store.update(target["code"], {"name": "改过的名称"}, target["version"], EDITOR)
    changes = store.changes_since(start, ["name", "version"], limit=10)
    assert changes.codes == [target["code"]] and changes.revision == store.revision()
    assert changes.rows[["code", "name"]].values.tolist() == [[target["code"], "改过的名称"]]
    assert sum(n for n, _ in changes.totals.values()) == sum(store.count().values())
    raw, geoms = synthetic(schema.category("bridge"), schema, 11, np.random.default_rng(6), 900)
    store.insert_many("bridge", raw, geoms, EDITOR)
    assert store.changes_since(start, ["name"], limit=10) is None  # too many: read it whole
    assert store.changes_since(store.revision(), ["name"], limit=10).codes == []


def test_a_table_spliced_after_many_edits_is_kept_in_few_pieces(store, monkeypatch):
    """Each update joins slices of the previous table (its Arrow text columns are not copied): the pieces are
    joined again beyond ``MAX_CHUNKS``, so that a long-running app's table does not fall into ever more."""
    monkeypatch.setattr(frame_splice, "MAX_CHUNKS", 4)
    codes = whole(store)["code"].tolist()
    view = ledger_page.ledger_view(store)
    for k in range(4):
        current = store.get(codes[10 * k + 5])
        store.update(current["code"], {"name": f"第 {k} 次修改"}, current["version"], EDITOR)
        view = ledger_page.ledger_view(store)
    pieces = [view.table[c].array.__arrow_array__().num_chunks for c in view.table.columns
              if isinstance(view.table[c].array, pd.arrays.ArrowExtensionArray)]
    assert pieces and max(pieces) <= 4
    clear_revision_cache()
    pd.testing.assert_frame_equal(view.table, ledger_page.ledger_view(store).table)
