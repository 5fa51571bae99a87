"""Reports: the Excel workbook opens with openpyxl and shows the right numbers; the printable page,
rendered in headless Chromium from a file:// URL and screenshotted, shows the map with the patches in
their grade colours and the right numbers, escapes every database text and fetches nothing."""
from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import re
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import shapely
from test_stats import OPEN_SQL, SAMPLE_ON, Sql, generated_ledger_path

from safetymap import cli_report, report, report_files, report_page, stats, svgmap
from safetymap.errors import ValidationError
from safetymap.stats import Period
from safetymap.store import Store, open_store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
HOSTILE = "<script>alert('x')</script>"
HOSTILE_PERSON = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="session")
def generated_template(tmp_path_factory) -> Path:
    return generated_ledger_path(tmp_path_factory)


@pytest.fixture
def sql_of():
    opened = []

    def make(store: Store) -> Sql:
        opened.append(Sql(store.path, store.schema))
        return opened[-1]

    yield make
    for s in opened:
        s.con.close()


def sheet_rows(ws) -> list[dict]:
    """The data rows of a report sheet (header on row 3) as dicts."""
    header = [c.value for c in ws[report_files.HEADER_ROW]]
    return [dict(zip(header, values)) for values in ws.iter_rows(min_row=report_files.HEADER_ROW + 1, values_only=True)]


# ---------------------------------------------------------------- Excel
def test_monthly_report_excel_opens_and_shows_the_right_numbers(store, sql_of, tmp_path):
    sql = sql_of(store)
    path = report_files.save(report.build_report(store, Period.parse_month("2026-11"), SAMPLE_ON), tmp_path / "月报.xlsx")
    wb = openpyxl.load_workbook(path)
    # the red list and the month-on-month table come second and third since issue 12
    assert wb.sheetnames[:3] == ["总体情况", "主要指标环比", "重大风险清单"] and "逾期未整改清单" in wb.sheetnames
    assert wb.sheetnames.index("分类分级图斑数") + 1 == wb.sheetnames.index("分类分级长度(km)")
    ws = wb["分类分级图斑数"]
    bureau = store.schema.meta["bureau"]
    assert ws["A1"].value.startswith(bureau) and "分类分级图斑数" in ws["A1"].value
    assert "2026年11月" in ws["A2"].value and "示例数据" in ws["A2"].value
    assert ws.freeze_panes == "A4" and ws["A3"].value == "类别" and ws["A3"].font.bold
    assert all(ws.column_dimensions[c].width >= 6 for c in "ABCDEF")
    rows = {r["类别"]: r for r in sheet_rows(ws)}
    for c in store.schema.risk_categories:
        for grade in store.schema.grade_labels:
            assert rows[c.label][grade] == sql.one("SELECT COUNT(*) FROM p WHERE category = ? AND risk_grade = ?", c.key, grade)
    assert rows["合计"]["合计"] == sql.one("SELECT COUNT(*) FROM p")
    overview = {r["项目"]: r["数值"] for r in sheet_rows(wb["总体情况"])}
    assert overview["图斑总数"] == sql.one("SELECT COUNT(*) FROM p")
    assert overview["本期新增"] == sql.one("SELECT COUNT(*) FROM history WHERE version = 1 AND field_key IS NULL "
                                         "AND strftime('%Y-%m', at, '+8 hours') = '2026-11'")
    late = sheet_rows(wb["逾期未整改清单"])
    expected = sql.rows(f"SELECT code, CAST(julianday(?) - julianday(rect_deadline) AS INTEGER) AS d, resp_unit FROM p "
                        f"WHERE rect_status IN {OPEN_SQL} AND rect_deadline < ? ORDER BY d DESC, code",
                        SAMPLE_ON.isoformat(), SAMPLE_ON.isoformat())
    assert [(r["图斑编号"], r["逾期天数"], r["责任单位"]) for r in late] == expected
    assert isinstance(late[0]["整改时限"], dt.datetime)  # a real date cell, no timezone
    assert wb["逾期未整改清单"].cell(report_files.HEADER_ROW + 1, 12).number_format == "yyyy-mm-dd"


def test_annual_report_excel_of_the_generated_ledger(generated_template, sql_of, tmp_path):
    store = open_store(generated_template)
    sql = sql_of(store)
    on = dt.date(2026, 11, 15)
    path = report_files.save(report.build_report(store, Period.year(2025), on), tmp_path / "年报.xlsx")
    wb = openpyxl.load_workbook(path)
    monthly = {r["月份"]: r for r in sheet_rows(wb["各月动态"])}
    assert list(monthly) == [f"2025-{m:02d}" for m in range(1, 13)] + ["合计"]
    for month, n in sql.rows("SELECT strftime('%Y-%m', at, '+8 hours') AS m, COUNT(DISTINCT code) FROM history "
                             "WHERE action = 'archive' AND m LIKE '2025-%' GROUP BY m"):
        assert monthly[month]["归档"] == n
    added = sql.one("SELECT COUNT(DISTINCT code) FROM history WHERE version = 1 AND field_key IS NULL "
                    "AND strftime('%Y', at, '+8 hours') = '2025'")
    assert monthly["合计"]["新增"] == added
    # since issue 12 a past year shows the ledger at its end, rebuilt from history: the patches added
    # by then and not archived by then
    units = {r["责任单位"]: r for r in sheet_rows(wb["按责任单位统计"])}
    assert units["合计"]["图斑数"] == sql.one(
        "SELECT COUNT(DISTINCT code) FROM history WHERE version = 1 AND field_key IS NULL "
        "AND datetime(at, '+8 hours') < '2026-01-01' AND code NOT IN (SELECT code FROM history "
        "WHERE action = 'archive' AND datetime(at, '+8 hours') < '2026-01-01')")
    assert "台账状态截至 2025-12-31（按变更历史重建）" in wb["总体情况"]["A2"].value
    assert wb["总体情况"]["A2"].value.count("示例数据") == 0  # not the sample: no sample label
    running = openpyxl.load_workbook(report_files.save(report.build_report(store, Period.year(2026), on), tmp_path / "2026.xlsx"))
    units = {r["责任单位"]: r for r in sheet_rows(running["按责任单位统计"])}
    assert units["合计"]["逾期"] == sql.one(
        f"SELECT COUNT(*) FROM p WHERE rect_status IN {OPEN_SQL} AND rect_deadline < ?", on.isoformat())
    store.close()


def test_reminder_workbook_has_a_summary_and_a_sheet_per_unit(store):
    from safetymap import reminders

    table = reminders.due(stats.load(store).patches, store.schema, 30, SAMPLE_ON)
    wb = openpyxl.load_workbook(io.BytesIO(reminders.excel_bytes(table, store.schema, 30, SAMPLE_ON, sample=True)))
    units = list(dict.fromkeys(table["责任单位"]))
    assert wb.sheetnames == ["汇总", *units]
    summary = {r["责任单位"]: r for r in sheet_rows(wb["汇总"])}
    assert summary["合计"]["合计"] == len(table)
    for unit in units:
        codes = [r["图斑编号"] for r in sheet_rows(wb[unit])]
        assert codes == list(table.loc[table["责任单位"] == unit, "图斑编号"]) and summary[unit]["合计"] == len(codes)
        assert unit in wb[unit]["A1"].value and wb[unit].freeze_panes == "A4"


# ---------------------------------------------------------------- the HTML page and the map, without a browser
def make_hostile(store: Store) -> str:
    """Give an overdue patch a name and a person that are markup; returns its code."""
    late = stats.overdue_list(stats.load(store).patches, store.schema, SAMPLE_ON)
    code = late["图斑编号"].iloc[0]
    store.update(code, {"name": HOSTILE, "resp_person": HOSTILE_PERSON}, store.get(code)["version"], "测试")
    return code


def test_every_database_text_is_escaped(store):
    make_hostile(store)
    page = report_page.html_page(report.build_report(store, Period.parse_month("2026-11"), SAMPLE_ON))
    assert "<script" not in page and "<img" not in page and "onerror=\"" not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_map_svg_draws_every_patch_in_its_grade_colour(store):
    frame = stats.load(store).patches
    svg = svgmap.district_map_svg(frame, store.schema, routes=store.routes(), sample=True)
    for g in store.schema.grades:
        n = int((frame["risk_grade"] == g.label).sum())
        assert svg.count('class="patch" data-code=') >= n and svg.count(f'fill="{g.color}" stroke="{g.color}"') == n
    assert svg.count('class="patch"') == len(frame) and "示例数据" in svg and 'class="district"' in svg
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched
    assert "示例数据" not in svgmap.district_map_svg(frame, store.schema)


def test_scale_bar_is_true_to_the_map():
    boundary = shapely.geometry.box(0, 0, 60000, 40000)
    frame = svgmap.MapFrame.fit(boundary.bounds)
    km = svgmap.scale_length_km(frame)
    assert km == 10 and km * 1000 * frame.scale <= (svgmap.MAP_WIDTH - 2 * svgmap.PAD) / 5


def test_cli_report_function(sample_db, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path)
    cli_report.add_report_arguments(parser)
    out = tmp_path / "2026年11月.html"
    assert cli_report.cmd_report(parser.parse_args(["--db", str(sample_db), "--month", "2026-11", "--out", str(out)])) == 0
    assert "已生成" in capsys.readouterr().out and "<svg" in out.read_text(encoding="utf-8")
    xlsx = tmp_path / "2026.xlsx"
    cli_report.cmd_report(parser.parse_args(["--db", str(sample_db), "--year", "2026", "--out", str(xlsx)]))
    assert openpyxl.load_workbook(xlsx)["各月动态"].max_row == report_files.HEADER_ROW + 13
    with pytest.raises(ValidationError, match=r"\.xlsx"):
        cli_report.cmd_report(parser.parse_args(["--db", str(sample_db), "--month", "2026-11", "--out", str(tmp_path / "x.pdf")]))
    with pytest.raises(ValidationError, match="月份"):
        cli_report.cmd_report(parser.parse_args(["--db", str(sample_db), "--month", "2026-13", "--out", str(out)]))
    with pytest.raises(SystemExit):
        parser.parse_args(["--db", str(sample_db), "--month", "2026-11", "--year", "2026", "--out", str(out)])


def test_cli_report_command(sample_db, tmp_path):
    from safetymap import cli

    args = cli.build_parser().parse_args(["report", "--month", "2026-11", "--out", "x.html"])  # SystemExit, a failure, if missing
    assert args.month == "2026-11" and args.out == Path("x.html")
    out = tmp_path / "月报.xlsx"
    assert cli.main(["report", "--db", str(sample_db), "--month", "2026-11", "--out", str(out)]) == 0
    assert "总体情况" in openpyxl.load_workbook(out).sheetnames
    assert cli.main(["report", "--db", str(sample_db), "--month", "2026-11", "--out", str(tmp_path / "x.doc")]) != 0


# ---------------------------------------------------------------- in a real browser
@pytest.fixture(scope="module")
def browser():
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (Debian package chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:
            reason = f"playwright is not installed: {exc}"
    if reason:
        if os.environ.get("SAFETYMAP_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def grade_pixels(png: bytes, color: str) -> int:
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)
    target = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels - target).sum(axis=1) < 40).sum())


def table_cells(page, title: str) -> list[list[str]]:
    return page.eval_on_selector(f'table[data-title="{title}"]',
                                 "t => Array.from(t.tBodies[0].rows).map(r => Array.from(r.cells).map(c => c.textContent))")


def open_report(browser, path: Path):
    page = browser.new_page(viewport={"width": 794, "height": 1123})  # A4 at 96 dpi
    requests, dialogs = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, requests, dialogs


@pytest.mark.parametrize("which", ["sample", "generated"])
def test_printable_page_in_chromium(browser, which, sample_db, generated_template, sql_of, tmp_path):
    store = open_store(sample_db if which == "sample" else generated_template)
    sql = sql_of(store)
    on = SAMPLE_ON if which == "sample" else dt.date(2026, 11, 15)
    if which == "sample":
        make_hostile(store)
    path = report_files.save(report.build_report(store, Period.parse_month("2026-11"), on), tmp_path / "report.html")
    page, requests, dialogs = open_report(browser, path)
    try:
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        assert (tmp_path / "page.png").stat().st_size > 10_000
        # the map: one shape per current patch, in its grade colour, and those colours on screen
        fills = page.eval_on_selector_all("svg.district-map path.patch", "ps => ps.map(p => p.getAttribute('fill'))")
        for g in store.schema.grades:
            assert fills.count(g.color) == sql.one("SELECT COUNT(*) FROM p WHERE risk_grade = ?", g.label)
        assert len(fills) == sql.one("SELECT COUNT(*) FROM p")
        shot = page.locator("svg.district-map").screenshot()
        for g in store.schema.grades:
            assert grade_pixels(shot, g.color) > 100, g.label
        marks = page.locator("svg.district-map text.sample-mark").count()
        assert marks == (1 if which == "sample" else 0)
        # the tables: the right numbers
        cells = {row[0]: row for row in table_cells(page, "分类分级图斑数")}
        header = page.eval_on_selector('table[data-title="分类分级图斑数"]',
                                       "t => Array.from(t.tHead.rows[0].cells).map(c => c.textContent)")
        for c in store.schema.risk_categories:
            for g in store.schema.grade_labels:
                n = sql.one("SELECT COUNT(*) FROM p WHERE category = ? AND risk_grade = ?", c.key, g)
                assert cells[c.label][header.index(g)] == str(n)
        late = table_cells(page, "逾期未整改清单")
        expected = sql.rows(f"SELECT code, CAST(julianday(?) - julianday(rect_deadline) AS INTEGER) AS d FROM p "
                            f"WHERE rect_status IN {OPEN_SQL} AND rect_deadline < ? ORDER BY d DESC, code",
                            on.isoformat(), on.isoformat())
        assert [(r[0], r[-1]) for r in late] == [(code, str(d)) for code, d in expected]
        # nothing fetched, nothing executed, and it fits an A4 page when printed
        assert all(u.startswith(("file:", "data:")) for u in requests), requests
        assert not dialogs and page.locator("script").count() == 0
        if which == "sample":
            assert HOSTILE in page.inner_text("body")  # shown as text, not run
        page.emulate_media(media="print")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        pdf = page.pdf(format="A4", prefer_css_page_size=True)
        boxes = [tuple(map(float, m)) for m in re.findall(rb"/MediaBox\s*\[0 0 ([\d.]+) ([\d.]+)\]", pdf)]
        assert pdf.startswith(b"%PDF") and len(boxes) >= 2  # pages of A4: 210 x 297 mm = 595 x 842 pt
        assert all(abs(w - 595.3) < 1 and abs(h - 841.9) < 1 for w, h in boxes), boxes
    finally:
        page.close()
        store.close()
