"""Issue 15 end to end, in the real app (``streamlit run app.py``) and headless Debian Chromium: an account
disabled while its user is signed in can neither download nor save, and its pages return to sign-in; a
refresh (F5) keeps the user signed in on the same page; a bookmarked link comes back after sign-in."""
from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import e2e_support as e2e
from e2e_support import chromium  # noqa: F401  (fixture)
from safetymap import accounts, sessions
from safetymap.store import open_store
from test_edit_e2e import choose

EDITOR, OTHER, PASSWORD = ("editor1", "editor2", "e2e-test-password")


@pytest.fixture(scope="module")
def app(tmp_path_factory, sample_template, chromium):  # noqa: F811
    db = e2e.copy_database(sample_template, tmp_path_factory.mktemp("auth_e2e"))
    store = open_store(db)
    e2e.add_user(store, EDITOR, "editor", PASSWORD)
    e2e.add_user(store, OTHER, "editor", PASSWORD)
    store.close()
    with e2e.AppServer(db) as server:
        server.db = db
        yield server


def signed_in_context(chromium, app, name):  # noqa: F811
    """A browser signed in as ``name``, holding the session cookie (after the sign-in hand-off)."""
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1400, "height": 950}, accept_downloads=True)
    context.network = e2e.NetworkLog(context, app.url)
    page = context.new_page()
    e2e.sign_in(page, app.url, name, PASSWORD)
    for _ in range(100):
        if any(c["name"] == sessions.COOKIE for c in context.cookies()):
            break
        page.wait_for_timeout(100)
    page.get_by_role("button", name="退出登录").wait_for(timeout=30_000)
    e2e.wait_idle(page)
    cookie = next(c for c in context.cookies() if c["name"] == sessions.COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("() => document.cookie").find(sessions.COOKIE) == -1  # not readable by scripts
    return context, page


def open_edit_form(page, store, code: str) -> None:
    e2e.open_page(page, "图斑编辑")
    choose(page, "图斑（可输入编号或名称搜索）", f"{code} {store.get(code)['name']}")
    e2e.wait_idle(page)


def test_disabled_editor_can_neither_download_nor_save_and_returns_to_sign_in(app, chromium):  # noqa: F811
    store = open_store(app.db)
    code = store.read("downhill").iloc[0]["code"]
    before = store.get(code)
    context, ledger_tab = signed_in_context(chromium, app, EDITOR)
    e2e.open_page(ledger_tab, "台账")
    ledger_tab.get_by_role("button", name="下载 CSV").wait_for(timeout=30_000)
    edit_tab = context.new_page()  # a second tab: signed in by the cookie alone
    edit_tab.goto(f"{app.url}/edit")
    edit_tab.get_by_role("button", name="退出登录").wait_for(timeout=30_000)
    e2e.wait_idle(edit_tab)
    open_edit_form(edit_tab, store, code)
    edit_tab.get_by_label("责任人").first.fill("停用后不应保存")
    exports_before = (store.audit()["action"] == "export").sum()

    accounts.set_disabled(store, EDITOR, True, "测试管理员")

    with pytest.raises(PlaywrightTimeout):  # the file is built only after the store's check, which refuses
        with ledger_tab.expect_download(timeout=8_000):
            ledger_tab.get_by_role("button", name="下载 CSV").click()
    edit_tab.get_by_role("button", name="保存").click()
    edit_tab.get_by_role("button", name="登录", exact=True).wait_for(timeout=30_000)
    e2e.wait_idle(edit_tab)
    assert "重新登录" in edit_tab.locator('[data-testid="stApp"]').inner_text()
    assert edit_tab.get_by_role("button", name="保存").count() == 0
    after = open_store(app.db).get(code)
    assert after["version"] == before["version"] and after["resp_person"] == before["resp_person"]
    assert (open_store(app.db).audit()["action"] == "export").sum() == exports_before
    e2e.open_page(ledger_tab, "地图")  # the first tab's next action also lands on sign-in
    ledger_tab.get_by_role("button", name="登录", exact=True).wait_for(timeout=30_000)
    assert context.network.foreign() == []
    context.close()


def test_refresh_keeps_the_user_signed_in_on_the_same_page(app, chromium):  # noqa: F811
    store = open_store(app.db)
    context, page = signed_in_context(chromium, app, OTHER)
    page.goto(f"{app.url}/edit?from=bookmark")
    page.get_by_role("button", name="退出登录").wait_for(timeout=30_000)
    e2e.wait_idle(page)
    code = store.read("curve").iloc[0]["code"]
    open_edit_form(page, store, code)
    page.wait_for_url(f"**/edit?from=bookmark&code={code}", timeout=30_000)  # the chosen patch is in the address
    page.reload()  # F5
    page.get_by_role("button", name="退出登录").wait_for(timeout=30_000)
    e2e.wait_idle(page)
    assert page.url.endswith(f"/edit?from=bookmark&code={code}")
    page.get_by_role("heading", name="图斑编辑").first.wait_for(timeout=30_000)
    assert page.get_by_role("button", name="登录", exact=True).count() == 0
    title = f"编辑 {store.schema.category('curve').label} {code}"
    page.locator('[data-testid="stForm"]', has_text=title).wait_for(timeout=30_000)  # the same patch, not a blank pick
    context.close()


def test_a_bookmarked_link_opens_after_sign_in(app, chromium):  # noqa: F811
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1400, "height": 950})
    page = context.new_page()
    page.goto(f"{app.url}/edit?from=bookmark")
    page.get_by_label("用户名").fill(OTHER)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_url("**/edit?from=bookmark", timeout=30_000)
    page.get_by_role("button", name="退出登录").wait_for(timeout=30_000)
    e2e.wait_idle(page)
    page.get_by_role("heading", name="图斑编辑").first.wait_for(timeout=30_000)
    context.close()


def test_a_map_link_opens_without_a_page_not_found_dialog(app, chromium):  # noqa: F811
    """The map is the default page (served at ``/``); a shared ``/map?code=…`` link must open it too,
    not Streamlit's "Page not found" dialog over it."""
    store = open_store(app.db)
    e2e.add_user(store, "viewer1", "viewer", PASSWORD)  # editor1 is disabled by an earlier test
    store.close()
    context, page = signed_in_context(chromium, app, "viewer1")
    page.goto(f"{app.url}/map?code=TW-001")
    page.get_by_role("button", name="退出登录").wait_for(timeout=60_000)
    e2e.wait_idle(page)
    page.get_by_text("TW-001").first.wait_for(timeout=30_000)
    assert page.get_by_text("Page not found").count() == 0
    assert page.get_by_role("dialog").count() == 0
    context.close()
