"""Ordered upgrades of a ledger's stored data, applied once when a ledger is opened, on either
backend. New columns come from the schema (the backends add them); an upgrade fills them in for rows
written by an earlier release. The ledger's upgrade level is ``schema_version`` in its meta table."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .backends.tables import META_TABLE, ROUTE_INFO, versions_index
from .clock import now_utc
from .schema import Category, Schema

VERSION_KEY = "schema_version"
UPGRADE_USER = "系统升级"


@dataclass(frozen=True)
class Upgrade:
    version: int
    description: str
    run: Callable  # (connection, schema) -> number of rows changed


def _grade_methods(con, schema: Schema) -> int:
    """评定方式 for patches graded before it existed: a stored grade equal to the L×C matrix's is
    矩阵计算; any other stored grade is 直接判定, with the basis 历史数据."""
    changed = 0
    for c in schema.categories:
        if {"risk_grade", "likelihood", "consequence", "grade_method"} <= set(c.keys):
            changed += _grade_methods_of(con, schema, c)
    return changed


def _grade_methods_of(con, schema: Schema, c: Category) -> int:
    by_matrix, direct = c.field("grade_method").values
    rows = con.execute(f'SELECT fid, risk_grade, likelihood, consequence FROM "{c.table}" '
                       "WHERE grade_method IS NULL").fetchall()
    matrix = np.array(schema.matrix, dtype=object)
    updates = []
    for fid, grade, likelihood, consequence in rows:
        computed = None
        if likelihood is not None and consequence is not None and 1 <= likelihood <= 5 and 1 <= consequence <= 5:
            computed = matrix[int(likelihood) - 1, int(consequence) - 1]
        if grade is None or grade == computed:
            updates.append((by_matrix, None, fid))
        else:
            updates.append((direct, "历史数据", fid))
    con.executemany(f'UPDATE "{c.table}" SET grade_method = ?, grade_basis = ? WHERE fid = ?', updates)
    return len(updates)


def _manual_fog_counts_by_year(con, schema: Schema) -> int:
    """The hand-entered fog figure was a yearly average with no year; it now stands for one stated year.
    An old average is kept, in words, in the basis (人工填报依据) and no longer counted."""
    fog = schema.category(schema.fog_category)
    if not {"fog_events_manual", "fog_manual_year", "fog_manual_basis"} <= set(fog.keys):
        return 0
    rows = con.execute(f'SELECT fid, fog_events_manual FROM "{fog.table}" '
                       "WHERE fog_events_manual IS NOT NULL AND fog_manual_year IS NULL").fetchall()
    con.executemany(f'UPDATE "{fog.table}" SET fog_events_manual = NULL, fog_manual_basis = ? WHERE fid = ?',
                    [(f"原人工填报年均 {value:g} 次/年（未注明年份，新规则不计入）", fid) for fid, value in rows])
    return len(rows)


def _control_status(con, schema: Schema) -> int:
    """管控状态 for patches written before it existed: its declared default (管控中)."""
    changed = 0
    for c in schema.categories:
        if "control_status" in c.keys and c.field("control_status").default is not None:
            cur = con.execute(f'UPDATE "{c.table}" SET control_status = ? WHERE control_status IS NULL',
                              (c.field("control_status").default,))
            changed += max(cur.rowcount, 0)
    return changed


def _route_info_columns(con, schema: Schema) -> int:
    """The routes table gains 技术等级 and 管养单位 (ledgers made before them)."""
    present = {d[0] for d in con.execute("SELECT * FROM routes LIMIT 0").description}
    missing = [key for key in ROUTE_INFO if key not in present]
    for key in missing:
        con.execute(f'ALTER TABLE routes ADD COLUMN "{key}" TEXT')
    return con.execute("SELECT count(*) FROM routes").fetchone()[0] if missing else 0  # routes given the columns


def _versions_indexes(con, schema: Schema) -> int:
    """Each category table gains the index of its current patches' versions (``tables.versions_index``)."""
    for c in schema.categories:
        con.execute(versions_index(c))
    return sum(con.execute(f'SELECT count(*) FROM "{c.table}"').fetchone()[0] for c in schema.categories)


UPGRADES = [
    Upgrade(1, "风险等级评定方式：与矩阵一致的历史等级为矩阵计算，其余为直接判定（判定依据：历史数据）", _grade_methods),
    Upgrade(2, "人工填报团雾次数改为按年份填报：原年均值（未注明年份）移入人工填报依据，不再计入", _manual_fog_counts_by_year),
    Upgrade(3, "风险点管控状态：原有图斑均为管控中", _control_status),
    Upgrade(4, "路线表增加技术等级、管养单位", _route_info_columns),
    Upgrade(5, "各图层增加版本索引（核对台账变化时不再逐行读取）", _versions_indexes),
]
LATEST = UPGRADES[-1].version


def apply_upgrades(backend, schema: Schema) -> list[Upgrade]:
    """Run every upgrade above the ledger's level, in order, in one transaction; returns those run."""
    with backend.transaction() as con:
        row = con.execute(f"SELECT value FROM {META_TABLE} WHERE key = ?", (VERSION_KEY,)).fetchone()
        level = int(row[0]) if row else 0
        done = []
        for upgrade in UPGRADES:
            if upgrade.version <= level:
                continue
            count = upgrade.run(con, schema)
            if count:  # a new, empty ledger has nothing to tell
                con.execute('INSERT INTO audit (at, "user", action, detail) VALUES (?, ?, ?, ?)',
                            (now_utc(), UPGRADE_USER, "upgrade", f"升级 {upgrade.version}：{upgrade.description}（{count} 条）"))
            done.append(upgrade)
        if done or row is None:
            con.execute(f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (VERSION_KEY, str(LATEST)))
        return done
