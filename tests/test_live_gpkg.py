"""The live GeoPackage written by another client (QGIS, ArcGIS, ogr2ogr): nothing is lost silently.

The other client is played by a plain ``sqlite3`` connection with the R-tree functions GDAL provides;
tests with real QGIS are in test_qgis_live.py."""
import sqlite3

import pytest
import shapely

from safetymap.backends import gpkg
from safetymap.errors import ConflictError, ValidationError
from safetymap.store import open_store
from test_qgis_files import qgis  # noqa: F401  (QGIS 3.22, or a skip with the reason)


def other_client(store) -> sqlite3.Connection:
    con = sqlite3.connect(store.path, isolation_level=None)
    gpkg.register_functions(con)  # GDAL has ST_MinX … for its own R-tree triggers
    return con


def first(store, category=None):
    frame = store.read(category)
    return store.get(frame["code"].iloc[0])


def external_rows(store, code):
    h = store.history(code)
    return h[h["user"] == "外部编辑"]


def test_external_edit_bumps_version_writes_history_and_a_web_save_on_the_old_version_conflicts(sample_db):
    store = open_store(sample_db)
    patch = first(store)
    table = f"patch_{patch['category']}"
    con = other_client(store)
    con.execute(f'UPDATE "{table}" SET hazard = ?, resp_person = ? WHERE code = ?', ("桥面开裂", "王工", patch["code"]))
    now = store.get(patch["code"])
    assert now["version"] == patch["version"] + 1
    assert now["updated_by"] == "外部编辑"
    rows = external_rows(store, patch["code"])
    assert set(rows["field_key"]) == {"hazard", "resp_person"}
    assert set(rows["version"]) == {patch["version"] + 1}
    assert rows.set_index("field_key").loc["hazard", "after"] == "桥面开裂"
    with pytest.raises(ConflictError):
        store.update(patch["code"], {"name": "网页上的修改"}, patch["version"], "admin")
    assert store.get(patch["code"])["hazard"] == "桥面开裂"


def test_external_geometry_change_is_recorded(sample_db):
    store = open_store(sample_db)
    patch = first(store)
    con = other_client(store)
    moved = gpkg.encode([shapely.affinity.translate(patch["source_geometry"], 0.001, 0)], 4490)[0]
    con.execute("UPDATE patch_source SET geom = ? WHERE code = ?", (moved, patch["code"]))
    assert store.get(patch["code"])["version"] == patch["version"] + 1
    assert "source_geometry" in set(external_rows(store, patch["code"])["field_key"])


def test_the_apps_own_writes_are_not_counted_as_external(sample_db):
    store = open_store(sample_db)
    patch = first(store)
    new = store.update(patch["code"], {"hazard": "网页修改"}, patch["version"], "admin")
    assert new["version"] == patch["version"] + 1
    store.archive(patch["code"], "admin")
    store.restore(patch["code"], "admin")
    assert external_rows(store, patch["code"]).empty
    assert store.external_changes().empty


def test_a_feature_deleted_elsewhere_is_archived_and_listed_not_lost(sample_db):
    store = open_store(sample_db)
    patch = first(store)
    con = other_client(store)
    con.execute(f'DELETE FROM "patch_{patch["category"]}" WHERE code = ?', (patch["code"],))
    kept = store.get(patch["code"])
    assert kept["archived"] and kept["hazard"] == patch["hazard"]
    changes = store.external_changes()
    assert list(changes["kind"]) == ["delete"] and list(changes["code"]) == [patch["code"]]
    store.resolve_external_change(int(changes["id"].iloc[0]), "undo", "admin")
    assert not store.get(patch["code"])["archived"]
    assert store.external_changes(open_only=True).empty


def test_a_source_row_deleted_elsewhere_comes_back(sample_db):
    store = open_store(sample_db)
    patch = first(store)
    con = other_client(store)
    con.execute("DELETE FROM patch_source WHERE code = ?", (patch["code"],))
    assert store.get(patch["code"])["code"] == patch["code"]


def test_a_feature_added_elsewhere_is_listed_and_its_code_is_taken(sample_db):
    store = open_store(sample_db)
    patch = first(store)
    table = f"patch_{patch['category']}"
    con = other_client(store)
    poly = gpkg.encode([patch["geometry"]], 4490)[0]
    con.execute(f'INSERT INTO "{table}" (geom, code, name) VALUES (?, ?, ?)', (poly, "QG-001", "QGIS 画的"))
    assert "QG-001" in store.codes()
    assert store.get("QG-001")["updated_by"] == "外部编辑"
    changes = store.external_changes()
    assert list(changes["kind"]) == ["insert"]
    with pytest.raises(ValidationError):
        store.insert(patch["category"], {**{k: patch[k] for k in ("name",)}, "code": "QG-001"},
                     patch["source_geometry"], "admin")


def test_a_code_changed_elsewhere_keeps_the_patch_and_its_history(sample_db):
    store = open_store(sample_db)
    patch = first(store)
    con = other_client(store)
    con.execute(f'UPDATE "patch_{patch["category"]}" SET code = ? WHERE code = ?', ("NEW-1", patch["code"]))
    moved = store.get("NEW-1")
    assert moved["version"] == patch["version"] + 1
    assert (store.history("NEW-1")["action"] == "insert").any()  # the history came along
    assert list(store.external_changes()["kind"]) == ["recode"]
    store.resolve_external_change(int(store.external_changes()["id"].iloc[0]), "undo", "admin")
    assert store.get(patch["code"])["name"] == patch["name"]


def test_a_value_outside_the_list_is_reported_and_does_not_block_other_fields(sample_db):
    store = open_store(sample_db)
    patch = first(store)
    con = other_client(store)
    con.execute(f'UPDATE "patch_{patch["category"]}" SET risk_grade = ?, grade_method = ?, grade_basis = ? '
                "WHERE code = ?", ("特大", "直接判定", "QGIS 录入", patch["code"]))
    current = store.get(patch["code"])
    assert [p.field for p in store.stored_problems(current)] == ["风险等级"]
    changes = store.external_changes()
    assert list(changes["kind"]) == ["invalid"] and "特大" in changes["detail"].iloc[0]
    saved = store.update(patch["code"], {"hazard": "另一个字段"}, current["version"], "admin")
    assert saved["hazard"] == "另一个字段" and saved["risk_grade"] == "特大"
    with pytest.raises(ValidationError, match="风险等级"):
        store.update(patch["code"], {"risk_grade": "特大"}, saved["version"], "admin")
    fixed = store.update(patch["code"], {"risk_grade": "重大"}, saved["version"], "admin")
    assert not store.stored_problems(fixed)


def test_stakes_have_k_text_beside_the_metres_for_every_writer(sample_db):
    store = open_store(sample_db)
    patch = first(store)
    table = f"patch_{patch['category']}"
    con = other_client(store)
    row = con.execute(f'SELECT start_stake, start_stake_k FROM "{table}" WHERE code = ?', (patch["code"],)).fetchone()
    from safetymap.geo import format_stake
    assert row[1] == format_stake(row[0])
    con.execute(f'UPDATE "{table}" SET start_stake = 7814.19 WHERE code = ?', (patch["code"],))
    assert con.execute(f'SELECT start_stake_k FROM "{table}" WHERE code = ?', (patch["code"],)).fetchone()[0] == "K7+814.19"
    store.update(patch["code"], {"start_stake": 12350.0}, store.get(patch["code"])["version"], "admin")
    assert con.execute(f'SELECT start_stake_k FROM "{table}" WHERE code = ?', (patch["code"],)).fetchone()[0] == "K12+350"


def test_accounts_and_sessions_are_not_layers_and_every_layer_has_chinese_aliases(sample_db):
    store = open_store(sample_db)
    con = other_client(store)
    listed = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
    assert not listed & {"users", "sessions", "login_throttle", "safetymap_meta", "safetymap_app_write"}
    for table in ("patch_source", "routes", *(c.table for c in store.schema.categories)):
        named = dict(con.execute("SELECT column_name, name FROM gpkg_data_columns WHERE table_name = ?", (table,)))
        columns = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")') if r[1] != "geom"]
        assert set(columns) <= set(named), (table, set(columns) - set(named))
    grade = con.execute("SELECT constraint_name FROM gpkg_data_columns WHERE table_name = 'patch_fog' "
                        "AND column_name = 'risk_grade'").fetchone()[0]
    values = [r[0] for r in con.execute("SELECT value FROM gpkg_data_column_constraints WHERE constraint_name = ? "
                                        "AND constraint_type = 'enum'", (grade,))]
    assert sorted(values) == sorted(g.label for g in store.schema.grades)
    styles = dict(con.execute("SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault"))
    assert "#" not in styles["patch_fog"] and "230,0,18" in styles["patch_fog"]  # 重大 in red


def test_an_old_ledger_file_gains_the_guards_when_opened(tmp_path):
    import shutil
    from pathlib import Path
    old = tmp_path / "old.gpkg"
    shutil.copy(Path(__file__).parent / "fixtures" / "release1_sample.gpkg", old)
    store = open_store(old)
    patch = first(store)
    other_client(store).execute(f'UPDATE "patch_{patch["category"]}" SET hazard = ? WHERE code = ?',
                                ("外部", patch["code"]))
    assert store.get(patch["code"])["version"] == patch["version"] + 1


def test_the_qgis_project_copy_edited_elsewhere_imports_as_an_update(sample_db, tmp_path):
    import zipfile

    from safetymap.io.export import export
    from safetymap.io.importer import preview_import
    store = open_store(sample_db)
    frame = store.read()
    export(frame, "qgis", tmp_path / "p.zip", store.schema, database=store.path)
    with zipfile.ZipFile(tmp_path / "p.zip") as z:
        z.extractall(tmp_path / "p")
    copy = sqlite3.connect(tmp_path / "p" / "ledger.gpkg", isolation_level=None)
    gpkg.register_functions(copy)
    assert not copy.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'safetymap%'").fetchone()[0]
    code = frame["code"].iloc[0]
    category = frame["category"].iloc[0]
    copy.execute(f'UPDATE "patch_{category}" SET hazard = ? WHERE code = ?', ("在工程里改的", code))
    copy.close()
    with zipfile.ZipFile(tmp_path / "edited.zip", "w") as z:
        for name in ("ledger.gpkg", "ledger.qgz"):
            z.write(tmp_path / "p" / name, name)
    preview = preview_import(store, tmp_path / "edited.zip")
    assert preview.ok, preview.problems[:3]
    assert preview.n_updated == 1 and list(preview.updates["新值"]) == ["在工程里改的"]


def test_stake_text_and_outside_edits_of_stakes_carry_the_chain_prefix(sample_db):
    store = open_store(sample_db)
    donor = first(store, "fog")
    values = {"code": "TW-901", "name": "左幅", "route_code": donor["route_code"], "start_stake": "ZK1+000",
              "end_stake": "ZK3+000", "township": donor["township"], "rect_status": "待整改",
              "risk_grade": "一般", "grade_method": "直接判定", "grade_basis": "测试"}
    store.insert("fog", values, donor["source_geometry"], "测试")
    con = other_client(store)
    text = 'SELECT start_stake_k, end_stake_k FROM patch_fog WHERE code = ?'
    assert con.execute(text, ("TW-901",)).fetchone() == ("ZK1+000", "ZK3+000")
    con.execute("UPDATE patch_fog SET start_stake = 2000 WHERE code = ?", ("TW-901",))
    row = external_rows(store, "TW-901").set_index("field_key").loc["start_stake"]
    assert (row["before"], row["after"]) == ("ZK1+000", "ZK2+000")
    con.execute("UPDATE patch_fog SET stake_prefix = 'YK' WHERE code = ?", ("TW-901",))
    assert con.execute(text, ("TW-901",)).fetchone() == ("YK2+000", "YK3+000")


def test_an_older_file_gets_its_stake_text_with_the_prefix_when_the_triggers_are_renewed(sample_db):
    from safetymap.backends.gpkg_live import LIVE_KEY, STATE_TABLE
    store = open_store(sample_db)
    donor = first(store, "fog")
    con = other_client(store)
    con.execute("UPDATE patch_fog SET stake_prefix = 'ZK' WHERE code = ?", (donor["code"],))
    con.execute("UPDATE patch_fog SET start_stake_k = 'K0+000' WHERE code = ?", (donor["code"],))  # as before
    con.execute(f"DELETE FROM {STATE_TABLE} WHERE key = ?", (LIVE_KEY,))
    store.close()
    open_store(sample_db).close()
    got = con.execute("SELECT start_stake_k FROM patch_fog WHERE code = ?", (donor["code"],)).fetchone()[0]
    assert got.startswith("ZK"), got


def test_facility_layers_of_the_live_store_have_their_marker_style_in_qgis_not_a_grade_style(sample_db, qgis):
    from test_qgis_files import assert_facility_style, probe
    store = open_store(sample_db)
    facilities = [store.schema.category(k) for k in store.schema.facility_keys]
    layers = probe([{"uri": f"{sample_db}|layername={c.table}"} for c in facilities])
    grades = {g.label for g in store.schema.grades}
    for c, layer in zip(facilities, layers):
        assert layer["valid"] and layer["renderer"] == "RuleRenderer", layer["uri"]
        assert layer["rules"] == [c.label] and not grades & set(layer["rules"]), layer["rules"]
        assert layer["filters"] == ['"archived" = 0']  # archived facilities are not drawn
        assert_facility_style(layer, c, "polygon")
    graded = probe([{"uri": f"{sample_db}|layername=patch_fog"}])[0]
    assert graded["rules"] == [g.label for g in store.schema.grades] + [store.schema.ungraded_label]


def test_the_live_store_and_the_exports_take_their_styles_from_one_module(sample_db):
    from safetymap import styles
    store = open_store(sample_db)
    con = other_client(store)
    camera = store.schema.category("camera")
    qml, sld = con.execute("SELECT styleQML, styleSLD FROM layer_styles WHERE f_table_name = ? AND useAsDefault",
                           (camera.table,)).fetchone()
    assert 'name="name" type="QString" value="square"' in qml and "risk_grade" not in qml.split("<fieldConfiguration")[0]
    assert "<WellKnownName>square</WellKnownName>" in sld and "风险等级" not in sld
    assert sld == styles.sld(store.schema, camera, "polygon", camera.table, lambda f: f.key)
