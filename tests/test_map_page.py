"""The map page through Streamlit's AppTest against a real seeded database: filters and the count,
search, a click (the map's on_change), the side panel (attributes, latest inspection and photo, flags)
and the way to the edit form. The map itself (a custom component) runs in test_map_e2e.py."""
from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import page_test
from safetymap import mapdata
from safetymap.fog import fog_ledger
from safetymap.ledger import overdue
from safetymap.photos import prepare_photo
from safetymap.filters import PatchFilter
from safetymap.ui import addresses, map_page


def map_app(db, monkeypatch, role="editor") -> AppTest:
    monkeypatch.setenv("SAFETYMAP_DB", str(db))
    for name in ("SAFETYMAP_TIANDITU_KEY", "SAFETYMAP_LOCAL_TILES", "SAFETYMAP_BASEMAP"):
        monkeypatch.delenv(name, raising=False)
    at = page_test("map_page", "地图用户", role).run()
    assert not at.exception, at.exception
    return at


def shown(at) -> int:
    return int(next(m for m in at.metric if m.label == "显示图斑").value)


def sidebar(at, label, kind="multiselect"):
    return next(w for w in getattr(at.sidebar, kind) if w.label.startswith(label))


def panel_table(at) -> dict:
    table = at.table[-1].value
    return dict(zip(table.iloc[:, 0].str.replace("\\", "", regex=False), table.iloc[:, 1]))


def test_page_shows_the_sample_and_the_map(sample_db, store, monkeypatch):
    at = map_app(sample_db, monkeypatch)
    assert any("示例数据" in c.value for c in at.caption)
    assert shown(at) == len(store.read())
    assert [e for e in at.main if getattr(e, "type", "") == "component_instance"]  # st_folium
    assert any("点击地图上的图斑" in i.value for i in at.info)


def test_page_works_on_an_empty_ledger(empty_store, monkeypatch):
    at = map_app(empty_store.path, monkeypatch)
    assert shown(at) == 0
    at.text_input(key="map_search").set_value("TW").run()
    assert not at.exception and any("没有找到" in i.value for i in at.info)


@pytest.mark.parametrize("label, field, value", [("风险等级", "risk_grade", "重大"), ("整改状态", "rect_status", "整改中"),
                                                 ("乡镇", "township", "砟子镇"), ("路线", "route_code", "G201")])
def test_each_filter_changes_the_count(sample_db, store, monkeypatch, label, field, value):
    at = map_app(sample_db, monkeypatch)
    sidebar(at, label).set_value([value]).run()
    expected = (store.read()[field] == value).sum()
    assert 0 < expected < len(store.read()) and shown(at) == expected


def test_category_overdue_and_fog_ledger_filters(sample_db, store, monkeypatch):
    at = map_app(sample_db, monkeypatch)
    frame = store.read()
    sidebar(at, "类别").set_value(["bridge"]).run()
    assert shown(at) == (frame["category"] == "bridge").sum()
    sidebar(at, "类别").set_value([]).run()
    sidebar(at, "仅显示整改逾期", "checkbox").check().run()
    assert shown(at) == overdue(frame).sum() > 0
    sidebar(at, "仅显示整改逾期", "checkbox").uncheck().run()
    sidebar(at, "仅显示团雾台账", "checkbox").check().run()
    ledger = fog_ledger(frame[frame["category"] == "fog"], store.fog_events(), store.schema)
    assert shown(at) == len(ledger) > 0


def test_search_by_code_selects_and_zooms(sample_db, store, monkeypatch):
    at = map_app(sample_db, monkeypatch)
    row = store.read("fog").iloc[0]
    at.text_input(key="map_search").set_value(row["code"].lower()).run()
    assert at.session_state[map_page.SELECTED] == row["code"]
    (lat, lon), zoom = at.session_state[map_page.FOCUS]
    minx, miny, maxx, maxy = row.geometry.bounds
    assert miny <= lat <= maxy and minx <= lon <= maxx and zoom >= 13
    attributes = panel_table(at)
    assert attributes["图斑编号"] == map_page.md_escape(row["code"])
    assert {"长度(m)", "最低能见度(m)", "落实资金(万元)", "风险等级"} <= set(attributes)  # labels with units


def test_search_by_name_with_several_hits_offers_a_choice(sample_db, store, monkeypatch):
    at = map_app(sample_db, monkeypatch)
    at.text_input(key="map_search").set_value("团雾").run()
    hits = map_page.search(store.read(), "团雾")
    assert len(hits) > 1
    pick = at.selectbox(key="map_search_pick")
    assert pick.options[0].startswith(hits.iloc[0]["code"])
    pick.set_value(hits.iloc[1]["code"]).run()
    assert at.session_state[map_page.SELECTED] == hits.iloc[1]["code"]
    at.text_input(key="map_search").set_value("不存在的名字").run()
    assert any("没有找到" in i.value for i in at.info)


def test_a_click_on_the_map_selects_the_patch(monkeypatch):
    state = {map_page.MAP_KEY: {"last_active_drawing": {"properties": {"code": "DZ-003"}},
                                "last_object_clicked": {"lat": 42.0, "lng": 126.6}}}
    monkeypatch.setattr(map_page.st, "session_state", state)
    map_page._on_map_change()
    assert state[map_page.SELECTED] == "DZ-003"
    state[map_page.SELECTED] = "TW-001"  # chosen by search meanwhile
    state[map_page.MAP_KEY]["zoom"] = 14  # a pan or zoom is not a new click
    map_page._on_map_change()
    assert state[map_page.SELECTED] == "TW-001"


def test_panel_shows_latest_inspection_photo_and_flags(sample_db, store, monkeypatch):
    frame = store.read()
    late = frame[overdue(frame)].iloc[0]
    image = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(image, "PNG")
    store.add_inspection(late["code"], "巡查员", findings="护栏破损 <b>未修复</b>",
                         photos=[prepare_photo(image.getvalue(), "p.png")])
    at = map_app(sample_db, monkeypatch)
    at.text_input(key="map_search").set_value(late["code"]).run()
    assert any("整改逾期" in e.value for e in at.error)
    assert any("护栏破损 <b>未修复</b>" == t.value for t in at.text)  # plain text, not HTML
    assert at.get("image")  # the inspection photo


def test_edit_button_opens_the_edit_form_for_editors_only(sample_db, store, monkeypatch):
    code = store.read("bridge").iloc[0]["code"]
    at = map_app(sample_db, monkeypatch)
    at.text_input(key="map_search").set_value(code).run()
    at.button(key=f"map_edit_{code}").click().run()
    assert at.session_state[map_page.EDIT_CODE] == code
    assert any(b.label == "保存" for b in at.button)  # the edit form, beside the map
    viewer = map_app(sample_db, monkeypatch, role="viewer")
    viewer.text_input(key="map_search").set_value(code).run()
    assert not [b for b in viewer.button if b.label == "编辑此图斑"]


def test_user_text_in_the_panel_is_escaped_for_markdown(sample_db, store, monkeypatch):
    code = store.read("curve").iloc[0]["code"]
    name = "<img src=x onerror=alert(1)>${alert(2)} **粗** [链接](javascript:alert(3)) :red[红]"
    store.update(code, {"name": name}, store.get(code)["version"], "测试")
    at = map_app(sample_db, monkeypatch)
    at.text_input(key="map_search").set_value(code).run()
    heading = next(h.value for h in at.subheader if code in h.value.replace("\\", ""))
    assert heading.replace("\\", "") == f"{code} {name}"  # every markup character escaped
    assert not re.search(r"(?<!\\)[<>*\[\]()$:]", heading)  # no markup character left unescaped
    assert panel_table(at)["名称"] == map_page.md_escape(name)


def test_md_escape_escapes_all_markdown_punctuation():
    assert map_page.md_escape("a*b_c`d$e<f>[g](h)") == r"a\*b\_c\`d\$e\<f\>\[g\]\(h\)"
    assert map_page.md_escape(None) == "" and map_page.md_escape(float("nan")) == ""
    assert map_page.md_escape("两行\n文字") == "两行 文字"


def test_filters_apply_together():
    frame = pd.DataFrame({"risk_grade": ["重大", "较大", "重大"], "overdue": [True, True, False]})
    out = frame[PatchFilter(grades=("重大",), overdue=True).mask(frame)]
    assert out.index.tolist() == [0]


# ---------------------------------------------------------------- addresses (issue 17)
def test_filters_round_trip_through_url_parameters():
    chosen = {"category": ["fog", "bridge"], "grade": ["重大"], "status": [], "township": ["砟子镇"],
              "route": [], "overdue": True, "fog_ledger": False}
    params = addresses.filters_to_params(chosen)
    assert params == {"category": ["fog", "bridge"], "grade": ["重大"], "township": ["砟子镇"], "overdue": ["1"]}
    assert addresses.filters_from_params(params) == chosen
    assert addresses.filters_from_params({"grade": ["重大,较大"]})["grade"] == ["重大", "较大"]


def test_a_link_with_a_code_selects_and_zooms_to_the_patch(sample_db, store, monkeypatch):
    row = store.read("bridge").iloc[0]
    at = link_app(sample_db, monkeypatch, code=row["code"])
    assert at.session_state[map_page.SELECTED] == row["code"]
    (lat, lon), zoom = at.session_state[map_page.FOCUS]
    minx, miny, maxx, maxy = row.geometry.bounds
    assert miny <= lat <= maxy and minx <= lon <= maxx and zoom >= 13
    assert panel_table(at)["图斑编号"] == map_page.md_escape(row["code"])
    assert param(at, "code") == [row["code"]]


def test_a_link_with_an_unknown_code_says_so(sample_db, monkeypatch):
    at = link_app(sample_db, monkeypatch, code="NOSUCH1")
    assert any("NOSUCH1" in w.value and "不存在" in w.value for w in at.warning)


def test_a_link_with_filters_and_a_view_opens_them(sample_db, store, monkeypatch):
    at = link_app(sample_db, monkeypatch, grade="重大", township="砟子镇", z="14", lat="42.1", lon="126.6")
    frame = store.read()
    assert sidebar(at, "风险等级").value == ["重大"] and sidebar(at, "乡镇").value == ["砟子镇"]
    assert shown(at) == ((frame["risk_grade"] == "重大") & (frame["township"] == "砟子镇")).sum()
    assert at.session_state[map_page.FOCUS] == ([42.1, 126.6], 14)  # the link's view wins over fitting


def test_filters_are_kept_in_the_session_and_given_back_to_new_widgets(sample_db, monkeypatch):
    at = map_app(sample_db, monkeypatch)
    sidebar(at, "风险等级").set_value(["重大"]).run()
    assert param(at, "grade") == ["重大"] and at.session_state[addresses.FILTERS]["grade"] == ["重大"]
    # A page coming back has no widget state (Streamlit drops it on leaving) but the session's filters
    # (the leave-and-return itself runs in tests/test_map_readable_e2e.py).
    again = page_test("map_page", "地图用户", "editor")
    again.session_state[addresses.FILTERS] = {"grade": ["重大"], "township": ["不存在的乡镇"]}
    again.run()
    assert sidebar(again, "风险等级").value == ["重大"] and sidebar(again, "乡镇").value == []


def test_a_filter_leaving_one_patch_zooms_to_it(sample_db, store, monkeypatch):
    frame = store.read()
    counts = frame.groupby(["township", "category"]).size()
    township, category = counts[counts == 1].index[0]
    row = frame[(frame["township"] == township) & (frame["category"] == category)].iloc[0]
    at = map_app(sample_db, monkeypatch)
    assert map_page.FOCUS not in at.session_state
    sidebar(at, "乡镇").set_value([township]).run()
    sidebar(at, "类别").set_value([category]).run()
    assert shown(at) == 1
    (lat, lon), zoom = at.session_state[map_page.FOCUS]
    minx, miny, maxx, maxy = row.geometry.bounds
    assert miny <= lat <= maxy and minx <= lon <= maxx and zoom >= 13


def test_a_filter_already_in_view_and_large_keeps_the_view():
    district = (126.38, 41.82, 127.23, 42.23)
    assert not map_page.needs_fit((126.5, 41.9, 127.1, 42.2), district)
    assert map_page.needs_fit((126.60, 42.10, 126.61, 42.11), district)  # small: zoom in
    assert map_page.needs_fit((126.0, 41.9, 127.1, 42.2), district)  # partly outside


def param(at, key) -> list[str]:
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def link_app(db, monkeypatch, **params) -> AppTest:
    monkeypatch.setenv("SAFETYMAP_DB", str(db))
    for name in ("SAFETYMAP_TIANDITU_KEY", "SAFETYMAP_LOCAL_TILES", "SAFETYMAP_BASEMAP"):
        monkeypatch.delenv(name, raising=False)
    at = page_test("map_page", "地图用户", "editor")
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_ledger_shares_the_filters_and_opens_a_link_with_them(sample_db, store, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    ledger = page_test("ledger_page", "查看员", "viewer")
    ledger.query_params["grade"] = "重大"
    ledger.run()
    assert not ledger.exception and ledger.multiselect[1].value == ["重大"]
    assert len(ledger.dataframe[0].value) == (store.read()["risk_grade"] == "重大").sum()
    # filters chosen on the map come with the session to the ledger
    again = page_test("ledger_page", "查看员", "viewer")
    again.session_state[addresses.FILTERS] = {"category": ["bridge"], "township": ["砟子镇"]}
    again.run()
    assert again.multiselect[0].value == ["bridge"] and param(again, "category") == ["bridge"]


def test_the_page_frame_is_narrow_and_one_per_revision(sample_db, store, monkeypatch):
    """The page reads a few columns and the boxes, never the geometry, and each rerun shares that one frame."""
    from safetymap.ui import map_frame
    from safetymap.ui.common import clear_revision_cache

    clear_revision_cache()
    first, again = map_frame.load(store), map_frame.load(store)
    assert "geometry" not in first and "source_geometry" not in first
    assert {"minx", "miny", "maxx", "maxy", "overdue", "fog_ledger", "fog_per_year"} <= set(first.columns)
    assert np.shares_memory(first["minx"].to_numpy(), again["minx"].to_numpy())  # not read or copied again
    full = store.read()
    for key in ("code", "name", "category", "risk_grade", "rect_status", "township", "route_code"):
        assert first[key].tolist() == full[key].tolist()
    assert first["overdue"].tolist() == overdue(full).tolist()
    listed = set(fog_ledger(full[full["category"] == "fog"], store.fog_events(), store.schema)["code"])
    assert set(first.loc[first["fog_ledger"], "code"]) == listed


def test_the_page_frame_holds_one_string_per_repeated_value(sample_db, store, monkeypatch):
    """A township's or a grade's name is one object however many patches carry it (the database hands back
    a new string per row: at 100,000 patches ~8 MB per column)."""
    from safetymap.ui import map_frame
    from safetymap.ui.common import clear_revision_cache

    clear_revision_cache()
    frame = map_frame.load(store)
    for key in map_frame.REPEATED:
        values = frame[key].dropna()
        assert len({id(v) for v in values}) == values.nunique(), key
    assert frame["township"].dtype == object and frame["township"].tolist() == store.read()["township"].tolist()


def test_the_previous_revisions_value_is_let_go_before_the_next_is_built(sample_db, store, monkeypatch):
    """After an edit the cache does not hold the old revision's frame while the new one is read (both
    at once were ~100 MB more at the peak at 100,000 patches)."""
    import gc
    import weakref

    from safetymap.ui.common import cached_by_revision, clear_revision_cache

    class Value:
        pass

    clear_revision_cache()
    previous: list = []
    held_while_building: list[bool] = []

    @cached_by_revision
    def build(_store):
        if previous:
            gc.collect()
            held_while_building.append(previous[0]() is not None)
        return Value()

    first = build(store)
    previous.append(weakref.ref(first))
    del first
    row = store.read().iloc[0]
    store.update(row["code"], {"name": "改名后的图斑"}, int(row["version"]), "测试")
    second = build(store)
    assert held_while_building == [False]
    assert build(store) is second  # the new one is kept


def test_a_search_puts_where_it_moves_the_map_into_the_address_and_the_way_back(sample_db, store, monkeypatch):
    """The map had last reported the district view; a search moves it to a patch. The address and the view
    kept for coming back must be the patch's view, not the one reported before the move (found by hand:
    F5 or leaving and coming back after a search showed the district again)."""
    at = map_app(sample_db, monkeypatch)
    mapdata.remember_view(at.session_state[map_page.VIEW_KEY],
                          {"z": 10, "bounds": [126.3, 41.8, 127.3, 42.3], "centre": [42.024, 126.805]})
    at.run()
    assert param(at, "z") == ["10"]
    row = store.read("fog").iloc[0]
    at.text_input(key="map_search").set_value(row["code"]).run()
    (lat, lon), zoom = at.session_state[map_page.FOCUS]
    assert param(at, "z") == [str(zoom)] and zoom >= 13
    assert param(at, "lat") == [f"{lat:.5f}"] and param(at, "lon") == [f"{lon:.5f}"]
    assert at.session_state[map_page.LAST_VIEW] == ([lat, lon], zoom)
