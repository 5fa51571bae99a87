"""QGIS 3.22 (Debian python3-qgis) and GDAL (gdal-bin) as clients of the live ledger and of the QGIS
project export. QGIS runs as /usr/bin/python3 in a subprocess (tests/qgis_client.py). Skipped with the
reason when that Python cannot import qgis.core or ogrinfo is missing; SAFETYMAP_REQUIRE_DESKTOP=1
turns the skip into a failure (CI)."""
import gc
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from safetymap.errors import ConflictError
from safetymap.store import open_store

HERE = Path(__file__).resolve().parent
QGIS_PYTHON = "/usr/bin/python3"
REQUIRED = os.environ.get("SAFETYMAP_REQUIRE_DESKTOP") == "1"


def _missing_qgis() -> str | None:
    if not Path(QGIS_PYTHON).exists():
        return f"{QGIS_PYTHON} 不存在"
    probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=120)
    return None if probe.returncode == 0 else f"{QGIS_PYTHON} 不能 import qgis.core（apt-get install python3-qgis qgis-providers）"


def need(what: str | None) -> None:
    if what is None:
        return
    if REQUIRED:
        pytest.fail(f"SAFETYMAP_REQUIRE_DESKTOP=1 但 {what}")
    pytest.skip(what)


@pytest.fixture(scope="module")
def qgis():
    need(_missing_qgis())

    def run(*args, env=None, timeout=300) -> dict:
        full_env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **(env or {}))
        full_env.pop("PYTHONPATH", None)  # the system Python, not this virtualenv's packages
        done = subprocess.run([QGIS_PYTHON, str(HERE / "qgis_client.py"), *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, env=full_env)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])
    return run


def journal_mode(path) -> str:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        con.close()


class Writer:
    """The app saving one patch in a loop in another process (tests/live_writer.py)."""

    def __init__(self, db, code, tmp_path, pause=0.1):
        self.stop = tmp_path / "stop"
        self.proc = subprocess.Popen([sys.executable, str(HERE / "live_writer.py"), str(db), code, str(self.stop),
                                      str(pause)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not Path(f"{self.stop}.started").exists():
            assert self.proc.poll() is None, self.proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.1)

    def finish(self) -> dict:
        self.stop.touch()
        out, err = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, err
        return json.loads(out)


def two_patches(store, category="downhill"):
    codes = list(store.read(category)["code"][:2])
    return codes[0], codes[1]


# ---------------------------------------------------------------- the live store
def test_a_qgis_edit_while_the_app_writes_is_history_and_an_older_web_save_conflicts(sample_db, qgis, tmp_path):
    store = open_store(sample_db)
    mine, busy = two_patches(store)
    opened = store.get(mine)  # a web form opened before the QGIS edit
    writer = Writer(sample_db, busy, tmp_path)
    try:
        result = qgis("commits", sample_db, "patch_downhill", mine, 1, 20)
    finally:
        saves = writer.finish()
    assert saves["saves"] > 0 and result["gave_up"] == 0, result
    now = store.get(mine)
    assert now["hazard"] == "QGIS 第0次" and now["version"] == opened["version"] + 1
    history = store.history(mine)
    external = history[history["user"] == "外部编辑"]
    assert list(external["field_key"]) == ["hazard"] and list(external["after"]) == ["QGIS 第0次"]
    with pytest.raises(ConflictError):
        store.update(mine, {"resp_person": "网页上的人"}, opened["version"], "admin")
    assert store.get(busy)["version"] == 1 + saves["saves"]  # the app's saves: none counted twice


def test_qgis_commits_while_the_app_writes_land_every_one_in_history(sample_db, qgis, tmp_path):
    """QGIS's commit reads in a transaction and then writes; SQLite refuses that write when the app
    wrote since (no busy timeout helps: see README). QGIS keeps the edit and the user saves again: every
    edit lands, and each is recorded."""
    store = open_store(sample_db)
    mine, busy = two_patches(store)
    writer = Writer(sample_db, busy, tmp_path)
    try:
        result = qgis("commits", sample_db, "patch_downhill", mine, 20, 30)
    finally:
        saves = writer.finish()
    print(f"\nQGIS: {result['first_try']}/20 commits succeeded first time, {result['failed_commits']} refused "
          f"(database is locked) and saved again; app saves meanwhile: {saves['saves']}")
    assert result["gave_up"] == 0 and len(result["values"]) == 20
    history = store.history(mine)
    external = history[(history["user"] == "外部编辑") & (history["field_key"] == "hazard")]
    assert list(external["after"]) == result["values"]
    assert list(external["version"]) == list(range(2, 22))


def test_qgis_transaction_groups_hold_the_write_lock_for_the_whole_edit_session(sample_db, qgis, tmp_path):
    """Why the README says not to turn on QGIS's transaction groups for the live store: QGIS then writes
    each edit at once inside one transaction and keeps the write lock until Save, so every app save waits
    (60 s busy timeout) for the desktop user to save."""
    store = open_store(sample_db)
    mine, other = two_patches(store)
    result = {}
    session = threading.Thread(target=lambda: result.update(
        qgis("group-edit", sample_db, "patch_downhill", mine, "hazard", "组内编辑")))
    session.start()
    try:
        wait_for(Path(f"{sample_db}.held"))
        store.backend.connection().execute("PRAGMA busy_timeout = 0")  # the wait shows at once
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.update(other, {"list_basic": "QGIS 编辑中保存"}, store.get(other)["version"], "admin")
    finally:
        Path(f"{sample_db}.release").touch()
        session.join(timeout=300)
    store.backend.connection().execute("PRAGMA busy_timeout = 60000")
    assert result["changed"] and result["ok"], result
    store.update(other, {"list_basic": "QGIS 保存后"}, store.get(other)["version"], "admin")
    history = store.history(mine)
    assert list(history[history["user"] == "外部编辑"]["after"]) == ["组内编辑"]


def wait_for(path: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} 未出现"
        time.sleep(0.05)


def test_qgis_closing_the_store_leaves_it_in_wal_while_the_app_runs(sample_db, qgis):
    store = open_store(sample_db)
    store.get(store.codes()[0])  # the app holds its connection, as a running app does
    qgis("open", sample_db, "patch_fog")
    qgis("edit", sample_db, "patch_fog", store.read("fog")["code"].iloc[0], "hazard", "QGIS 改")
    assert journal_mode(sample_db) == "wal"


def in_a_thread_that_ends(work):
    """``work()`` run in a thread that then ends, as each Streamlit run does; returns its result."""
    result = []
    runner = threading.Thread(target=lambda: result.append(work()))
    runner.start()
    runner.join()
    gc.collect()  # the thread's connection is in a reference cycle: freed at the next collection, as in the app
    return result[0]


def test_qgis_keeps_reading_when_the_app_comes_back_between_runs(sample_db, qgis):
    """The app's store outlives the thread that opened it. Before, the file then had no connection left:
    QGIS, closing its first look at the layer, switched it back to a rollback journal, read it on in GDAL's
    no-lock mode, and when the app's next run turned WAL on again found no feature ('this file is a
    WAL-enabled database. It cannot be opened because it is presumably read-only …')."""
    store = in_a_thread_that_ends(lambda: open_store(sample_db))
    result = {}
    session = threading.Thread(target=lambda: result.update(qgis("read-twice", sample_db, "patch_downhill")))
    session.start()
    try:
        wait_for(Path(f"{sample_db}.held"))
        in_a_thread_that_ends(lambda: store.get(store.codes()[0]))  # the app's next run
    finally:
        Path(f"{sample_db}.release").touch()
        session.join(timeout=300)
    assert result["first"] == result["second"] == result["added_again"] == len(store.read("downhill")), result


def test_a_layer_qgis_added_before_the_app_started_reads_nothing_until_added_again(sample_db, qgis):
    """Why the README says to start the app before adding the live store in QGIS: alone with the file,
    QGIS 3.22 switches it to a rollback journal and reads in GDAL's no-lock mode; once the app starts
    (WAL) that layer finds no feature (GDAL: 'this file is a WAL-enabled database …'). Added again, it
    opens the file in WAL with locks and reads everything. QGIS's doing, not the app's."""
    result = {}
    session = threading.Thread(target=lambda: result.update(qgis("read-twice", sample_db, "patch_downhill")))
    session.start()
    try:
        wait_for(Path(f"{sample_db}.held"))
        store = open_store(sample_db)
    finally:
        Path(f"{sample_db}.release").touch()
        session.join(timeout=300)
    assert result["first"] == result["added_again"] == len(store.read("downhill")) and result["second"] == 0, result


def test_qgis_alone_resets_the_store_to_delete_and_the_app_turns_wal_back_on(sample_db, qgis):
    open_store(sample_db).close()
    qgis("open", sample_db, "patch_fog")
    assert journal_mode(sample_db) == "delete"  # QGIS 3.22's own doing, when it was the only user
    open_store(sample_db)
    assert journal_mode(sample_db) == "wal"


def test_the_live_store_in_qgis_has_aliases_value_maps_and_its_default_style(sample_db, qgis):
    store = open_store(sample_db)
    layer = qgis("layer", sample_db, "patch_bridge")
    assert layer["valid"] and layer["renderer"] == "RuleRenderer" and layer["labels"]
    assert layer["rules"] == [g.label for g in store.schema.grades] + ["未定级"]
    assert layer["aliases"]["risk_grade"] == "风险等级" and layer["aliases"]["start_stake_k"] == "起点桩号"
    assert layer["widgets"]["risk_grade"] == "ValueMap"
    routes = qgis("layer", sample_db, "routes")
    assert routes["aliases"]["route_code"] == "路线编码"


def test_ogrinfo_shows_the_field_domains_and_no_account_tables(sample_db):
    need(None if shutil.which("ogrinfo") else "没有 ogrinfo（apt-get install gdal-bin）")
    open_store(sample_db).checkpoint()
    listed = subprocess.run(["ogrinfo", "-ro", "-q", str(sample_db)], capture_output=True, text=True, timeout=120)
    assert "patch_fog" in listed.stdout and "users" not in listed.stdout and "sessions" not in listed.stdout
    info = subprocess.run(["ogrinfo", "-ro", "-so", str(sample_db), "patch_fog"], capture_output=True, text=True,
                          timeout=120).stdout
    assert "risk_grade: String (0.0), domain name=fog_risk_grade" in info
    domain = subprocess.run(["ogrinfo", "-ro", str(sample_db), "-fielddomain", "fog_risk_grade"], capture_output=True,
                            text=True, timeout=120).stdout
    assert "Type: coded" in domain and "重大: 重大" in domain


# ---------------------------------------------------------------- the QGIS project export
def test_the_qgis_project_opens_with_every_layer_valid_and_styled(sample_db, qgis, tmp_path):
    from safetymap.io.export import export
    store = open_store(sample_db)
    frame = store.read()
    out = tmp_path / "project.zip"
    result = export(frame, "qgis", out, store.schema, database=store.path)
    assert not result.warnings
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(out) as z:
        assert {"ledger.qgz", "ledger.gpkg"} <= set(z.namelist())
        z.extractall(folder)
    copy = sqlite3.connect(folder / "ledger.gpkg")
    assert copy.execute("SELECT count(*) FROM users").fetchone()[0] == 0  # no accounts leave the office
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    project = qgis("project", folder / "ledger.qgz")
    assert project["read"]
    layers = project["layers"]
    assert len(layers) == len(store.schema.categories) + 2
    for name, layer in layers.items():
        assert layer["valid"] and layer["spatial"] and layer["crs"] == "EPSG:4490", name
    for c in store.schema.categories:
        layer = layers[c.label]
        assert layer["renderer"] == "RuleRenderer" and layer["labels"] and layer["subset"] == '"archived" = 0'
        assert layer["features"] == int((frame["category"] == c.key).sum())
        assert layer["aliases"]["code"] == "图斑编号"
        assert c.is_facility or layer["widgets"]["risk_grade"] == "ValueMap"  # a facility layer has no grade
    assert layers["路线中心线"]["features"] == len(store.routes())
    assert [g for g in project["groups"]] == [c.label for c in store.schema.categories] + ["基础图层"]
    (layout,) = project["layouts"]
    assert layout["name"] == "台账图" and {"QgsLayoutItemMap", "QgsLayoutItemLegend", "QgsLayoutItemLabel"} <= set(layout["items"])
    assert layout["legend_rows"] >= len(store.schema.categories)
