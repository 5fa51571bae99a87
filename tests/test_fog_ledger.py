import pandas as pd

from safetymap.auth import User
from safetymap.ledger import fog_counts, fog_ledger
from conftest import page_test


def test_third_fog_event_of_a_year_puts_a_segment_in_the_fog_ledger(store):
    fog = store.read("fog")
    events = store.fog_events()
    per_code = events.assign(year=events["date"].dt.year).groupby("code")["year"].agg(["count", "min", "max"])
    two = per_code[(per_code["count"] == 2) & (per_code["min"] == 2026)].index[0]
    assert two not in set(fog_ledger(fog, events)["code"])
    store.add_fog_event(two, "2026-09-14", User("巡查员", "inspector"), start_time="05:10", duration_h=2,
                        min_visibility_m=60)
    counts = fog_counts(fog, store.fog_events()).set_index("code")
    assert counts.loc[two, 2026] == 3 and counts.loc[two, "per_year"] == 3
    assert two in set(fog_ledger(fog, store.fog_events())["code"])


def test_years_without_events_count_as_zero_and_hand_counts_are_marked():
    fog = pd.DataFrame({"code": ["A", "B", "C"], "fog_events_manual": [None, 5.0, None]})
    events = pd.DataFrame({"code": ["A"] * 6 + ["C"], "date": pd.to_datetime(
        ["2023-08-01", "2023-08-02", "2023-08-03", "2025-09-01", "2025-09-02", "2025-09-03", "2025-09-09"])})
    counts = fog_counts(fog, events).set_index("code")
    assert counts.loc["A", "years"] == 3 and counts.loc["A", 2024] == 0 and counts.loc["A", "per_year"] == 2
    assert counts.loc["B", "source"] == "人工填报" and counts.loc["B", "in_ledger"]
    assert counts.loc["C", "per_year"] == 1 and not counts.loc["C", "in_ledger"]




def test_fog_page_lists_the_ledger_and_on_request_every_segment(sample_db, store, monkeypatch):
    import streamlit as st


    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    at = page_test("fog_page", "查看员", "viewer")
    at.run()
    assert not at.exception
    fog = store.read("fog")
    ledger = set(fog_ledger(fog, store.fog_events())["code"])
    shown = at.dataframe[0].value
    assert set(shown["图斑编号"]) == ledger and at.metric[0].value == str(len(ledger))
    at.toggle[0].set_value(False).run()
    assert set(at.dataframe[0].value["图斑编号"]) == set(fog["code"])
    st.cache_resource.clear()
