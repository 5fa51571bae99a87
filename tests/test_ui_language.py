"""Every page as each role: no visible "None", no "Choose an option", no English outside a short allow-list
(issue 17, finding 7). What Streamlit itself draws in English and does not let us change is listed in
the README (表格工具栏, the uploader's "Browse files", …); it is not in the element tree checked here."""
from __future__ import annotations

import pytest

from conftest import page_test
from safetymap import accounts
from safetymap.auth import User
from safetymap.store import open_store
from ui_text import english_problems

# Names of formats, standards and units the bureau uses as they are.
ALLOWED = {"Excel", "CSV", "QGIS", "qgz", "csv", "xlsx", "GeoJSON", "geojson", "GeoPackage", "gpkg", "KML", "kml", "KMZ", "kmz",
           "Shapefile", "shp", "shx", "dbf", "prj", "cpg", "zip", "ZIP", "HTTPS", "PDF", "HTML", "html", "GBK", "UTF",
           "JPG", "jpg", "jpeg", "PNG", "png", "WebP", "webp", "HEIC", "heic", "EPSG", "GCJ", "CGCS", "Ctrl",
           "QGIS", "ArcGIS", "RFC", "WKT", "OpenStreetMap", "OSM", "BOM", "WGS", "Windows", "Google", "Earth", "Word",
           "category"}  # io's message names the command-line option --category (io/* to say 上方「类别」 on the page)

PAGES = {  # page module → roles that open it (app.py's pages_for)
    "map_page": ("viewer", "inspector", "editor", "admin"),
    "ledger_page": ("viewer", "inspector", "editor", "admin"),
    "fog_page": ("viewer", "inspector", "editor", "admin"),
    "dashboard_page": ("viewer", "inspector", "editor", "admin"),
    "edit_page": ("editor", "admin"),
    "files_page": ("editor", "admin"),
    "field_page": ("inspector", "editor", "admin"),
    "users_page": ("admin",),
    "audit_page": ("admin",),
}
CASES = [(page, role) for page, roles in PAGES.items() for role in roles]


@pytest.fixture(scope="module")
def busy_db(sample_template, tmp_path_factory):
    """The sample with what makes the pages show more: an inspection, a fog event without a time, users in
    every state, a failed sign-in."""
    import shutil
    path = tmp_path_factory.mktemp("lang") / "ledger.gpkg"
    shutil.copy(sample_template, path)
    store = open_store(path)
    fog = store.read("fog").iloc[0]["code"]
    inspector = User("巡查员", "inspector")
    store.add_inspection(fog, inspector, findings="正常", status_after="整改中")
    store.add_fog_event(fog, "2026-09-01", inspector, min_visibility_m=50)
    store.update(fog, {"hazard": "语言测试"}, store.get(fog)["version"], "张工")
    for name, role in (("查看员", "viewer"), ("停用员", "editor")):
        accounts.add_user(store, name, role, "a-long-password", "命令行")
    accounts.set_disabled(store, "停用员", True, "命令行")
    with pytest.raises(accounts.LoginRefused):
        accounts.authenticate(store, "查看员", "wrong")
    store.close()
    return path, fog


@pytest.mark.parametrize("page, role", CASES)
def test_page_shows_no_none_and_no_english(busy_db, tmp_path, monkeypatch, page, role):
    import shutil
    db = tmp_path / "ledger.gpkg"
    shutil.copy(busy_db[0], db)
    monkeypatch.setenv("SAFETYMAP_DB", str(db))
    at = page_test(page, f"测试{role}", role)
    at.run()
    assert not at.exception, at.exception
    problems = english_problems(at, ALLOWED)
    if page in ("field_page", "edit_page"):  # with a patch chosen, as staff use them
        boxes = [s for s in at.selectbox if s.key in ("field_search", "edit_code", "edit_pick")] or at.selectbox[:1]
        if boxes:
            boxes[0].set_value(busy_db[1]).run()
            assert not at.exception, at.exception
            problems += english_problems(at, ALLOWED)
    assert problems == []


def test_import_preview_tables_show_no_none(sample_db, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    at = page_test("files_page", "导入员", "editor")
    at.run()
    # 名称 and name both name one field: a problem of the whole file, with no row
    data = "类别,名称,name,风险等级\n团雾多发路段,没有位置的图斑,没有位置的图斑,重大\n".encode("utf-8-sig")
    at.file_uploader[0].set_value(("无位置.csv", data, "text/csv")).run()
    assert not at.exception, at.exception
    assert at.dataframe, "the preview shows its problem table"
    assert english_problems(at, ALLOWED) == []
