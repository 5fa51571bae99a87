"""The live GeoPackage's own guards against writes that bypass the app (QGIS, ArcGIS, ogr2ogr, sqlite3).

Every app transaction holds a row in ``safetymap_app_write`` for its whole length (inserted after
``BEGIN IMMEDIATE``, deleted before ``COMMIT``; writers are serialised, so no other client ever sees
it). A write to a patch table without that row comes from another client; triggers then:

- on an attribute or geometry change: bump ``version`` (so a web form or import based on the older
  version gets a conflict), set ``updated_at``/``updated_by`` = 外部编辑 and write one history row
  per changed column (before → after as text; stakes in K format; geometry as 已修改);
- on a new feature: give it version 1 and a history row, a source row (empty geometry) so the app
  lists it, and a 外部变更 entry (``external_changes``) for an admin to accept or undo;
- on a delete: put the row back archived (restorable) and record it, so nothing vanishes;
- on a changed code (改编号): carry the source row, history and events over to the new code and
  record it;
- on a value outside a field's allowed list (e.g. 特大 typed as grade): record a 外部变更 entry
  of kind ``invalid``; the store reports such stored values without blocking other fields.

The triggers are generated from the schema and replaced whenever their text changes (a field added).
Only SQL that any SQLite runs is used: no function the app registers, so QGIS can still write.
"""
from __future__ import annotations

import hashlib

from ..geo import MAIN_PREFIX
from ..schema import Category, Field, Schema, per_schema
from ..values import STAKE_PREFIX_KEY
from .tables import SOURCE_TABLE

MARKER_TABLE = "safetymap_app_write"
CHANGES_TABLE = "external_changes"
EXTERNAL_USER = "外部编辑"
EXTERNAL_ACTION = "external"
NOW = "strftime('%Y-%m-%dT%H:%M:%fZ','now')"
TRIGGER_PREFIX = "safetymap_ext_"
STAKE_TEXT_SUFFIX = "_k"  # start_stake -> start_stake_k: K12+350 beside the metres, for desktop clients
BOOKKEEPING = ("version", "updated_at", "updated_by")
STATE_TABLE = "safetymap_desktop"  # what was last put in place for desktop clients (hashes); not ledger data
LIVE_KEY = "live_triggers"  # STATE_TABLE: hash of the trigger text in place

CHANGES_COLUMNS = [
    "at DATETIME NOT NULL", "kind TEXT NOT NULL", "table_name TEXT NOT NULL", "category TEXT", "fid INTEGER",
    "code TEXT", "old_code TEXT", "detail TEXT", "status TEXT NOT NULL DEFAULT 'open'", "resolved_by TEXT",
    "resolved_at DATETIME"]
KIND_LABELS = {"insert": "外部新增", "delete": "外部删除", "recode": "外部改编号", "invalid": "不在可选值中"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str | None) -> str:
    return "NULL" if text is None else "'" + str(text).replace("'", "''") + "'"


def stake_sql(expr: str, prefix: str | None = None, rounded: str | None = None) -> str:
    """SQL for ``geo.format_stake`` of a metres expression with the chain ``prefix`` expression (blank: K):
    12350 -> K12+350, 7814.19 -> K7+814.19, 2000 with ZK -> ZK2+000. ``rounded``: an expression holding
    ``round(expr, 2)`` already, computed once a row by the caller (the text uses it five times)."""
    r = rounded or f"round({expr}, 2)"
    km = f"CAST({r} / 1000 AS INTEGER)"
    chain = _lit(MAIN_PREFIX) if prefix is None else f"coalesce(nullif(trim({prefix}), ''), {_lit(MAIN_PREFIX)})"
    return (f"CASE WHEN {expr} IS NULL THEN NULL ELSE {chain} || {km} || '+' || "
            f"CASE WHEN {r} = CAST({r} AS INTEGER) THEN printf('%03d', CAST({r} AS INTEGER) - 1000 * {km}) "
            f"ELSE rtrim(printf('%06.2f', {r} - 1000 * {km}), '0') END END")


def stake_fields(c: Category) -> list[Field]:
    return [f for f in c.fields if f.type == "stake"]


def prefix_column(c: Category) -> str | None:
    """The quoted column holding the category's stake chain prefix, if it has one."""
    return _q(STAKE_PREFIX_KEY) if STAKE_PREFIX_KEY in c.keys else None


def _stake_text(c: Category, f: Field, which: str = "") -> str:
    """SQL for the K text of stake field ``f`` of row ``which`` (NEW, OLD, or the table's own row)."""
    row = f"{which}." if which else ""
    prefix = prefix_column(c)
    return stake_sql(row + _q(f.key), None if prefix is None else row + prefix)


def stake_text_columns(c: Category, which: str = "") -> dict[str, str]:
    """Each K-stake text column of ``c``'s table -> SQL computing it from row ``which``'s columns (NEW in
    the triggers; the table's own row in an UPDATE, or in an INSERT that writes them with the row)."""
    return {f.key + STAKE_TEXT_SUFFIX: _stake_text(c, f, which) for f in stake_fields(c)}


ROUNDED_SUFFIX = "_rounded"


def stake_text_select(c: Category) -> tuple[dict[str, str], dict[str, str]]:
    """For an INSERT … SELECT from a subquery holding ``c``'s columns: (columns to add to the subquery:
    each stake rounded once, alias -> SQL; each K-stake text column -> SQL over the subquery's columns).
    The same texts as ``stake_text_columns``; a subquery SQLite does not flatten into the outer SELECT
    (one with an OFFSET) computes each rounding once a row instead of five times."""
    prefix = prefix_column(c)
    inner = {f.key + ROUNDED_SUFFIX: f"round({_q(f.key)}, 2)" for f in stake_fields(c)}
    outer = {f.key + STAKE_TEXT_SUFFIX: stake_sql(_q(f.key), prefix, _q(f.key + ROUNDED_SUFFIX)) for f in stake_fields(c)}
    return inner, outer


def stakes_insert_trigger(table: str) -> str:
    """The name of the trigger that writes a new row's K-stake texts (dropped during a bulk insert)."""
    return f"{TRIGGER_PREFIX}stakes_insert_{table}"


def _assignments(columns: dict[str, str]) -> str:
    return ", ".join(f"{_q(name)} = {sql}" for name, sql in columns.items())


def _text(c: Category, f: Field, which: str) -> str:
    expr = f"{which}.{_q(f.key)}"
    if f.type == "stake":
        return _stake_text(c, f, which)
    if f.type == "bool":
        return f"CASE WHEN {expr} IS NULL THEN NULL WHEN {expr} THEN '是' ELSE '否' END"
    return f"CAST({expr} AS TEXT)"


def _tracked(c: Category) -> list[Field]:
    return [f for f in c.fields if f.key not in BOOKKEEPING]


def external_insert_trigger(table: str) -> str:
    """The name of the trigger that records a row another client adds (quiet for the app's own writes)."""
    return f"{TRIGGER_PREFIX}insert_{table}"


def _no_app() -> str:
    return f"NOT EXISTS (SELECT 1 FROM {MARKER_TABLE})"


def _change_row(kind: str, c: Category, fid: str, code: str, old_code: str, detail: str) -> str:
    return (f"INSERT INTO {CHANGES_TABLE} (at, kind, table_name, category, fid, code, old_code, detail) "
            f"VALUES ({NOW}, {_lit(kind)}, {_lit(c.table)}, {_lit(c.key)}, {fid}, {code}, {old_code}, {detail});")


def _invalid_rows(c: Category, on_update: bool) -> list[str]:
    """A 外部变更 entry for each enum value outside its list (single-valued lists only), once when typed."""
    row = "NEW"
    out = []
    for f in c.fields:
        if f.type != "enum" or f.multiple or not f.values or f.key in BOOKKEEPING:
            continue
        allowed = ", ".join(_lit(v) for v in f.values)
        col = f"{row}.{_q(f.key)}"
        out.append(f"INSERT INTO {CHANGES_TABLE} (at, kind, table_name, category, fid, code, detail) "
                   f"SELECT {NOW}, 'invalid', {_lit(c.table)}, {_lit(c.key)}, {row}.fid, {row}.code, "
                   f"{_lit(f.label + '「')} || {col} || {_lit('」不在可选值中（' + '、'.join(f.values) + '）')} "
                   f"WHERE {col} IS NOT NULL AND {col} NOT IN ({allowed})"
                   + (f" AND OLD.{_q(f.key)} IS NOT {col}" if on_update else "") + ";")
    return out


def category_triggers(c: Category) -> dict[str, str]:
    """Trigger name -> CREATE TRIGGER statement for one category table."""
    t, key = c.table, c.key
    tracked = _tracked(c)
    columns = [f.key for f in c.fields] + ["archived", "archived_at", "archived_by"]
    differs = " OR ".join([f"OLD.{_q(f.key)} IS NOT NEW.{_q(f.key)}" for f in tracked]
                          + ["OLD.geom IS NOT NEW.geom", "OLD.archived IS NOT NEW.archived"])
    diffs = [f"SELECT {_lit(f.key)} AS k, {_lit(f.label)} AS l, {_text(c, f, 'OLD')} AS b, {_text(c, f, 'NEW')} AS a, "
             f"OLD.{_q(f.key)} IS NOT NEW.{_q(f.key)} AS d" for f in tracked]
    diffs.append("SELECT 'geometry', '图斑范围', CASE WHEN OLD.geom IS NULL THEN NULL ELSE '原图形' END, "
                 "CASE WHEN NEW.geom IS NULL THEN NULL ELSE '已修改' END, OLD.geom IS NOT NEW.geom")
    diffs.append("SELECT 'archived', '归档', CASE WHEN OLD.archived THEN '是' ELSE '否' END, "
                 "CASE WHEN NEW.archived THEN '是' ELSE '否' END, OLD.archived IS NOT NEW.archived")
    stakes = stake_fields(c)
    out: dict[str, str] = {}
    recode = [
        f"INSERT INTO {MARKER_TABLE} (id) VALUES (2);",  # the carried-over rows are not external edits
        f"UPDATE {SOURCE_TABLE} SET code = NEW.code WHERE code = OLD.code;",
        f"DELETE FROM {MARKER_TABLE} WHERE id = 2;",
        *(f"UPDATE {tbl} SET code = NEW.code WHERE code = OLD.code;"
          for tbl in ("history", "fog_events", "inspections", "photos", CHANGES_TABLE)),
        _change_row("recode", c, "NEW.fid", "NEW.code", "OLD.code",
                    "'图斑编号由「' || OLD.code || '」改为「' || NEW.code || '」'"),
    ]
    out[f"{TRIGGER_PREFIX}recode_{t}"] = (
        f"CREATE TRIGGER {_q(TRIGGER_PREFIX + 'recode_' + t)} AFTER UPDATE OF code ON {_q(t)} "
        f"WHEN {_no_app()} AND OLD.code IS NOT NEW.code BEGIN\n" + "\n".join(recode) + "\nEND")
    body = [
        f"UPDATE {_q(t)} SET version = OLD.version + 1, updated_at = {NOW}, updated_by = {_lit(EXTERNAL_USER)} "
        "WHERE fid = NEW.fid;",
        "INSERT INTO history (code, category, version, action, field_key, field_label, before, after, \"user\", at) "
        f"SELECT NEW.code, {_lit(key)}, OLD.version + 1, {_lit(EXTERNAL_ACTION)}, k, l, b, a, {_lit(EXTERNAL_USER)}, {NOW} "
        "FROM (" + " UNION ALL ".join(diffs) + ") WHERE d;",
        *_invalid_rows(c, True),
    ]
    out[f"{TRIGGER_PREFIX}update_{t}"] = (
        f"CREATE TRIGGER {_q(TRIGGER_PREFIX + 'update_' + t)} AFTER UPDATE ON {_q(t)} "
        f"WHEN {_no_app()} AND ({differs}) BEGIN\n" + "\n".join(body) + "\nEND")
    insert = [
        f"UPDATE {_q(t)} SET version = 1, updated_at = {NOW}, updated_by = {_lit(EXTERNAL_USER)} WHERE fid = NEW.fid;",
        f"INSERT INTO {MARKER_TABLE} (id) VALUES (2);",
        f"INSERT OR IGNORE INTO {SOURCE_TABLE} (geom, code, category) VALUES (NULL, NEW.code, {_lit(key)});",
        f"DELETE FROM {MARKER_TABLE} WHERE id = 2;",
        "INSERT INTO history (code, category, version, action, \"user\", at) "
        f"VALUES (NEW.code, {_lit(key)}, 1, {_lit(EXTERNAL_ACTION + '_insert')}, {_lit(EXTERNAL_USER)}, {NOW});",
        _change_row("insert", c, "NEW.fid", "NEW.code", "NULL", "'在其他软件中新增（无源几何，请补充路段线/桥梁点）'"),
        *_invalid_rows(c, False),
    ]
    out[external_insert_trigger(t)] = (
        f"CREATE TRIGGER {_q(external_insert_trigger(t))} AFTER INSERT ON {_q(t)} "
        f"WHEN {_no_app()} BEGIN\n" + "\n".join(insert) + "\nEND")
    cols = ", ".join(["fid", "geom", *(_q(k) for k in columns)])
    olds = ", ".join(["OLD.fid", "OLD.geom"] + [
        {"version": "OLD.version + 1", "updated_at": NOW, "updated_by": _lit(EXTERNAL_USER),
         "archived": "1", "archived_at": f"coalesce(OLD.archived_at, {NOW})",
         "archived_by": f"coalesce(OLD.archived_by, {_lit(EXTERNAL_USER)})"}.get(k, f"OLD.{_q(k)}") for k in columns])
    delete = [
        f"INSERT INTO {MARKER_TABLE} (id) VALUES (2);",
        f"INSERT INTO {_q(t)} ({cols}) VALUES ({olds});",
        f"DELETE FROM {MARKER_TABLE} WHERE id = 2;",
        "INSERT INTO history (code, category, version, action, field_key, field_label, before, after, \"user\", at) "
        f"VALUES (OLD.code, {_lit(key)}, OLD.version + 1, 'archive', 'archived', '归档', "
        f"CASE WHEN OLD.archived THEN '是' ELSE '否' END, '是', {_lit(EXTERNAL_USER)}, {NOW});",
        _change_row("delete", c, "OLD.fid", "OLD.code", "NULL", "'在其他软件中删除，已改为归档（可恢复）'"),
    ]
    out[f"{TRIGGER_PREFIX}delete_{t}"] = (
        f"CREATE TRIGGER {_q(TRIGGER_PREFIX + 'delete_' + t)} AFTER DELETE ON {_q(t)} "
        f"WHEN {_no_app()} BEGIN\n" + "\n".join(delete) + "\nEND")
    if stakes:  # K-format text beside the metres, kept by every writer (the app included)
        sets = _assignments(stake_text_columns(c, "NEW"))
        of = ", ".join([_q(f.key) for f in stakes] + [prefix_column(c)] * (prefix_column(c) is not None))
        out[f"{TRIGGER_PREFIX}stakes_{t}"] = (
            f"CREATE TRIGGER {_q(TRIGGER_PREFIX + 'stakes_' + t)} AFTER UPDATE OF {of} ON {_q(t)} BEGIN\n"
            f"UPDATE {_q(t)} SET {sets} WHERE fid = NEW.fid;\nEND")
        out[stakes_insert_trigger(t)] = (
            f"CREATE TRIGGER {_q(stakes_insert_trigger(t))} AFTER INSERT ON {_q(t)} BEGIN\n"
            f"UPDATE {_q(t)} SET {sets} WHERE fid = NEW.fid;\nEND")
    return out


def source_triggers(schema: Schema) -> dict[str, str]:
    """patch_source: a geometry moved elsewhere bumps the patch's version with a history row; a changed
    code or category is refused there (change the code on the patch layer); a deleted row comes back."""
    out = {}
    geom_rows = []
    for c in schema.categories:
        geom_rows += [
            f"UPDATE {_q(c.table)} SET version = version + 1, updated_at = {NOW}, updated_by = {_lit(EXTERNAL_USER)} "
            f"WHERE code = NEW.code AND NEW.category = {_lit(c.key)};",
        ]
    hist = ("INSERT INTO history (code, category, version, action, field_key, field_label, before, after, \"user\", at) "
            "SELECT NEW.code, NEW.category, (" + " UNION ALL ".join(
                f"SELECT version FROM {_q(c.table)} WHERE code = NEW.code AND NEW.category = {_lit(c.key)}"
                for c in schema.categories) + f"), {_lit(EXTERNAL_ACTION)}, 'source_geometry', '几何', "
            f"CASE WHEN OLD.geom IS NULL THEN NULL ELSE '原图形' END, "
            f"CASE WHEN NEW.geom IS NULL THEN NULL ELSE '已修改' END, {_lit(EXTERNAL_USER)}, {NOW};")
    out[f"{TRIGGER_PREFIX}source_geom"] = (
        f"CREATE TRIGGER {_q(TRIGGER_PREFIX + 'source_geom')} AFTER UPDATE OF geom ON {SOURCE_TABLE} "
        f"WHEN {_no_app()} AND OLD.geom IS NOT NEW.geom BEGIN\n" + "\n".join(geom_rows) + "\n" + hist + "\nEND")
    out[f"{TRIGGER_PREFIX}source_code"] = (
        f"CREATE TRIGGER {_q(TRIGGER_PREFIX + 'source_code')} BEFORE UPDATE OF code, category ON {SOURCE_TABLE} "
        f"WHEN {_no_app()} AND (OLD.code IS NOT NEW.code OR OLD.category IS NOT NEW.category) BEGIN\n"
        "SELECT RAISE(ABORT, '图斑编号和类别请在图斑图层中修改（源几何图层的编号随之改变）');\nEND")
    out[f"{TRIGGER_PREFIX}source_delete"] = (
        f"CREATE TRIGGER {_q(TRIGGER_PREFIX + 'source_delete')} AFTER DELETE ON {SOURCE_TABLE} "
        f"WHEN {_no_app()} BEGIN\n"
        f"INSERT INTO {MARKER_TABLE} (id) VALUES (2);\n"
        f"INSERT INTO {SOURCE_TABLE} (fid, geom, code, category) VALUES (OLD.fid, OLD.geom, OLD.code, OLD.category);\n"
        f"DELETE FROM {MARKER_TABLE} WHERE id = 2;\n"
        f"INSERT INTO {CHANGES_TABLE} (at, kind, table_name, category, fid, code, detail) VALUES ({NOW}, 'delete', "
        f"{_lit(SOURCE_TABLE)}, OLD.category, OLD.fid, OLD.code, '源几何在其他软件中被删除，已恢复');\nEND")
    return out


@per_schema
def all_triggers(schema: Schema) -> dict[str, str]:
    out = source_triggers(schema)
    for c in schema.categories:
        out |= category_triggers(c)
    return out


def ensure(con, schema: Schema) -> bool:
    """Create the marker and change tables, the K-stake text columns and the triggers (replacing ours
    when their text changed). Runs inside the caller's transaction; returns whether anything changed."""
    from . import gpkg
    changed = False
    con.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (key TEXT PRIMARY KEY NOT NULL, value TEXT)")
    con.execute("DELETE FROM safetymap_meta WHERE key IN ('live_triggers', 'desktop_metadata')")  # kept there once
    if not gpkg.table_exists(con, MARKER_TABLE):
        con.execute(f"CREATE TABLE {MARKER_TABLE} (id INTEGER PRIMARY KEY)")
        changed = True
    if not gpkg.table_exists(con, CHANGES_TABLE):
        con.execute(f"CREATE TABLE {CHANGES_TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "
                    + ", ".join(CHANGES_COLUMNS) + ")")
        changed = True
    added = False
    for c in schema.categories:
        existing = set(gpkg.columns(con, c.table))
        for f in stake_fields(c):
            name = f.key + STAKE_TEXT_SUFFIX
            if name not in existing:
                con.execute(f"ALTER TABLE {_q(c.table)} ADD COLUMN {_q(name)} TEXT")
                added = True
    triggers = all_triggers(schema)
    digest = hashlib.sha256("\n".join(f"{k}\n{v}" for k, v in sorted(triggers.items())).encode()).hexdigest()
    row = get_state(con, LIVE_KEY)
    present = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?",
                                         (TRIGGER_PREFIX + "%",))}
    renew = not (row == digest and present == set(triggers))
    if renew:
        for name in present:
            con.execute(f"DROP TRIGGER {_q(name)}")
        for sql in triggers.values():
            con.execute(sql)
        set_state(con, LIVE_KEY, digest)
    if renew or added:  # the stake texts as the triggers now write them (older files: without the prefix)
        _fill_stake_texts(con, schema)
    return changed or renew or added


def _fill_stake_texts(con, schema: Schema) -> None:
    for c in schema.categories:
        sets = _assignments(stake_text_columns(c))
        if sets:
            con.execute(f"UPDATE {_q(c.table)} SET {sets}")


def get_state(con, key: str) -> str | None:
    row = con.execute(f"SELECT value FROM {STATE_TABLE} WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_state(con, key: str, value: str) -> None:
    con.execute(f"INSERT INTO {STATE_TABLE} (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
