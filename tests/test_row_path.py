"""The plain-row path of one-patch saves (``clean_record``, ``derive_record``, ``record_grade_problems``)
gives what the frame path (``clean_frame``, ``derive``, ``grade_problems``) gives for a one-row frame: the
same clean values and the same problems, for every field of every category and many kinds of value."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from conftest import both_backends
from pandas.api.types import infer_dtype

from safetymap.errors import Problem, ValidationError
from safetymap.schema import load_schema
from safetymap.validation import clean_frame, clean_record, derive, derive_record, grade_problems, record_grade_problems
from safetymap.values import to_python, to_sql, value_to_sql

SCHEMA = load_schema()

ANY_VALUES = [
    None, "", "   ", "\u3000", np.nan, pd.NA, pd.NaT, np.float64("nan"),
    0, 1, -1, 2, 5, 6, 366, 367, 1999, 2026, 10001, 1.5, 3.0, -0.0, 1e-10 + 3, float("inf"), np.int64(3), np.float64(2.0),
    True, False, np.bool_(True), "是", "否", " yes ", "T", "√", "×", "有", "2", "x", "abc", "12", " 1,234.5 ", "1e3", "inf",
    "nan", "1_000", "+5", ".5", "５", "K12+350", "ZK1+200", "AK0+125.5", "k 12 + 350", "K１２+350", "K12+350.1234",
    "K12+35", "12350", "YK3+000\t", "ZK0+000", "K7+814.19", "HK1+001",
    dt.date(2026, 11, 28), dt.datetime(2026, 11, 28, 10, 30, 1, 123456), pd.Timestamp("2026-11-28 10:00", tz="Asia/Shanghai"),
    np.datetime64("2026-01-05"), "2026-11-28", "2026/11/28", "2026.11.28", " 2026-1-5 ", "2026-11-28 10:00", "2026-13-01",
    "3000-01-01", "28/11/2026", "2026-11-28T10:00:00+08:00",
    "G201", "g 201", "Ｇ２０１", "X001", "C001123456", "S1-01A", "G1\n", "AB-123", "ab-00123", "ＦＧ-１２３", "A-1", "ß-123",
    "0435-1234567", "(0435) 123", "+86 139", "1234", Decimal("2.5"), Decimal(3), ["a", "b"],
    "A、B", "、", " 、 ", "a,b;c", "\x0bx", "X\u0660\u0660\u0661", "0435-\u0661\u0662\u0663\u0664\u0665",
]


def _own_values(f) -> list:
    """Values that only this field's rules tell apart: its choices, its bounds."""
    values = []
    if f.values:
        values += [f.values[0], f" {f.values[-1]} ", f.values[0] + "x", "、".join(f.values[:2]),
                   ", ".join(f.values[:3]), f"{f.values[0]} ； {f.values[-1]}、", f"{f.values[0]}/未知"]
    for bound in (f.min, f.max):
        if bound is not None:
            values += [bound, bound - 1, bound + 1, str(bound), bound + 0.5]
    return values


def _frame_kind(frame: pd.DataFrame) -> tuple:
    """What decides which way ``clean_frame`` reads each column: its dtype and, for an object column,
    what it holds (``infer_dtype``: strings only, mixed, dates...)."""
    return tuple((col, str(s.dtype), infer_dtype(s, skipna=True) if s.dtype == object else None)
                 for col, s in frame.items())


def _one_row_frames_together(raws: list[dict]):
    """The one-row frames of ``raws``, grouped so that each group's frames stack into one frame whose
    every column is read the same way as each one-row frame's (``_frame_kind``): one ``clean_frame`` call
    per group gives what one call per row gives, at a fraction of the cost. Yields (frame, raws)."""
    groups: dict[tuple, list] = {}
    for raw in raws:
        alone = pd.DataFrame([raw])
        groups.setdefault(_frame_kind(alone), []).append((raw, alone))
    for kind, members in groups.items():
        frame = pd.concat([alone for _, alone in members], ignore_index=True)
        assert _frame_kind(frame) == kind, (kind, _frame_kind(frame))  # stacking changed how a column is read
        yield frame, [raw for raw, _ in members]


def _frame_sides(c, raws: list[dict]) -> list[tuple]:
    """(clean values, problems without row numbers) of each raw record by the frame path, in order."""
    sides = {}
    for frame, group in _one_row_frames_together(raws):
        clean, problems = clean_frame(c, frame, SCHEMA)
        columns = {f.key: clean[f.key].array for f in c.editable_fields}  # .array[i] is .iloc[i], faster
        for i, raw in enumerate(group):
            values = {f.key: to_python(f, columns[f.key][i]) for f in c.editable_fields}
            own = [Problem(p.field, p.message, None, p.file) for p in problems if p.row in (None, i + 1)]
            sides[id(raw)] = values, own
    return [sides[id(raw)] for raw in raws]


def _assert_same(c, *raws: dict):
    """The row path's clean values and problems for each record are the frame path's for it."""
    for raw, expected in zip(raws, _frame_sides(c, list(raws))):
        got = clean_record(c, raw, SCHEMA)
        assert got[1] == expected[1], raw
        for key, value in expected[0].items():
            assert type(got[0][key]) is type(value) and got[0][key] == value, (key, raw, got[0][key], value)


def _base(c) -> dict:
    """A valid record of ``c`` (as the edit form sends it: the store's values)."""
    values = {"code": f"{c.code_prefix}-0001", "name": "测试", "route_code": "G201", "start_stake": "K12+350",
              "end_stake": "K12+900", "township": SCHEMA.field("township").values[0], "rect_status": SCHEMA.field(
                  "rect_status").values[0], "likelihood": 3, "consequence": 4, "funding_wan": 1.5,
              "rect_deadline": dt.date(2026, 12, 1), "resp_unit": SCHEMA.field("resp_unit").values[0]}
    return {k: v for k, v in values.items() if k in c.keys}


def _field_kinds() -> dict:
    """One (category, field) for each kind of field in the schema: fields alike in everything cleaning
    reads (type, pattern, normalising, range, values, multiple, required, default) clean alike."""
    kinds = {}
    for c in SCHEMA.categories:
        for f in c.editable_fields:
            kinds.setdefault((f.type, f.pattern, f.normalise, f.min, f.max, f.values, f.multiple, f.required,
                              f.default), (c, f))
    return kinds


KINDS = list(_field_kinds().values())
# ANY_VALUES for one field of each kind that differs in more than its list of choices (one enum stands
# for all single-choice enums: they differ only in the choices, which _own_values tries on each)
BROAD = {(f.type, f.pattern, f.normalise, f.min, f.max, bool(f.values), f.multiple, f.required, f.default): (c, f)
         for c, f in reversed(KINDS)}.values()
IN_RECORD = [None, "", 0, 2, 1.5, True, "x", "12", "K12+350", "ZK1+200", dt.date(2026, 11, 28), "2026-11-28", "G201"]


@pytest.mark.parametrize("c,f", BROAD, ids=[f"{c.key}.{f.key}" for c, f in BROAD])
def test_any_value_alone_and_in_a_record(c, f):
    _assert_same(c, *({f.key: value} for value in ANY_VALUES), *(_base(c) | {f.key: value} for value in IN_RECORD))


@pytest.mark.parametrize("c,f", KINDS, ids=[f"{c.key}.{f.key}" for c, f in KINDS])
def test_every_kind_of_field_with_its_own_values(c, f):
    values = _own_values(f)
    _assert_same(c, *({f.key: value} for value in values), *(_base(c) | {f.key: value} for value in values))


def test_an_infinite_number_is_not_an_integer():
    """An int field without an upper bound (墩台数量) crashed on ``inf`` instead of saying it is no integer."""
    bridge = SCHEMA.category("bridge")
    for raw in ({"pier_count": float("inf")}, {"pier_count": "inf"}, {"likelihood": "-inf"}):
        _, problems = clean_frame(bridge, pd.DataFrame([raw]), SCHEMA)
        assert [p.field for p in problems if "不是整数" in p.message] == [bridge.field(next(iter(raw))).label]
        _assert_same(bridge, raw)


STAKES = [
    ("K1+000", "K2+000", None), ("ZK1+000", "ZK2+000", None), ("ZK1+000", "YK2+000", None), ("AK0+100", "K0+200", "BK"),
    ("K1+000", None, "ZK"), (None, "AK1+000", None), (1000.0, 2000.0, "YK"), ("K2+000", "K1+000", None),
    ("k1+000", " zk2+000 ", "K"), ("bad", "ZK1", "ZK"), (1000, "AK1+000", "未知"), (None, None, "AK"), (None, None, None),
]


@pytest.mark.parametrize("c", SCHEMA.categories, ids=lambda c: c.key)
def test_stake_prefixes_and_order(c):
    _assert_same(c, *(_base(c) | {"start_stake": start, "end_stake": end, "stake_prefix": prefix}
                      for start, end, prefix in STAKES))


def test_fields_that_require_others_villages_and_township_units():
    fog = SCHEMA.category("fog")
    township = SCHEMA.field("township").values[0]
    villages = [v for v, parents in SCHEMA.parents.items() if township in parents][:1] + ["不存在的村"]
    units = sorted(SCHEMA.township_unit_rule.units)[:2]
    raws = ([{"fog_events_manual": 3}, {"fog_events_manual": 3, "fog_manual_year": 2025},
             {"fog_events_manual": 3, "fog_manual_year": 2025, "fog_manual_basis": "记录"}]
            + [{"township": township, "village": v} for v in villages]
            + [{"route_code": route, key: unit} for route in ("G201", "X001", "x 001", None, "bad")
               for key in SCHEMA.township_unit_rule.fields for unit in units + ["、".join(units)]]
            + [{"nosuchfield": 1, "length_m": 5, "category": "fog"}])
    _assert_same(fog, *raws, *(_base(fog) | raw for raw in raws))


@pytest.mark.parametrize("c", SCHEMA.categories, ids=lambda c: c.key)
def test_derived_values_and_grade_problems(c):
    import shapely
    line = shapely.LineString([(126.60, 42.00), (126.61, 42.005)])
    graded = [{}, {"likelihood": None}, {"likelihood": None, "consequence": None},
              {"risk_grade": SCHEMA.grade_labels[0]}, {"risk_grade": SCHEMA.grade_labels[0], "likelihood": None},
              {"grade_method": "直接判定"}, {"grade_method": "直接判定", "risk_grade": SCHEMA.grade_labels[1]},
              {"grade_method": "直接判定", "risk_grade": SCHEMA.grade_labels[1], "grade_basis": "专家"},
              {"grade_method": "矩阵计算", "likelihood": None}, {"resp_person": "张三", "list_measures": "x", "plan": "y"},
              {"funding_wan": 0}]
    raws = [_base(c) | {k: v for k, v in extra.items() if k in c.keys} for extra in graded]
    for frame, group in _one_row_frames_together(raws):
        clean, _ = clean_frame(c, frame, SCHEMA)
        derived = derive(c, clean, [line] * len(group), SCHEMA)
        stored = {k: to_sql(c.field(k), derived[k]) for k in derived.columns}
        problems = grade_problems(c, derived, range(1, len(group) + 1))
        for i, raw in enumerate(group):
            record = derive_record(c, clean_record(c, raw, SCHEMA)[0], line, SCHEMA)
            assert {k: to_python(c.field(k), derived[k].iloc[i]) for k in derived.columns} == record, raw
            assert {k: value_to_sql(c.field(k), v) for k, v in record.items()} == {
                k: stored[k][i] for k in derived.columns}, raw  # what each path stores
            expected = [Problem(p.field, p.message) for p in problems if p.row == i + 1]
            assert record_grade_problems(c, record) == expected, raw


# ---------------------------------------------------------------- the store's one-patch writes
def _line():
    import shapely
    return shapely.LineString([(126.700, 42.000), (126.704, 42.002), (126.708, 42.001)])


def _new(code: str, **overrides) -> dict:
    return {"code": code, "name": "测试路段", "route_code": "g201", "start_stake": "zk10+000", "end_stake": "ZK10+700",
            "township": "江源街道", "likelihood": "4", "consequence": 3, "rect_status": "待整改",
            "rect_deadline": "2026/12/01", "funding_wan": "1,5", "coop_units": "、".join(SCHEMA.field("coop_units").values[:2]),
            "last_inspection": dt.date(2026, 11, 2)} | overrides


def _stored(store, code: str) -> dict:
    return {k: v for k, v in store.get(code).items() if k not in ("code", "updated_at", "geometry", "source_geometry")}


@both_backends
def test_insert_of_one_patch_stores_what_insert_many_stores(empty_store):
    empty_store.insert("fog", _new("TW-901"), _line(), "张工")
    empty_store.insert_many("fog", pd.DataFrame([_new("TW-902")]), [_line()], "张工")
    assert _stored(empty_store, "TW-901") == _stored(empty_store, "TW-902")
    one, many = (empty_store.get(code) for code in ("TW-901", "TW-902"))
    assert one["geometry"].equals_exact(many["geometry"], 1e-9)
    assert _stored(empty_store, "TW-901")["stake_prefix"] == "ZK" and one["route_code"] == "G201"


@both_backends
def test_insert_and_update_refuse_with_the_problems_of_the_frame_path(empty_store):
    bad = _new("TW-904", likelihood="9", start_stake="K10+000", end_stake="AK9+000", township="不存在")
    expected = [Problem(p.field, p.message, 1) for p in clean_frame(SCHEMA.category("fog"), pd.DataFrame([bad]),
                                                                    SCHEMA)[1]]
    with pytest.raises(ValidationError) as refused:
        empty_store.insert("fog", bad, _line(), "张工")
    assert refused.value.problems == expected and len(expected) >= 3
    empty_store.insert("fog", _new("TW-904"), _line(), "张工")
    changes = {k: bad[k] for k in ("likelihood", "end_stake", "township")}
    with pytest.raises(ValidationError) as refused:
        empty_store.update("TW-904", changes, 1, "张工")
    merged = {f.key: v for f, v in ((f, empty_store.get("TW-904")[f.key]) for f in SCHEMA.category("fog").editable_fields)}
    expected = [Problem(p.field, p.message, 1) for p in clean_frame(SCHEMA.category("fog"),
                                                                    pd.DataFrame([merged | changes]), SCHEMA)[1]]
    assert refused.value.problems == expected
