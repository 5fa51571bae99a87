import io
import zipfile

import pandas as pd
import pyogrio
import pytest

from safetymap.io.shapefile import GLOSSARY_NAME, LONG_TEXT_NAME, export_shapefile


def read_layer(zip_path, layer):
    return pyogrio.read_dataframe(f"/vsizip/{zip_path}/{layer}.shp")


@pytest.mark.parametrize("encoding, cpg", [("utf-8", "UTF-8"), ("gbk", "CP936")])
def test_zip_has_every_part_per_geometry_type_and_chinese_round_trips(store, tmp_path, encoding, cpg):
    frame = store.read()
    out = tmp_path / f"ledger-{encoding}.zip"
    result = export_shapefile(frame, out, store.schema, encoding=encoding)
    names = set(zipfile.ZipFile(out).namelist())
    for layer in result.layers:
        assert {f"{layer}{ext}" for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg")} <= names
        assert zipfile.ZipFile(out).read(f"{layer}.cpg").decode() == cpg
    assert {"fog_patch", "fog_line", "bridge_patch", "bridge_line", "bridge_point"} <= set(result.layers)
    for c in store.schema.categories:
        patch = read_layer(out, f"{c.key}_patch")
        expected = frame[frame["category"] == c.key].set_index("code")
        assert pyogrio.read_info(f"/vsizip/{out}/{c.key}_patch.shp")["crs"] == "EPSG:4490"
        assert (patch.geom_type == "Polygon").all() and len(patch) == len(expected)
        got = patch.set_index("CODE")
        assert got["NAME"].to_dict() == expected["name"].to_dict()  # Chinese text equal
        assert got["TOWNSHIP"].to_dict() == expected["township"].to_dict()
    raw_dbf = zipfile.ZipFile(out).read("fog_patch.dbf")
    sample_name = frame[frame["category"] == "fog"]["name"].iloc[0]
    assert sample_name.encode("gbk" if encoding == "gbk" else "utf-8") in raw_dbf


def test_glossary_maps_short_names_to_keys_and_labels(store, tmp_path):
    out = tmp_path / "g.zip"
    export_shapefile(store.read("bridge"), out, store.schema)
    glossary = pd.read_csv(io.BytesIO(zipfile.ZipFile(out).read(GLOSSARY_NAME)), encoding="utf-8-sig")
    row = glossary[(glossary["文件"] == "bridge_patch.shp") & (glossary["短字段名"] == "TECH_CLASS")].iloc[0]
    assert row["字段键"] == "tech_class" and row["中文名"] == "技术状况等级"
    assert (glossary["短字段名"].str.len() <= 10).all()


def test_text_over_254_bytes_is_reported_not_cut_silently(store, tmp_path):
    code = store.read("fog").iloc[0]["code"]
    long_text = "路面结冰" * 40  # 480 bytes in UTF-8
    store.update(code, {"hazard": long_text}, 1, "tester")
    out = tmp_path / "long.zip"
    result = export_shapefile(store.read("fog"), out, store.schema)
    assert any(code in w and "隐患描述" in w for w in result.warnings)
    full = pd.read_csv(io.BytesIO(zipfile.ZipFile(out).read(LONG_TEXT_NAME)), encoding="utf-8-sig")
    assert full.loc[full["code"] == code, "text"].iloc[0] == long_text
    cut = read_layer(out, "fog_patch").set_index("CODE").loc[code, "HAZARD"]
    assert long_text.startswith(cut) and len(cut.encode()) <= 254


def dbf_widths(data: bytes) -> dict[str, int]:
    """Field name -> width from a .dbf header (32-byte descriptors after the 32-byte header)."""
    widths, pos = {}, 32
    while data[pos] != 0x0D:
        name = data[pos:pos + 11].split(b"\0")[0].decode("ascii")
        widths[name] = data[pos + 16]
        pos += 32
    return widths


def test_text_fields_are_as_wide_as_the_schema_allows(store, tmp_path):
    out = tmp_path / "w.zip"
    export_shapefile(store.read("fog"), out, store.schema)
    widths = dbf_widths(zipfile.ZipFile(out).read("fog_line.dbf"))
    c = store.schema.category("fog")
    assert widths[c.field("name").shp] == 254 and widths[c.field("hazard").shp] == 254  # free text
    grade = c.field("risk_grade")
    assert widths[grade.shp] == max(len(v.encode()) for v in grade.values)  # every allowed value fits
    facilities = c.field("facilities")  # a multiple choice: all values together fit
    assert widths[facilities.shp] >= len(store.schema.separator.join(facilities.values).encode())


def test_every_layer_has_a_qml_and_an_sld_from_the_schema_colours(store, tmp_path):
    out = tmp_path / "s.zip"
    result = export_shapefile(store.read(), out, store.schema)
    with zipfile.ZipFile(out) as zf:
        facilities = {c.key for c in store.schema.categories if c.is_facility}  # not graded: no grade style
        for layer in (name for name in result.layers if name.rsplit("_", 1)[0] not in facilities):
            qml, sld = zf.read(f"{layer}.qml").decode(), zf.read(f"{layer}.sld").decode()
            for g in store.schema.grades:
                r, gr, b = (int(g.color[i:i + 2], 16) for i in (1, 3, 5))
                assert f'value="{g.label}"' in qml and f"{r},{gr},{b}," in qml
                assert f"<ogc:Literal>{g.label}</ogc:Literal>" in sld and g.color in sld
            assert 'attr="GRADE"' in qml and 'fieldName="CODE"' in qml
        category = store.schema.category("fog")
        assert _rgb_text(category.outline) in zf.read("fog_patch.qml").decode()
        assert "stroke-dasharray" in zf.read("fog_patch.sld").decode()


def _rgb_text(hex_rgb: str) -> str:
    return ",".join(str(int(hex_rgb[i:i + 2], 16)) for i in (1, 3, 5))


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_every_layer_has_its_short_field_names_and_chinese_values(store, tmp_path, encoding):
    """The layers added through the schema (危桥, 隧道, 设施 …) too: field names of at most 10 bytes, as
    the schema names them, and Chinese text read back equal."""
    frame = store.read()
    out = tmp_path / f"all-{encoding}.zip"
    export_shapefile(frame, out, store.schema, encoding=encoding)
    for c in store.schema.categories:
        fields = list(pyogrio.read_info(f"/vsizip/{out}/{c.key}_patch.shp")["fields"])
        assert all(len(name.encode()) <= 10 for name in fields), fields
        assert {f.shp for f in c.fields} <= set(fields), c.key
        got = read_layer(out, f"{c.key}_patch").set_index("CODE")
        expected = frame[frame["category"] == c.key].set_index("code")
        assert len(got) == len(expected) > 0, c.key
        for f in c.fields:
            if f.type in ("str", "text", "enum") and not f.system and f.key != "code":
                assert got[f.shp].fillna("").to_dict() == expected[f.key].fillna("").to_dict(), (c.key, f.key)
