"""The ledger's tables, declared once for every backend: names, columns (SQLite types; the PostGIS
backend translates them), indexes, and the copy order ``migrate`` uses."""
from __future__ import annotations

from ..schema import Category, Schema

SRS_ID = 4490
SQL_TYPES = {"str": "TEXT", "text": "TEXT", "enum": "TEXT", "int": "INTEGER", "float": "REAL",
             "stake": "REAL", "date": "DATE", "datetime": "DATETIME", "bool": "BOOLEAN"}
SOURCE_TABLE = "patch_source"
META_TABLE = "safetymap_meta"
ARCHIVE_COLUMNS = ["archived BOOLEAN NOT NULL DEFAULT 0", "archived_at DATETIME", "archived_by TEXT"]
ARCHIVE_KEYS = ["archived", "archived_at", "archived_by"]
FEATURE_TABLES = {  # besides the category tables: table -> (identifier, description, geometry type, columns)
    SOURCE_TABLE: ("图斑源几何（路段线/桥梁点）", "示例数据以外为正式台账", "GEOMETRY",
                   ["code TEXT NOT NULL UNIQUE", "category TEXT NOT NULL"]),
    "routes": ("路线中心线", "线性参照用路线", "LINESTRING",
               ["route_code TEXT NOT NULL UNIQUE", "name TEXT", "start_stake_m REAL NOT NULL DEFAULT 0",
                "tech_grade TEXT", "maint_unit TEXT"]),  # the last two: ROUTE_INFO
}
ROUTE_INFO = {"tech_grade": "技术等级", "maint_unit": "管养单位"}  # the routes table's text columns beside its name
ATTRIBUTE_TABLES = {  # table -> (identifier, columns); each also has an integer key ``id``
    "history": ("变更历史", [
        "code TEXT NOT NULL", "category TEXT NOT NULL", "version INTEGER NOT NULL", "action TEXT NOT NULL",
        "field_key TEXT", "field_label TEXT", "before TEXT", "after TEXT", "user TEXT NOT NULL",
        "at DATETIME NOT NULL"]),
    "fog_events": ("团雾事件", [
        "code TEXT NOT NULL", "date DATE NOT NULL", "start_time TEXT", "duration_h REAL",
        "min_visibility_m INTEGER", "reporter TEXT", "created_at DATETIME NOT NULL", "created_by TEXT NOT NULL"]),
    "inspections": ("巡查记录", [
        "code TEXT NOT NULL", "inspected_at DATETIME NOT NULL", "inspector TEXT NOT NULL", "findings TEXT",
        "status_before TEXT", "status_after TEXT", "lon REAL", "lat REAL",
        "created_at DATETIME NOT NULL", "created_by TEXT NOT NULL"]),
    "photos": ("巡查照片", [
        "inspection_id INTEGER NOT NULL", "code TEXT NOT NULL", "mime TEXT NOT NULL", "width INTEGER",
        "height INTEGER", "content BLOB NOT NULL", "created_at DATETIME NOT NULL", "created_by TEXT NOT NULL"]),
    "users": ("用户", [
        "name TEXT NOT NULL UNIQUE", "role TEXT NOT NULL", "password_hash TEXT NOT NULL",
        "disabled BOOLEAN NOT NULL DEFAULT 0", "failed_logins INTEGER NOT NULL DEFAULT 0", "not_before DATETIME",
        "locked_until DATETIME", "created_at DATETIME NOT NULL", "last_login DATETIME"]),
    "audit": ("操作日志", ["at DATETIME NOT NULL", "user TEXT NOT NULL", "action TEXT NOT NULL", "detail TEXT"]),
    "sessions": ("登录会话", [  # policy: safetymap.sessions; only a hash of the browser's token is kept
        "token_hash TEXT NOT NULL UNIQUE", "name TEXT NOT NULL", "created_at DATETIME NOT NULL",
        "last_seen DATETIME NOT NULL", "expires_at DATETIME NOT NULL", "handoff_until DATETIME", "client TEXT"]),
    "login_throttle": ("登录限速", [  # policy: safetymap.accounts; one row per (account, client address)
        "key TEXT NOT NULL UNIQUE", "failures INTEGER NOT NULL DEFAULT 0", "not_before DATETIME",
        "locked_until DATETIME", "updated_at DATETIME NOT NULL"]),
    "hazard_history": ("隐患变更历史", [
        "hazard_code TEXT NOT NULL", "code TEXT NOT NULL", "version INTEGER NOT NULL", "action TEXT NOT NULL",
        "field_key TEXT", "field_label TEXT", "before TEXT", "after TEXT", "user TEXT NOT NULL",
        "at DATETIME NOT NULL"]),
    "hazard_photos": ("隐患照片", [
        "hazard_code TEXT NOT NULL", "code TEXT NOT NULL", "mime TEXT NOT NULL", "width INTEGER",
        "height INTEGER", "content BLOB NOT NULL", "created_at DATETIME NOT NULL", "created_by TEXT NOT NULL"]),
    META_TABLE: ("系统信息", ["key TEXT NOT NULL UNIQUE", "value TEXT"]),
}
INDEXES = [
    'CREATE INDEX IF NOT EXISTS idx_history_code ON history (code, version)',
    'CREATE INDEX IF NOT EXISTS idx_fog_events_code ON fog_events (code, date)',
    'CREATE INDEX IF NOT EXISTS idx_inspections_code ON inspections (code, inspected_at)',
    'CREATE INDEX IF NOT EXISTS idx_photos_inspection ON photos (inspection_id)',
    'CREATE INDEX IF NOT EXISTS idx_audit_at ON audit (at)',
    'CREATE INDEX IF NOT EXISTS idx_sessions_name ON sessions (name)',
    'CREATE INDEX IF NOT EXISTS idx_hazards_code ON hazards (code)',
    'CREATE INDEX IF NOT EXISTS idx_hazard_history_code ON hazard_history (hazard_code, version)',
    'CREATE INDEX IF NOT EXISTS idx_hazard_photos_code ON hazard_photos (hazard_code)',
]
HAZARD_TABLE = "hazards"  # rules: safetymap.hazards; one column per [[hazard.fields]] of the schema, then these:
HAZARD_BOOKKEEPING = {"code": "TEXT NOT NULL", "status": "TEXT NOT NULL", "version": "INTEGER NOT NULL",
                      "updated_at": "DATETIME NOT NULL", "updated_by": "TEXT NOT NULL"}
USER_COLUMNS = ["name", "role", "password_hash", "disabled", "failed_logins", "not_before", "locked_until",
                "created_at", "last_login"]


def versions_index(c: Category) -> str:
    """An index of the current patches' versions: ``Store.changes_since`` checks a category's count and sum of
    versions with it instead of reading the table's wide rows (0.16-0.2 s to ~0.01 s at 100,000 patches)."""
    return f'CREATE INDEX IF NOT EXISTS "idx_{c.table}_versions" ON "{c.table}" (archived, version)'


def category_column_defs(c: Category) -> dict[str, str]:
    """Field key -> column definition of a category table (SQLite types)."""
    defs = {f.key: f'"{f.key}" {SQL_TYPES[f.type]}' for f in c.fields}
    defs["code"] = '"code" TEXT NOT NULL UNIQUE'
    defs["version"] = '"version" INTEGER NOT NULL DEFAULT 1'
    return defs


def category_columns(c: Category) -> list[str]:
    """The columns a category table is read with, in order (besides fid and geom)."""
    return list(c.keys) + ARCHIVE_KEYS


def hazard_column_defs(schema: Schema) -> dict[str, str]:
    """Column -> definition of the hazards table (SQLite types): the schema's declared hazard fields, as a
    category table's columns come from its fields, then the bookkeeping (only those without a [hazard])."""
    fields = schema.hazard.event.fields if schema.hazard else ()
    defs = {f.key: f'"{f.key}" {SQL_TYPES.get(f.type, "TEXT")}' for f in fields}  # an event's "time" is text
    defs["hazard_code"] = '"hazard_code" TEXT NOT NULL UNIQUE'
    return defs | {key: f'"{key}" {kind}' for key, kind in HAZARD_BOOKKEEPING.items()}


def missing_hazard_columns(schema: Schema, present) -> list[str]:
    """Definitions of the hazards table's columns not in ``present`` (a field added to the schema later)."""
    return [d for key, d in hazard_column_defs(schema).items() if key not in present]


def attribute_tables(schema: Schema) -> dict[str, tuple[str, list[str]]]:
    """Every table without geometry: ``ATTRIBUTE_TABLES`` and, before its history, the hazards table
    derived from the schema."""
    tables = dict(ATTRIBUTE_TABLES)
    first = list(tables)[:list(tables).index("hazard_history")]
    hazards = {HAZARD_TABLE: ("隐患台账", list(hazard_column_defs(schema).values()))}
    return {t: tables[t] for t in first} | hazards | {t: v for t, v in tables.items() if t not in first}


def ledger_tables(schema: Schema) -> list[tuple[str, str]]:
    """Every table of a ledger with its key column, in copy order."""
    features = [*FEATURE_TABLES, *(c.table for c in schema.categories)]
    return [(t, "fid") for t in features] + [(t, "id") for t in attribute_tables(schema)]
