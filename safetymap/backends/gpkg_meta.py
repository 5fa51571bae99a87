"""What makes the live GeoPackage read like the ledger in QGIS and ArcGIS, from the schema:

- ``gpkg_data_columns``: a Chinese alias (name/title) for every column of every layer (category tables,
  patch_source, routes) and of the history and event tables;
- ``gpkg_data_column_constraints``: each single-valued list as an ``enum`` constraint and each min/max
  as a ``range`` (GDAL ≥ 3.3 reads them as field domains, QGIS ≥ 3.20 as value maps / ranges);
- ``layer_styles`` (QGIS's table): a default style per layer from ``safetymap.styles`` (QML and SLD):
  fill by 风险等级 in the four colours, outline in the category's colour and dash, labels by 图斑编号
  (facility layers: their marker, labelled by code and name), archived patches not drawn, aliases
  and value-map widgets (so QGIS builds that do not read domains still offer the list);
- accounts, sessions, the login throttle and the app's bookkeeping out of ``gpkg_contents``: they are
  not layers.
"""
from __future__ import annotations

import hashlib

from .. import styles as style
from ..schema import Category, Field, Schema, per_schema
from .tables import ROUTE_INFO
from .gpkg_live import CHANGES_TABLE, MARKER_TABLE, STAKE_TEXT_SUFFIX, get_state, set_state, stake_fields
from .tables import ARCHIVE_KEYS, SOURCE_TABLE

HIDDEN_TABLES = ("users", "sessions", "login_throttle", "safetymap_meta", MARKER_TABLE)  # not layers
META_KEY = "desktop_metadata"  # gpkg_live.STATE_TABLE: hash of what was last written here
STYLE_NAME = "台账默认样式"
ARCHIVE_LABELS = {"archived": "已归档", "archived_at": "归档时间", "archived_by": "归档人"}
FIXED_ALIASES = {
    SOURCE_TABLE: {"fid": "要素号", "code": "图斑编号", "category": "类别"},
    "routes": {"fid": "要素号", "route_code": "路线编码", "name": "路线名称", "start_stake_m": "起点桩号(米)",
               **ROUTE_INFO},
    "history": {"code": "图斑编号", "category": "类别", "version": "版本", "action": "操作", "field_key": "字段",
                "field_label": "字段名称", "before": "修改前", "after": "修改后", "user": "操作人", "at": "时间"},
    "fog_events": {"code": "图斑编号", "date": "日期", "start_time": "开始时间", "duration_h": "持续时间(小时)",
                   "min_visibility_m": "最低能见度(米)", "reporter": "报告人", "created_at": "录入时间",
                   "created_by": "录入人"},
    "inspections": {"code": "图斑编号", "inspected_at": "巡查时间", "inspector": "巡查人", "findings": "发现问题",
                    "status_before": "巡查前状态", "status_after": "巡查后状态", "lon": "经度", "lat": "纬度",
                    "created_at": "录入时间", "created_by": "录入人"},
    CHANGES_TABLE: {"at": "时间", "kind": "类型", "table_name": "表", "category": "类别", "fid": "要素号",
                    "code": "图斑编号", "old_code": "原编号", "detail": "说明", "status": "处理状态",
                    "resolved_by": "处理人", "resolved_at": "处理时间"},
}

_CONSTRAINTS_DDL = """CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (
  constraint_name TEXT NOT NULL, constraint_type TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN,
  max NUMERIC, max_is_inclusive BOOLEAN, description TEXT,
  CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))"""
_STYLES_DDL = """CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
  f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
  useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"""
_SCHEMA_EXTENSION = "http://www.geopackage.org/spec121/#extension_schema"


# ---------------------------------------------------------------- aliases and value lists
def _constraint_name(c: Category, f: Field) -> str:
    return f"{c.key}_{f.key}"


def _has_list(f: Field) -> bool:
    return f.type == "enum" and bool(f.values) and not f.multiple


def _has_range(f: Field) -> bool:
    return f.type in ("int", "float") and (f.min is not None or f.max is not None)


@per_schema
def column_aliases(schema: Schema) -> dict[str, dict[str, tuple[str, str, str | None]]]:
    """table -> column -> (alias, description, constraint name or None)."""
    out: dict[str, dict[str, tuple[str, str, str | None]]] = {}
    for c in schema.categories:
        cols = {}
        for f in c.fields:
            name = _constraint_name(c, f) if (_has_list(f) or _has_range(f)) else None
            cols[f.key] = (f.label, f.help or f.label_with_unit, name)
        for f in stake_fields(c):
            cols[f.key] = (f"{f.label}(米)", f"{f.label}，自路线起点的米数", None)
            cols[f.key + STAKE_TEXT_SUFFIX] = (f.label, f"{f.label}（K 公里+米，由数据库按米数自动填写，勿改）", None)
        for key in ARCHIVE_KEYS:
            cols[key] = (ARCHIVE_LABELS[key], ARCHIVE_LABELS[key], None)
        cols["fid"] = ("要素号", "要素号", None)
        out[c.table] = cols
    for table, names in FIXED_ALIASES.items():
        out[table] = {col: (label, label, "patch_category" if (table, col) == (SOURCE_TABLE, "category") else None)
                      for col, label in names.items()}
    return out


@per_schema
def constraints(schema: Schema) -> list[tuple]:
    """Rows of gpkg_data_column_constraints: (name, type, value, min, min_incl, max, max_incl, description)."""
    rows = [("patch_category", "enum", c.key, None, None, None, None, c.label) for c in schema.categories]
    for c in schema.categories:
        for f in c.fields:
            name = _constraint_name(c, f)
            if _has_list(f):
                rows += [(name, "enum", v, None, None, None, None, v) for v in f.values]
            elif _has_range(f):
                rows.append((name, "range", None, f.min, 1 if f.min is not None else None, f.max,
                             1 if f.max is not None else None, f"{f.label}的取值范围"))
    return rows


# ---------------------------------------------------------------- default styles (safetymap.styles)
def _key(f: Field) -> str:
    return f.key  # the live tables' columns are the field keys


def _alias_rows(schema: Schema, c: Category) -> list[tuple[str, str, tuple[str, ...]]]:
    """(column, alias, value-map values) of a category table, in column order."""
    aliases = column_aliases(schema)[c.table]
    fields = [("fid", "要素号", ())]
    fields += [(f.key, aliases[f.key][0], f.values if _has_list(f) else ()) for f in c.fields]
    fields += [(f.key + STAKE_TEXT_SUFFIX, aliases[f.key + STAKE_TEXT_SUFFIX][0], ()) for f in stake_fields(c)]
    return fields + [(k, ARCHIVE_LABELS[k], ()) for k in ARCHIVE_KEYS]


@per_schema
def styles(schema: Schema) -> dict[str, tuple[str, str]]:
    """Layer table -> (default QML, SLD): patches by grade (facilities by their marker), current ones
    only, with aliases and value maps; routes by route code."""
    out = {c.table: (style.qml(schema, c, "polygon", _key, current_only=True, fields=_alias_rows(schema, c)),
                     style.sld(schema, c, "polygon", c.table, _key))
           for c in schema.categories}
    out["routes"] = (style.routes_qml([(col, alias, ()) for col, alias in FIXED_ALIASES["routes"].items()]), "")
    return out


# ---------------------------------------------------------------- writing it into a GeoPackage
def ensure(con, schema: Schema) -> bool:
    """Write the aliases, value lists and default styles and hide the non-layer tables, inside the caller's
    transaction; done again only when what would be written changed. Returns whether it wrote."""
    from . import gpkg
    aliases = {t: cols for t, cols in column_aliases(schema).items() if gpkg.table_exists(con, t)}
    rows = constraints(schema)
    layer_styles = styles(schema)
    digest = hashlib.sha256(repr((sorted(aliases.items()), rows, sorted(layer_styles.items()),
                                  HIDDEN_TABLES)).encode()).hexdigest()
    if get_state(con, META_KEY) == digest:
        return False
    con.execute(_CONSTRAINTS_DDL)
    con.execute("DELETE FROM gpkg_data_column_constraints")
    con.executemany("INSERT INTO gpkg_data_column_constraints VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    for table, cols in aliases.items():
        present = set(gpkg.columns(con, table))
        con.execute("DELETE FROM gpkg_data_columns WHERE table_name = ?", (table,))
        con.executemany("INSERT INTO gpkg_data_columns (table_name, column_name, name, title, description, "
                        "constraint_name) VALUES (?, ?, ?, ?, ?, ?)",
                        [(table, col, alias, alias, description, name)
                         for col, (alias, description, name) in cols.items() if col in present])
    for table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
        con.execute("INSERT OR IGNORE INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
                    "VALUES (?, NULL, 'gpkg_schema', ?, 'read-write')", (table, _SCHEMA_EXTENSION))
    con.execute(_STYLES_DDL)
    con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
                "VALUES ('layer_styles', 'attributes', 'layer_styles', '图层样式（QGIS）')")  # as QGIS registers it;
    # QGIS looks for a default style only when GDAL lists this table
    con.execute("DELETE FROM layer_styles WHERE styleName = ?", (STYLE_NAME,))
    con.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name IN (%s)"
                % ", ".join("?" * len(layer_styles)), list(layer_styles))
    con.executemany("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                    "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) "
                    "VALUES ('', '', ?, 'geom', ?, ?, ?, 1, ?, 'safetymap', '')",
                    [(t, STYLE_NAME, qml, sld, "由台账程序按 schema 生成") for t, (qml, sld) in layer_styles.items()])
    con.execute(f"DELETE FROM gpkg_contents WHERE table_name IN ({', '.join('?' * len(HIDDEN_TABLES))})",
                HIDDEN_TABLES)
    set_state(con, META_KEY, digest)
    return True
