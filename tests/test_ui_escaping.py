"""One hostile record fed to every page: no user or file text may become a link, an image, HTML or LaTeX
(issue 15, finding 5). Checked on what the pages hand to Streamlit's Markdown."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from conftest import page_test
from safetymap import accounts
from safetymap.auth import User
from safetymap.store import open_store
from safetymap.text import md_escape, md_format
from ui_text import markdown_links, unlinked_problems

HOSTILE = ("[重新登录](http://evil.example) ![x](http://evil.example/a.png) http://evil.example "
           "<b>x</b> $x$ www.evil.example a@evil.example")


def test_the_checker_sees_links_images_html_latex_and_bare_urls():
    assert set(markdown_links(HOSTILE)) >= {"link", "image", "html", "latex"}
    assert any("bare link" in p for p in markdown_links(r"http\:\/\/evil\.example"))  # escaping alone is not enough
    assert any("bare link" in p for p in markdown_links(r"www\.evil\.example"))
    assert markdown_links("**巡查** 已记录") == []


@pytest.mark.parametrize("text", [HOSTILE, "http://x.y", "HTTPS://X.Y/a", "www.x.y", "mailto:a@b.cn",
                                  "`code` *a* _b_ ~c~ #d |e| >f",
                                  ":red[x] :material/home: \\[y\\]"])
def test_md_escape_leaves_no_markup(text):
    assert markdown_links(md_escape(text)) == []
    assert markdown_links(md_format("**{}**", text)) == []
    shown = md_escape(text).replace("\u2060", "")
    assert "".join(shown.split("\\")) == text.replace("\\", "")  # the same characters, only escaped


@pytest.fixture
def hostile_db(sample_db):
    store = open_store(sample_db)
    code = store.read("fog").iloc[0]["code"]
    store.update(code, {"name": HOSTILE, "hazard": HOSTILE, "resp_person": HOSTILE}, store.get(code)["version"], "张工")
    inspector = User("巡查员", "inspector")
    store.add_inspection(code, inspector, findings=HOSTILE)
    store.add_fog_event(code, "2026-09-01", inspector, min_visibility_m=50)
    with pytest.raises(Exception):
        accounts.authenticate(store, HOSTILE, "wrong")  # a failed sign-in stores the typed name in the audit log
    store.close()
    return sample_db, code


def run_page(db, monkeypatch, page, role, name="测试员", state=None):
    monkeypatch.setenv("SAFETYMAP_DB", str(db))
    at = page_test(page, name, role)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("page, role", [("ledger_page", "viewer"), ("fog_page", "viewer"), ("dashboard_page", "admin"),
                                        ("audit_page", "admin"), ("users_page", "admin"), ("files_page", "editor")])
def test_pages_show_the_hostile_record_inert(hostile_db, monkeypatch, page, role):
    db, _ = hostile_db
    at = run_page(db, monkeypatch, page, role)
    assert unlinked_problems(at) == []


def test_field_page_shows_the_hostile_patch_inert(hostile_db, monkeypatch):
    db, code = hostile_db
    at = run_page(db, monkeypatch, "field_page", "inspector")
    at.selectbox(key="field_search").set_value(code).run()
    assert not at.exception, at.exception
    assert any("evil" in body for _, _, body in __import__("ui_text").markdown_texts(at))  # the name is shown
    assert unlinked_problems(at) == []
    at.text_area[0].set_value(HOSTILE)
    next(b for b in at.button if b.label == "提交巡查记录").click().run()
    assert not at.exception, at.exception
    assert unlinked_problems(at) == []


def test_map_side_panel_shows_the_hostile_patch_inert(hostile_db, monkeypatch):
    db, code = hostile_db
    at = run_page(db, monkeypatch, "map_page", "viewer", state={"map_selected": code})
    assert unlinked_problems(at) == []


def test_import_preview_warnings_show_column_names_inert(sample_db, monkeypatch):
    store = open_store(sample_db)
    from safetymap.io.export import export
    path = sample_db.parent / "hostile.csv"
    export(store.read(), "csv", path, store.schema)
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    table[HOSTILE] = "x"
    table.at[0, "名称"] = HOSTILE
    buffer = io.BytesIO()
    table.to_csv(buffer, index=False, encoding="utf-8-sig")
    store.close()
    at = run_page(sample_db, monkeypatch, "files_page", "editor")
    at.file_uploader[0].set_value(("[点我](http://evil.example).csv", buffer.getvalue(), "text/csv")).run()
    assert not at.exception, at.exception
    assert any("未识别的列" in w.value for w in at.warning)
    assert unlinked_problems(at) == []


def _field_with_error():
    import sys
    sys.path.insert(0, ".")
    from safetymap.schema import load_schema
    from safetymap.ui.widgets import field_input
    from ui_text_hostile import HOSTILE_TEXT
    field_input(load_schema().field("resp_unit"), "w", error=f"「{HOSTILE_TEXT}」不是可选值")


def test_field_error_beside_an_input_quotes_the_value_inert(monkeypatch):
    from streamlit.testing.v1 import AppTest
    import sys
    import types
    module = types.ModuleType("ui_text_hostile")
    module.HOSTILE_TEXT = HOSTILE
    monkeypatch.setitem(sys.modules, "ui_text_hostile", module)
    at = AppTest.from_function(_field_with_error, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    assert at.error and unlinked_problems(at) == []
