"""The hazard workflow end to end in Chromium (issue 12): an inspector reports a hazard with a photo from
the 360-px field page, an editor moves it to 待验收 on the edit page, the 安全科 user accepts it with
验收意见 on the 隐患台账 page, and it shows as 已销号 in the map's side panel, in the patch's timeline and
in the monthly report (the printable page). Only accounts and the choice of patch are set up through the
store; everything else is clicks and typing."""
from __future__ import annotations

import io
from pathlib import Path

import e2e_support as e2e
from e2e_support import chromium  # noqa: F401  (pytest fixture)
from PIL import Image

from safetymap.store import open_store

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESK = {"viewport": {"width": 1400, "height": 900}}
USERS = {"inspector": ("巡查员小王", "inspector-pass"), "editor": ("编辑员小李", "editor-pass"),
         "safety": ("安全科陈静", "safety-pass")}
OPINION = "现场复查：护栏已更换，验收合格，同意销号"


def photo(tmp_path):
    path = tmp_path / "现场照片.jpg"
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (160, 60, 40)).save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return path


def choose(page, label: str, text: str) -> None:
    """Pick ``text`` in the select box labelled ``label`` by typing it, as a user would."""
    box = page.locator('[data-testid="stSelectbox"]', has_text=label).first
    box.locator("input").click()
    box.locator("input").fill(text)
    page.get_by_role("option", name=text).first.click()


def in_viewport(locator, height: int) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 40) <= height


def signed_in(chromium, app, role, options):  # noqa: F811
    """A browser of ``role`` on its landing page, signed in (the sign-in form is tested in test_auth_e2e)."""
    context = e2e.signed_in_context(chromium, app, *USERS[role], **options)
    network = e2e.NetworkLog(context, app.url)
    return context, network, e2e.open_app(context, app.url)


def test_a_hazard_reported_on_a_phone_is_accepted_and_shows_closed_everywhere(chromium, sample_db, tmp_path):  # noqa: F811
    db = e2e.copy_database(sample_db, tmp_path)
    store = open_store(db)
    for role, (name, password) in USERS.items():
        e2e.add_user(store, name, role, password)
    with_hazards = set(store.hazards()["code"])
    code = next(c for c in store.read("curve")["code"] if c not in with_hazards)
    hazard_code = f"{code}-YH01"
    store.close()
    with e2e.AppServer(db) as app:
        # 巡查员 on a phone: 巡查上报 → 上报隐患, with a photo from the gallery.
        context, network, page = signed_in(chromium, app, "inspector", PHONE)
        page.get_by_role("heading", name="巡查上报").wait_for(timeout=60_000)
        choose(page, "图斑", code)
        e2e.wait_idle(page)
        page.get_by_role("tab", name="上报隐患").click()
        form = page.locator('[data-testid="stForm"]').filter(has=page.get_by_role("button", name="上报隐患"))
        choose(page, "隐患类型", "护栏缺失或不足")
        choose(page, "隐患等级", "一般隐患")
        choose(page, "发现方式", "日常巡查")
        form.get_by_label("隐患描述").fill("弯道外侧波形梁护栏被撞断约 12 米")
        form.locator('input[type="file"]').set_input_files(str(photo(tmp_path)))
        page.get_by_text("现场照片.jpg").first.wait_for(timeout=60_000)
        form.get_by_role("button", name="上报隐患").click()
        done = page.get_by_text(f"已上报隐患 {hazard_code}（1 张照片）")
        done.first.wait_for(timeout=60_000)
        e2e.wait_idle(page)
        e2e.screenshot(page, "hazard_phone_reported.png")
        assert any(in_viewport(done.nth(i), 740) for i in range(done.count()) if done.nth(i).is_visible()), \
            "the result of the report is outside the 360 × 740 screen"
        assert network.foreign() == []
        context.close()
        check = open_store(db)
        assert check.hazard(hazard_code)["status"] == "待整改" and len(check.hazard_photos(hazard_code)) == 1
        check.close()

        # 编辑员 on the edit page: 开始整改, then 提请验收 with the measures taken.
        context, network, page = signed_in(chromium, app, "editor", DESK)
        e2e.open_page(page, "图斑编辑")
        choose(page, "图斑（可输入编号或名称搜索）", code)
        e2e.wait_idle(page)
        section = page.locator('[data-testid="stExpander"]', has_text=f"{hazard_code} · 待整改")
        e2e.open_expander(section)
        section.get_by_role("button", name="开始整改").click()
        e2e.wait_text(page, f"隐患 {hazard_code} 已开始整改（整改中）")
        e2e.wait_idle(page)
        # The section stays open across the step (its title now says 整改中) and across the rerun that
        # leaving the text area causes (the step's message goes then, and the page moves up).
        section = page.locator('[data-testid="stExpander"]', has_text=f"{hazard_code} · 整改中")
        measures = section.get_by_label("整改措施")
        assert measures.is_visible(), "the hazard's section closed after 开始整改"
        measures.fill("更换为加强型波形梁护栏 12 米，增设线形诱导标")
        measures.press("Tab")
        e2e.wait_idle(page)
        assert section.get_by_role("button", name="提请验收").is_visible(), \
            "the hazard's section closed when the text area lost focus"
        section.get_by_role("button", name="提请验收").click()
        e2e.wait_text(page, f"隐患 {hazard_code} 已提请验收（待验收）")
        e2e.wait_idle(page)
        context.close()

        # 安全科 on the 隐患台账 page: 验收通过，销号 with 验收意见.
        context, network, page = signed_in(chromium, app, "safety", DESK)
        e2e.open_page(page, "隐患台账")
        choose(page, "办理隐患", hazard_code)
        e2e.wait_idle(page)
        page.get_by_label("验收意见").fill(OPINION)
        page.get_by_role("button", name="验收通过，销号").click()
        e2e.wait_text(page, f"隐患 {hazard_code} 已验收通过，销号（已销号）")
        e2e.wait_idle(page)

        # The map's side panel and the patch's timeline.
        e2e.open_page(page, "地图")
        search = page.get_by_label("搜索图斑编号或名称")
        search.fill(code)
        search.press("Enter")
        e2e.wait_idle(page)
        hazards = page.locator('[data-testid="stTable"]', has_text=hazard_code).first
        hazards.wait_for(timeout=60_000)
        row = hazards.locator("tr", has_text=hazard_code).first.inner_text()
        assert "已销号" in row and OPINION in row
        timeline = page.locator('[data-testid="stExpander"]', has_text="动态跟踪")
        e2e.open_expander(timeline)
        entries = timeline.locator("tr", has_text=hazard_code)
        entries.first.wait_for(timeout=60_000)
        texts = [entries.nth(i).inner_text() for i in range(entries.count())]
        assert any("待验收 → 已销号" in t and "安全科陈静" in t for t in texts), texts
        assert any("隐患上报" in t and "巡查员小王" in t for t in texts), texts
        e2e.screenshot(page, "hazard_side_panel.png")

        # The monthly report of this month, downloaded as the printable page and opened.
        e2e.open_page(page, "统计看板")
        page.get_by_role("tab", name="月报·年报").click()
        e2e.wait_idle(page)
        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("button", name="下载可打印页面（HTML）").click()
        html = Path(download.value.path()).read_text(encoding="utf-8")
        assert "月报" in html and "本期销号隐患" in html
        page.set_content(html)
        row = page.locator("tr", has_text=hazard_code).first.inner_text()
        assert "已销号" in row and OPINION in row and "安全科陈静" in row, row
        assert network.foreign() == []
        context.close()
