import threading

import pandas as pd
import pandas.testing as pdt
import pyogrio
import pytest
import shapely

from conftest import both_backends, ledger_state
from safetymap.errors import ConflictError, NotFound, ValidationError
from safetymap.filters import PatchFilter
from safetymap.seed import SAMPLE_SEGMENTS, init_database
from safetymap.store import open_store

LINE = shapely.LineString([(126.700, 42.000), (126.704, 42.002), (126.708, 42.001)])


def new_fog(**overrides):
    values = {"code": "TW-900", "name": "测试团雾路段", "route_code": "G201", "start_stake": "K10+000",
              "end_stake": "K10+700", "township": "江源街道", "risk_grade": "较大", "rect_status": "待整改"}
    values.update(overrides)
    return values


def test_init_writes_one_gdal_readable_layer_per_category_adding_up_to_the_sample(tmp_path, schema):
    path = tmp_path / "t.gpkg"
    init_database(path).close()
    layers = dict(pyogrio.list_layers(path))
    sample = pyogrio.read_dataframe(SAMPLE_SEGMENTS)
    total = 0
    for c in schema.categories:
        assert layers[c.table] == "Polygon"
        info = pyogrio.read_info(path, layer=c.table)
        assert info["crs"] == "EPSG:4490"
        assert info["features"] == (sample["category"] == c.key).sum() > 0
        total += info["features"]
    assert total == len(sample) >= 60
    assert {"history", "fog_events", "inspections", "patch_source", "routes"} <= set(layers)


@both_backends
def test_reading_several_categories_equals_their_frames_one_after_another(store):
    """``read`` builds each column once over every category; the frame must be what concatenating each
    category's own frame gives: columns in that order, dtypes, and a field a category lacks missing there
    the same way (NaN in text columns, not None: callers test for both)."""
    box = (126.5, 41.9, 126.9, 42.1)
    for options in ({}, {"include_archived": True}, {"bbox": box}):
        whole = store.read(**options)
        one_by_one = pd.concat([frame for c in store.schema.categories
                                if len(frame := store.read(c.key, **options))], ignore_index=True)
        assert list(whole.columns) == list(one_by_one.columns)
        pdt.assert_frame_equal(pd.DataFrame(whole), pd.DataFrame(one_by_one), check_exact=True)
        for key in whole.columns[whole.dtypes == object]:
            assert [type(v) for v in whole[key]] == [type(v) for v in one_by_one[key]], key
        assert whole.crs == whole["source_geometry"].crs == store.schema.storage_crs
    assert len(store.read(bbox=(0, 0, 1, 1))) == 0 and list(store.read("fog", bbox=(0, 0, 1, 1)).columns) == \
        list(store.read("fog").columns)


@both_backends
def test_read_by_code_filter_and_bounding_box(store):
    everything = store.read()
    fog = store.read("fog")
    assert set(fog["category"]) == {"fog"} and len(fog) < len(everything)
    assert everything.crs == "EPSG:4490" and (everything.geom_type == "Polygon").all()
    major = store.read(filters=PatchFilter(grades=("重大",)))
    assert len(major) and set(major["risk_grade"]) == {"重大"}
    one = everything.iloc[0]
    box = one.geometry.bounds
    in_box = store.read(bbox=box)
    assert one["code"] in set(in_box["code"]) and len(in_box) < len(everything)
    record = store.get(one["code"])
    assert record["name"] == one["name"] and record["version"] == 1


@both_backends
def test_insert_update_and_history(empty_store):
    record = empty_store.insert("fog", new_fog(likelihood=4, consequence=5, risk_grade=None), LINE, "张工")
    assert record["risk_grade"] == "重大" and record["risk_score"] == 20 and record["length_m"] > 600
    assert record["updated_by"] == "张工" and record["version"] == 1
    updated = empty_store.update("TW-900", {"name": "改名", "end_stake": "K10+800"}, 1, "李工")
    assert updated["version"] == 2 and updated["name"] == "改名" and updated["end_stake"] == 10800
    history = empty_store.history("TW-900")
    changes = history[history["action"] == "update"]
    assert set(changes["field_label"]) == {"名称", "止点桩号"}
    assert changes.set_index("field_label").loc["止点桩号", ["before", "after"]].tolist() == ["K10+700", "K10+800"]
    assert set(history["user"]) == {"张工", "李工"}


def sample_filters(schema, frame):
    """A filter on each part the store selects in SQL, on categories, and on the parts it applies to rows."""
    fog = frame[frame["category"] == "fog"].iloc[0]
    return [PatchFilter.from_args(schema, grade="重大"),
            PatchFilter.from_args(schema, grade=["较大", "一般"], status=fog["rect_status"]),
            PatchFilter.from_args(schema, township=fog["township"], route=fog["route_code"].lower()),
            PatchFilter.from_args(schema, category=["fog", "bridge"], grade="较大"),
            PatchFilter.from_args(schema, category="fog", text=fog["name"][:2], overdue=True),
            PatchFilter.from_args(schema, category=[c.key for c in schema.categories if c.is_facility]),
            PatchFilter.from_args(schema, category=[c.key for c in schema.categories if c.is_facility], grade="重大")]


@both_backends
def test_read_with_a_patch_filter_selects_what_the_filter_keeps(store):
    everything = store.read()
    for chosen in sample_filters(store.schema, everything):
        expected = sorted(chosen.apply(everything)["code"])
        assert sorted(store.read(filters=chosen)["code"]) == expected, chosen
        if chosen.row_parts().empty:
            assert sorted(r["code"] for r in store.rows(filters=chosen)) == expected, chosen
    assert store.read("fog", filters=PatchFilter(categories=("bridge",))).empty
    with pytest.raises(TypeError, match="PatchFilter"):
        store.read(filters={"risk_grade": "重大"})


@both_backends
def test_stale_update_is_refused_and_nothing_changes(store):
    code = store.read().iloc[0]["code"]
    store.update(code, {"name": "第一次修改"}, 1, "甲")
    before = ledger_state(store)
    with pytest.raises(ConflictError) as err:
        store.update(code, {"name": "基于旧版本的修改"}, 1, "乙")
    assert err.value.current["name"] == "第一次修改" and err.value.current["updated_by"] == "甲"
    assert "甲" in str(err.value) and "版本" in str(err.value)
    assert ledger_state(store) == before


@both_backends
def test_archive_is_soft_and_restorable(store):
    code = store.read().iloc[0]["code"]
    n = len(store.read())
    store.archive(code, "管理员")
    assert code not in set(store.read()["code"]) and len(store.read()) == n - 1
    assert store.get(code)["archived"] is True
    store.restore(code, "管理员")
    assert len(store.read()) == n
    assert list(store.history(code)["action"])[-2:] == ["archive", "restore"]


BAD_INSERTS = {
    "unknown category": ("桥头跳车", new_fog(), LINE, "未知类别"),
    "grade outside the four": ("fog", new_fog(risk_grade="特大"), LINE, "风险等级"),
    "bad stake": ("fog", new_fog(start_stake="K10+50"), LINE, "起点桩号"),
    "end before start": ("fog", new_fog(end_stake="K9+000"), LINE, "止点桩号小于起点桩号"),
    "outside the district": ("fog", new_fog(), shapely.LineString([(125.0, 43.5), (125.1, 43.5)]), "不在江源区"),
    "invalid geometry": ("fog", new_fog(), shapely.LineString([(126.7, 42.0), (126.7, 42.0)]), "无效"),
    "empty geometry": ("fog", new_fog(), shapely.LineString(), "为空"),
    "wrong value type": ("fog", new_fog(min_visibility_m="很低"), LINE, "最低能见度"),
    "duplicate code": ("fog", None, LINE, "已存在"),
}


@both_backends
@pytest.mark.parametrize("case", list(BAD_INSERTS))
def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(store, case):
    category, values, geom, message = BAD_INSERTS[case]
    if values is None:
        values = new_fog(code=store.read("fog").iloc[0]["code"])
    before = ledger_state(store)
    with pytest.raises(ValidationError, match=message):
        store.insert(category, values, geom, "tester")
    assert ledger_state(store) == before


@both_backends
def test_bad_update_changes_nothing(store):
    code = store.read().iloc[0]["code"]
    before = ledger_state(store)
    for changes in ({"risk_grade": "特大"}, {"length_m": 5}, {"nosuchfield": 1}, {"start_stake": "K99+000"}):
        with pytest.raises(ValidationError):
            store.update(code, changes, 1, "tester")
    with pytest.raises(NotFound, match="找不到图斑"):
        store.get("XX-999")
    assert ledger_state(store) == before


@both_backends
def test_threads_sharing_one_store_lose_nothing(store):
    codes = list(store.read()["code"][:4])
    accepted = []
    lock = threading.Lock()

    def worker(n):
        for k in range(15):
            code = codes[(n + k) % len(codes)]
            while True:
                current = store.get(code)
                try:
                    new = store.update(code, {"hazard": f"t{n}-{k}"}, current["version"], f"线程{n}")
                except ConflictError:
                    continue
                with lock:
                    accepted.append((code, new["version"], f"t{n}-{k}"))
                break

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == 60
    for code in codes:
        mine = sorted(v for c, v, _ in accepted if c == code)
        assert mine == list(range(2, 2 + len(mine)))
        last = max((v, h) for c, v, h in accepted if c == code)[1]
        assert store.get(code)["hazard"] == last


@both_backends
def test_missing_database_is_a_clear_error(blank_location):
    from safetymap.errors import DatabaseMissing
    with pytest.raises(DatabaseMissing, match="init"):
        open_store(blank_location)


def test_a_self_crossing_line_is_refused_by_the_store(empty_store):
    bowtie = shapely.LineString([(126.70, 42.00), (126.71, 42.01), (126.71, 42.00), (126.70, 42.01)])
    with pytest.raises(ValidationError, match="自相交"):
        empty_store.insert("fog", new_fog(), bowtie, "tester")
