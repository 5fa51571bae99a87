"""Values as the pages show them: no None, dates as dates, times only where there is one, text as typed
(issue 17, finding 7)."""
import pandas as pd

from safetymap.auth import User
from safetymap.ledger import ledger_table, shown, timeline


def test_peak_hours_are_text_as_typed_in_the_sample(store):
    hours = store.read("fog")["fog_peak_hours"].dropna()
    assert len(hours) and hours.str.contains("–").all(), hours.tolist()  # "22:00–08:00", not 22:00:00


def test_ledger_table_has_no_missing_cells_and_dates_without_time(store):
    table = ledger_table(store.read(), store.schema)
    assert not table.isna().any().any()
    assert table["整改时限"].str.fullmatch(r"(\d{4}-\d{2}-\d{2})?").all()
    assert table["更新时间"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}").all()


def test_timeline_fog_event_without_time_is_a_date_and_versions_are_blank_elsewhere(store):
    code = store.read("fog").iloc[0]["code"]
    inspector = User("巡查员", "inspector")
    store.add_fog_event(code, "2026-09-01", inspector, min_visibility_m=50)
    store.add_inspection(code, inspector, findings="正常")
    table = timeline(store.history(code), store.inspections(code), store.fog_events(code))
    assert not table.isna().any().any()
    event = table[(table["类型"] == "团雾事件") & table["内容"].str.startswith("2026-09-01 团雾")].iloc[0]
    assert event["时间"] == "2026-09-01" and "00:00" not in event["内容"]
    assert (table.loc[table["类型"] != "新增", "版本"].isin(["", "2"])).all()
    assert set(table.loc[table["类型"].isin(["巡查记录", "团雾事件"]), "版本"]) == {""}


def test_shown_keeps_complete_numbers_numeric_and_blanks_missing_ones():
    frame = pd.DataFrame({"a": [1.0, 2.5], "b": pd.array([1, None], dtype="Int64"), "c": ["x", None],
                          "d": pd.to_datetime(["2026-01-02", None])})
    out = shown(frame)
    assert out["a"].dtype == float and list(out["b"]) == ["1", ""] and list(out["c"]) == ["x", ""]
    assert list(out["d"]) == ["2026-01-02", ""]


def test_last_inspection_date_agrees_with_the_inspection_records(store):
    frame = store.read()
    for code, last in zip(frame["code"], frame["last_inspection"]):
        records = store.inspections(code)
        if records.empty:
            assert pd.isna(last), f"{code}: 最近巡查日期 {last} but no inspection record"
        else:
            assert pd.Timestamp(last).date() == pd.Timestamp(records["inspected_at"].max()).date()
