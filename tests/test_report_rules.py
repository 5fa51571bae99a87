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
from conftest import both_backends
from test_stats import Clock, random_line, random_patch

from safetymap import report, report_page, stats
from safetymap.auth import User
from safetymap import hazard_ledger as hazard_ledger_module
from safetymap import store as store_module
from safetymap.geo import district_boundary
from safetymap.stats import Period
from safetymap.values import is_blank

ON = dt.date(2026, 11, 28)


def figures(data, schema, on=ON) -> dict:
    table = stats.overview(data, schema, on)
    return dict(zip(table["项目"], table["数值"]))


def still_risks(frame, schema) -> pd.DataFrame:
    """Open risks computed plainly: not 已销号, 管控状态 blank or its default (管控中)."""
    control = schema.field("control_status")
    managed = frame["control_status"].isna() | (frame["control_status"] == control.default)
    return frame[~frame["rect_status"].isin(schema.statuses_with_role("closed")) & managed]


def first_open(frame, grade: str, schema, store=None) -> pd.Series:
    """The first open patch of ``grade``; with ``store``, one with no open hazard (so it may be closed)."""
    frame = still_risks(frame, schema)
    rows = frame[(frame["risk_grade"] == grade) & frame["rect_status"].isin(schema.open_statuses)]
    if store is not None:
        hazards = store.hazards()
        rows = rows[~rows["code"].isin(hazards.loc[hazards["status"] != stats.CLOSED, "code"])]
    return rows.iloc[0]


# ---------------------------------------------------------------- open risks, the red list
def test_a_closed_patch_is_not_an_open_risk_in_the_headline(store):
    schema = store.schema
    top = schema.grade_labels[0]
    before = figures(stats.load(store), schema)
    patch = first_open(stats.load(store).patches, top, schema, store)
    store.update(patch["code"], {"rect_status": stats.CLOSED}, int(patch["version"]), "管理员")
    after = figures(stats.load(store), schema)
    assert after[f"{top}风险图斑"] == before[f"{top}风险图斑"] - 1
    assert after["图斑总数"] == before["图斑总数"]


def test_an_eliminated_risk_point_is_not_an_open_risk(empty_store):
    """管控状态 已消除 (off the managed default): no longer in the headline, the red list or the
    inspection rounds; 已销号 and 整改 figures are unchanged by it."""
    store, schema = empty_store, empty_store.schema
    top = schema.grade_labels[0]
    codes = risk_patches(store, 3, grade={"risk_grade": top, "grade_method": "直接判定", "grade_basis": "复核",
                                          "rect_status": schema.open_statuses[0], "last_inspection": None})
    before = figures(stats.load(store), schema)
    control = schema.field("control_status")
    eliminated = next(v for v in control.values if v != control.default)
    store.update(codes[0], {"control_status": eliminated}, store.get(codes[0])["version"], "管理员")
    data = stats.load(store)
    after = figures(data, schema)
    assert (before[f"{top}风险图斑"], after[f"{top}风险图斑"]) == (3, 2)
    assert after[stats.LATE_INSPECTION_COUNT] == before[stats.LATE_INSPECTION_COUNT] - 1
    assert after["图斑总数"] == 3 and after[stats.CLOSED_COUNT] == before[stats.CLOSED_COUNT]
    assert codes[0] not in set(stats.major_risk_list(data.patches, schema, ON)["图斑编号"])
    assert codes[0] not in set(stats.inspection_overdue_list(data.patches, schema, ON)["图斑编号"])


def test_the_major_risk_list_names_each_open_red_patch_with_measures_unit_person_and_deadline(store):
    schema = store.schema
    frame = stats.load(store).patches
    top = schema.grade_labels[0]
    risks = still_risks(frame, schema)
    table = stats.major_risk_list(frame, schema, ON)
    assert list(table["图斑编号"]) == sorted(risks.loc[risks["risk_grade"] == top, "code"])
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
    open_risks = still_risks(frame, schema)
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


# ---------------------------------------------------------------- hazards (隐患) of the store
EDITOR, SAFETY = User("编辑员", "editor"), User("安全科员", "safety")


def hazard(level: str, **values) -> dict:
    """A hazard's values that may be closed (五到位 complete), any category ("其他" is every list's)."""
    return {"hazard_type": "其他", "hazard_level": level, "found_date": "2026-10-02", "description": f"{level}描述",
            "measures": "增设护栏", "lead_unit": "工程科", "resp_person": "张三", "deadline": "2026-12-31",
            "fund_wan": 10.0, "fund_source": "省级补助"} | values


def move(store, hazard_code: str, *targets: str, **values) -> dict:
    """Take ``hazard_code`` through ``targets`` (editor steps, then the safety section's acceptance)."""
    h = store.hazard(hazard_code)
    for target in targets:
        user = SAFETY if target == "已销号" else EDITOR
        opinion = "现场复查合格" if target == "已销号" else None
        h = store.move_hazard(hazard_code, target, h["version"], user, opinion=opinion,
                              values=values if target == "已销号" else None)
    return h


def risk_patches(store, n: int = 4, seed: int = 12, grade: dict | None = None) -> list[str]:
    """``n`` patches of the first risk layer, each with a plan (预案, for 五到位) and the values ``grade``,
    inserted now."""
    rng = random.Random(seed)
    category = store.schema.risk_categories[0]
    inner = shapely.buffer(district_boundary(), -0.02)
    open_status = {"rect_status": store.schema.open_statuses[0]}  # a patch with open hazards is not rectified
    rows = [random_patch(rng, store.schema, category, k) | {"plan": "《应急预案》"} | open_status | (grade or {})
            for k in range(1, n + 1)]
    store.insert_many(category.key, pd.DataFrame(rows), [random_line(rng, inner) for _ in rows], "录入员")
    return [r["code"] for r in rows]


@pytest.fixture
def hazard_ledger(empty_store, monkeypatch):
    """Four patches with hazards in every state, recorded on 5 November 2026; the fourth patch
    archived with its hazard."""
    store = empty_store
    at_china(with_clock(monkeypatch), "2026-11-05 10:00")
    a, b, c, d = risk_patches(store)
    major, general = stats.hazard_levels(store.schema)[:2]
    store.add_hazard(a, hazard(major, supervise_level="市级", supervise_doc="白市交安办〔2026〕7号"), EDITOR)
    store.add_hazard(a, hazard(general, fund_source="养护资金", fund_wan=6.5, lead_unit="综合执法大队"), EDITOR)
    closed = store.add_hazard(b, hazard(major, fund_wan=80.0), EDITOR)["hazard_code"]
    move(store, closed, "整改中", "待验收", "已销号", closed_date="2026-11-10")
    pending = store.add_hazard(c, hazard(general, supervise_level="省级", supervise_doc="吉交安委〔2026〕3号",
                                         deadline="2026-11-01"), EDITOR)["hazard_code"]
    move(store, pending, "整改中", "待验收")
    store.add_hazard(c, hazard(major, deadline="2026-11-20"), EDITOR)  # open and, on ON, overdue
    store.add_hazard(d, hazard(major, supervise_level="区级", supervise_doc="江交〔2026〕1号"), EDITOR)
    store.archive(d, "管理员")
    return store


def test_the_hazard_lists_name_the_store_s_open_major_and_supervised_hazards(hazard_ledger):
    store, schema = hazard_ledger, hazard_ledger.schema
    data = stats.load(store)
    hazards = stats.current_hazards(data)
    assert set(hazards["code"]) == set(data.patches["code"])  # the archived patch's hazard is left out
    major = stats.major_hazard_list(hazards, data.patches, schema, ON)
    by_code = store.hazards().set_index("hazard_code")
    expected = sorted(c for c, h in by_code.iterrows() if h["hazard_level"] == "重大隐患" and h["status"] != "已销号"
                      and h["code"] in set(data.patches["code"]))
    assert list(major["隐患编号"]) == expected and len(expected) == 2
    row = major.set_index("隐患编号").loc[expected[-1]]
    assert (row["整改措施"], row["牵头单位"], row["责任人"], row["整改时限"], row["整改状态"], row["逾期"]) == (
        "增设护栏", "工程科", "张三", dt.date(2026, 11, 20), "待整改", "逾期")
    assert row["图斑名称"] == data.patches.set_index("code").loc[row["图斑编号"], "name"]
    supervised = stats.supervised_hazard_list(hazards, data.patches, schema, ON).set_index("隐患编号")
    assert [(r["挂牌督办级别"], r["督办文号"], r["整改状态"]) for _, r in supervised.iterrows()] == [
        ("市级", "白市交安办〔2026〕7号", "待整改"), ("省级", "吉交安委〔2026〕3号", "待验收")]
    # a period names the hazards closed within it too
    november = stats.major_hazard_list(hazards, data.patches, schema, ON, Period.month(2026, 11))
    assert len(november) == 3 and "已销号" in set(november["整改状态"])
    assert len(stats.major_hazard_list(hazards, data.patches, schema, ON, Period.month(2026, 10))) == 2


def test_hazard_funding_by_source_adds_up_every_recorded_hazard(hazard_ledger):
    store, schema = hazard_ledger, hazard_ledger.schema
    data = stats.load(store)
    table = stats.hazard_funding_by_source(stats.current_hazards(data), schema)
    assert list(table.columns) == ["资金来源", stats.HAZARD_COUNT, "资金金额(万元)"]
    sums = dict(zip(table["资金来源"], table["资金金额(万元)"]))
    assert sums == {"省级补助": 10.0 + 80.0 + 10.0 + 10.0, "养护资金": 6.5, stats.TOTAL: 116.5}  # the closed one counts
    assert dict(zip(table["资金来源"], table[stats.HAZARD_COUNT]))[stats.TOTAL] == 5
    figures = stats.headline(data, schema, ON)
    assert figures[stats.HAZARD_FUNDING] == 116.5


def test_the_headline_counts_hazards_not_yet_closed(hazard_ledger):
    store, schema = hazard_ledger, hazard_ledger.schema
    figures = stats.headline(stats.load(store), schema, ON)
    assert (figures["未销号重大隐患"], figures["未销号一般隐患"], figures["待验收隐患"]) == (2, 2, 1)
    assert figures[stats.HAZARD_LATE] == 1  # the pending one is past its deadline too, but rectified
    assert figures[stats.SUPERVISED_OPEN] == 2  # the archived patch's supervised hazard is not counted
    assert figures[f"隐患{stats.CLOSE_RATE}"] == 20.0


@pytest.mark.parametrize("key", ["lead_unit", "township"])
def test_hazard_close_and_completion_rates_by_lead_unit_and_township(hazard_ledger, key):
    store, schema = hazard_ledger, hazard_ledger.schema
    data = stats.load(store)
    hazards = stats.current_hazards(data)
    table = stats.hazard_completion_by(hazards, data.patches, key, schema)
    rows = {r[table.columns[0]]: r for r in table.to_dict("records")}
    towns = dict(zip(data.patches["code"], data.patches["township"]))
    groups = hazards["lead_unit"] if key == "lead_unit" else hazards["code"].map(towns)
    for name, part in hazards.groupby(groups):
        closed = (part["status"] == "已销号").sum()
        done = part["status"].isin(["待验收", "已销号"]).sum()
        assert rows[name][stats.HAZARD_COUNT] == len(part)
        assert rows[name][stats.CLOSE_RATE] == pytest.approx(round(100 * closed / len(part), 1))
        assert rows[name][stats.DONE_RATE] == pytest.approx(round(100 * done / len(part), 1))
    assert rows[stats.TOTAL][stats.HAZARD_COUNT] == len(hazards) == 5


def test_the_report_shows_the_hazard_lists_states_rates_and_funding(hazard_ledger):
    built = report.build_report(hazard_ledger, Period.month(2026, 11), ON)
    titles = [t.title for t in built.tables]
    for title in ("重大隐患清单", "挂牌督办隐患清单", "隐患整改状态", "按牵头单位隐患整改完成率和销号率",
                  "按乡镇隐患整改完成率和销号率", "隐患资金按来源统计"):
        assert title in titles
    tables = {t.title: t.frame for t in built.tables}
    assert len(tables["重大隐患清单"]) == 3  # two open, one closed in November
    closed = tables["本期销号隐患"]
    assert list(closed["整改状态"]) == ["已销号"] and list(closed["验收意见"]) == ["现场复查合格"]
    assert list(closed["销号日期"]) == [dt.date(2026, 11, 10)] and closed["验收人"].iloc[0] == SAFETY.name
    overview = dict(zip(tables["总体情况"]["项目"], tables["总体情况"]["数值"]))
    assert overview["本期新增隐患"] == 6 - 1 and overview["本期销号隐患"] == 1  # of current patches
    change = tables["主要指标环比"].set_index("项目")
    assert change.loc["未销号重大隐患", "本期"] == 2 and change.loc["本期新增隐患", "上期"] == 0
    page = report_page.html_page(built)
    assert "白市交安办〔2026〕7号" in page and "吉交安委〔2026〕3号" in page


def test_a_schema_without_hazards_gives_a_report_without_them(store):
    import dataclasses

    schema = dataclasses.replace(store.schema, hazard=None)
    data = stats.load(store)
    built = report.compose(data, schema, Period.month(2026, 11), ON)
    assert "重大隐患清单" not in [t.title for t in built.tables]
    assert not any("隐患" in k for k in stats.headline(data, schema, ON))


# ---------------------------------------------------------------- a past period rebuilt from history
def at_china(clock: Clock, moment: str) -> None:
    """Set the store's clock to ``moment`` China time."""
    clock.now = pd.Timestamp(moment).tz_localize("Asia/Shanghai").tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.000Z")


def with_clock(monkeypatch) -> Clock:
    """A clock the store's history rows (patches' and hazards') take their times from."""
    clock = Clock()
    monkeypatch.setattr(store_module, "now_utc", clock)
    monkeypatch.setattr(hazard_ledger_module, "now_utc", clock)
    return clock


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
    at_china(clock, "2026-09-15 10:00")
    add_facilities(store, rng, 1)
    at_china(clock, "2026-10-10 09:00")
    major, general = stats.hazard_levels(store.schema)[:2]
    first, second, third, fourth, _ = hazard_patches(store, codes)
    store.add_hazard(first, hazard(major, supervise_level="市级", supervise_doc="白市交安办〔2026〕9号"), EDITOR)
    store.add_hazard(second, hazard(general, fund_source="养护资金"), EDITOR)
    store.add_hazard(third, hazard(major, deadline="2026-10-25"), EDITOR)
    move(store, store.add_hazard(fourth, hazard(general), EDITOR)["hazard_code"], "整改中")
    return codes


def hazard_patches(store, codes: list[str]) -> list[str]:
    """Five patches to carry hazards: not yet rectified, and none that ``edit_later`` closes or archives."""
    left_alone = set(codes) - set(codes[1::3]) - {codes[0], codes[2]}
    found = [c for c in codes if c in left_alone and store.get(c)["rect_status"] in store.schema.open_statuses][:5]
    assert len(found) == 5
    return found


def add_facilities(store, rng: random.Random, first: int) -> list[str]:
    """A point of every facility layer, numbered from ``first``."""
    inner = shapely.buffer(district_boundary(), -0.02)
    townships = list(store.schema.field("township").values)
    codes = []
    for c in (c for c in store.schema.categories if c.is_facility):
        row = {"code": f"{c.code_prefix}-{first:03d}", "name": f"生成{c.label}{first}", "route_code": "G201",
               "start_stake": float(rng.randrange(0, 60000)), "township": rng.choice(townships)}
        store.insert(c.key, row, random_line(rng, inner, point=True), "录入员")
        codes.append(row["code"])
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
    add_facilities(store, rng, 2)  # December's facility points are not October's
    at_china(clock, "2026-11-12 08:00")  # hazards move on, are edited, added, closed
    hazards = store.hazards().set_index("hazard_code")
    for hazard_code in hazards.index:
        h = store.hazard(hazard_code)
        store.update_hazard(hazard_code, {"measures": "调整措施", "fund_wan": 55.0, "deadline": "2027-01-31",
                                          "fund_source": "区级财政"}, h["version"], EDITOR)
    # a general hazard closes (a major one needs its patch's 预案, which a generated patch may lack)
    unsupervised = sorted((c for c, h in hazards.iterrows() if is_blank(h["supervise_level"])),
                          key=lambda c: hazards.loc[c, "hazard_level"] != "一般隐患")
    move(store, unsupervised[0], *(["整改中"] if hazards.loc[unsupervised[0], "status"] == "待整改" else []),
         "待验收", "已销号", closed_date="2026-11-12")
    move(store, unsupervised[1], *(["整改中"] if hazards.loc[unsupervised[1], "status"] == "待整改" else []), "待验收")
    store.add_hazard(hazard_patches(store, codes)[-1], hazard("重大隐患", supervise_level="省级",
                                                            supervise_doc="吉交安委〔2026〕8号"), EDITOR)


@both_backends
def test_the_october_report_made_in_december_equals_the_one_made_on_31_october(empty_store, monkeypatch):
    clock = with_clock(monkeypatch)
    october = Period.month(2026, 10)
    codes = fill_ledger(empty_store, clock)
    at_china(clock, "2026-10-31 17:00")
    made_in_october = report.build_report(empty_store, october, dt.date(2026, 10, 31))
    edit_later(empty_store, clock, codes)
    now = report.build_report(empty_store, Period.month(2026, 12), dt.date(2026, 12, 3))
    assert not now.tables[0].frame.equals(made_in_october.tables[0].frame)  # the ledger did change since
    made_in_december = report.build_report(empty_store, october, dt.date(2026, 12, 3))
    assert made_in_december.on == dt.date(2026, 10, 31)
    tables = {t.title: t.frame for t in made_in_october.tables}
    assert len(tables["重大隐患清单"]) == 2 and len(tables["挂牌督办隐患清单"]) == 1
    facilities = tables["设施点位统计"].set_index("类别")["合计"]
    assert set(facilities.drop(stats.TOTAL)) == {1}  # one point of each layer by then; December's come later
    assert [t.title for t in made_in_december.tables] == [t.title for t in made_in_october.tables]
    for before, after in zip(made_in_october.tables, made_in_december.tables):
        pd.testing.assert_frame_equal(before.frame, after.frame, obj=before.title)


def test_month_on_month_sets_each_figure_beside_the_previous_month_s_report(empty_store, monkeypatch):
    """环比 of the November report: 本期 is November's overview, 上期 October's (as on 31 October),
    for the ledger's figures and what happened in the month (patches and hazards added, closed …)."""
    clock = with_clock(monkeypatch)
    codes = fill_ledger(empty_store, clock)
    edit_later(empty_store, clock, codes)
    made_on = dt.date(2026, 12, 3)
    november = report.build_report(empty_store, Period.month(2026, 11), made_on)
    october = report.build_report(empty_store, Period.month(2026, 10), made_on)
    now, then = (dict(zip(r.tables[0].frame["项目"], r.tables[0].frame["数值"])) for r in (november, october))
    change = november.tables[1].frame.set_index("项目")
    assert list(change.index) == [k for k in now if k in then]
    for name in change.index:
        assert (change.loc[name, "本期"], change.loc[name, "上期"]) == (now[name], then[name]), name
        assert change.loc[name, "增减"] == pytest.approx(round(now[name] - then[name], 2)), name
    history = empty_store.history()
    closed = history[(history["field_key"] == "rect_status") & (history["after"] == "已销号")]
    assert (then["本期销号"], now["本期销号"], now["本期归档"]) == (0, closed["code"].nunique(), 1) and len(closed)
    assert (then["本期新增隐患"], now["本期新增隐患"], now["本期销号隐患"]) == (4, 1, 1)
    assert now["未销号重大隐患"] == then["未销号重大隐患"] + 1


def test_a_rebuilt_report_counts_no_facility_point_as_a_risk(empty_store, monkeypatch):
    """A past month rebuilt from history counts the risk patches of then, not the facility points."""
    clock = with_clock(monkeypatch)
    codes = fill_ledger(empty_store, clock)
    built = report.build_report(empty_store, Period.month(2026, 10), dt.date(2026, 12, 3))
    assert built.rebuilt
    overview = dict(zip(built.tables[0].frame["项目"], built.tables[0].frame["数值"]))
    assert overview["图斑总数"] == len(codes)


def test_a_facility_point_added_later_is_not_in_the_ledger_of_then(empty_store, monkeypatch):
    from safetymap.asof import ledger_as_of, moment_after

    clock = with_clock(monkeypatch)
    at_china(clock, "2026-09-15 10:00")
    first = add_facilities(empty_store, random.Random(3), 1)
    at_china(clock, "2026-12-02 10:00")
    add_facilities(empty_store, random.Random(4), 2)
    data = stats.load(empty_store)
    then = ledger_as_of(data, empty_store.schema, moment_after(dt.date(2026, 10, 31)))
    assert sorted(then.all_patches["code"]) == sorted(first)
    assert stats.changes_by_month(data.history, ["2026-09"], empty_store.schema).iloc[-1][stats.ADDED] == 0


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


def test_hazard_tables_of_a_ledger_without_hazards(empty_store):
    data, schema = stats.load(empty_store), empty_store.schema
    hazards = stats.current_hazards(data)
    assert len(stats.major_hazard_list(hazards, data.patches, schema)) == 0
    assert len(stats.supervised_hazard_list(hazards, data.patches, schema)) == 0
    assert stats.hazard_funding_by_source(hazards, schema).iloc[-1][stats.HAZARD_COUNT] == 0
    assert stats.hazard_completion_by(hazards, data.patches, "township", schema).iloc[-1][stats.HAZARD_COUNT] == 0
    assert stats.hazard_status_table(hazards, schema).iloc[-1][stats.TOTAL] == 0


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
