"""The dashboard's figures equal the same figures computed independently, with plain SQL over the
GeoPackage tables (patch_<category>, history, fog_events), for the sample ledger and for a generated
ledger with a history spread over two years (rectified, closed, archived patches; fog events)."""
from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point

from safetymap import clock, reminders, stats
from safetymap import store as store_module
from safetymap.errors import ValidationError
from safetymap.geo import district_boundary
from safetymap.schema import load_schema
from safetymap.seed import init_database
from safetymap.stats import Period
from safetymap.store import open_store

SAMPLE_ON = dt.date(2026, 11, 28)
GENERATED_ON = dt.date(2026, 11, 15)
OPEN_SQL = "('待整改', '整改中')"
KM_TOLERANCE = 0.0051  # the statistics round km to 2 decimals


# ---------------------------------------------------------------- a generated ledger
class Clock:
    """Stands in for store.now_utc, so history rows get the times a test chooses."""

    def __init__(self):
        self.now = "2025-01-01T00:00:00.000Z"

    def __call__(self) -> str:
        return self.now


def random_line(rng: random.Random, inner, point: bool = False):
    minx, miny, maxx, maxy = inner.bounds
    while True:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        geom = Point(x, y) if point else LineString([(x, y), (x + rng.uniform(-0.01, 0.01), y + rng.uniform(-0.008, 0.008))])
        if inner.contains(geom):
            return geom


def random_patch(rng: random.Random, schema, category, n: int) -> dict:
    lists = {f.key: list(f.values) for f in schema.common_fields if f.values}
    start = rng.randrange(0, 60000)
    row = {
        "code": f"{category.code_prefix}-{n:03d}", "name": f"生成{category.label}{n}", "township": rng.choice(lists["township"]),
        "route_code": rng.choice(["G201", "G222", "S204", "X024", "Y012", "C101"]),
        "start_stake": float(start), "end_stake": float(start + rng.randrange(0, 2500)),
        "risk_grade": rng.choice(schema.grade_labels + [None]),  # None: computed from L x C
        "likelihood": rng.randint(1, 5), "consequence": rng.randint(1, 5), "grade_method": "直接判定",
        "grade_basis": "生成数据",
        "resp_unit": rng.choice(lists["resp_unit"] + [None]), "resp_person": rng.choice(["张三", "李四", None]),
        "resp_phone": "0439-3512345", "list_measures": rng.choice(["设置警示标志", None]),
        "rect_status": rng.choice(lists["rect_status"]),
        "rect_deadline": rng.choice([None, (dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(0, 540))).isoformat()]),
        "funding_wan": rng.choice([None, 0.0, 12.5, 80.0]), "plan": rng.choice(["《应急预案》", None, " "]),
    }
    if row["risk_grade"] is None:
        row.update(grade_method="矩阵计算", grade_basis=None)
    rule = schema.township_unit_rule  # township governments are units of 乡道/村道 only
    if rule is not None and row["resp_unit"] in rule.units and not rule.allows(row["route_code"]):
        row["resp_unit"] = lists["resp_unit"][0]
    if category.key == "fog" and rng.random() < 0.5:
        row.update(fog_events_manual=rng.choice([3, 10]), fog_manual_year=rng.choice([2022, 2024]),
                   fog_manual_basis="值班记录")
    return row


def stamp(day: dt.date, rng: random.Random) -> str:
    return f"{day.isoformat()}T{rng.randrange(0, 24):02d}:{rng.randrange(0, 60):02d}:00.000Z"


def build_generated_ledger(path: Path) -> Path:
    """About 140 patches inserted month by month from 2025-01 to 2026-10, then status changes,
    archives and fog events, with history times set by a clock (some just before a month's end in
    UTC, which is the next month in China)."""
    rng = random.Random(20261115)
    schema = load_schema()
    inner = shapely.buffer(district_boundary(), -0.02)
    store = init_database(path, sample=False)
    clock = Clock()
    codes: list[tuple[str, dt.date]] = []
    number = {c.key: 0 for c in schema.categories}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store_module, "now_utc", clock)
        for month in pd.period_range("2025-01", "2026-10", freq="M"):
            for category in rng.sample(list(schema.categories[:5]), 3):  # the first five: a stable stream
                rows, geoms = [], []
                for _ in range(rng.randint(1, 3)):
                    number[category.key] += 1
                    rows.append(random_patch(rng, schema, category, number[category.key]))
                    geoms.append(random_line(rng, inner, point=category.key == "bridge" and rng.random() < 0.5))
                day = month.start_time.date() + dt.timedelta(days=rng.randrange(0, month.days_in_month))
                clock.now = stamp(day, rng)
                store.insert_many(category.key, pd.DataFrame(rows), geoms, "生成器")
                codes += [(r["code"], day) for r in rows]
        changes = []
        for code, added in rng.sample(codes, 90):
            day = added + dt.timedelta(days=rng.randrange(1, 300))
            changes.append((min(day, dt.date(2026, 11, 14)), code, rng.choice(["整改中", "已整改", "已整改", "已销号"])))
        changes.append((dt.date(2026, 1, 31), codes[0][0], "已销号"))  # 2026-01-31 23:30 UTC is February in China
        for day, code, status in sorted(changes):
            clock.now = f"{day.isoformat()}T23:30:00.000Z" if day == dt.date(2026, 1, 31) else stamp(day, rng)
            record = store.get(code)
            store.update(code, {"rect_status": status}, record["version"], "整改员")
        for code, added in rng.sample(codes, 8):
            clock.now = stamp(min(added + dt.timedelta(days=40), dt.date(2026, 11, 14)), rng)
            store.archive(code, "管理员")
    fog_codes = [c for c, _ in codes if c.startswith(schema.category("fog").code_prefix)]
    events = [{"code": code, "date": dt.date(year, rng.randint(6, 10), rng.randint(1, 28)).isoformat(),
               "duration_h": rng.choice([None, 1.5, 4.0]), "min_visibility_m": rng.choice([None, 40, 120, 150, 250])}
              for code in fog_codes for year in range(2023, 2027) for _ in range(rng.choice([0, 1, 3, 5, 8]))]
    store.add_fog_events(pd.DataFrame(events), "巡查员")
    store.close()
    return path


_GENERATED: dict[str, Path] = {}


def generated_ledger_path(tmp_path_factory) -> Path:
    """The generated ledger, built once per test session whichever module asks first. Read only."""
    if "path" not in _GENERATED:
        _GENERATED["path"] = build_generated_ledger(tmp_path_factory.mktemp("generated") / "generated.gpkg")
    return _GENERATED["path"]


@pytest.fixture(scope="session")
def generated_template(tmp_path_factory) -> Path:
    return generated_ledger_path(tmp_path_factory)


@pytest.fixture(params=["sample", "generated"])
def ledger(request, sample_template, generated_template):
    """(store, path, on) for the sample ledger and for the generated one. Read only."""
    path = sample_template if request.param == "sample" else generated_template
    store = open_store(path)
    yield store, path, SAMPLE_ON if request.param == "sample" else GENERATED_ON
    store.close()


# ---------------------------------------------------------------- the independent computation
# an open risk: not closed (已销号), not eliminated (管控状态 other than 管控中)
OPEN_RISK_SQL = "COALESCE(rect_status, '') <> '已销号' AND COALESCE(control_status, '管控中') = '管控中'"


class Sql:
    """Plain SQL over the GeoPackage: a view ``p`` of the current patches of every category."""

    def __init__(self, path: Path, schema):
        self.con = sqlite3.connect(path)
        cols = ("code, name, risk_grade, length_m, township, resp_unit, resp_person, route_code, rect_status, "
                "rect_deadline, funding_wan, list_measures, plan, five_in_place, control_status, archived")
        union = " UNION ALL ".join(f"SELECT '{c.key}' AS category, {cols} FROM patch_{c.key}"
                                   for c in schema.risk_categories)  # facility layers are not risks
        self.con.execute(f"CREATE TEMP VIEW allp AS {union}")
        self.con.execute("CREATE TEMP VIEW p AS SELECT * FROM allp WHERE archived = 0")
        facilities = ", ".join(f"'{key}'" for key in schema.facility_keys) or "''"
        self.con.execute(f"CREATE TEMP VIEW history AS SELECT * FROM main.history WHERE category NOT IN ({facilities})")

    def rows(self, sql: str, *params) -> list[tuple]:
        return self.con.execute(sql, params).fetchall()

    def one(self, sql: str, *params):
        return self.con.execute(sql, params).fetchone()[0]


@pytest.fixture
def sql(ledger):
    store, path, _ = ledger
    s = Sql(path, store.schema)
    yield s
    s.con.close()


def by_first(table: pd.DataFrame) -> dict:
    """A statistics table as {first column value: {column: value}}."""
    return {row[table.columns[0]]: row for row in table.to_dict("records")}


def blank_sql(col: str) -> str:
    return f"TRIM(COALESCE({col}, '')) = ''"


# ---------------------------------------------------------------- distribution
def test_category_grade_counts_and_lengths(ledger, sql):
    store, _, _ = ledger
    schema = store.schema
    frame = stats.load(store).patches
    number, length = by_first(stats.category_grade(frame, schema)), by_first(stats.category_grade(frame, schema, "km"))
    for c in schema.risk_categories:
        for grade in schema.grade_labels:
            n, metres = sql.rows("SELECT COUNT(*), TOTAL(length_m) FROM p WHERE category = ? AND risk_grade = ?", c.key, grade)[0]
            assert number[c.label][grade] == n
            assert length[c.label][grade] == pytest.approx(metres / 1000, abs=KM_TOLERANCE)
        assert number[c.label][stats.TOTAL] == sql.one("SELECT COUNT(*) FROM p WHERE category = ?", c.key)
    assert number[stats.TOTAL][stats.TOTAL] == sql.one("SELECT COUNT(*) FROM p")
    assert length[stats.TOTAL][stats.TOTAL] == pytest.approx(sql.one("SELECT TOTAL(length_m) FROM p") / 1000, abs=KM_TOLERANCE)
    assert stats.UNGRADED not in number[stats.TOTAL]  # the store requires a grade


@pytest.mark.parametrize("key", ["township", "resp_unit", "route_code"])
def test_by_township_unit_and_route(ledger, sql, key):
    store, _, on = ledger
    table = by_first(stats.by_group(stats.load(store).patches, key, store.schema, on))
    grades = ", ".join(f"SUM(risk_grade = '{g}')" for g in store.schema.grade_labels)
    expected = sql.rows(
        f"SELECT CASE WHEN {blank_sql(key)} THEN '（未填）' ELSE {key} END AS k, COUNT(*), TOTAL(length_m), {grades}, "
        f"SUM(rect_status IN {OPEN_SQL}), COALESCE(SUM(rect_status IN {OPEN_SQL} AND rect_deadline < ?), 0) "
        "FROM p GROUP BY k", on.isoformat())  # a group whose deadlines are all blank: 0, not NULL
    assert set(table) == {r[0] for r in expected} | {stats.TOTAL}
    for k, n, metres, *rest in expected:
        row = table[k]
        assert row[stats.COUNT] == n and row[stats.KM] == pytest.approx(metres / 1000, abs=KM_TOLERANCE)
        assert [row[g] for g in store.schema.grade_labels] == rest[:4]
        assert (row[stats.OPEN], row[stats.OVERDUE]) == tuple(rest[4:])
    assert table[stats.TOTAL][stats.COUNT] == sql.one("SELECT COUNT(*) FROM p")


def test_groups_follow_the_schema_order(ledger):
    store, _, on = ledger
    frame = stats.load(store).patches
    townships = list(stats.by_group(frame, "township", store.schema, on).iloc[:-1, 0])
    declared = list(store.schema.all_fields()["township"].values)
    assert townships == [t for t in declared if t in townships]
    routes = list(stats.by_group(frame, "route_code", store.schema, on).iloc[:-1, 0])
    assert routes == sorted(routes, key=lambda r: ("GSXYCZ".index(r[0]), r))


# ---------------------------------------------------------------- rectification
def test_rectification_status_by_category(ledger, sql):
    store, _, on = ledger
    schema = store.schema
    table = by_first(stats.rect_status_table(stats.load(store).patches, schema, on))
    for c in schema.risk_categories:
        for status in stats.statuses(schema):
            assert table[c.label][status] == sql.one("SELECT COUNT(*) FROM p WHERE category = ? AND rect_status = ?", c.key, status)
        late = sql.one(f"SELECT COUNT(*) FROM p WHERE category = ? AND rect_status IN {OPEN_SQL} AND rect_deadline < ?",
                       c.key, on.isoformat())
        assert table[c.label][stats.OVERDUE] == late
    total = sql.one("SELECT COUNT(*) FROM p")
    done = sql.one("SELECT COUNT(*) FROM p WHERE rect_status IN ('已整改', '已销号')")
    assert table[stats.TOTAL][stats.DONE_RATE] == pytest.approx(round(100 * done / total, 1))


def test_overdue_list_sorted_by_days_late_with_the_unit(ledger, sql):
    store, _, on = ledger
    table = stats.overdue_list(stats.load(store).patches, store.schema, on)
    expected = sql.rows(
        f"SELECT code, CAST(julianday(?) - julianday(rect_deadline) AS INTEGER) AS late, resp_unit FROM p "
        f"WHERE rect_status IN {OPEN_SQL} AND rect_deadline < ? ORDER BY late DESC, code", on.isoformat(), on.isoformat())
    assert expected, "the fixture should have overdue patches"
    got = list(zip(table["图斑编号"], table[stats.DAYS_LATE], table["责任单位"]))
    assert got == [(c, d, u) for c, d, u in expected]


# ---------------------------------------------------------------- five in place
def test_five_in_place_completeness(ledger, sql):
    store, _, _ = ledger
    table = by_first(stats.five_in_place_table(stats.load(store).patches, store.schema))
    checks = {"责任到位": f"NOT {blank_sql('resp_unit')} AND NOT {blank_sql('resp_person')}",
              "措施到位": f"NOT {blank_sql('list_measures')}", "资金到位": "COALESCE(funding_wan, 0) > 0",
              "时限到位": "rect_deadline IS NOT NULL", "预案到位": f"NOT {blank_sql('plan')}"}
    all_five = " AND ".join(f"({c})" for c in checks.values())
    for c in store.schema.risk_categories:
        row = table[c.label]
        for column, condition in checks.items():
            assert row[column] == sql.one(f"SELECT COUNT(*) FROM p WHERE category = ? AND {condition}", c.key), column
        assert row[stats.FIVE_OK] == sql.one(f"SELECT COUNT(*) FROM p WHERE category = ? AND {all_five}", c.key)
        assert row[stats.FIVE_OK] == sql.one("SELECT COUNT(*) FROM p WHERE category = ? AND five_in_place = 1", c.key)
    n, ok = sql.rows(f"SELECT COUNT(*), SUM({all_five}) FROM p")[0]
    assert table[stats.TOTAL][stats.FIVE_RATE] == pytest.approx(round(100 * ok / n, 1))
    gaps = stats.five_in_place_gaps(stats.load(store).patches, store.schema)
    assert set(gaps["图斑编号"]) == {r[0] for r in sql.rows(f"SELECT code FROM p WHERE NOT ({all_five})")}


# ---------------------------------------------------------------- fog
def test_fog_ledger(ledger, sql):
    """Segments with neither a monitoring start nor a hand count, checked against plain SQL: distinct days
    below 200 m visibility in the last three complete years, over three (the rest: tests/test_fog_ledger.py)."""
    store, _, _ = ledger
    data = stats.load(store)
    table = stats.fog_ledger_table(data.patches, data.events, store.schema)
    year = clock.today().year
    rows = sql.rows("SELECT p.code, (SELECT COUNT(DISTINCT e.date) FROM fog_events e WHERE e.code = p.code "
                    "AND e.min_visibility_m < 200 AND e.date BETWEEN ? AND ?) FROM patch_fog p WHERE p.archived = 0 "
                    "AND p.fog_monitor_start IS NULL AND p.fog_events_manual IS NULL",
                    f"{year - 3}-01-01", f"{year - 1}-12-31")
    expected = {code: n / 3 for code, n in rows if n / 3 >= 3}
    assert expected, "the fixture should have fog-ledger segments"
    shown = dict(zip(table["图斑编号"], table["年均次数"]))
    assert {k: v for k, v in shown.items() if k in dict(rows)} == pytest.approx({k: round(v, 2) for k, v in expected.items()})


def test_fog_events_by_month(ledger, sql):
    store, _, _ = ledger
    data = stats.load(store)
    table = by_first(stats.fog_events_by_month(data.events, data.patches))
    rows = sql.rows("SELECT strftime('%Y-%m', e.date) AS m, COUNT(*), COUNT(DISTINCT e.code), MIN(e.min_visibility_m) "
                    "FROM fog_events e JOIN patch_fog p ON p.code = e.code AND p.archived = 0 GROUP BY m ORDER BY m")
    for month, n, segments, visibility in rows:
        assert (table[month]["团雾次数"], table[month]["涉及路段数"]) == (n, segments)
        assert (pd.isna(table[month]["最低能见度(m)"]) and visibility is None) or table[month]["最低能见度(m)"] == visibility
    assert sum(r[1] for r in rows) == table[stats.TOTAL]["团雾次数"]
    months = [m for m in table if m != stats.TOTAL]
    assert months == stats.month_range(rows[0][0], rows[-1][0])  # months without events are shown as 0
    assert all(table[m]["团雾次数"] == 0 for m in set(months) - {r[0] for r in rows})


# ---------------------------------------------------------------- changes over time
CHANGE_SQL = {
    stats.ADDED: "version = 1 AND field_key IS NULL",
    stats.DONE: "field_key = 'rect_status' AND after = '已整改'",
    stats.CLOSED_KIND: "field_key = 'rect_status' AND after = '已销号'",
    stats.ARCHIVED: "action = 'archive'",
}


def test_changes_per_month_from_history(ledger, sql):
    store, _, _ = ledger
    table = by_first(stats.changes_by_month(stats.load(store).history))  # risk patches only
    for kind, condition in CHANGE_SQL.items():
        rows = sql.rows(f"SELECT strftime('%Y-%m', at, '+8 hours') AS m, COUNT(DISTINCT code) FROM history "
                        f"WHERE {condition} GROUP BY m")
        for month, n in rows:
            assert table[month][kind] == n, (kind, month)
        assert sum(table[m][kind] for m in table if m != stats.TOTAL) == sum(n for _, n in rows)


def test_generated_history_spans_months_and_kinds(generated_template):
    table = stats.changes_by_month(open_store(generated_template).history())
    assert len(table) > 20 and all(table.iloc[-1][k] > 0 for k in stats.CHANGE_KINDS)
    feb = by_first(table)["2026-02"]
    assert feb[stats.CLOSED_KIND] >= 1  # stamped 2026-01-31 23:30 UTC, i.e. February in Jilin


def test_period_figures_and_change_list(ledger, sql):
    store, _, on = ledger
    data = stats.load(store)
    period = Period.year(2026)
    overview = dict(zip(*stats.overview(data, store.schema, on, period).T.to_numpy()))
    for kind, condition in CHANGE_SQL.items():
        n = sql.one(f"SELECT COUNT(DISTINCT code) FROM history WHERE {condition} "
                    "AND strftime('%Y', at, '+8 hours') = '2026'")
        assert overview[f"本期{kind}"] == n
    listed = stats.change_list(data.history, data.all_patches, store.schema, period)
    n_rows = sql.one(f"SELECT COUNT(*) FROM history WHERE ({' OR '.join(CHANGE_SQL.values())}) "
                     "AND strftime('%Y', at, '+8 hours') = '2026'")
    assert len(listed) == n_rows and listed["名称"].notna().all()


# ---------------------------------------------------------------- overview and reminders
def test_overview_headlines(ledger, sql):
    store, _, on = ledger
    figures = dict(zip(*stats.overview(stats.load(store), store.schema, on).T.to_numpy()))
    assert figures["图斑总数"] == sql.one("SELECT COUNT(*) FROM p")
    assert figures["总长度(km)"] == pytest.approx(sql.one("SELECT TOTAL(length_m) FROM p") / 1000, abs=KM_TOLERANCE)
    # open risks only: a closed patch (已销号) is no longer a risk (the rule changed with issue 12)
    assert figures["重大风险图斑"] == sql.one(f"SELECT COUNT(*) FROM p WHERE risk_grade = '重大' AND {OPEN_RISK_SQL}")
    assert figures["已销号图斑"] == sql.one("SELECT COUNT(*) FROM p WHERE rect_status = '已销号'")
    assert figures["落实资金合计(万元)"] == pytest.approx(sql.one("SELECT TOTAL(funding_wan) FROM p"), abs=0.005)
    assert figures["未整改图斑"] == sql.one(f"SELECT COUNT(*) FROM p WHERE rect_status IN {OPEN_SQL}")
    assert figures["逾期未整改图斑"] == sql.one(
        f"SELECT COUNT(*) FROM p WHERE rect_status IN {OPEN_SQL} AND rect_deadline < ?", on.isoformat())
    assert figures["五到位率(%)"] == pytest.approx(round(100 * sql.one("SELECT AVG(five_in_place) FROM p"), 1))


@pytest.mark.parametrize("days", [0, 30, 120])
def test_reminders_within_n_days_grouped_by_unit(ledger, sql, days):
    store, _, on = ledger
    table = reminders.due(stats.load(store).patches, store.schema, days, on)
    limit = (on + dt.timedelta(days=days)).isoformat()
    expected = sql.rows(f"SELECT code, CAST(julianday(rect_deadline) - julianday(?) AS INTEGER) FROM p "
                        f"WHERE rect_status IN {OPEN_SQL} AND rect_deadline <= ?", on.isoformat(), limit)
    assert dict(zip(table["图斑编号"], table[reminders.DAYS_LEFT])) == dict(expected)
    summary = by_first(reminders.by_unit(table, store.schema))
    per_unit = sql.rows(f"SELECT CASE WHEN {blank_sql('resp_unit')} THEN '（未填）' ELSE resp_unit END AS u, "
                        f"SUM(rect_deadline < ?), SUM(rect_deadline >= ?) FROM p "
                        f"WHERE rect_status IN {OPEN_SQL} AND rect_deadline <= ? GROUP BY u", on.isoformat(), on.isoformat(), limit)
    assert {u: (summary[u][reminders.LATE], summary[u][reminders.DUE_SOON]) for u, _, _ in per_unit} == \
        {u: (late, soon) for u, late, soon in per_unit}
    units = list(table["责任单位"])
    assert units == sorted(units, key=list(dict.fromkeys(units)).index)  # grouped: each unit's rows together


# ---------------------------------------------------------------- periods and edge cases
def test_periods():
    november = Period.parse_month("2026-11")
    assert (november.start, november.end, november.label) == (dt.date(2026, 11, 1), dt.date(2026, 12, 1), "2026年11月")
    december = Period.parse_month("2026/12")
    assert december.end == dt.date(2027, 1, 1) and december.months == ["2026-12"]
    assert len(december.trend_months) == 12 and Period.parse_month("2026-1").trend_months == ["2026-01"]
    year = Period.year(2026)
    assert year.months == stats.month_range("2026-01", "2026-12") and year.label == "2026年"
    inside = year.contains(pd.Series(pd.to_datetime(["2025-12-31 23:59", "2026-01-01 00:00", "2026-12-31 23:59", "2027-01-01 00:00"])))
    assert list(inside) == [False, True, True, False]
    for bad in ("2026-13", "2026", "十一月", "2026-00"):
        with pytest.raises(ValidationError, match="月份"):
            Period.parse_month(bad)


def test_status_words_used_by_the_statistics_are_the_schemas(schema):
    values = stats.statuses(schema)
    assert {stats.RECTIFIED, stats.CLOSED, *schema.open_statuses} <= set(values)
    assert schema.fog_category in schema.category_keys


def test_every_table_of_an_empty_ledger_is_zero(empty_store):
    schema, on = empty_store.schema, GENERATED_ON
    data = stats.load(empty_store)
    frame = data.patches
    assert stats.category_grade(frame, schema).iloc[-1][stats.TOTAL] == 0
    assert stats.by_group(frame, "township", schema, on).iloc[-1][stats.COUNT] == 0
    assert stats.rect_status_table(frame, schema, on).iloc[-1][stats.TOTAL] == 0
    assert stats.five_in_place_table(frame, schema).iloc[-1][stats.COUNT] == 0
    for table in (stats.overdue_list(frame, schema, on), stats.five_in_place_gaps(frame, schema),
                  stats.fog_ledger_table(frame, data.events, schema), reminders.due(frame, schema, 30, on)):
        assert len(table) == 0
    assert stats.fog_events_by_month(data.events, frame).iloc[-1]["团雾次数"] == 0
    assert stats.changes_by_month(data.history).iloc[-1][stats.ADDED] == 0
    overview = dict(zip(*stats.overview(data, schema, on, Period.year(2026)).T.to_numpy()))
    assert overview["图斑总数"] == 0 and np.isnan(overview["五到位率(%)"])


def test_archived_patches_leave_the_figures_but_not_the_history(store):
    on = SAMPLE_ON
    before = stats.load(store)
    code = before.patches["code"].iloc[0]
    store.archive(code, "管理员")
    after = stats.load(store)
    assert stats.category_grade(after.patches, store.schema).iloc[-1][stats.TOTAL] == len(before.patches) - 1
    assert code not in set(stats.overdue_list(after.patches, store.schema, on)["图斑编号"])
    changes = stats.changes_by_month(after.history).iloc[-1]
    assert changes[stats.ARCHIVED] == 1 and changes[stats.ADDED] == len(before.patches)
