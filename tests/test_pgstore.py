"""PostgreSQL + PostGIS: what only that backend has (DDL, pooling, backup refusal), and migrating a
whole ledger gpkg → PostgreSQL → gpkg with nothing changed. The shared behaviour is tested on both
backends in test_store, test_concurrency and test_accounts."""
import datetime as dt
import subprocess
import sys

import pandas as pd
import psycopg
import pytest
import shapely
import shapely.affinity
from conftest import ROOT, ledger_state

from safetymap import accounts
from safetymap.auth import User
from safetymap.errors import DatabaseExists, SafetymapError
from safetymap.errors import MigrationRefused
from safetymap.filters import PatchFilter
from safetymap.migrate import migrate
from safetymap.testing import ledger_snapshot
from safetymap.seed import init_database
from safetymap.store import Store, open_store

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
ADMIN, INSPECTOR = User("管理员", "admin"), User("巡查员", "inspector")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # any bytes: stored and returned unchanged


def test_patches_are_postgis_geometries_in_4490_with_gist_indexes(store):
    with psycopg.connect(store.location) as conn:
        columns = {(t, c): (typ, srid) for t, c, typ, srid in conn.execute(
            "SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns "
            "WHERE f_table_schema = current_schema()")}
        gist = {row[0] for row in conn.execute(
            "SELECT tablename FROM pg_indexes WHERE schemaname = current_schema() AND indexdef LIKE '%USING gist%'")}
    for c in store.schema.categories:
        assert columns[(c.table, "geom")] == ("POLYGON", 4490)
    assert columns[("routes", "geom")] == ("LINESTRING", 4490)
    assert columns[("patch_source", "geom")] == ("GEOMETRY", 4490)
    assert gist == {table for table, _ in columns}


def test_bounding_box_and_filters_run_in_sql_on_the_index(store):
    fog = store.read("fog")
    first = fog.iloc[0]
    box = shapely.box(*first.geometry.bounds).buffer(0.05).bounds
    found = store.read("fog", bbox=box, filters=PatchFilter(grades=(first["risk_grade"],)))
    boxes_meet = shapely.intersects(shapely.box(*shapely.bounds(fog.geometry.to_numpy()).T), shapely.box(*box))
    expected = fog[boxes_meet & (fog["risk_grade"] == first["risk_grade"])]
    assert first["code"] in set(found["code"]) and set(found["code"]) == set(expected["code"])
    with psycopg.connect(store.location) as conn:
        conn.execute("SET enable_seqscan = off")
        clause, params = store.backend.bbox_clause(store.schema.category("fog").table, box)
        plan = "\n".join(r[0] for r in conn.execute(
            f"EXPLAIN SELECT fid FROM patch_fog t WHERE {clause.replace('?', '%s')}", params))
    assert "patch_fog_geom_gist" in plan


def test_backup_is_refused_with_a_pointer_to_pg_dump(store, tmp_path):
    with pytest.raises(SafetymapError, match="pg_dump"):
        store.backup(tmp_path / "b.gpkg")
    assert not (tmp_path / "b.gpkg").exists()


def test_init_refuses_an_existing_ledger_unless_forced(blank_location):
    init_database(blank_location, sample=False).close()
    with pytest.raises(DatabaseExists, match="已有台账"):
        init_database(blank_location)
    forced = init_database(blank_location, force=True)
    assert sum(forced.count().values()) >= 60
    forced.close()


def test_unreachable_server_is_a_clear_error_without_the_password(backend):
    with pytest.raises(SafetymapError, match="无法连接") as err:
        open_store("postgresql://safetymap:secret-pw@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "secret-pw" not in str(err.value)


def test_cli_takes_a_url_for_db(store):
    result = subprocess.run([sys.executable, "-m", "safetymap", "show", store.read().iloc[0]["code"], "--db",
                             store.location, "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '"version": 1' in result.stdout


def _busy_ledger(path) -> Store:
    """The sample ledger with everything a ledger can hold: edits, archive, inspections with photos,
    fog events, users with a lock, audit lines."""
    store = init_database(path)
    fog = store.read("fog").iloc[0]["code"]
    other = store.read("bridge").iloc[0]["code"]
    store.update(fog, {"name": "改过的名称", "hazard": "雾多\n第二行 'quoted' \"double\""}, 1, "张工")
    store.update(other, {"curved": True, "tech_class": 4}, 1, "李工",
                 source_geometry=shapely.affinity.translate(store.get(other)["source_geometry"], 0.0005))
    store.archive(store.read("curve").iloc[0]["code"], ADMIN)
    store.add_inspection(fog, INSPECTOR, findings="正常", status_after="整改中", lon=126.7, lat=42.0,
                         photos=[(PNG, "image/png", 16, 16)], inspected_at=dt.datetime(2026, 3, 1, 8, 30))
    store.add_fog_event(fog, "2026-09-02", INSPECTOR, start_time="04:30", duration_h=2.5, min_visibility_m=45)
    accounts.add_user(store, "王工", "editor", "right-password", ADMIN)
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=accounts.MAX_FAILURES)
    for i in range(accounts.MAX_FAILURES):  # locked from now on for a while
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(store, "王工", "wrong", now=start + dt.timedelta(minutes=i))
    return store


def test_migrate_gpkg_to_postgresql_and_back_changes_nothing(tmp_path, blank_location):
    source = _busy_ledger(tmp_path / "source.gpkg")
    counts = migrate(source.location, blank_location)
    back = tmp_path / "back.gpkg"
    assert migrate(blank_location, back) == counts
    middle, end = open_store(blank_location), open_store(back)
    try:
        assert counts["photos"] == 1 and counts["users"] == 1 and counts["history"] > 65
        before = ledger_snapshot(source)
        assert ledger_snapshot(middle) == before  # counts, values, ids, versions, timestamps, geometries
        assert ledger_snapshot(end) == before
        for other in (middle, end):
            pd.testing.assert_frame_equal(other.read(include_archived=True), source.read(include_archived=True))
            pd.testing.assert_frame_equal(other.history(), source.history())
            pd.testing.assert_frame_equal(other.audit(), source.audit())
            pd.testing.assert_frame_equal(other.user_rows(), source.user_rows())
            assert other.photo_bytes(int(other.photos()["id"].iloc[0])) == PNG
            assert other.meta("sample") == source.meta("sample")
        with pytest.raises(accounts.LoginRefused, match="锁定"):
            accounts.authenticate(middle, "王工", "right-password")  # the lock came over, too
        code = source.read("fog").iloc[0]["code"]
        version = middle.get(code)["version"]
        middle.update(code, {"hazard": "迁移后修改"}, version, "张工")  # ids and versions go on from there
        assert middle.history(code)["id"].max() > source.history()["id"].max()
    finally:
        for s in (source, middle, end):
            s.close()


def test_migrate_refuses_a_target_with_data(store, tmp_path):
    source = init_database(tmp_path / "source.gpkg", sample=False)
    before = ledger_state(store)
    with pytest.raises(MigrationRefused, match="不是空的"):
        migrate(source.location, store.location)
    assert ledger_state(store) == before
    source.close()


def test_migrate_command_line(tmp_path, blank_location):
    init_database(tmp_path / "a.gpkg").close()
    result = subprocess.run([sys.executable, "-m", "safetymap", "migrate", "--from", str(tmp_path / "a.gpkg"),
                             "--to", blank_location], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    patches = len(open_store(tmp_path / "a.gpkg").read())
    assert f"图斑 {patches} 个" in result.stdout and "safetymap:***@" in result.stdout
