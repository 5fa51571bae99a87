import datetime as dt
import sqlite3

import pandas as pd
import pytest

from safetymap.auth import User
from safetymap.errors import ValidationError
from safetymap.fog import fog_counts, fog_ledger
from safetymap.store import open_store
from conftest import page_test

ON = dt.date(2026, 11, 30)  # the counted window is 2023-01-01 … 2025-12-31
INSPECTOR = User("巡查员", "inspector")


def segments(**columns) -> pd.DataFrame:
    codes = columns.pop("code")
    blank = {k: [None] * len(codes) for k in ("fog_monitor_start", "fog_events_manual", "fog_manual_year",
                                               "fog_manual_basis")}
    return pd.DataFrame({"code": codes, **blank, **columns})


def events(*rows) -> pd.DataFrame:
    """(code, date, visibility) rows."""
    frame = pd.DataFrame(rows, columns=["code", "date", "min_visibility_m"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def three_a_year(code, visibility=80):
    return [(code, f"{y}-08-{d:02d}", visibility) for y in (2023, 2024, 2025) for d in (1, 2, 3)]


def test_an_event_on_another_segment_in_a_new_year_changes_no_other_count(schema):
    log = events(*three_a_year("A"))
    before = fog_counts(segments(code=["A", "B"]), log, schema, ON).set_index("code")
    later = pd.concat([log, events(("B", "2027-01-05", 50))])
    after = fog_counts(segments(code=["A", "B"]), later, schema, ON).set_index("code")
    assert before.loc["A", "per_year"] == after.loc["A", "per_year"] == 3 and after.loc["A", "in_ledger"]
    assert after.loc["B", "events"] == 0  # 2027 is outside the window too


def test_reports_from_two_units_on_the_same_day_count_once(schema):
    log = events(*three_a_year("A"), ("A", "2024-08-01", 60), ("A", "2024-08-01", 120))
    counts = fog_counts(segments(code=["A"]), log, schema, ON).set_index("code")
    assert counts.loc["A", 2024] == 3 and counts.loc["A", "events"] == 9


def test_only_visibility_below_the_threshold_counts_as_fog(schema):
    log = events(*three_a_year("A", visibility=200), *three_a_year("B", visibility=199), ("C", "2024-05-05", None))
    counts = fog_counts(segments(code=["A", "B", "C"]), log, schema, ON).set_index("code")
    assert counts.loc["A", "events"] == 0 and not counts.loc["A", "in_ledger"]
    assert counts.loc["B", "events"] == 9 and counts.loc["B", "in_ledger"]
    assert counts.loc["C", "events"] == 0  # unknown visibility does not count


def test_a_new_segment_with_three_events_in_one_month_is_not_listed_at_once(schema):
    log = events(("N", "2025-11-02", 50), ("N", "2025-11-09", 50), ("N", "2025-11-20", 50))
    counts = fog_counts(segments(code=["N"], fog_monitor_start=[dt.date(2025, 10, 1)]), log, schema, ON)
    row = counts.set_index("code").loc["N"]
    assert not row["in_ledger"] and "暂不判定" in row["reason"]


def test_a_hand_count_is_kept_for_its_year_only_when_that_year_has_no_events(schema):
    log = events(("A", "2024-08-01", 50))
    frame = segments(code=["A", "B"], fog_events_manual=[6, 9], fog_manual_year=[2023, 2024],
                     fog_manual_basis=["值班记录", "值班记录"])
    counts = fog_counts(frame, pd.concat([log, events(("B", "2024-03-03", 40))]), schema, ON).set_index("code")
    assert counts.loc["A", 2023] == 6 and counts.loc["A", 2024] == 1 and counts.loc["A", "source"] == "事件记录+人工填报"
    assert counts.loc["B", 2024] == 1 and "已有事件记录" in counts.loc["B", "reason"]  # the logged year wins


def test_a_hand_count_needs_its_year_and_basis(store):
    record = store.get("TW-001")
    with pytest.raises(ValidationError, match="人工填报依据"):
        store.update("TW-001", {"fog_events_manual": 6, "fog_manual_year": 2024}, record["version"], "编辑员")


def test_a_logged_event_moves_a_segment_into_the_ledger_with_its_reason(store):
    fog = store.read("fog")
    counts = fog_counts(fog, store.fog_events(), store.schema, ON).set_index("code")
    below = counts[(~counts["in_ledger"]) & (counts["years"] == 3) & (counts["events"] == 8)]
    if below.empty:
        code = counts[(~counts["in_ledger"]) & (counts["years"] == 3)].index[0]
        missing = 9 - int(counts.loc[code, "events"])
    else:
        code, missing = below.index[0], 1
    for day in range(missing):
        store.add_fog_event(code, f"2025-12-{day + 1:02d}", INSPECTOR, start_time="05:10", duration_h=2,
                            min_visibility_m=60)
    after = fog_counts(fog, store.fog_events(), store.schema, ON).set_index("code")
    assert after.loc[code, "in_ledger"] and "列入台账" in after.loc[code, "reason"]
    assert code in set(fog_ledger(fog, store.fog_events(), store.schema, ON)["code"])


def test_fog_page_lists_the_ledger_and_on_request_every_segment(sample_db, store, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    at = page_test("fog_page", "查看员", "viewer")
    at.run()
    assert not at.exception
    fog = store.read("fog")
    ledger = set(fog_ledger(fog, store.fog_events(), store.schema)["code"])
    shown = at.dataframe[0].value
    assert set(shown["图斑编号"]) == ledger and at.metric[0].value == str(len(ledger))
    at.toggle[0].set_value(False).run()
    assert set(at.dataframe[0].value["图斑编号"]) == set(fog["code"])


def test_fog_events_of_more_codes_than_sqlite_takes_variables(sample_db):
    """changes_since asks for the events of every changed patch: 40,000 codes are more than one SQL
    statement takes in an SQLite built with the default limit of 32,766 variables (python.org's builds;
    Debian's allows 250,000, so the limit is set here), so the codes go in lists of a few hundred."""
    store = open_store(sample_db)
    store.backend.connection().setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
    everything = store.fog_events()
    real = sorted(set(everything["code"]))
    codes = real[::2] + [f"不存在-{i}" for i in range(40_000)] + real[1::2]  # events found in two lists, merged
    pd.testing.assert_frame_equal(store.fog_events(codes), everything)
