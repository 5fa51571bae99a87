"""End to end in Chromium (issue 17, findings 5 and 6): on a 360 × 740 phone screen the result of
提交巡查记录 is inside the screen; 解锁 on 用户管理 lets a locked user sign in."""
from __future__ import annotations

import datetime as dt

import pytest

import e2e_support as e2e
from e2e_support import chromium  # noqa: F401  (pytest fixture)
from safetymap import accounts
from safetymap.store import open_store

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def in_viewport(page, locator, height: int = 740) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 40) <= height


@pytest.fixture(scope="module")
def app(tmp_path_factory, sample_template, chromium):  # noqa: F811
    """One app for the module's tests: each signs in as its own users and touches its own data."""
    db = e2e.copy_database(sample_template, tmp_path_factory.mktemp("ui_e2e"))
    store = open_store(db)
    e2e.add_user(store, "巡查员", "inspector", "inspector-pass")
    e2e.add_user(store, "管理员", "admin", "admin-password")
    e2e.add_user(store, "巡查丙", "inspector", "right-password")
    store.close()
    with e2e.AppServer(db) as server:
        yield server


def test_phone_submit_result_is_on_screen(app, chromium):  # noqa: F811
    db = app.db
    store = open_store(db)
    code = store.read("curve").iloc[0]["code"]
    assert len(store.inspections(code)) == 0
    store.close()
    context = chromium.new_context(**PHONE)
    page = context.new_page()
    e2e.sign_in(page, app.url, "巡查员", "inspector-pass")
    page.get_by_role("heading", name="巡查上报").wait_for(timeout=60_000)
    box = page.locator('[data-testid="stSelectbox"]', has_text="图斑").first
    box.locator("input").click()
    box.locator("input").fill(code)
    page.get_by_role("option", name=code).first.click()
    e2e.wait_idle(page)
    e2e.screenshot(page, "phone_after_pick.png")
    findings = page.get_by_label("巡查发现")
    findings.fill("护栏立柱松动两处")
    submit = page.get_by_role("button", name="提交巡查记录")
    submit.scroll_into_view_if_needed()
    submit.click()
    message = page.get_by_text(f"已记录 {code} 的巡查").first
    message.wait_for(timeout=60_000)
    e2e.wait_idle(page)
    shown = page.get_by_text(f"已记录 {code} 的巡查")
    visible = [i for i in range(shown.count()) if shown.nth(i).is_visible() and in_viewport(page, shown.nth(i))]
    e2e.screenshot(page, "phone_submit_result.png")
    assert visible, "the result of the submit is outside the 360 × 740 screen"
    assert page.get_by_label("巡查发现").input_value() == ""  # a new, empty form
    assert len(open_store(db).inspections(code)) == 1
    context.close()


def test_unlock_lets_a_locked_user_sign_in(app, chromium):  # noqa: F811
    store = open_store(app.db)
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(accounts.MAX_FAILURES):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(store, "巡查丙", "wrong", now=now - dt.timedelta(minutes=10 - i))
    store.close()
    user = chromium.new_context(viewport={"width": 1280, "height": 900})
    user_page = user.new_page()
    user_page.goto(app.url)
    user_page.get_by_label("用户名").fill("巡查丙")
    user_page.get_by_label("密码", exact=True).fill("right-password")
    user_page.get_by_role("button", name="登录").click()
    user_page.get_by_text("锁定").first.wait_for(timeout=60_000)  # locked: refused

    admin = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = admin.new_page()
    e2e.sign_in(page, app.url, "管理员", "admin-password")
    e2e.open_page(page, "用户管理")
    page.get_by_role("button", name="解锁 巡查丙").click(timeout=60_000)
    page.get_by_text("巡查丙 已解锁").wait_for(timeout=60_000)
    e2e.wait_idle(page)
    assert page.get_by_role("button", name="解锁 巡查丙").count() == 0  # the page shows the new state
    e2e.sign_in(user_page, app.url, "巡查丙", "right-password")  # waits for 退出登录
    admin.close()
    user.close()
