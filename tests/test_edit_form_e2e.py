"""The edit form end to end (issue 17, findings 1–3), in the real app and headless Chromium: leaving the
page and coming back (sidebar, Back/Forward) keeps the stored values; a select box emptied with Esc is
named in the summary before anything is written; an invalid save lists its errors right at the button,
each linking to its field."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

import e2e_support as e2e
from e2e_support import chromium  # noqa: F401  (fixture)
from safetymap.schema import load_schema
from safetymap.store import Store, open_store
from test_edit_e2e import choose

EDITOR, PASSWORD = "表单测试员", "e2e-test-password"
PATCH_BOX = "图斑（可输入编号或名称搜索）"


@pytest.fixture(scope="module")
def app(tmp_path_factory, sample_template, chromium):  # noqa: F811
    db = e2e.copy_database(sample_template, tmp_path_factory.mktemp("edit_form_e2e"))
    store = open_store(db)
    e2e.add_user(store, EDITOR, "editor", PASSWORD)
    store.close()
    with e2e.AppServer(db) as server:
        yield server


@pytest.fixture
def page(app, chromium):  # noqa: F811
    context = e2e.signed_in_context(chromium, app, EDITOR, PASSWORD, locale="zh-CN",
                                    viewport={"width": 1400, "height": 900})
    context.network = e2e.NetworkLog(context, app.url)
    page = e2e.open_app(context, app.url)
    yield page
    assert context.network.foreign() == []
    context.close()


def label(key: str) -> str:
    return load_schema().category("fog").field(key).label


def open_patch(page, store: Store, code: str):
    e2e.open_page(page, "图斑编辑")
    choose(page, PATCH_BOX, f"{code} {store.get(code)['name']}")
    e2e.wait_idle(page)
    return page.locator('[data-testid="stForm"]', has_text=f"编辑 {load_schema().category('fog').label} {code}")


def text_input(form, key: str):
    pattern = re.compile(rf"^{re.escape(label(key))}( \*)?$")  # the whole label (名称, not 路线名称)
    return form.get_by_role("textbox", name=pattern)


def select_box(form, key: str):
    return form.locator('[data-testid="stSelectbox"]', has_text=label(key)).first


def assert_stored_values_shown(form, record: dict) -> None:
    """(Waits a little: after Back the page's elements are drawn again from the rerun.)"""
    expect(text_input(form, "name")).to_have_value(record["name"], timeout=15_000)
    expect(text_input(form, "code")).to_have_value(record["code"])
    expect(select_box(form, "resp_unit").locator("input")).to_have_value(record["resp_unit"])
    expect(select_box(form, "risk_grade").locator("input")).to_have_value(record["risk_grade"])


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


def test_leaving_and_returning_keeps_the_stored_values(app, page):
    store = open_store(app.db)
    code = store.read("fog").iloc[1]["code"]
    record = store.get(code)
    form = open_patch(page, store, code)
    assert_stored_values_shown(form, record)
    e2e.open_page(page, "台账")
    e2e.open_page(page, "图斑编辑")
    assert_stored_values_shown(form, record)
    e2e.open_page(page, "台账")
    page.go_back()
    e2e.wait_idle(page)
    assert_stored_values_shown(form, record)
    form.get_by_role("button", name="保存", exact=True).click()
    e2e.wait_idle(page)
    page.get_by_text("没有修改").first.wait_for(timeout=30_000)  # nothing blank to refuse
    assert open_store(app.db).get(code)["version"] == record["version"]


def test_a_select_box_emptied_with_esc_is_named_before_saving(app, page):
    store = open_store(app.db)
    code = store.read("fog").iloc[2]["code"]
    record = store.get(code)
    assert record["resp_unit"]
    form = open_patch(page, store, code)
    select_box(form, "resp_unit").locator("input").click()
    page.keyboard.press("Escape")
    new_grade = "重大" if record["risk_grade"] != "重大" else "较小"
    choose(page, label("risk_grade"), new_grade, scope=form)
    form.get_by_role("button", name="保存", exact=True).click()
    e2e.wait_idle(page)
    warning = page.locator('[data-testid="stAlert"]', has_text="将被清空").first
    warning.wait_for(timeout=30_000)
    assert label("resp_unit") in warning.inner_text()
    summary = page.locator('[data-testid="stMarkdownContainer"]', has_text="→").last.inner_text()
    assert f"{label('resp_unit')}：{record['resp_unit']} → （空）" in summary
    assert f"{label('risk_grade')}：{record['risk_grade']} → {new_grade}" in summary
    assert open_store(app.db).get(code)["version"] == record["version"]  # nothing written before confirm
    confirm = page.get_by_role("button", name="确认保存")
    assert in_viewport(page, confirm)
    e2e.screenshot(page, "edit_summary_emptied.png")
    confirm.click()
    page.get_by_text("已保存").first.wait_for(timeout=30_000)
    saved = open_store(app.db).get(code)
    assert saved["resp_unit"] is None and saved["risk_grade"] == new_grade and saved["version"] == record["version"] + 1


def test_an_invalid_save_lists_its_errors_at_the_button(app, page):
    store = open_store(app.db)
    code = store.read("fog").iloc[3]["code"]
    form = open_patch(page, store, code)
    text_input(form, "start_stake").fill("K12+35a")
    text_input(form, "name").fill("")
    button = form.get_by_role("button", name="保存", exact=True)
    button.click()
    e2e.wait_idle(page)
    listed = page.locator('[data-testid="stAlert"]', has_text="处需要修改").first
    listed.wait_for(timeout=30_000)
    text = listed.inner_text()
    assert label("start_stake") in text and "K12+35a" in text and label("name") in text
    assert in_viewport(page, listed) and in_viewport(page, button)
    assert 0 <= listed.bounding_box()["y"] - button.bounding_box()["y"] < 200  # right under the button
    e2e.screenshot(page, "edit_errors_at_button.png")
    listed.get_by_role("link", name=label("start_stake")).click()
    page.wait_for_timeout(500)
    assert in_viewport(page, text_input(form, "start_stake"))
    assert store.get(code)["version"] == 1
