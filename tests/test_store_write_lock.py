"""The app holds the GeoPackage's write lock only to write: a save is validated and derived before
``BEGIN IMMEDIATE`` and checked again under the lock (issue 14: QGIS cannot commit while the app holds
it, and SQLite gives QGIS no wait). Another writer is a second real connection to the same file."""
import sqlite3
from contextlib import contextmanager

import pytest

from safetymap.errors import ConflictError, ValidationError
from safetymap.store import open_store


@contextmanager
def lock_held_elsewhere(store):
    """Another client holding the write lock (as QGIS does while it commits). The app's connection
    waits no time for it, so any wait shows as 'database is locked' at once instead of after 60 s."""
    other = sqlite3.connect(store.path, isolation_level=None)
    store.backend.connection().execute("PRAGMA busy_timeout = 0")
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.backend.connection().execute("PRAGMA busy_timeout = 60000")


@contextmanager
def another_save_before_the_lock(store, save):
    """Run ``save`` (a write through another connection) once, just before ``store`` asks SQLite for
    the write lock: someone commits between the app's checks and its write."""
    done = []

    def trace(sql):
        if sql.startswith("BEGIN IMMEDIATE") and not done:
            done.append(sql)
            save()

    con = store.backend.connection()
    con.set_trace_callback(trace)
    try:
        yield done
    finally:
        con.set_trace_callback(None)


def test_a_refused_save_does_not_wait_for_another_writer(sample_db):
    store = open_store(sample_db)
    code = store.codes()[0]
    hazard = store.hazards().iloc[0]
    with lock_held_elsewhere(store):
        with pytest.raises(ValidationError, match="风险等级"):
            store.update(code, {"risk_grade": "特大"}, store.get(code)["version"], "张工")
        with pytest.raises(ValidationError, match="必须填写"):
            store.update_hazard(hazard["hazard_code"], {"description": ""}, int(hazard["version"]), "张工")
    saved = store.update(code, {"name": "锁释放后保存"}, store.get(code)["version"], "张工")
    assert saved["name"] == "锁释放后保存"


def test_a_save_checked_before_another_commit_is_a_conflict_under_the_lock(sample_db):
    store, other = open_store(sample_db), open_store(sample_db)
    code = store.codes()[0]
    version = store.get(code)["version"]
    other_save = lambda: other.update(code, {"name": "别人先存"}, version, "李工")
    with another_save_before_the_lock(store, other_save) as done, pytest.raises(ConflictError) as err:
        store.update(code, {"name": "我的修改"}, version, "张工")
    assert done and err.value.current["name"] == "别人先存" and err.value.current["updated_by"] == "李工"
    now = store.get(code)
    assert now["name"] == "别人先存" and now["version"] == version + 1
    assert "我的修改" not in set(store.history(code)["after"])


def test_an_inspection_checked_before_another_commit_lands_on_top_of_it(sample_db):
    store, other = open_store(sample_db), open_store(sample_db)
    code = store.codes()[0]
    before = store.get(code)
    target = next(s for s in store.schema.field("rect_status").values if s != before["rect_status"])
    with another_save_before_the_lock(store, lambda: other.update(code, {"name": "别人先存"}, before["version"],
                                                                 "李工")) as done:
        store.add_inspection(code, "巡查员", findings="护栏缺损", status_after=target)
    now = store.get(code)
    assert done and now["name"] == "别人先存" and now["rect_status"] == target
    assert now["version"] == before["version"] + 2
    inspection = store.inspections(code).iloc[-1]
    assert inspection["status_before"] == before["rect_status"] and inspection["status_after"] == target


def test_a_hazard_edit_checked_before_another_commit_is_a_conflict_under_the_lock(sample_db):
    store, other = open_store(sample_db), open_store(sample_db)
    hazard = store.hazards().iloc[0]
    code, version = hazard["hazard_code"], int(hazard["version"])
    other_save = lambda: other.update_hazard(code, {"measures": "别人先存"}, version, "李工")
    with another_save_before_the_lock(store, other_save) as done, pytest.raises(ConflictError):
        store.update_hazard(code, {"measures": "我的措施"}, version, "张工")
    assert done and store.hazard(code)["measures"] == "别人先存" and store.hazard(code)["version"] == version + 1
