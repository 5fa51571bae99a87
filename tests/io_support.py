"""Helpers shared by the import/export tests: comparing a file's values with the database, building
small input files, and asserting that a refused import names the problem and writes nothing."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from conftest import database_dump
from safetymap.clock import CHINA_TZ
from safetymap.errors import ImportRefused
from safetymap.geo import format_stake
from safetymap.io.importer import preview_import
from safetymap.schema import Category


def norm(f, value):
    """A value from a file or from the database, as comparable text."""
    if value is None or (not isinstance(value, str) and pd.isna(value)) or (isinstance(value, str) and not value.strip()):
        return None
    if f.type == "stake":
        return format_stake(value) if not isinstance(value, str) else value
    if f.type == "bool":
        return {"是": "是", "否": "否", True: "是", False: "否"}[value if isinstance(value, str) else bool(value)]
    if f.type == "date":
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if f.type == "datetime":
        return _moment(value).strftime("%Y-%m-%d %H:%M:%S")
    if f.type == "int":
        return int(float(value))
    if f.type == "float":
        return round(float(value), 6)
    return str(value)


def _moment(value) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:  # a moment written as UTC: compare in China time, as stored
        stamp = stamp.tz_convert(CHINA_TZ).tz_localize(None)
    return stamp


def same(f, got, expected) -> bool:
    """``norm`` equal; a moment also when within a millisecond: GDAL reads an .xlsx time at .999 s as the
    next whole second (seen with 04:59:40.999 stored, 04:59:41 read)."""
    if norm(f, got) == norm(f, expected):
        return True
    return f.type == "datetime" and None not in (norm(f, got), norm(f, expected)) and \
        abs(_moment(got) - _moment(expected)) <= pd.Timedelta(milliseconds=1)


def assert_same_values(got: pd.DataFrame, expected: pd.DataFrame, c: Category, name=lambda f: f.label_with_unit):
    """Every field of every patch in ``got`` (a file's table, columns named by ``name``) equals the
    database rows ``expected`` (field keys), matched by code."""
    code_column = name(c.field("code"))
    assert sorted(got[code_column]) == sorted(expected["code"])
    got = got.set_index(code_column)
    expected = expected.set_index("code")
    for f in c.fields:
        if f.key == "code":
            continue
        for code in expected.index:
            assert same(f, got.at[code, name(f)], expected.at[code, f.key]), (code, f.label)


def write_geojson(path: Path, features: list[dict], crs: str | None = None) -> Path:
    data = {"type": "FeatureCollection", "features": features}
    if crs:
        data["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def fog_feature(coords, **props) -> dict:
    """A valid new fog patch as a GeoJSON feature with Chinese property names."""
    values = {"类别": "团雾多发路段", "图斑编号": "TW-901", "名称": "测试团雾路段", "路线编码": "G201",
              "起点桩号": "K10+000", "止点桩号": "K10+500", "乡镇": "江源街道", "风险等级": "较大", "整改状态": "待整改"}
    values.update(props)
    kind = "Point" if isinstance(coords[0], (int, float)) else "LineString"
    return {"type": "Feature", "properties": values, "geometry": {"type": kind, "coordinates": coords}}


GOOD_LINE = [[126.700, 42.000], [126.704, 42.002], [126.708, 42.001]]


def zip_files(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def assert_refused(store, path, *fragments, **options) -> list:
    """The import of ``path`` is refused with problems containing every fragment, and the database is
    byte-for-byte unchanged (preview and a forced commit)."""
    before = database_dump(store.path)
    try:
        preview = preview_import(store, path, **options)
    except ImportRefused as exc:
        problems = exc.problems
    else:
        problems = preview.problems
        assert not preview.ok
        with pytest.raises(ImportRefused):
            preview.commit(store, "测试员")
    text = "\n".join(str(p) for p in problems)
    for fragment in fragments:
        assert fragment in text, text
    assert database_dump(store.path) == before
    return problems
