"""Turn raw values (typed by a user, read from a file) into clean typed columns, column by column,
collecting every problem with its row and the field's Chinese label; then derive computed fields."""
from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import infer_dtype, is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from .errors import Problem
from .geo import MAIN_PREFIX, STAKE_PATTERN, lengths_m, parse_stake
from .schema import Category, EventType, Field, Schema, UnitRouteRule
from .values import MULTI_SPLIT, as_str, blank_mask, is_blank, is_text_kind, split_multi

TRUE_WORDS = {"是", "true", "1", "y", "yes", "t", "有", "√"}
FALSE_WORDS = {"否", "false", "0", "n", "no", "f", "无", "×"}
def _text_values(s: pd.Series, blank: np.ndarray) -> pd.Series:
    """Stripped text of every non-blank value, missing where blank."""
    if is_text_kind(s):
        return as_str(s).str.strip().where(~blank)
    text = pd.Series([_one_text(v) for v in s], index=s.index, dtype=object)
    return text.where(~blank, None).astype(object)


def _matches(texts: pa.Array, pattern: str) -> np.ndarray:
    """Whether each text (none missing) begins with a match of ``pattern`` (``re.match``), read one way
    for a column and for one value: Arrow's RE2, whose classes are ASCII (\\d is 0-9); Python's ``re``,
    with ASCII classes too, for patterns RE2 does not know."""
    anchored = f"^({pattern.removeprefix('^')})"
    try:
        return pc.match_substring_regex(texts, anchored).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        match = _python_matcher(anchored)
        return np.array([match(t) is not None for t in texts.to_pylist()], dtype=bool)


@functools.cache
def _python_matcher(pattern: str):
    return re.compile(pattern, re.ASCII).match


def _texts(s: pd.Series) -> pa.Array:
    """A column of strings (missing allowed) as an Arrow array."""
    return pa.array(as_str(s), type=pa.string(), from_pandas=True)


def _squeezed_upper(texts: pa.Array) -> pa.Array:
    """Texts upper-cased, whitespace removed: how codes and typed stakes are read (a column or one value)."""
    return pc.replace_substring_regex(pc.utf8_upper(texts), r"\s+", "")


def _one_text(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))  # a phone number or code read as 13904391234.0
    return str(v).strip()


def _normalised_codes(texts: pa.Array) -> pa.Array:
    """Codes as the ledger writes them: full-width characters as ASCII, upper case, no spaces."""
    nfkc = pa.array([None if t is None else unicodedata.normalize("NFKC", t) for t in texts.to_pylist()], pa.string())
    return _squeezed_upper(nfkc)


def _coerce_text(f: Field, s: pd.Series, blank: np.ndarray):
    out = _text_values(s, blank)
    if f.normalise == "code":
        codes = pd.Series(_normalised_codes(_texts(out)).to_pylist(), index=out.index, dtype=object)
        out = codes.where(~blank, None)
    bad = np.zeros(len(s), bool)
    if f.pattern and (~blank).any():
        bad[~blank] = ~_matches(_texts(out[~blank]), f.pattern)
    return out, bad, lambda v: _pattern_message(f, v)


def _pattern_message(f: Field, v) -> str:
    expected = f"，应为 {f.expected}" if f.expected else ""
    return f"「{v}」格式不对{expected}"


def _numbers(s: pd.Series) -> np.ndarray:
    """Float value of each entry (NaN where it is not a number; booleans are not numbers)."""
    if is_bool_dtype(s.dtype):
        return np.full(len(s), np.nan)
    if is_numeric_dtype(s.dtype):
        return s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    if is_text_kind(s):
        text = as_str(s).str.strip().str.replace(",", "", regex=False)
        return pd.to_numeric(text, errors="coerce").astype(float).to_numpy()
    values = [np.nan if isinstance(v, (bool, np.bool_)) else (v.strip().replace(",", "") if isinstance(v, str) else v)
              for v in s]
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(float).to_numpy()


def _range_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo:g}–{hi:g}"
    if lo is not None:
        return f"不小于 {lo:g}"
    return f"不大于 {hi:g}" if hi is not None else ""


def _not_integral(values):
    """Numbers (an array or one) that are not whole (nor infinite): an int field refuses them."""
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(values) | (np.abs(values - np.round(values)) > 1e-9)


def _out_of_range(f: Field, values):
    """Numbers (an array or one) outside the field's min..max."""
    lo, hi = f.min, f.max
    with np.errstate(invalid="ignore"):
        return ((values < lo) if lo is not None else False) | ((values > hi) if hi is not None else False)


def _number_message(f: Field, v) -> str:
    range_text = _range_text(f.min, f.max)
    kind = "整数" if f.type == "int" else "数值"
    return f"「{v}」不是{kind}" + (f"（范围 {range_text}）" if range_text else "")


def _coerce_number(f: Field, s: pd.Series, blank: np.ndarray):
    values = _numbers(s)
    bad = ~blank & np.isnan(values)
    if f.type == "int":
        bad |= ~blank & ~bad & _not_integral(values)
    bad |= ~blank & ~bad & _out_of_range(f, values)
    num = pd.Series(np.where(blank | bad, np.nan, values), index=s.index, dtype=float)
    out = num.round().astype("Int64") if f.type == "int" else num
    return out, bad, lambda v: _number_message(f, v)


def _bool_words(s: pd.Series) -> pd.Series:
    """Each entry as a lower-case word to look up in TRUE_WORDS / FALSE_WORDS."""
    if is_bool_dtype(s.dtype):
        return s.map({True: "true", False: "false"})
    if is_numeric_dtype(s.dtype):
        return s.map({1: "1", 0: "0"})
    if is_text_kind(s):
        return as_str(s).str.strip().str.lower()
    return pd.Series([_bool_word(v) for v in s], index=s.index, dtype=object)


def _bool_word(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return "1" if v == 1 else ("0" if v == 0 else str(v))
    return str(v).strip().lower()


def _coerce_bool(f: Field, s: pd.Series, blank: np.ndarray):
    words = _bool_words(s)
    true, false = words.isin(TRUE_WORDS).to_numpy(dtype=bool), words.isin(FALSE_WORDS).to_numpy(dtype=bool)
    bad = ~blank & ~true & ~false
    out = pd.array(true, dtype="boolean")
    out[blank | bad] = pd.NA
    out = pd.Series(out, index=s.index)
    return out, bad, _bool_message


def _bool_message(v) -> str:
    return f"「{v}」应为 是/否"


def _one_date(v, f: Field):
    if isinstance(v, (dt.date, pd.Timestamp, np.datetime64)):
        return pd.Timestamp(v)
    text = str(v).strip().replace("/", "-").replace(".", "-")
    if f.type == "date":
        return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    return pd.to_datetime(text, errors="coerce", format="ISO8601")


def _dates(f: Field, s: pd.Series, blank: np.ndarray) -> pd.Series:
    if is_datetime64_any_dtype(s.dtype):
        return s
    kind = infer_dtype(s, skipna=True)
    if kind in ("datetime", "datetime64", "date"):
        return pd.to_datetime(s.where(~blank), errors="coerce")
    if is_text_kind(s):
        text = as_str(s).str.strip().str.replace("/", "-", regex=False).str.replace(".", "-", regex=False)
        text = text.where(~blank)
        if f.type == "date":
            return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        return pd.to_datetime(text, errors="coerce", format="ISO8601")
    parsed = [pd.NaT if b else _one_date(v, f) for v, b in zip(s, blank)]
    return pd.to_datetime(pd.Series(parsed, index=s.index, dtype=object), errors="coerce", utc=False)


def _coerce_date(f: Field, s: pd.Series, blank: np.ndarray):
    out = pd.Series(_dates(f, s, blank), index=s.index)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    if f.type == "date":
        out = out.dt.normalize()
    out = out.astype("datetime64[ms]")
    bad = ~blank & out.isna().to_numpy()
    return out, bad, lambda v: _date_message(f, v)


def _date_message(f: Field, v) -> str:
    kind = "日期（如 2026-11-28）" if f.type == "date" else "日期时间"
    return f"「{v}」不是有效的{kind}"


def _coerce_enum(f: Field, s: pd.Series, blank: np.ndarray, separator: str):
    text = _text_values(s, blank)
    present = text[~blank].reset_index(drop=True)  # positions, whatever the caller's index
    if f.multiple:  # several values: any of 、,，;；/ between them, normalised to the separator
        joined = _joined_multi(_texts(present), separator)
        values = pd.Series(joined.to_pylist(), dtype=object)
        parts = pc.split_pattern(joined, separator)
        unknown = ~pc.is_in(pc.list_flatten(parts), value_set=pa.array(f.values)).to_numpy(zero_copy_only=False)
        parents = pc.list_parent_indices(parts).to_numpy()
        bad_present = np.bincount(parents[unknown], minlength=len(present)) > 0
    else:
        values = present
        bad_present = ~present.isin(f.values).to_numpy(dtype=bool)
    bad = np.zeros(len(s), bool)
    bad[~blank] = bad_present
    out = np.full(len(s), None, dtype=object)
    out[~blank] = values.to_numpy(dtype=object)
    out[bad] = None
    return pd.Series(out, index=s.index, dtype=object), bad, lambda v: _enum_message(f, v)


def _joined_multi(texts: pa.Array, separator: str) -> pa.Array:
    """The values of a multiple enum, with any of 、,，;；/ between them, joined by ``separator`` (a column
    or one value)."""
    joined = pc.replace_substring_regex(texts, rf"\s*{MULTI_SPLIT.pattern}+\s*", separator)
    return pc.utf8_trim(pc.utf8_trim_whitespace(joined), separator)


def _enum_message(f: Field, v) -> str:
    return f"「{v}」不在可选值中（{'、'.join(f.values)}）"


def _coerce_stake(f: Field, s: pd.Series, blank: np.ndarray):
    if is_numeric_dtype(s.dtype) and not is_bool_dtype(s.dtype):
        values = s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = ~blank & (np.isnan(values) | (values < 0))
    elif is_text_kind(s):
        values = _typed_stakes(_texts(s))[1]
        bad = ~blank & np.isnan(values)
    else:
        values = np.array([np.nan if b else _stake_or_nan(v) for v, b in zip(s, blank)], dtype=float)
        bad = ~blank & np.isnan(values)
    values = np.where(blank | bad, np.nan, values)
    return pd.Series(values, index=s.index, dtype=float), bad, _stake_message


def _stake_metres(km, m):
    """The metres of a stake's kilometre and metre parts (arrays or one of each)."""
    return np.round(km * 1000 + m, 3)


def _stake_parts(texts: pa.Array) -> pa.StructArray:
    """The prefix, km and m of typed stakes, read upper case with spaces removed; null where one is missing
    or does not parse (a column or one value)."""
    return pc.extract_regex(_squeezed_upper(texts), STAKE_PATTERN)


def _typed_stakes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(prefix, metres) of typed stakes (``_stake_parts``): ("", NaN) where one is missing or does not parse."""
    parts = _stake_parts(texts)
    km, m = (pc.cast(pc.struct_field(parts, k), pa.float64()).to_numpy(zero_copy_only=False) for k in ("km", "m"))
    prefix = pc.fill_null(pc.struct_field(parts, "prefix"), "").to_numpy(zero_copy_only=False).astype(object)
    return prefix, _stake_metres(km, m)


def stated_prefixes(s: pd.Series) -> np.ndarray:
    """The chain prefix each stake states other than the main line's K ("" for K, numbers, blanks and
    stakes that do not parse)."""
    if not is_text_kind(s):
        s = s.map(lambda v: v if isinstance(v, str) else None)
    prefix = _typed_stakes(_texts(s))[0]
    return np.where(prefix == MAIN_PREFIX, "", prefix).astype(object)


def _stake_or_nan(v) -> float:
    try:
        return parse_stake(v)
    except ValueError:
        return np.nan


def _stake_message(v) -> str:
    try:
        parse_stake(v)
    except ValueError as exc:
        return str(exc)
    return f"桩号「{v}」无效"


def _coerce(f: Field, s: pd.Series, blank: np.ndarray, schema: Schema):
    if f.type in ("str", "text"):
        return _coerce_text(f, s, blank)
    if f.type in ("int", "float"):
        return _coerce_number(f, s, blank)
    if f.type == "bool":
        return _coerce_bool(f, s, blank)
    if f.type in ("date", "datetime"):
        return _coerce_date(f, s, blank)
    if f.type == "enum":
        return _coerce_enum(f, s, blank, schema.separator)
    if f.type == "stake":
        return _coerce_stake(f, s, blank)
    raise AssertionError(f.type)


def empty_column(f: Field, n: int, index) -> pd.Series:
    """A column of ``n`` missing values of the field's clean dtype."""
    if f.type in ("date", "datetime"):
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ms]")
    if f.type in ("float", "stake"):
        return pd.Series(np.nan, index=index, dtype=float)
    if f.type == "int":
        return pd.Series(pd.NA, index=index, dtype="Int64")
    if f.type == "bool":
        return pd.Series(pd.NA, index=index, dtype="boolean")
    return pd.Series([None] * n, index=index, dtype=object)


def clean_frame(category: Category, raw: pd.DataFrame, schema: Schema, *, file: str | None = None,
                first_row: int = 1) -> tuple[pd.DataFrame, list[Problem]]:
    """Clean the editable fields of ``raw`` (columns named by field key). Computed and system columns
    are ignored; a column that is not a field is a problem. Rows are numbered from ``first_row``."""
    problems: list[Problem] = []
    known = set(category.keys) | {"category", "geometry", "source_geometry", "archived"}
    for col in raw.columns:
        if col not in known:
            problems.append(Problem(str(col), _unknown_field_message(category), file=file))
    rows = np.arange(first_row, first_row + len(raw))
    clean = {}
    for f in category.editable_fields:
        if f.key not in raw.columns:
            clean[f.key] = empty_column(f, len(raw), raw.index)
            blank = np.ones(len(raw), bool)
        else:
            blank = blank_mask(raw[f.key])
            typed, bad, message = _coerce(f, raw[f.key], blank, schema)
            clean[f.key] = typed
            for i in np.flatnonzero(bad):
                problems.append(Problem(f.label, message(raw[f.key].iloc[i]), row=int(rows[i]), file=file))
        if f.required:
            for i in np.flatnonzero(blank):
                problems.append(Problem(f.label, REQUIRED_MESSAGE, row=int(rows[i]), file=file))
    frame = pd.DataFrame(clean, index=raw.index)
    if "stake_prefix" in frame.columns:
        problems += _settle_stake_prefix(category, raw, frame, rows, file)
    problems += _cross_field_problems(category, frame, rows, file, schema)
    return frame, problems


REQUIRED_MESSAGE = "必填，不能为空"
BACKWARDS_MESSAGE = "止点桩号小于起点桩号"


def _unknown_field_message(category: Category) -> str:
    return f"「{category.label}」没有这个字段"


def _chains_message(chains: set[str]) -> str:
    return (f"起止桩号的冠号不同（{'、'.join(sorted(chains))}）：一个图斑只在一条"
            "桩号链上（主线 K、左右幅 ZK/YK 或同一匝道），请分开登记")


def _requires_message(f: Field, other: str) -> str:
    return f"填写了「{f.label}」时必须填写「{other}」"


def _within_message(value, parent: str, within) -> str:
    return f"「{value}」不在{parent}「{within}」内"


def _settle_stake_prefix(category: Category, raw: pd.DataFrame, frame: pd.DataFrame, rows, file) -> list[Problem]:
    """The patch's chain prefix (桩号冠号): one stated in its stakes (AK0+125) wins over the field's
    value, which wins over the main line's K. Two chains in one patch are refused."""
    stated = [stated_prefixes(raw[k]) if k in raw.columns else np.full(len(raw), "", dtype=object)
              for k in ("start_stake", "end_stake")]
    given = frame["stake_prefix"].fillna("").to_numpy(dtype=object)
    problems = []
    for i in range(len(raw)):
        chains = {p for p in (stated[0][i], stated[1][i], given[i]) if p and p != MAIN_PREFIX}
        if len(chains) > 1:
            problems.append(Problem(category.field("end_stake").label, _chains_message(chains), row=int(rows[i]),
                                    file=file))
    chosen = np.where(stated[0] != "", stated[0], np.where(stated[1] != "", stated[1], given))
    has_stake = frame["start_stake"].notna().to_numpy() if "start_stake" in frame.columns else np.zeros(len(raw), bool)
    chosen = np.where((chosen == "") & has_stake, MAIN_PREFIX, chosen)
    frame["stake_prefix"] = pd.Series(chosen, index=frame.index, dtype=object).replace("", None)
    return problems


def _cross_field_problems(category: Category, frame: pd.DataFrame, rows, file, schema: Schema) -> list[Problem]:
    problems = []
    if {"start_stake", "end_stake"} <= set(frame.columns):
        start, end = frame["start_stake"].to_numpy(float), frame["end_stake"].to_numpy(float)
        with np.errstate(invalid="ignore"):
            backwards = end < start
        label = category.field("end_stake").label
        for i in np.flatnonzero(backwards):
            problems.append(Problem(label, BACKWARDS_MESSAGE, row=int(rows[i]), file=file))
    for f in category.fields:
        if f.requires and f.key in frame.columns:
            problems += _requires_problems(category, f, frame, rows, file)
        if f.within and {f.key, f.within} <= set(frame.columns):
            problems += _within_problems(category, f, frame, rows, file, schema)
    if schema.township_unit_rule is not None and "route_code" in frame.columns:
        problems += _unit_route_problems(category, frame, rows, file, schema.township_unit_rule)
    return problems


def _unit_route_problems(category: Category, frame: pd.DataFrame, rows, file, rule: UnitRouteRule) -> list[Problem]:
    """Township governments named as units of a patch on a road they are not responsible for (only
    乡道/村道, by the schema's ``township_unit_rule``); a patch with no route code is not judged."""
    problems = []
    blank = blank_mask(frame["route_code"])
    if blank.all():
        return problems
    routes = frame["route_code"].to_numpy(dtype=object)
    judged = ~blank
    judged[~blank] = [not rule.allows(route) for route in routes[~blank]]  # the rule the row path asks too
    for key in (k for k in rule.fields if k in frame.columns):
        f = category.field(key)
        for i in np.flatnonzero(judged & _names_any(frame[key], rule.units, f.multiple)):
            value = frame[key].iloc[i]
            units = [u for u in (split_multi(value) if f.multiple else [value]) if u in rule.units]
            problems += [Problem(f.label, rule.message(u, f.label, routes[i]), row=int(rows[i]), file=file)
                         for u in units]
    return problems


def _names_any(values: pd.Series, names: frozenset[str], multiple: bool) -> np.ndarray:
    """Per row, whether a clean enum value (several joined, when ``multiple``) is one of ``names``."""
    if not multiple:
        return values.isin(names).to_numpy(dtype=bool)
    present = ~blank_mask(values)
    out = np.zeros(len(values), bool)
    if not present.any():
        return out
    text = pa.array(as_str(values[present]), type=pa.string())
    parts = pc.split_pattern_regex(text, MULTI_SPLIT.pattern)
    hit = pc.is_in(pc.list_flatten(parts), value_set=pa.array(sorted(names))).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(parts).to_numpy()
    out[present] = np.bincount(parents[hit], minlength=int(present.sum())) > 0
    return out


def _within_problems(category: Category, f: Field, frame: pd.DataFrame, rows, file, schema: Schema) -> list[Problem]:
    """Rows whose ``f`` (a village) does not lie in the value chosen for ``f.within`` (the township)."""
    parent = category.field(f.within).label
    problems = []
    for i, (value, within) in enumerate(zip(frame[f.key], frame[f.within])):
        if not (is_blank(value) or is_blank(within) or schema.belongs(value, within)):
            problems.append(Problem(f.label, _within_message(value, parent, within), row=int(rows[i]), file=file))
    return problems


def _requires_problems(category: Category, f: Field, frame: pd.DataFrame, rows, file) -> list[Problem]:
    """Rows where ``f`` is filled in but a field it requires is not."""
    filled = ~blank_mask(frame[f.key])
    problems = []
    for key in f.requires:
        missing = filled & (blank_mask(frame[key]) if key in frame.columns else True)
        other = category.field(key).label
        problems += [Problem(other, _requires_message(f, other), row=int(rows[i]), file=file)
                     for i in np.flatnonzero(missing)]
    return problems


# ---------------------------------------------------------------- one record (the plain-row path)
# ``clean_record`` is ``clean_frame`` of a one-row frame, value by value in plain Python, for the saves of
# one patch (an edit, an inspection): the same clean values and the same problems, through the same rules
# (messages, ranges, stakes, dates, enumerations above), without a frame. tests/test_row_path.py holds
# the two to each other over every field of the schema.


def clean_record(category: Category, raw: dict, schema: Schema) -> tuple[dict, list[Problem]]:
    """``clean_frame(category, pd.DataFrame([raw]), schema)`` for one record: (clean values by key as plain
    Python values — None for blank, int, float, bool, date, datetime, text — and the problems, without
    row numbers)."""
    known = set(category.keys) | {"category", "geometry", "source_geometry", "archived"}
    problems = [Problem(str(key), _unknown_field_message(category)) for key in raw if key not in known]
    clean = {}
    for f in category.editable_fields:
        value = _as_frame_holds(raw.get(f.key))
        blank = _blank_one(value)
        clean[f.key] = None
        if not blank:
            clean[f.key], ok = _ROW_COERCE[f.type](f, value, schema)
            if not ok:
                clean[f.key] = clean[f.key] if f.type in ("str", "text") else None  # a bad text stays, as a frame keeps it
                problems.append(Problem(f.label, _ROW_MESSAGE[f.type](f, value)))
        if f.required and blank:
            problems.append(Problem(f.label, REQUIRED_MESSAGE))
    if "stake_prefix" in clean:
        problems += _settle_record_stake_prefix(category, raw, clean)
    problems += _record_cross_field_problems(category, clean, schema)
    return clean, problems


def _blank_one(value) -> bool:
    """``blank_mask`` of one value."""
    if isinstance(value, str):
        return value.strip() == ""
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _as_frame_holds(value):
    """A value as a frame column holds it: a moment as a Timestamp (its text, if a message quotes it)."""
    return pd.Timestamp(value) if isinstance(value, (dt.datetime, np.datetime64)) else value


def _text_one(f: Field, value, schema: Schema):
    text = value.strip() if isinstance(value, str) else _one_text(value)
    if f.normalise == "code":
        text = _normalised_code_one(text)
    return text, not f.pattern or _pattern_matches(f.pattern, text)


def _normalised_code_one(text: str) -> str:
    return _normalised_codes(pa.array([text], pa.string()))[0].as_py()


def _pattern_matches(pattern: str, text: str) -> bool:
    return bool(_matches(pa.array([text], pa.string()), pattern)[0])


def _number_one(f: Field, value, schema: Schema):
    if isinstance(value, (bool, np.bool_)):
        number = np.nan
    elif isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
    elif isinstance(value, str):
        number = float(pd.to_numeric(value.strip().replace(",", ""), errors="coerce"))
    else:
        number = float(_numbers(pd.Series([value], dtype=object))[0])
    ok = not np.isnan(number) and not (f.type == "int" and _not_integral(number)) and not _out_of_range(f, number)
    if not ok:
        return None, False
    return (int(np.round(number)) if f.type == "int" else number), True


def _bool_one(f: Field, value, schema: Schema):
    word = _bool_word(value)
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS, True
    return None, False


def _date_one(f: Field, value, schema: Schema):
    stamp = _one_date(value, f)
    if pd.isna(stamp):
        return None, False
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    stamp = stamp.floor("ms")
    return (stamp.date() if f.type == "date" else stamp.to_pydatetime()), True


def _enum_one(f: Field, value, schema: Schema):
    text = value.strip() if isinstance(value, str) else _one_text(value)
    if f.multiple:
        text = _joined_multi(pa.array([text], pa.string()), schema.separator)[0].as_py()
        ok = all(part in f.values for part in text.split(schema.separator))
    else:
        ok = text in f.values
    return (text if ok else None), ok


def _stake_one(f: Field, value, schema: Schema):
    if isinstance(value, str):
        metres = _typed_stake_metres(value)[1]
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        metres = float(value)
        metres = np.nan if metres < 0 else metres
    else:
        metres = _stake_or_nan(value)
    return (None, False) if np.isnan(metres) else (float(metres), True)


@functools.lru_cache(maxsize=4096)  # a save reads each stake twice: its metres, its chain prefix
def _typed_stake_metres(text: str) -> tuple[str, float]:
    """``_typed_stakes`` of one text."""
    parts = _stake_parts(pa.array([text], pa.string()))[0].as_py()
    if parts is None:
        return "", np.nan
    return parts["prefix"], float(_stake_metres(float(parts["km"]), float(parts["m"])))


_ROW_COERCE = {"str": _text_one, "text": _text_one, "int": _number_one, "float": _number_one, "bool": _bool_one,
               "date": _date_one, "datetime": _date_one, "enum": _enum_one, "stake": _stake_one}
_ROW_MESSAGE = {"str": _pattern_message, "text": _pattern_message, "int": _number_message, "float": _number_message,
                "bool": lambda f, v: _bool_message(v), "date": _date_message, "datetime": _date_message,
                "enum": _enum_message, "stake": lambda f, v: _stake_message(v)}


def _settle_record_stake_prefix(category: Category, raw: dict, clean: dict) -> list[Problem]:
    """``_settle_stake_prefix`` of one record."""
    stated = [_typed_stake_metres(raw[k])[0] if isinstance(raw.get(k), str) else "" for k in ("start_stake", "end_stake")]
    stated = ["" if p == MAIN_PREFIX else p for p in stated]
    given = clean["stake_prefix"] or ""
    problems = []
    chains = {p for p in (*stated, given) if p and p != MAIN_PREFIX}
    if len(chains) > 1:
        problems.append(Problem(category.field("end_stake").label, _chains_message(chains)))
    chosen = stated[0] or stated[1] or given
    if not chosen and clean.get("start_stake") is not None:
        chosen = MAIN_PREFIX
    clean["stake_prefix"] = chosen or None
    return problems


def _record_cross_field_problems(category: Category, clean: dict, schema: Schema) -> list[Problem]:
    """``_cross_field_problems`` of one record."""
    problems = []
    start, end = clean.get("start_stake"), clean.get("end_stake")
    if "start_stake" in clean and "end_stake" in clean and start is not None and end is not None and end < start:
        problems.append(Problem(category.field("end_stake").label, BACKWARDS_MESSAGE))
    for f in category.fields:
        if f.requires and f.key in clean and not is_blank(clean[f.key]):
            problems += [Problem(category.field(k).label, _requires_message(f, category.field(k).label))
                         for k in f.requires if is_blank(clean.get(k))]
        if f.within and f.key in clean and f.within in clean:
            value, within = clean[f.key], clean[f.within]
            if not (is_blank(value) or is_blank(within) or schema.belongs(value, within)):
                problems.append(Problem(f.label, _within_message(value, category.field(f.within).label, within)))
    rule = schema.township_unit_rule
    if rule is not None and "route_code" in clean and not is_blank(clean["route_code"]) \
            and not rule.allows(clean["route_code"]):
        for key in (k for k in rule.fields if k in clean):
            f, value = category.field(key), clean[key]
            if is_blank(value):
                continue
            if f.multiple and not any(part in rule.units for part in MULTI_SPLIT.split(value)):
                continue
            units = [u for u in (split_multi(value) if f.multiple else [value]) if u in rule.units]
            problems += [Problem(f.label, rule.message(u, f.label, clean["route_code"])) for u in units]
    return problems


def stake_length_notes(frame: pd.DataFrame, lengths, schema: Schema) -> np.ndarray:
    """Per patch, a warning where the stake difference and the geometry's ``lengths`` (m) disagree
    beyond the schema's ``stake_length_rule`` tolerance; None where they agree or cannot be compared."""
    rule = schema.stake_length_rule
    out = np.full(len(frame), None, dtype=object)
    if not rule or not {"start_stake", "end_stake"} <= set(frame.columns):
        return out
    start = pd.to_numeric(frame["start_stake"], errors="coerce").to_numpy(dtype=float)
    stakes = pd.to_numeric(frame["end_stake"], errors="coerce").to_numpy(dtype=float) - start
    length = pd.to_numeric(pd.Series(lengths, index=frame.index), errors="coerce").to_numpy(dtype=float)
    tolerance = np.maximum(float(rule.get("tolerance_m", 0)), stakes * float(rule.get("tolerance_pct", 0)) / 100)
    with np.errstate(invalid="ignore"):
        off = (stakes > 0) & (np.abs(length - stakes) > tolerance)
    for i in np.flatnonzero(off):
        out[i] = (f"桩号差 {stakes[i]:.0f} m 与几何长度 {length[i]:.0f} m 不符（相差 {abs(length[i] - stakes[i]):.0f} m，"
                  f"容差 {tolerance[i]:.0f} m），请核对桩号或几何")
    return out


FIVE_IN_PLACE = {  # each check of 责任、措施、资金、时限、预案五到位: the fields that must be filled in
    "责任": ("resp_unit", "resp_person"),
    "措施": ("list_measures",),
    "资金": None,  # the funding (万元) must be more than 0
    "时限": ("rect_deadline",),
    "预案": ("plan",),
}
FUNDING_KEY = "funding_wan"


def five_in_place_parts(frame: pd.DataFrame) -> pd.DataFrame:
    """The five checks of 责任、措施、资金、时限、预案五到位, one boolean column each."""
    def present(col):
        if col not in frame.columns:
            return pd.Series(False, index=frame.index)
        return pd.Series(~blank_mask(frame[col]), index=frame.index)

    funding = pd.to_numeric(frame.get(FUNDING_KEY, pd.Series(np.nan, index=frame.index)), errors="coerce")
    parts = {}
    for name, keys in FIVE_IN_PLACE.items():
        if keys is None:
            parts[name] = (funding > 0).fillna(False).astype(bool)
        else:
            parts[name] = np.logical_and.reduce([present(k) for k in keys])
    return pd.DataFrame(parts, index=frame.index)


def five_in_place_of(record: dict) -> bool:
    """``five_in_place_parts`` of one clean record, all five met."""
    funding = record.get(FUNDING_KEY)
    return all((funding is not None and funding > 0) if keys is None else
               all(k in record and not is_blank(record[k]) for k in keys) for keys in FIVE_IN_PLACE.values())


COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3  # always on from pandas 3 (pyproject allows 2.2)


def derive(category: Category, frame: pd.DataFrame, source_geoms, schema: Schema, *,
           lengths: bool = True) -> pd.DataFrame:
    """Add the computed fields: length, risk score, grade from the L×C matrix when none was entered,
    and the five-in-place flag. ``lengths=False`` skips the lengths (a preview that the store will
    derive again when it writes)."""
    out = frame.copy(deep=not COPY_ON_WRITE)  # with copy-on-write, columns are copied only where written
    keys = set(category.keys)
    if "length_m" in keys and lengths:
        out["length_m"] = lengths_m(source_geoms)
    if {"likelihood", "consequence"} <= keys:
        L = out["likelihood"].astype("Float64")
        C = out["consequence"].astype("Float64")
        out["risk_score"] = (L * C).astype("Int64")
        if {"risk_grade", "grade_method"} <= keys:
            grades, methods = _grades(category, out, _matrix_grades(schema, L, C))
            out["risk_grade"] = pd.Series(grades, index=out.index, dtype=object)
            out["grade_method"] = pd.Series(methods, index=out.index, dtype=object)
    if "five_in_place" in keys:
        out["five_in_place"] = five_in_place_parts(out).all(axis=1).astype("boolean")
    return out


def derive_record(category: Category, record: dict, source_geom, schema: Schema) -> dict:
    """``derive`` of one clean record (from ``clean_record``), as a dict of plain values: no frame."""
    out = dict(record)
    keys = set(category.keys)
    if "length_m" in keys:
        out["length_m"] = float(lengths_m([source_geom])[0])
    if {"likelihood", "consequence"} <= keys:
        L, C = out["likelihood"], out["consequence"]
        out["risk_score"] = None if L is None or C is None else int(L * C)
        if {"risk_grade", "grade_method"} <= keys:
            L, C = (np.array([np.nan if v is None else v], dtype=float) for v in (L, C))
            grades, methods, given_alone = _grade_methods(
                category, _matrix_grade_values(schema, L, C), np.array([out["risk_grade"]], dtype=object),
                np.array([out["grade_method"]], dtype=object), np.array([is_blank(out["risk_grade"])]),
                np.array([is_blank(out["grade_method"])]))
            out["risk_grade"], out["grade_method"] = grades[0], methods[0]
            if "grade_basis" in out and given_alone[0] and is_blank(out["grade_basis"]):
                out["grade_basis"] = GIVEN_GRADE_BASIS
    if "five_in_place" in keys:
        out["five_in_place"] = five_in_place_of(out)
    return out


GIVEN_GRADE_BASIS = "未给出L、C，按所填等级"


def _grades(category: Category, frame: pd.DataFrame, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grade, method) per row (see ``_grade_methods``). Fills ``grade_basis`` of ``frame`` in place."""
    grades, method, given_alone = _grade_methods(
        category, matrix, frame["risk_grade"].astype(object).to_numpy(copy=True),
        frame["grade_method"].astype(object).to_numpy(copy=True), blank_mask(frame["risk_grade"]),
        blank_mask(frame["grade_method"]))
    if "grade_basis" in frame.columns:  # a grade given alone (a file, an older ledger): say so as its basis
        no_basis = given_alone & blank_mask(frame["grade_basis"])
        frame.loc[no_basis, "grade_basis"] = GIVEN_GRADE_BASIS
    return grades, method


def _grade_methods(category: Category, matrix: np.ndarray, entered: np.ndarray, method: np.ndarray,
                   no_grade: np.ndarray, no_method: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grade, method, given alone) per row, of arrays (a frame's columns or one record's values).
    矩阵计算: the matrix grade, recomputed on every save, whatever was stored. 直接判定: the entered
    grade. No method: 矩阵计算 where L and C are known and the entered grade (if any) agrees; 直接判定
    where only a grade is given (``given alone``: its basis says so when none is given); left blank
    where they disagree, so that ``grade_problems`` asks instead of one silently overriding the other."""
    by_matrix, direct = category.field("grade_method").values
    method = method.copy()
    known = np.array([m is not None for m in matrix], dtype=bool)
    method[no_method & known & (no_grade | (entered == matrix))] = by_matrix
    given_alone = no_method & ~known & ~no_grade
    method[given_alone] = direct
    method[no_method & ~known & no_grade] = by_matrix  # nothing to grade by: grade_problems says so
    method[no_method & known & ~no_grade & (entered != matrix)] = None
    grades = np.where(method == by_matrix, matrix, entered)
    return grades, method, given_alone


def _matrix_grades(schema: Schema, likelihood: pd.Series, consequence: pd.Series) -> np.ndarray:
    """The matrix grade of each (L, C) pair; None where either is missing or outside 1..5."""
    return _matrix_grade_values(schema, likelihood.to_numpy(dtype=float, na_value=np.nan),
                                consequence.to_numpy(dtype=float, na_value=np.nan))


def _matrix_grade_values(schema: Schema, L: np.ndarray, C: np.ndarray) -> np.ndarray:
    matrix = np.array(schema.matrix, dtype=object)
    with np.errstate(invalid="ignore"):
        ok = (L >= 1) & (L <= matrix.shape[0]) & (C >= 1) & (C <= matrix.shape[1])
    out = np.full(len(L), None, dtype=object)
    out[ok] = matrix[L[ok].astype(int) - 1, C[ok].astype(int) - 1]
    return out


def grade_problems(category: Category, frame: pd.DataFrame, rows, file=None) -> list[Problem]:
    """A patch needs a grade, from the L×C matrix or directly determined with its basis (see ``_grades``)."""
    if not {"risk_grade", "grade_method"} <= set(frame.columns):
        return []
    direct = category.field("grade_method").values[1]
    is_direct = (frame["grade_method"] == direct).to_numpy(dtype=bool, na_value=False)
    no_basis = blank_mask(frame["grade_basis"]) if "grade_basis" in frame.columns else None
    return _grade_problems(category, np.asarray(list(rows)), blank_mask(frame["risk_grade"]),
                           blank_mask(frame["grade_method"]), is_direct, no_basis, file)


def record_grade_problems(category: Category, record: dict) -> list[Problem]:
    """``grade_problems`` of one derived record (from ``derive_record``), without row numbers."""
    if not {"risk_grade", "grade_method"} <= set(record):
        return []
    direct = category.field("grade_method").values[1]
    no_basis = np.array([is_blank(record["grade_basis"])]) if "grade_basis" in record else None
    problems = _grade_problems(category, np.array([0]), np.array([is_blank(record["risk_grade"])]),
                               np.array([is_blank(record["grade_method"])]), np.array([record["grade_method"] == direct]),
                               no_basis, None)
    return [Problem(p.field, p.message) for p in problems]


def _grade_problems(category: Category, rows: np.ndarray, no_grade: np.ndarray, no_method: np.ndarray,
                    is_direct: np.ndarray, no_basis: np.ndarray | None, file) -> list[Problem]:
    grade, method, basis = (category.field(k) for k in ("risk_grade", "grade_method", "grade_basis"))
    by_matrix, direct = method.values
    problems = [Problem(grade.label, f"与 L×C 矩阵结果不一致；如为直接判定，请将「{method.label}」设为{direct}并填写"
                        f"「{basis.label}」，否则删去{grade.label}按矩阵计算", row=int(r), file=file)
                for r in rows[no_method]]
    problems += [Problem(grade.label, f"{by_matrix}需要可能性L和后果C；或将「{method.label}」设为{direct}并选择等级",
                         row=int(r), file=file) for r in rows[no_grade & ~no_method & ~is_direct]]
    problems += [Problem(grade.label, f"{direct}须选择{grade.label}", row=int(r), file=file)
                 for r in rows[no_grade & is_direct]]
    if no_basis is not None:
        problems += [Problem(basis.label, f"{direct}须填写{basis.label}", row=int(r), file=file)
                     for r in rows[is_direct & no_basis]]
    return problems


# ---------------------------------------------------------------- events (fog events, inspections)
def clean_events(event: EventType, frame: pd.DataFrame, file: str | None = None) -> tuple[list[dict], list[Problem]]:
    """Check each row of ``frame`` against the event's declared fields (``schema.events[...]``): returns
    one dict per row (a declared field as a Python value: date, "HH:MM" text, datetime, int, float, text;
    None when blank; other columns, e.g. ``code``, passed through) and every problem, rows numbered from 1."""
    rows, problems = [], []
    for i, raw in enumerate(frame.to_dict("records"), start=1):
        row = dict(raw)
        for f in event.fields:
            value, message = _event_value(f, raw.get(f.key))
            row[f.key] = value
            if message:
                problems.append(Problem(f.label_with_unit, message, row=i, file=file))
        problems += [Problem(label, message, row=i, file=file) for label, message in _together(event, raw)]
        rows.append(row)
    return rows, problems


def _together(event: EventType, raw: dict) -> list[tuple[str, str]]:
    """Fields declared to be given together (经度 and 纬度): all or none."""
    out = []
    for label, keys in event.together:
        given = [not is_blank(raw.get(k)) for k in keys]
        if any(given) and not all(given):
            names = "和".join(event.field(k).label for k in keys)
            out.append((label, f"{names}须同时提供"))
    return out


def _event_value(f: Field, value) -> tuple[object, str | None]:
    """(clean value, problem message or None) of one event field."""
    if is_blank(value):
        return None, ("必须填写" if f.required else None)
    try:
        return _EVENT_PARSERS[f.type](f, value), None
    except ValueError as exc:
        return None, str(exc)


def _event_date(f: Field, value) -> dt.date:
    if isinstance(value, (dt.date, pd.Timestamp)):
        return pd.Timestamp(value).date()
    parsed = pd.to_datetime(str(value).strip().replace("/", "-"), format="%Y-%m-%d", errors="coerce")
    if pd.isna(parsed):
        raise ValueError(f"「{value}」不是有效日期（如 2026-08-21）")
    return parsed.date()


def _event_time(f: Field, value) -> str:
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    text = str(value).strip()
    if pd.isna(pd.to_datetime(text, format="%H:%M", errors="coerce")):
        raise ValueError(f"「{text}」应为 时:分，如 05:30")
    return text


def _event_datetime(f: Field, value) -> dt.datetime:
    parsed = pd.to_datetime(value, errors="coerce")
    if pd.isna(parsed):
        raise ValueError(f"「{value}」不是有效的日期时间（如 2026-08-21 09:30）")
    return parsed.to_pydatetime()


def _event_number(f: Field, value) -> float | int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"「{value}」不是数值") from None
    if (f.min is not None and number < f.min) or (f.max is not None and number > f.max):
        raise ValueError(f"「{value}」超出范围 {_range_text(f.min, f.max)}")
    return int(number) if f.type == "int" else number


def _event_enum(f: Field, value) -> str:
    parts = split_multi(value) if f.multiple else [str(value).strip()]
    for text in parts:
        if text not in f.values:
            raise ValueError(f"「{text}」不在可选值中（{'、'.join(f.values)}）")
    return "、".join(parts)


_EVENT_PARSERS = {"date": _event_date, "time": _event_time, "datetime": _event_datetime, "int": _event_number,
                  "float": _event_number, "enum": _event_enum, "str": lambda f, v: str(v).strip(),
                  "text": lambda f, v: str(v).strip()}
