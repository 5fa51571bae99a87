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


# ---------------------------------------------------------------- stakes shown with their chain prefix
from conftest import both_backends  # noqa: E402


def _zk_patch(store, code="TW-901", start="ZK1+000", end="ZK3+000"):
    """A fog patch on the left carriageway (ZK), stakes ZK1+000–ZK3+000 unless given."""
    donor = _donor(store)
    values = {"code": code, "name": "左幅测试", "route_code": donor["route_code"], "start_stake": start,
              "end_stake": end, "township": donor["township"], "rect_status": "待整改",
              "risk_grade": "一般", "grade_method": "直接判定", "grade_basis": "测试"}
    store.insert("fog", values, donor["source_geometry"], "测试")
    return store.get(code)


def _donor(store):
    return store.get(store.read("fog")["code"].iloc[0])


@both_backends
def test_a_stake_change_in_history_and_timeline_reads_with_its_prefix(store):
    patch = _zk_patch(store)
    assert patch["stake_prefix"] == "ZK"
    store.update(patch["code"], {"start_stake": "ZK2+000"}, patch["version"], "测试")
    history = store.history(patch["code"]).set_index("field_key")
    assert (history.loc["start_stake", "before"], history.loc["start_stake", "after"]) == ("ZK1+000", "ZK2+000")
    table = timeline(store.history(patch["code"]), store.inspections(patch["code"]), store.fog_events(patch["code"]))
    assert "起点桩号：ZK1+000 → ZK2+000" in set(table["内容"])


def test_a_change_of_chain_shows_each_side_with_its_own_prefix(store):
    patch = _zk_patch(store)
    store.update(patch["code"], {"start_stake": "YK1+500", "end_stake": "YK3+000", "stake_prefix": "YK"}, patch["version"], "测试")
    history = store.history(patch["code"]).set_index("field_key")
    assert (history.loc["start_stake", "before"], history.loc["start_stake", "after"]) == ("ZK1+000", "YK1+500")


def test_every_single_value_display_of_a_stake_carries_the_prefix(store, schema):
    from safetymap.editing import change_summary
    from safetymap.values import display_value
    f = schema.field("start_stake")
    assert display_value(f, 2000.0, {"stake_prefix": "ZK"}) == "ZK2+000"
    assert display_value(f, 2000.0) == "K2+000"
    patch = _zk_patch(store)
    fields = schema.category("fog").editable_fields
    assert change_summary(fields, patch, {"start_stake": "ZK2+000"}) == {"起点桩号": ("ZK1+000", "ZK2+000")}


def test_the_map_panel_and_cli_show_the_stake_with_its_prefix(store, capsys):
    from safetymap import cli
    from safetymap.ui.map_page import attribute_rows
    patch = _zk_patch(store)
    rows = attribute_rows(patch, store.schema.category("fog")).set_index("字段")["值"]
    assert rows["起点桩号"].replace("\\", "") == "ZK1+000"  # Markdown-escaped: K1\+000
    assert rows["止点桩号"].replace("\\", "") == "ZK3+000"
    assert cli.main(["show", "--db", str(store.path), patch["code"]]) == 0
    assert "起点桩号: ZK1+000" in capsys.readouterr().out


def test_an_import_preview_shows_the_stake_change_with_its_prefix(store, tmp_path):
    from safetymap.io.export import export
    from safetymap.io.importer import preview_import
    from safetymap.geo import format_stake
    donor = _donor(store)  # stakes on its route: the import rebuilds the geometry from them
    start, moved = (format_stake(donor["start_stake"] + d, "ZK") for d in (0, 100))
    patch = _zk_patch(store, start=start, end=format_stake(donor["end_stake"], "ZK"))
    frame = store.read("fog")
    path = tmp_path / "fog.csv"
    export(frame[frame["code"] == patch["code"]], "csv", path, store.schema)
    text = path.read_text(encoding="utf-8-sig").replace(start, moved)
    path.write_text(text, encoding="utf-8-sig")
    preview = preview_import(store, path)
    row = preview.updates.set_index("字段").loc["起点桩号"]
    assert (row["原值"], row["新值"]) == (start, moved), preview.problems[:3]
