"""The report's rules a bureau signs off: open risks only in the headline, the named 重大风险 list,
销号率 and 整改完成率 by unit and township, funding, inspections overdue by grade, month-on-month
change, the 重大隐患 and 挂牌督办 lists from a hazards frame, a past period rebuilt from history (the
October report made in December equals the one made on 31 October), and the 存在问题 / 下步工作 text."""
from __future__ import annotations

import datetime as dt
import random

import pandas as pd
import pytest
import shapely
from test_stats import Clock, random_line, random_patch

from safetymap import report, report_page, stats
from safetymap import store as store_module
from safetymap.geo import district_boundary
from safetymap.stats import Period

ON = dt.date(2026, 11, 28)


def figures(data, schema, on=ON) -> dict:
    table = stats.overview(data, schema, on)
    return dict(zip(table["项目"], table["数值"]))


def first_open(frame, grade: str, schema) -> pd.Series:
    rows = frame[(frame["risk_grade"] == grade) & frame["rect_status"].isin(schema.open_statuses)]
    return rows.iloc[0]


# ---------------------------------------------------------------- open risks, the red list
def test_a_closed_patch_is_not_an_open_risk_in_the_headline(store):
    schema = store.schema
    top = schema.grade_labels[0]
    before = figures(stats.load(store), schema)
    patch = first_open(stats.load(store).patches, top, schema)
    store.update(patch["code"], {"rect_status": stats.CLOSED}, int(patch["version"]), "管理员")
    after = figures(stats.load(store), schema)
    assert after[f"{top}风险图斑"] == before[f"{top}风险图斑"] - 1
    assert after["图斑总数"] == before["图斑总数"]


def test_the_major_risk_list_names_each_open_red_patch_with_measures_unit_person_and_deadline(store):
    schema = store.schema
    frame = stats.load(store).patches
    top = schema.grade_labels[0]
    closed = frame[(frame["risk_grade"] == top) & ~frame["rect_status"].isin(schema.statuses_with_role("closed"))]
    table = stats.major_risk_list(frame, schema, ON)
    assert list(table["图斑编号"]) == sorted(closed["code"])
    for column in ("防控措施清单", "责任单位", "责任人", "整改时限"):
        assert column in table.columns
    row = table.iloc[0]
    source = frame.set_index("code").loc[row["图斑编号"]]
    assert row["防控措施清单"] == source["list_measures"] and row["责任人"] == source["resp_person"]
    sections = report.build_report(store, Period.parse_month("2026-11"), ON)
    assert "重大风险清单" in [t.title for t in sections.tables]


# ---------------------------------------------------------------- rates, funding, inspections
@pytest.mark.parametrize("key", ["resp_unit", "township"])
def test_close_rate_and_completion_rate_by_unit_and_township(store, key):
    schema = store.schema
    frame = stats.load(store).patches
    table = stats.completion_by(frame, key, schema)
    rows = {r[table.columns[0]]: r for r in table.to_dict("records")}
    groups = frame[key].fillna(stats.BLANK)
    for name, part in frame.groupby(groups):
        closed = part["rect_status"].eq(stats.CLOSED).sum()
        done = part["rect_status"].isin([stats.RECTIFIED, stats.CLOSED]).sum()
        assert rows[name][stats.COUNT] == len(part)
        assert rows[name][stats.CLOSE_RATE] == pytest.approx(round(100 * closed / len(part), 1))
        assert rows[name][stats.DONE_RATE] == pytest.approx(round(100 * done / len(part), 1))
    assert rows[stats.TOTAL][stats.COUNT] == len(frame)


def test_funding_is_added_up(store):
    frame = stats.load(store).patches
    total = round(float(frame["funding_wan"].sum()), 2)
    assert figures(stats.load(store), store.schema)[stats.FUNDING_TOTAL] == pytest.approx(total)
    table = stats.funding_table(frame, store.schema)
    assert table.iloc[-1][stats.FUNDING] == pytest.approx(total)


def test_inspections_overdue_by_grade_follow_the_schema_frequency(store):
    schema = store.schema
    days = stats.inspection_days(schema)
    assert days == {"重大": 7, "较大": 14, "一般": 30, "较小": 90}
    frame = stats.load(store).patches
    patch = first_open(frame, "重大", schema)
    store.update(patch["code"], {"last_inspection": (ON - dt.timedelta(days=8)).isoformat()}, int(patch["version"]), "管理员")
    frame = stats.load(store).patches
    listed = stats.inspection_overdue_list(frame, schema, ON)
    assert patch["code"] in set(listed["图斑编号"])
    store.update(patch["code"], {"last_inspection": (ON - dt.timedelta(days=7)).isoformat()}, int(patch["version"]) + 1, "管理员")
    frame = stats.load(store).patches
    assert patch["code"] not in set(stats.inspection_overdue_list(frame, schema, ON)["图斑编号"])
    table = stats.inspection_overdue_by_grade(frame, schema, ON)
    rows = {r["风险等级"]: r for r in table.to_dict("records")}
    open_risks = frame[~frame["rect_status"].eq(stats.CLOSED)]
    for grade, limit in days.items():
        part = open_risks[open_risks["risk_grade"] == grade]
        age = (pd.Timestamp(ON) - pd.to_datetime(part["last_inspection"])).dt.days
        late = int((age.isna() | (age > limit)).sum())
        assert (rows[grade][stats.INSPECT_DAYS], rows[grade][stats.INSPECT_LATE]) == (limit, late)


def test_month_on_month_change_of_the_headline_figures(store):
    table = stats.month_on_month({"图斑总数": 10, "重大风险图斑": 3}, {"图斑总数": 8, "重大风险图斑": 4})
    rows = {r["项目"]: r for r in table.to_dict("records")}
    assert (rows["图斑总数"]["本期"], rows["图斑总数"]["上期"], rows["图斑总数"]["增减"]) == (10, 8, 2)
    assert rows["重大风险图斑"]["增减"] == -1
    built = report.build_report(store, Period.parse_month("2026-11"), ON)
    assert "主要指标环比" in [t.title for t in built.tables]


# ---------------------------------------------------------------- hazards, when they come
HAZARDS = pd.DataFrame([
    {"code": "YH-001", "patch_code": "DZ-010", "level": "重大隐患", "status": "整改中", "description": "抗倾覆验算不满足",
     "measures": "加装抗倾覆支座", "lead_unit": "工程科", "person": "张三", "deadline": "2026-12-31",
     "funding_wan": 80.0, "funding_source": "省级补助", "supervision_level": "市级", "supervision_doc": "白交安〔2026〕3号"},
    {"code": "YH-002", "patch_code": "JW-001", "level": "一般隐患", "status": "待整改", "description": "护栏缺失",
     "measures": "增设护栏", "lead_unit": "公路事业发展中心", "person": "李四", "deadline": "2026-12-01",
     "funding_wan": 12.5, "funding_source": "县级配套", "supervision_level": None, "supervision_doc": None},
    {"code": "YH-003", "patch_code": "DZ-001", "level": "重大隐患", "status": "已销号", "description": "支座脱空",
     "measures": "更换支座", "lead_unit": "工程科", "person": "王五", "deadline": "2026-06-30",
     "funding_wan": 30.0, "funding_source": "省级补助", "supervision_level": "县级", "supervision_doc": "江交〔2026〕1号"},
])


def test_hazard_lists_and_funding_by_source():
    assert list(stats.major_hazard_list(HAZARDS)["隐患编号"]) == ["YH-001"]
    assert list(stats.supervised_hazard_list(HAZARDS)["隐患编号"]) == ["YH-001"]
    by_source = stats.hazard_funding_by_source(HAZARDS)
    assert dict(zip(by_source["资金来源"], by_source[stats.FUNDING])) == {"省级补助": 110.0, "县级配套": 12.5, stats.TOTAL: 122.5}
    empty = HAZARDS.iloc[0:0]
    assert len(stats.major_hazard_list(empty)) == len(stats.supervised_hazard_list(empty)) == 0
    assert stats.hazard_funding_by_source(empty).iloc[-1][stats.FUNDING] == 0


# ---------------------------------------------------------------- a past period rebuilt from history
def at_china(clock: Clock, moment: str) -> None:
    """Set the store's clock to ``moment`` China time."""
    clock.now = pd.Timestamp(moment).tz_localize("Asia/Shanghai").tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.000Z")


def fill_ledger(store, clock: Clock) -> list[str]:
    """About 30 patches inserted in September and October 2026 with some edits in October."""
    rng = random.Random(1031)
    inner = shapely.buffer(district_boundary(), -0.02)
    codes = []
    for day, category in enumerate(store.schema.risk_categories):  # graded layers (facilities carry no risk fields)
        at_china(clock, f"2026-09-{day + 3:02d} 10:00")
        rows = [random_patch(rng, store.schema, category, n) for n in range(1, 7)]
        rows = [r | {"last_inspection": f"2026-10-{rng.randint(1, 28):02d}"} for r in rows]
        store.insert_many(category.key, pd.DataFrame(rows), [random_line(rng, inner) for _ in rows], "录入员")
        codes += [r["code"] for r in rows]
    at_china(clock, "2026-10-20 09:00")
    for code in codes[::4]:
        store.update(code, {"rect_status": "整改中"}, store.get(code)["version"], "整改员")
    fog = [c for c in codes if c.startswith(store.schema.category(store.schema.fog_category).code_prefix)]
    store.add_fog_events(pd.DataFrame([{"code": fog[0], "date": "2026-10-05", "min_visibility_m": 80}]), "巡查员")
    return codes


def edit_later(store, clock: Clock, codes: list[str]) -> None:
    """What November and December change: statuses, grades, funding, deadlines, inspections, an archive,
    a new patch, a fog event."""
    rng = random.Random(1201)
    at_china(clock, "2026-11-03 08:00")
    for code in codes[1::3]:
        record = store.get(code)
        store.update(code, {"rect_status": "已销号", "funding_wan": 99.0, "last_inspection": "2026-11-02",
                            "grade_method": "直接判定", "risk_grade": "重大", "grade_basis": "复核",
                            "resp_unit": "交投公司", "rect_deadline": "2027-03-01"}, record["version"], "管理员")
    at_china(clock, "2026-11-20 08:00")
    store.archive(codes[0], "管理员")
    at_china(clock, "2026-12-02 08:00")
    store.restore(codes[0], "管理员")
    store.archive(codes[2], "管理员")
    category = store.schema.categories[0]
    inner = shapely.buffer(district_boundary(), -0.02)
    store.insert(category.key, random_patch(rng, store.schema, category, 900), random_line(rng, inner), "录入员")
    fog = store.schema.category(store.schema.fog_category)
    code = next(c for c in codes if c.startswith(fog.code_prefix))
    store.add_fog_events(pd.DataFrame([{"code": code, "date": "2026-10-30", "min_visibility_m": 50}]), "巡查员")


def test_the_october_report_made_in_december_equals_the_one_made_on_31_october(empty_store, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(store_module, "now_utc", clock)
    october = Period.month(2026, 10)
    codes = fill_ledger(empty_store, clock)
    at_china(clock, "2026-10-31 17:00")
    made_in_october = report.build_report(empty_store, october, dt.date(2026, 10, 31))
    edit_later(empty_store, clock, codes)
    now = report.build_report(empty_store, Period.month(2026, 12), dt.date(2026, 12, 3))
    assert not now.tables[0].frame.equals(made_in_october.tables[0].frame)  # the ledger did change since
    made_in_december = report.build_report(empty_store, october, dt.date(2026, 12, 3))
    assert made_in_december.on == dt.date(2026, 10, 31)
    assert [t.title for t in made_in_december.tables] == [t.title for t in made_in_october.tables]
    for before, after in zip(made_in_october.tables, made_in_december.tables):
        pd.testing.assert_frame_equal(before.frame, after.frame, obj=before.title)


# ---------------------------------------------------------------- 存在问题 / 下步工作
def test_problems_and_next_steps_on_the_printable_page_are_escaped(store):
    built = report.build_report(store, Period.parse_month("2026-11"), ON)
    page = report_page.html_page(built, report.Notes("<b>护栏</b>不足\n第二行", "{{ 7*7 }} 下月完成"))
    assert "存在问题" in page and "下步工作" in page
    assert "&lt;b&gt;护栏&lt;/b&gt;不足" in page and "<b>护栏" not in page
    assert "第二行" in page and "{{ 7*7 }} 下月完成" in page  # the page is not a template: shown as typed
    assert "存在问题" not in report_page.html_page(built)


def test_cli_report_takes_problems_and_next_steps(sample_db, tmp_path):
    import argparse
    from pathlib import Path

    from safetymap import cli_report

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path)
    cli_report.add_report_arguments(parser)
    out = tmp_path / "月报.html"
    args = ["--db", str(sample_db), "--month", "2026-11", "--out", str(out), "--problems", "<i>标志</i>缺失",
            "--next-steps", "12月底前完成"]
    assert cli_report.cmd_report(parser.parse_args(args)) == 0
    page = out.read_text(encoding="utf-8")
    assert "&lt;i&gt;标志&lt;/i&gt;缺失" in page and "12月底前完成" in page


def test_hazard_tables_of_a_frame_without_columns():
    assert len(stats.major_hazard_list(pd.DataFrame())) == len(stats.supervised_hazard_list(pd.DataFrame())) == 0
    assert stats.hazard_funding_by_source(pd.DataFrame()).iloc[-1][stats.FUNDING] == 0


def test_every_field_read_back_from_its_history_text(store):
    """What history keeps (values.display_value) reads back as the value (asof.value_from_text)."""
    from safetymap.asof import value_from_text
    from safetymap.values import display_value

    frame = store.read()
    for c in store.schema.categories:
        rows = frame[frame["category"] == c.key]
        for f in (f for f in c.fields if f.type != "datetime"):
            for value in rows[f.key]:
                back = value_from_text(f, display_value(f, value))
                if pd.isna(value) if not isinstance(value, str) else not value.strip():
                    assert back is None, (f.key, value)
                elif f.type in ("date",):
                    assert back == pd.Timestamp(value), f.key
                elif f.type in ("float", "stake"):
                    assert back == pytest.approx(float(value), abs=0.001), f.key
                else:
                    assert back == value, (f.key, value, back)
