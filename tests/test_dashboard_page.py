"""The dashboard page (统计看板) through Streamlit's AppTest: what it shows equals the figures computed
with plain SQL over the database, for the sample ledger, a generated one and an empty one."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest
from test_stats import OPEN_RISK_SQL, OPEN_SQL, Sql, generated_ledger_path

from safetymap.ledger import today

WRAPPER = ROOT / "tests" / "dashboard_app.py"


@pytest.fixture(scope="session")
def generated_template(tmp_path_factory) -> Path:
    return generated_ledger_path(tmp_path_factory)


def run_page(monkeypatch, db) -> AppTest:
    monkeypatch.setenv("SAFETYMAP_DB", str(db))
    at = AppTest.from_file(str(WRAPPER), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _opened(which: str, folder: Path, sample_template: Path, generated_template: Path):
    """The dashboard run once on a copy of the ``which`` ledger; yields (AppTest, store, sql, which)."""
    from safetymap.store import open_store

    db = folder / f"{which}.gpkg"
    shutil.copy(sample_template if which == "sample" else generated_template, db)
    main = sys.modules["__main__"]
    with pytest.MonkeyPatch.context() as monkeypatch:
        at = run_page(monkeypatch, db)
    sys.modules["__main__"] = main  # as conftest's fresh_streamlit_state does for each test
    store = open_store(db)
    sql = Sql(db, store.schema)
    yield at, store, sql, which
    sql.con.close()
    store.close()


@pytest.fixture(scope="module", params=["sample", "generated"])
def page(request, tmp_path_factory, sample_template, generated_template):
    """The page as first shown, shared by the tests that only read it (a run takes ~2.5 s)."""
    yield from _opened(request.param, tmp_path_factory.mktemp("dashboard"), sample_template, generated_template)


@pytest.fixture(params=["sample", "generated"])
def own_page(request, tmp_path, sample_template, generated_template):
    """The page run for this test alone: for tests that change a widget."""
    yield from _opened(request.param, tmp_path, sample_template, generated_template)


def shown(at, first_column: str, having: str | None = None) -> list:
    """The dataframes on the page whose first column is ``first_column`` (and that have ``having``)."""
    return [d.value for d in at.dataframe
            if d.value.columns[0] == first_column and (having is None or having in d.value.columns)]


def test_headline_figures(page):
    at, _, sql, which = page
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["图斑总数"] == str(sql.one("SELECT COUNT(*) FROM p"))
    assert metrics["重大风险图斑"] == str(sql.one(  # open risks only: 已销号 is not counted (issue 12)
        f"SELECT COUNT(*) FROM p WHERE risk_grade = '重大' AND {OPEN_RISK_SQL}"))
    assert metrics["逾期未整改图斑"] == str(sql.one(
        f"SELECT COUNT(*) FROM p WHERE rect_status IN {OPEN_SQL} AND rect_deadline < ?", today().isoformat()))
    assert float(metrics["总长度(km)"]) == pytest.approx(sql.one("SELECT TOTAL(length_m) FROM p") / 1000, abs=0.0051)
    assert any("示例数据" in c.value for c in at.caption) == (which == "sample")


def test_category_grade_table_and_chart(page):
    at, store, sql, _ = page
    number, length = shown(at, "类别", "重大")[:2]
    for c in store.schema.risk_categories:
        row = number.set_index("类别").loc[c.label]
        for g in store.schema.grade_labels:
            assert row[g] == sql.one("SELECT COUNT(*) FROM p WHERE category = ? AND risk_grade = ?", c.key, g)
        metres = sql.one("SELECT TOTAL(length_m) FROM p WHERE category = ?", c.key)
        assert length.set_index("类别").loc[c.label, "合计"] == pytest.approx(metres / 1000, abs=0.0051)
    chart = at.get("vega_lite_chart")[0].proto
    spec = json.loads(chart.spec)
    assert spec["encoding"]["color"]["scale"]["range"] == [g.color for g in store.schema.grades]
    data = pa.ipc.open_stream(chart.datasets[0].data.data).read_all().to_pandas()
    values = {(r.iloc[0], r.iloc[1]): r.iloc[2] for _, r in data.iterrows()}
    for c in store.schema.risk_categories:
        for g in store.schema.grade_labels:
            assert values[(c.label, g)] == number.set_index("类别").loc[c.label, g]


def test_township_unit_route_tables(page):
    at, _, sql, _ = page
    for key, label in (("township", "乡镇"), ("resp_unit", "责任单位"), ("route_code", "路线编码")):
        table = shown(at, label, "图斑数")[0].set_index(label)
        for value, n in sql.rows(f"SELECT {key}, COUNT(*) FROM p WHERE TRIM(COALESCE({key}, '')) <> '' GROUP BY {key}"):
            assert table.loc[value, "图斑数"] == n
        assert table.loc["合计", "图斑数"] == sql.one("SELECT COUNT(*) FROM p")


def test_overdue_list_and_five_in_place(page):
    at, _, sql, _ = page
    late = shown(at, "图斑编号", "逾期天数")[0]
    expected = sql.rows(f"SELECT code, CAST(julianday(?) - julianday(rect_deadline) AS INTEGER) AS d FROM p "
                        f"WHERE rect_status IN {OPEN_SQL} AND rect_deadline < ? ORDER BY d DESC, code",
                        today().isoformat(), today().isoformat())
    assert list(zip(late["图斑编号"], late["逾期天数"])) == expected
    five = shown(at, "类别", "五到位")[0].set_index("类别")
    assert five.loc["合计", "五到位"] == sql.one("SELECT COUNT(*) FROM p WHERE five_in_place = 1")


def test_fog_and_changes(page):
    at, _, sql, _ = page
    ledger = shown(at, "图斑编号", "年均次数")[0]
    assert (ledger["年均次数"] >= 3).all() and len(ledger) > 0
    months = shown(at, "月份", "团雾次数")[0].set_index("月份")
    assert months.loc["合计", "团雾次数"] == sql.one(
        "SELECT COUNT(*) FROM fog_events e JOIN patch_fog p ON p.code = e.code AND p.archived = 0")
    changes = shown(at, "月份", "新增")[0].set_index("月份")
    for month, n in sql.rows("SELECT strftime('%Y-%m', at, '+8 hours') AS m, COUNT(DISTINCT code) FROM history "
                             "WHERE field_key = 'rect_status' AND after = '已整改' GROUP BY m"):
        assert changes.loc[month, "整改完成"] == n


def test_every_table_is_downloadable(page):
    at = page[0]
    buttons = at.get("download_button")
    tables = [d for d in at.dataframe if "剩余天数" not in d.value.columns and "已逾期" not in d.value.columns]
    assert len(buttons) >= 2 * len(tables) + 3  # CSV and Excel each, the reminders, the two report files


@pytest.mark.parametrize("days", [0, 365])
def test_reminders_follow_the_number_of_days(own_page, days):
    at, _, sql, _ = own_page
    at.number_input(key="reminder_days").set_value(days).run()
    assert not at.exception
    table = shown(at, "责任单位", "剩余天数")[0]
    limit = (today() + dt.timedelta(days=days)).isoformat()
    codes = sql.rows(f"SELECT code FROM p WHERE rect_status IN {OPEN_SQL} AND rect_deadline <= ?", limit)
    assert sorted(table["图斑编号"]) == sorted(c for (c,) in codes)


def test_report_controls_and_map_preview(own_page):
    at = own_page[0]
    at.radio(key="report_kind").set_value("年报").run()
    assert not at.exception and at.selectbox(key="report_month").disabled
    assert any("年报" in m.value for m in at.markdown)
    at.toggle(key="report_map").set_value(True).run()
    assert not at.exception and len(at.get("image")) == 1


def test_an_empty_ledger(monkeypatch, empty_store):
    at = run_page(monkeypatch, empty_store.path)
    assert {m.label: m.value for m in at.metric}["图斑总数"] == "0"


def test_a_viewer_sees_the_figures_but_cannot_download(monkeypatch, sample_db):
    monkeypatch.setenv("SAFETYMAP_TEST_ROLE", "viewer")
    at = run_page(monkeypatch, sample_db)
    assert at.dataframe  # the figures are shown
    buttons = at.get("download_button")
    assert all(b.proto.disabled for b in buttons)  # only the disabled report/reminder buttons remain
    assert len(buttons) <= 3


def test_red_list_rates_inspections_and_report_notes(own_page):
    at, store, sql, _ = own_page
    red = shown(at, "图斑编号", "防控措施清单")[0]
    assert sorted(red["图斑编号"]) == [c for (c,) in sql.rows(
        f"SELECT code FROM p WHERE risk_grade = '重大' AND {OPEN_RISK_SQL} ORDER BY code")]
    units = shown(at, "责任单位", "销号率(%)")[0].set_index("责任单位")
    n, closed = sql.rows("SELECT COUNT(*), SUM(rect_status = '已销号') FROM p")[0]
    assert units.loc["合计", "销号率(%)"] == pytest.approx(round(100 * closed / n, 1))
    assert shown(at, "风险等级", "逾期未巡查")
    at.text_area(key="report_problems").input("<b>护栏</b>不足").run()
    at.text_area(key="report_next_steps").input("下月完成").run()
    assert not at.exception


CURRENT_HAZARDS = "(SELECT h.* FROM hazards h JOIN p ON p.code = h.code)"  # of current risk patches
SUPERVISED = "TRIM(COALESCE(supervise_level, '')) <> ''"


def test_hazard_lists_states_rates_funding_and_headline(page):
    at, _, sql, _ = page
    major = shown(at, "隐患编号", "整改措施")[0]
    assert list(major["隐患编号"]) == [c for (c,) in sql.rows(
        f"SELECT hazard_code FROM {CURRENT_HAZARDS} WHERE hazard_level = '重大隐患' AND status <> '已销号' ORDER BY hazard_code")]
    for column in ("牵头单位", "责任人", "整改时限", "整改状态"):
        assert column in major.columns
    supervised = shown(at, "隐患编号", "督办文号")[0]
    assert list(zip(supervised["隐患编号"], supervised["挂牌督办级别"], supervised["督办文号"], supervised["整改状态"])) == sql.rows(
        f"SELECT hazard_code, supervise_level, supervise_doc, status FROM {CURRENT_HAZARDS} "
        f"WHERE {SUPERVISED} AND status <> '已销号' ORDER BY hazard_code")
    funding = shown(at, "资金来源", "隐患数")[0].set_index("资金来源")
    for source, n, money in sql.rows(f"SELECT fund_source, COUNT(*), TOTAL(fund_wan) FROM {CURRENT_HAZARDS} "
                                     "WHERE TRIM(COALESCE(fund_source, '')) <> '' GROUP BY fund_source"):
        assert (funding.loc[source, "隐患数"], funding.loc[source, "资金金额(万元)"]) == (n, pytest.approx(money))
    total = sql.one(f"SELECT COUNT(*) FROM {CURRENT_HAZARDS}")
    assert funding.loc["合计", "隐患数"] == total
    units = shown(at, "牵头单位", "隐患数")[0].set_index("牵头单位")
    for unit, n, closed in sql.rows(f"SELECT lead_unit, COUNT(*), SUM(status = '已销号') FROM {CURRENT_HAZARDS} "
                                    "WHERE TRIM(COALESCE(lead_unit, '')) <> '' GROUP BY lead_unit"):
        assert units.loc[unit, "隐患数"] == n and units.loc[unit, "销号率(%)"] == pytest.approx(round(100 * closed / n, 1))
    towns = shown(at, "乡镇", "隐患数")[0].set_index("乡镇")
    for town, n, done in sql.rows(f"SELECT p.township, COUNT(*), SUM(h.status IN ('待验收', '已销号')) FROM {CURRENT_HAZARDS} h "
                                  "JOIN p ON p.code = h.code GROUP BY p.township"):
        assert towns.loc[town, "隐患数"] == n and towns.loc[town, "整改完成率(%)"] == pytest.approx(round(100 * done / n, 1))
    assert towns.loc["合计", "隐患数"] == total
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["未销号重大隐患"] == str(sql.one(
        f"SELECT COUNT(*) FROM {CURRENT_HAZARDS} WHERE hazard_level = '重大隐患' AND status <> '已销号'"))
    assert metrics["挂牌督办未销号隐患"] == str(sql.one(
        f"SELECT COUNT(*) FROM {CURRENT_HAZARDS} WHERE {SUPERVISED} AND status <> '已销号'"))


def test_facility_points_counted_apart_from_the_risks(page):
    at, store, sql, _ = page
    facilities = [c for c in store.schema.categories if c.is_facility]
    table = next(t for t in shown(at, "类别", "合计") if facilities[0].label in set(t["类别"])).set_index("类别")
    for c in facilities:
        assert table.loc[c.label, "合计"] == sql.one(f"SELECT COUNT(*) FROM patch_{c.key} WHERE archived = 0")
    assert not {c.label for c in store.schema.risk_categories} & set(table.index)
    number = shown(at, "类别", "重大")[0].set_index("类别")  # and the risk counts hold no facility layer
    assert not {c.label for c in facilities} & set(number.index)


def test_headline_changes_since_the_end_of_last_month(monkeypatch, tmp_path):
    """A ledger seeded now had nothing at the end of last month: each change (环比) is the figure itself."""
    from safetymap.seed import init_database

    init_database(tmp_path / "new.gpkg", sample=True).close()
    at = run_page(monkeypatch, tmp_path / "new.gpkg")
    metrics = {m.label: m for m in at.metric}
    for name in ("图斑总数", "重大风险图斑", "未销号重大隐患", "挂牌督办未销号隐患"):
        assert metrics[name].delta == f"+{int(metrics[name].value)}", name
    assert int(metrics["图斑总数"].value) > 0


def test_the_reports_choices_and_notes_survive_leaving_and_returning(monkeypatch, sample_db):
    """月报·年报: the period chosen and the 存在问题 / 下步工作 typed for the meeting are still there after a look
    at another page (the map, the ledger): Streamlit drops the keys of widgets a run does not draw. So is
    到期提醒's 提前天数 (emptied, it lists the default 30 days, as its caption says)."""
    from conftest import leave_and_return, page_test
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    at = page_test("dashboard_page", "统计测试员", "safety").run()
    assert at.selectbox(key="report_month").value == today().month  # the current month to begin with
    assert at.number_input(key="reminder_days").value == 30
    at.number_input(key="reminder_days").set_value(90)
    month = today().month % 12 + 1
    at.selectbox(key="report_month").set_value(month).run()
    at.text_area(key="report_problems").input("护栏缺失 3 处未完成整改").run()
    at.text_area(key="report_next_steps").input("下月底前完成").run()
    leave_and_return(at)
    assert at.number_input(key="reminder_days").value == 90
    assert any("90" in c.value for c in at.caption), [c.value for c in at.caption]
    assert at.selectbox(key="report_month").value == month
    assert at.text_area(key="report_problems").value == "护栏缺失 3 处未完成整改"
    assert at.text_area(key="report_next_steps").value == "下月底前完成"
    at.radio(key="report_kind").set_value("年报").run()
    leave_and_return(at)
    assert at.radio(key="report_kind").value == "年报" and not at.warning
    at.number_input(key="reminder_days").set_value(None).run()
    assert not at.exception, at.exception
    assert any("30" in c.value for c in at.caption), [c.value for c in at.caption]

