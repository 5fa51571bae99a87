"""The ledger: its rules over a storage backend. Versions and conflicts, history, archive, roles,
validation calls and events live here; where the rows are kept is the backend's business
(``safetymap.backends``: a GeoPackage file over sqlite3, or PostgreSQL + PostGIS).

Every write is one transaction; every patch carries a version and a save based on an older version
raises ``ConflictError`` with the newer record; deletes are soft (archived). ``open_store(location)``
opens a ledger; ``create_store(location)`` makes a new one."""
from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from itertools import chain
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from .auth import User, actor
from .backends import create_backend, open_backend
from .backends.tables import ROUTE_INFO, SOURCE_TABLE, USER_COLUMNS, category_columns
from .clock import now_local, now_utc, utc_text, utc_text_to_local
from .errors import ConflictError, NotFound, PermissionDenied, Problem, ValidationError
from .filters import PatchFilter
from .geo import GEOMETRY_LABEL, geometry_problems, patch_polygons
from .hazard_ledger import HazardLedger
from .schema import Category, Schema, load_schema
from .upgrades import apply_upgrades
from .validation import (clean_events, clean_frame, clean_record, derive, derive_record, grade_problems,
                         record_grade_problems)
from .values import differs, display_value, from_sql, is_blank, sql_array, to_python, value_from_sql, value_to_sql

IN_LIST_SIZE = 500  # values in one SQL ``IN (…)`` list: far below SQLite's 32,766 variables (999 before 3.32)


def in_lists(values: list) -> list[tuple[str, list]]:
    """``values`` in consecutive lists of at most ``IN_LIST_SIZE``, each with its placeholders (``?, ?, ?``)."""
    chunks = [values[start:start + IN_LIST_SIZE] for start in range(0, len(values), IN_LIST_SIZE)]
    return [(", ".join("?" * len(chunk)), chunk) for chunk in chunks]


@dataclass
class PatchChange:
    """A change to one patch, validated and derived before the write lock is taken (``Store._plan_change``);
    written under the lock only while the patch is still at the version it was planned on."""

    current: dict  # the patch as it was planned on
    table: str
    action: str
    values: dict  # column -> value to store
    history: list  # (field key, label, before, after) per changed field
    polygon: bytes | None = None  # encoded patch polygon and source geometry, when the geometry changes
    source: bytes | None = None

    @property
    def version(self) -> int:
        return self.current["version"]

    @property
    def empty(self) -> bool:
        return not self.values and self.polygon is None


@dataclass
class LedgerChanges:
    """What changed in a ledger since an earlier revision (``Store.changes_since``), as of ``revision``."""

    revision: tuple[int, ...]
    codes: list[str]  # patches written or given fog events since: new, changed, archived, re-coded (old and new code)
    rows: pd.DataFrame  # ``read_columns`` of those still current
    fog_events: pd.DataFrame  # ``fog_events`` of those codes
    totals: dict[str, tuple[int, int]]  # category -> (current patches, sum of their versions), where it has any


def open_store(location: str | os.PathLike, schema: Schema | None = None, *, create: bool = False) -> "Store":
    """The ledger at ``location``: a GeoPackage file path, or a ``postgresql://…`` URL."""
    schema = schema or load_schema()
    backend = open_backend(location, schema, create=create)
    apply_upgrades(backend, schema)
    return Store(backend, schema)


def create_store(location: str | os.PathLike, schema: Schema | None = None, *, force: bool = False) -> "Store":
    """A new, empty ledger at ``location``; refuses to replace an existing one unless ``force``."""
    schema = schema or load_schema()
    backend = create_backend(location, schema, force=force)
    apply_upgrades(backend, schema)
    return Store(backend, schema)


class Store(HazardLedger):
    """A ledger over one backend. Safe to share between threads and processes as its backend is."""

    def __init__(self, backend, schema: Schema):
        if isinstance(backend, (str, os.PathLike)):
            raise TypeError("Store(backend, schema) takes a backend; open a location with open_store()")
        self.backend = backend
        self.schema = schema

    def __repr__(self) -> str:
        return f"Store({self.backend!r})"

    @property
    def location(self) -> str:
        """What ``open_store`` (or a worker process) opens this ledger with."""
        return self.backend.location

    @property
    def path(self) -> Path | None:
        """The GeoPackage file, or None for a database server."""
        return self.backend.path

    def close(self) -> None:
        self.backend.close()

    def checkpoint(self) -> None:
        """Make every committed write visible to tools that read the file itself (GDAL, QGIS)."""
        self.backend.checkpoint()

    def backup(self, dest: str | os.PathLike) -> Path:
        """A consistent copy of the live ledger as one self-contained GeoPackage file."""
        return self.backend.backup(dest)

    @contextmanager
    def transaction(self):
        """One write transaction. Pass the connection it yields as ``con=`` to ``insert_many`` to group
        several writes; opened inside another transaction (an import), it joins that one."""
        with self.backend.transaction() as con:
            yield con

    # ---------------------------------------------------------------- who may
    def _actor(self, user: User | str, action: str, con=None) -> str:
        """The name to record for ``user`` doing ``action``. A signed-in user is checked against the
        account as it is now (role, disabled), not as it was at sign-in."""
        if isinstance(user, User):
            if user.recheck is not None:  # a web session: still signed in?
                user = user.recheck()
            user = self._current_user(user, con)
        return actor(user, action)

    def _current_user(self, user: User, con=None) -> User:
        row = self.user_row(user.name, con)
        if row is None:
            if self.user_count(con):
                raise PermissionDenied(f"用户「{user.name}」不存在，请重新登录")
            return user  # a ledger without accounts (scripts, tests): the caller vouches for the role
        if row["disabled"]:
            raise PermissionDenied(f"用户「{user.name}」已被停用，请重新登录")
        return User(user.name, row["role"])

    # ---------------------------------------------------------------- reading
    def _fetch(self, con, c: Category, where: str = "", params: tuple = ()) -> list[tuple]:
        """Rows of ``c`` as stored: patch geometry, source geometry, then ``category_columns(c)``."""
        cols = ", ".join(f't."{k}"' for k in category_columns(c))
        return con.execute(f'SELECT {self.backend.geom_out("t.geom")}, {self.backend.geom_out("s.geom")}, {cols} FROM "{c.table}" t '
                           f'JOIN {SOURCE_TABLE} s ON s.code = t.code {where} ORDER BY t.code', params).fetchall()

    @staticmethod
    def _columns_of(c: Category, rows: list) -> tuple[Category, dict, int]:
        """Rows of ``c`` as ``_fetch`` gives them, as columns by key (the rows can be freed then)."""
        keys = ["geometry", "source_geometry", *c.keys, "archived"]
        columns = list(zip(*rows)) if rows else [()] * len(keys)
        return c, {"category": [c.key] * len(rows), **dict(zip(keys, columns))}, len(rows)

    def _frame_of(self, parts: list[tuple[Category, dict, int]]) -> gpd.GeoDataFrame:
        """The rows of one or more categories (``_columns_of``) as one frame, each column converted once over
        the categories that have it (a frame per category, then concatenated, cost ~10 ms per category even
        for a few rows). Columns as concatenating the categories' frames orders them: category, the first
        category's fields, archived, source_geometry, geometry, then fields first met in later categories;
        a field a category lacks is missing in its rows, as ``pd.concat`` leaves it (``reindex``). Each column
        is taken out of ``parts`` as it is converted, so the raw values are freed column by column."""
        order = dict.fromkeys(k for c, _, _ in parts for k in ["category", *c.keys, "archived", "source_geometry",
                                                                  "geometry"])
        fields = {f.key: f for c, _, _ in parts for f in c.fields}
        starts = np.cumsum([0] + [n for _, _, n in parts])
        crs = self.schema.storage_crs
        data = {}
        for k in order:
            having = [i for i, (_, columns, _) in enumerate(parts) if k in columns]
            pieces = [parts[i][1].pop(k) for i in having]
            values = list(pieces[0] if len(pieces) == 1 else chain.from_iterable(pieces))
            if k in fields:
                column = from_sql(fields[k], values)
                if len(having) < len(parts):
                    column.index = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in having])
                    column = column.reindex(pd.RangeIndex(starts[-1]))
                data[k] = column
            elif k == "archived":
                data[k] = pd.Series([bool(v) for v in values], dtype=bool)
            elif k == "category":
                data[k] = pd.Series(values, dtype=object)
            else:
                data[k] = gpd.GeoSeries(self.backend.decode(values), crs=crs)
        return gpd.GeoDataFrame(data, geometry="geometry", crs=crs)

    def read(self, category: str | None = None, *, bbox: tuple[float, float, float, float] | None = None,
             filters: PatchFilter | None = None, include_archived: bool = False) -> gpd.GeoDataFrame:
        """Patches as a GeoDataFrame (geometry = patch polygon; ``source_geometry`` = line/point),
        optionally of one category, intersecting ``bbox`` (minx, miny, maxx, maxy) and passing
        ``filters`` (its categories and field parts selected in SQL, the rest applied to the rows read)."""
        cats = self._categories(category, filters)
        with self.backend.snapshot() as con:
            parts = [self._columns_of(c, self._fetch(con, c, *self._where(c, bbox, filters, include_archived)))
                     for c in cats]
        # only the categories with rows (a small view meets few of them)
        out = self._frame_of([p for p in parts if p[2]] or [parts[0] if parts else
                                                             self._columns_of(self.schema.categories[0], [])])
        if filters is not None and not filters.row_parts().empty:
            out = filters.row_parts().apply(out)
        return out

    def _categories(self, category: str | None, filters: PatchFilter | None) -> list[Category]:
        """The layers to read: ``category`` or all, within the filter's categories; a layer without a
        filtered field (a facility has no grade) matches nothing."""
        cats = [self.schema.category(category)] if category else list(self.schema.categories)
        if filters is None:
            return cats
        if not isinstance(filters, PatchFilter):
            raise TypeError(f"filters 应为 PatchFilter，不是 {type(filters).__name__}")
        keys = set(filters.sql_filters())
        return [c for c in cats if (not filters.categories or c.key in filters.categories) and keys <= set(c.keys)]

    def _where(self, c: Category, bbox, filters: PatchFilter | None, include_archived) -> tuple[str, tuple]:
        clauses, params = [], []
        if not include_archived:
            clauses.append("NOT t.archived")
        if bbox is not None:
            clause, box_params = self.backend.bbox_clause(c.table, bbox)
            clauses.append(clause)
            params += box_params
        for key, values in (filters.sql_filters() if filters is not None else {}).items():
            clauses.append(f't."{key}" IN ({", ".join("?" * len(values))})')
            params += values
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(params)

    def _category_of(self, con, code: str) -> Category:
        row = con.execute(f"SELECT category FROM {SOURCE_TABLE} WHERE code = ?", (code,)).fetchone()
        if row is None:
            raise NotFound(code)
        return self.schema.category(row[0])

    def _record(self, con, code: str) -> dict:
        c = self._category_of(con, code)
        records = self._records_of_rows(c, self._fetch(con, c, "WHERE t.code = ?", (code,)))
        if not records:
            raise NotFound(code)
        return records[0]

    def _records_of_rows(self, c: Category, rows: list[tuple]) -> list[dict]:
        """Stored rows as record dicts (like ``get``), value by value: no frame for a few rows."""
        if not rows:
            return []
        n = len(c.fields)
        polygons = self.backend.decode([r[0] for r in rows])
        sources = self.backend.decode([r[1] for r in rows])
        out = []
        for row, polygon, source in zip(rows, polygons, sources):
            record = {f.key: value_from_sql(f, v) for f, v in zip(c.fields, row[2:2 + n])}
            record.update(category=c.key, archived=bool(row[2 + n]), geometry=polygon, source_geometry=source)
            out.append(record)
        return out

    def rows(self, category: str | None = None, *, bbox: tuple[float, float, float, float] | None = None,
             filters: PatchFilter | None = None, include_archived: bool = False) -> list[dict]:
        """Like ``read`` but as a list of record dicts (like ``get``), without building frames: for
        the few patches of a small view or a lookup. Only the filter's SQL parts apply here."""
        if filters is not None and not filters.row_parts().empty:
            raise ValueError("rows() 只按类别和字段筛选；整改逾期、团雾台账和文字查找请用 read()")
        out = []
        with self.backend.snapshot() as con:
            for c in self._categories(category, filters):
                out += self._records_of_rows(c, self._fetch(con, c, *self._where(c, bbox, filters, include_archived)))
        return out

    # ---------------------------------------------------------------- column-wise reads (the map)
    BOX = ["minx", "miny", "maxx", "maxy"]

    def read_columns(self, keys, *, category: str | None = None, codes=None,
                     bbox: tuple[float, float, float, float] | None = None, geometry: bool = False) -> pd.DataFrame:
        """Current patches as a plain DataFrame of ``category``, ``code`` and the fields ``keys`` only (typed as
        ``read`` types them; missing where a category has no such field), the patch polygon's box
        (``minx``, ``miny``, ``maxx``, ``maxy``, as the spatial index holds it: a GeoPackage's R-tree keeps
        floats, rounded outwards) and, with ``geometry``, the patch polygon and source geometry as WKB
        (``wkb``, ``source_wkb``: decode them with ``shapely.from_wkb`` when needed). Only the patches of
        ``category``, of ``codes`` and meeting ``bbox`` when given. No geometry object and no other column
        is built: the map reads 100,000 patches this way in a fraction of ``read``'s time and memory."""
        with self.backend.snapshot() as con:
            return self._read_columns(con, keys, category, codes, bbox, geometry)

    def _read_columns(self, con, keys, category: str | None, codes, bbox, geometry: bool) -> pd.DataFrame:
        keys = list(dict.fromkeys(["code", *keys]))
        frames = []
        for c in self._categories(category, None):
            rows = self._fetch_columns(con, c, [k for k in keys if k in c.keys], codes, bbox, geometry)
            if rows:
                frames.append(self._columns_frame(c, [k for k in keys if k in c.keys], rows, geometry))
        extra = self.BOX + (["wkb", "source_wkb"] if geometry else [])
        if not frames:
            return pd.DataFrame({k: pd.Series(dtype=object) for k in ["category", *keys, *extra]})
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return out.reindex(columns=["category", *keys, *extra])

    def _fetch_columns(self, con, c: Category, keys: list[str], codes, bbox, geometry: bool) -> list[tuple]:
        box_columns, box_join = self.backend.box_select(c.table)
        geoms = (f", {self.backend.geom_out('t.geom')}, {self.backend.geom_out('s.geom')}" if geometry else "")
        source = f" JOIN {SOURCE_TABLE} s ON s.code = t.code" if geometry else ""
        select = ("SELECT " + ", ".join([f't."{k}"' for k in keys] + box_columns) + geoms +
                  f' FROM "{c.table}" t{box_join}{source}')
        where, params = self._where(c, bbox, None, False)
        if codes is None:
            return con.execute(f"{select} {where} ORDER BY t.code", params).fetchall()
        rows = []
        for marks, chunk in in_lists(sorted(set(codes))):
            clause = ("AND" if where else "WHERE") + f" t.code IN ({marks})"
            rows += con.execute(f"{select} {where} {clause} ORDER BY t.code", (*params, *chunk)).fetchall()
        return rows

    def _columns_frame(self, c: Category, keys: list[str], rows: list[tuple], geometry: bool) -> pd.DataFrame:
        columns = list(zip(*rows))
        data = {"category": pd.Series([c.key] * len(rows), dtype=object)}
        for k, values in zip(keys, columns):
            data[k] = from_sql(c.field(k), list(values))
        for k, values in zip(self.BOX, columns[len(keys):len(keys) + 4]):
            data[k] = pd.Series([np.nan if v is None else v for v in values], dtype=float)
        if geometry:
            data["wkb"] = self.backend.wkb(columns[len(keys) + 4])
            data["source_wkb"] = self.backend.wkb(columns[len(keys) + 5])
        return pd.DataFrame(data)

    def records(self, frame: pd.DataFrame) -> list[dict]:
        """Rows of a frame from ``read`` as record dicts (like ``get``), without reading again."""
        return [self._row_to_record(self.schema.category(row["category"]), row) for _, row in frame.iterrows()]

    def _row_to_record(self, c: Category, row: pd.Series) -> dict:
        record = {f.key: to_python(f, row[f.key]) for f in c.fields}
        record.update(category=c.key, archived=bool(row["archived"]),
                      geometry=row["geometry"], source_geometry=row["source_geometry"])
        return record

    def get(self, code: str) -> dict:
        """One patch as a dict: every field by key, plus category, archived, geometry, source_geometry."""
        with self.backend.snapshot() as con:
            return self._record(con, code)

    def codes(self) -> list[str]:
        return [r[0] for r in self.backend.connection().execute(f"SELECT code FROM {SOURCE_TABLE} ORDER BY code")]

    def count(self, include_archived: bool = False) -> dict[str, int]:
        con = self.backend.connection()
        where = "" if include_archived else " WHERE NOT archived"
        return {c.key: con.execute(f'SELECT count(*) FROM "{c.table}"{where}').fetchone()[0]
                for c in self.schema.categories}

    # ---------------------------------------------------------------- writing patches
    def _prepare(self, c: Category, raw: pd.DataFrame, source_geoms, *, file=None, first_row=1,
                 tolerate: frozenset[str] = frozenset()):
        """Clean, check and derive a frame of patches; raises ValidationError with every problem (but
        those of the fields labelled in ``tolerate``)."""
        source_geoms = np.asarray(source_geoms, dtype=object)
        raw = raw.copy()
        for f in c.fields:  # a field with a declared default (管控状态) starts with it when left blank
            if f.default is not None:
                raw[f.key] = raw[f.key].where(~raw[f.key].map(is_blank), f.default) if f.key in raw else f.default
        clean, problems = clean_frame(c, raw, self.schema, file=file, first_row=first_row)
        problems = [p for p in problems if p.field not in tolerate]
        for i, message in geometry_problems(source_geoms, c.geometry):
            problems.append(Problem(GEOMETRY_LABEL, message, row=first_row + i, file=file))
        if problems:
            raise ValidationError(problems)
        derived = derive(c, clean, source_geoms, self.schema)
        problems = [p for p in grade_problems(c, derived, range(first_row, first_row + len(derived)), file)
                    if p.field not in tolerate]
        if problems:
            raise ValidationError(problems)
        return derived, patch_polygons(source_geoms, c.buffer_m)

    def _prepare_record(self, c: Category, raw: dict, source_geom, *, tolerate: frozenset[str] = frozenset()) -> dict:
        """``_prepare`` of one patch as a dict of plain values (``clean_record``, ``derive_record``: no
        frame), with the same problems (numbered as the first row, as ``_prepare`` numbers them)."""
        raw = raw | {f.key: f.default for f in c.fields if f.default is not None and is_blank(raw.get(f.key))}
        clean, problems = clean_record(c, raw, self.schema)
        problems = [Problem(p.field, p.message, row=1) for p in problems if p.field not in tolerate]
        problems += [Problem(GEOMETRY_LABEL, message, row=1) for _, message in geometry_problems([source_geom], c.geometry)]
        if problems:
            raise ValidationError(problems)
        derived = derive_record(c, clean, source_geom, self.schema)
        problems = [Problem(p.field, p.message, row=1) for p in record_grade_problems(c, derived) if p.field not in tolerate]
        if problems:
            raise ValidationError(problems)
        return derived

    def insert(self, category: str, values: dict, source_geometry, user: User | str) -> dict:
        """Add one patch; returns it as stored (version 1)."""
        c = self.schema.category(category)
        derived = self._prepare_record(c, {k: v for k, v in values.items() if k != "category"}, source_geometry)
        # a one-row frame of stored values' types for ``_insert_rows``, from the derived record (no cleaning)
        frame = pd.DataFrame({f.key: from_sql(f, [value_to_sql(f, derived[f.key])]) for f in c.fields if f.key in derived})
        with self.transaction() as con:
            self._insert_rows(con, c, frame, patch_polygons([source_geometry], c.buffer_m), [source_geometry],
                              self._actor(user, "edit", con), now_utc(), "insert", None)
        return self.get(derived["code"])

    def insert_many(self, category: str, frame: pd.DataFrame, source_geoms, user: User | str, *,
                    action: str = "insert", file: str | None = None, con=None) -> int:
        """Add many patches of one category in one transaction: all or nothing."""
        right = "import" if action == "import" else "edit"
        c = self.schema.category(category)
        derived, polygons = self._prepare(c, frame.drop(columns=["category"], errors="ignore"), source_geoms, file=file)
        dupes = derived["code"][derived["code"].duplicated()].unique()
        if len(dupes):
            raise ValidationError([Problem("图斑编号", f"编号「{d}」在本批数据中重复", file=file) for d in dupes])
        stamp = now_utc()
        if con is None:
            with self.transaction() as con:
                return self._insert_rows(con, c, derived, polygons, source_geoms, self._actor(user, right, con),
                                         stamp, action, file)
        return self._insert_rows(con, c, derived, polygons, source_geoms, self._actor(user, right, con), stamp,
                                 action, file)

    def _insert_rows(self, con, c, derived, polygons, source_geoms, user, stamp, action, file) -> int:
        self._refuse_taken_codes(con, list(derived["code"]), file)
        self._insert_patches(con, c, derived, polygons, user, stamp)
        self._insert_sources(con, [(c, derived["code"], source_geoms)], user, stamp, action)
        return len(derived)

    def _refuse_taken_codes(self, con, codes: list[str], file) -> None:
        taken = self._existing_codes(con, codes)
        if taken:
            raise ValidationError([Problem("图斑编号", f"编号「{code}」已存在", file=file) for code in taken])

    def _insert_patches(self, con, c: Category, derived: pd.DataFrame, polygons, user: str, stamp: str) -> None:
        """New rows of ``c``'s table (version 1): the values to store as Arrow columns, written by the backend."""
        polygons = np.asarray(polygons, dtype=object)
        rows = pa.table({"geom": self.backend.encode_array(polygons),
                         **{f.key: sql_array(f, derived[f.key]) for f in c.fields if not f.system}})
        with self.backend.bulk_insert(con, c.table, polygons):
            self.backend.insert_rows(con, c.table, rows, {"version": 1, "updated_at": stamp, "updated_by": user}, c)
        self.backend.after_geometry_write(con, c.table)

    def _insert_sources(self, con, batches: list[tuple], user: str, stamp: str, action: str) -> None:
        """The source geometries of new patches, ``batches`` of (category, codes, geometries), in one bulk
        insert (one R-tree fill), and a history row per patch, made by the database from the rows just
        inserted rather than bound value by value."""
        codes = np.concatenate([np.asarray(batch, dtype=object) for _, batch, _ in batches])
        categories = np.concatenate([np.full(len(batch), c.key, dtype=object) for c, batch, _ in batches])
        geoms = np.concatenate([np.asarray(batch, dtype=object) for _, _, batch in batches])
        last = con.execute(f"SELECT coalesce(max(fid), 0) FROM {SOURCE_TABLE}").fetchone()[0]
        rows = pa.table({"geom": self.backend.encode_array(geoms), "code": pa.array(codes, pa.string()),
                         "category": pa.array(categories, pa.string())})
        with self.backend.bulk_insert(con, SOURCE_TABLE, geoms):
            self.backend.insert_rows(con, SOURCE_TABLE, rows, {})
        self.backend.after_geometry_write(con, SOURCE_TABLE)  # the source layer's extent too (QGIS zooms to it)
        con.execute('INSERT INTO history (code, category, version, action, "user", at) '
                    f"SELECT code, category, 1, ?, ?, ? FROM {SOURCE_TABLE} "
                    "WHERE fid > ? ORDER BY fid", (action, user, stamp, last))

    def insert_checked(self, new: dict[str, tuple[pd.DataFrame, np.ndarray]], user: User | str, *,
                       action: str = "import", file: str | None = None) -> int:
        """Add patches of several categories (key -> (rows, source geometries)) that an import preview has
        already cleaned, checked and derived (``clean_frame``, the geometry checks, ``derive(lengths=False)``,
        ``grade_problems``; ``safetymap.io.importer``): only the derived fields (lengths, score) and polygons
        are computed here, a category at a time, and codes are checked against the ledger as it is now.
        All or nothing, as ``insert_many``."""
        right = "import" if action == "import" else "edit"
        batches = [(self.schema.category(key), frame, np.asarray(geoms, dtype=object)) for key, (frame, geoms) in new.items()]
        if not batches:
            return 0
        codes = pd.concat([frame["code"] for _, frame, _ in batches], ignore_index=True)
        dupes = codes[codes.duplicated()].unique()
        if len(dupes):
            raise ValidationError([Problem("图斑编号", f"编号「{d}」在本批数据中重复", file=file) for d in dupes])
        stamp = now_utc()
        with self.transaction() as con:
            user = self._actor(user, right, con)
            self._refuse_taken_codes(con, codes.tolist(), file)
            for c, frame, geoms in batches:
                derived = derive(c, frame, geoms, self.schema)  # column-wise: lengths, score (no cleaning)
                self._insert_patches(con, c, derived, patch_polygons(geoms, c.buffer_m), user, stamp)
            self._insert_sources(con, [(c, frame["code"], geoms) for c, frame, geoms in batches], user, stamp, action)
        return len(codes)

    def _existing_codes(self, con, codes: list[str]) -> list[str]:
        found = []
        for marks, chunk in in_lists(codes):
            found += [r[0] for r in con.execute(f"SELECT code FROM {SOURCE_TABLE} WHERE code IN ({marks})", chunk)]
        return found

    def update(self, code: str, changes: dict, expected_version: int, user: User | str, *,
               source_geometry=None, action: str = "update") -> dict:
        """Change fields (and optionally the source geometry) of one patch, if nobody saved since
        ``expected_version``. Returns the patch as stored; raises ConflictError otherwise.

        The change is validated and derived before the write lock is taken; the lock is then held only
        to check the version again, write and record history: a desktop client (QGIS) cannot commit
        while the app holds it."""
        def plan(current: dict, con) -> PatchChange:
            self._check_status_change(con, current, changes.get("rect_status"))
            return self._plan_change(current, changes, action, source_geometry)

        with self.backend.snapshot() as con:
            current = self._record(con, code)
            change = plan(current, con) if current["version"] == expected_version else None
        with self.transaction() as con:
            name = self._actor(user, "import" if action == "import" else "edit", con)
            change = self._still_current(con, change, code, expected_version, lambda now: plan(now, con))
            self._write_change(con, change, name)
            return self._record(con, code)

    def _still_current(self, con, change: PatchChange | None, code: str, expected_version: int | None,
                       replan) -> PatchChange:
        """Inside the write transaction: ``change`` if the patch is still at the version it was planned
        on. Otherwise the patch as it is now decides: ConflictError if it is past ``expected_version``
        (None: any version will do), else ``replan(record)`` under the lock (someone saved in between)."""
        if change is not None and self._version_now(con, change.table, code) == change.version:
            return change
        current = self._record(con, code)
        if expected_version is not None and current["version"] != expected_version:
            raise ConflictError(code, expected_version, current)
        return replan(current)

    def status_change_problems(self, code: str, status: str) -> list[Problem]:
        """What setting patch ``code``'s 整改状态 to ``status`` would break beside its hazards (for previews)."""
        with self.backend.snapshot() as con:
            current = self._record(con, code)
            return [] if status == current["rect_status"] else self._patch_status_problems(con, current, status)

    def _check_status_change(self, con, current: dict, status: str | None) -> None:
        """A new 整改状态 must agree with the patch's hazards (e.g. no 已销号 while one is open), whoever
        sets it: the edit form, an import or an inspection from the field page."""
        if status and status != current["rect_status"]:
            if problems := self._patch_status_problems(con, current, status):
                raise ValidationError(problems)

    @staticmethod
    def _version_now(con, table: str, code: str) -> int | None:
        row = con.execute(f'SELECT version FROM "{table}" WHERE code = ?', (code,)).fetchone()
        return None if row is None else row[0]

    def _plan_change(self, current: dict, changes: dict, action: str, source_geometry=None) -> PatchChange:
        """Validate ``changes`` on top of ``current`` and derive what to write (no database access)."""
        code = current["code"]
        c = self.schema.category(current["category"])
        self._check_change_keys(c, changes, code)
        merged = {f.key: current[f.key] for f in c.editable_fields} | dict(changes)
        geom = current["source_geometry"] if source_geometry is None else source_geometry
        # a stored value the rules refuse (typed in another client) is kept and reported, not a block on
        # saving other fields; a change to that field itself is checked as usual
        kept_keys: set[str] = set()
        try:
            derived = self._prepare_record(c, merged, geom)
        except ValidationError:
            kept = {p.field for p in self.stored_problems(current)} - {c.field(k).label for k in changes if k in c.keys}
            if not kept:
                raise
            kept_keys = {f.key for f in c.editable_fields if f.label in kept}
            derived = self._prepare_record(c, {k: (None if k in kept_keys else v) for k, v in merged.items()}, geom,
                                           tolerate=frozenset(kept))
        new = {f.key: derived[f.key] for f in c.fields if f.key in derived}
        new |= {k: current[k] for k in kept_keys if new.get(k) is None}
        changed = [f for f in c.fields if f.key in new and differs(f, current[f.key], new[f.key])]
        change = PatchChange(current, c.table, action, {f.key: value_to_sql(f, new[f.key]) for f in changed},
                             [(f.key, f.label, display_value(f, current[f.key], current),
                               display_value(f, new[f.key], new))
                              for f in changed])
        if source_geometry is not None and not shapely.equals_exact(geom, current["source_geometry"], 1e-9):
            polygon = patch_polygons([geom], c.buffer_m)
            change.polygon, change.source = self.backend.encode(polygon)[0], self.backend.encode([geom])[0]
            change.history.append(("source_geometry", GEOMETRY_LABEL,
                                   shapely.to_wkt(current["source_geometry"], rounding_precision=7),
                                   shapely.to_wkt(geom, rounding_precision=7)))
        return change

    def _write_change(self, con, change: PatchChange, user: str) -> None:
        """Write a planned change with one version step and its history (inside the write transaction,
        after ``_still_current``)."""
        if change.empty:
            return
        code, version, stamp = change.current["code"], change.version + 1, now_utc()
        sets = [f'"{k}" = ?' for k in change.values] + ["version = ?", "updated_at = ?", "updated_by = ?"]
        params = [*change.values.values(), version, stamp, user]
        if change.polygon is not None:
            sets.append(f"geom = {self.backend.geom_param}")
            params.append(change.polygon)
            con.execute(f"UPDATE {SOURCE_TABLE} SET geom = {self.backend.geom_param} WHERE code = ?",
                        (change.source, code))
        con.execute(f'UPDATE "{change.table}" SET {", ".join(sets)} WHERE code = ? AND version = ?',
                    (*params, code, change.version))
        con.executemany("INSERT INTO history (code, category, version, action, field_key, field_label, before, "
                        'after, "user", at) VALUES (?,?,?,?,?,?,?,?,?,?)',
                        [(code, change.current["category"], version, change.action, *row, user, stamp)
                         for row in change.history])
        if change.polygon is not None:
            self.backend.after_geometry_write(con, change.table)

    def stored_problems(self, record: dict | str) -> list[Problem]:
        """What the rules refuse in a patch's stored values (e.g. a grade 特大 typed in QGIS): shown on the
        patch; saving other fields is not blocked by them."""
        record = self.get(record) if isinstance(record, str) else record
        c = self.schema.category(record["category"])
        _, problems = clean_record(c, {f.key: record.get(f.key) for f in c.editable_fields}, self.schema)
        return [Problem(p.field, f"已存的值有误：{p.message}") for p in problems]

    @staticmethod
    def _check_change_keys(c: Category, changes: dict, code: str) -> None:
        problems = []
        for key in changes:
            if key not in c.keys:
                problems.append(Problem(key, f"「{c.label}」没有这个字段"))
            elif key == "code" and str(changes[key]).strip() != code:
                problems.append(Problem(c.field(key).label, "图斑编号不能修改"))
            elif key != "code" and not c.field(key).editable:
                problems.append(Problem(c.field(key).label, "由系统计算，不能直接修改"))
        if problems:
            raise ValidationError(problems)

    def _set_archived(self, code: str, user: User | str, archived: bool, expected_version: int | None) -> dict:
        with self.transaction() as con:
            user = self._actor(user, "archive", con)
            current = self._record(con, code)
            if expected_version is not None and current["version"] != expected_version:
                raise ConflictError(code, expected_version, current)
            if current["archived"] == archived:
                return current
            c = self.schema.category(current["category"])
            version, stamp = current["version"] + 1, now_utc()
            con.execute(f'UPDATE "{c.table}" SET archived = ?, archived_at = ?, archived_by = ?, version = ?, '
                        "updated_at = ?, updated_by = ? WHERE code = ?",
                        (bool(archived), stamp if archived else None, user if archived else None, version, stamp, user, code))
            con.execute("INSERT INTO history (code, category, version, action, field_key, field_label, before, after, "
                        "\"user\", at) VALUES (?, ?, ?, ?, 'archived', '归档', ?, ?, ?, ?)",
                        (code, c.key, version, "archive" if archived else "restore",
                         "是" if not archived else "否", "是" if archived else "否", user, stamp))
            return self._record(con, code)

    def archive(self, code: str, user: User | str, expected_version: int | None = None) -> dict:
        """Soft delete: the patch leaves the ledger and the map but stays restorable, with history."""
        return self._set_archived(code, user, True, expected_version)

    def restore(self, code: str, user: User | str) -> dict:
        return self._set_archived(code, user, False, None)

    # ---------------------------------------------------------------- history and events
    def _log_rows(self, table: str, columns: str, order: tuple[str, ...], code: str | list[str] | None,
                  times: tuple[str, ...], con=None) -> pd.DataFrame:
        """Rows of a log table (all, one patch's or a list of patches'), with its stored moments as China time,
        ordered by the columns ``order`` (never null)."""
        select, order_by = f"SELECT {columns} FROM {table}", ", ".join(order)
        if not isinstance(code, list):
            where, params = (" WHERE code = ?", (code,)) if code is not None else ("", ())
            frame = self.backend.query_frame(f"{select}{where} ORDER BY {order_by}", params, con=con)
        else:
            frames = [self.backend.query_frame(f"{select} WHERE code IN ({marks}) ORDER BY {order_by}", tuple(chunk),
                                               con=con) for marks, chunk in in_lists(code)]
            frames = frames or [self.backend.query_frame(f"{select} WHERE 1 = 0", con=con)]
            found = [f for f in frames if len(f)] or frames[:1]  # an empty frame's columns may lack their dtypes
            frame = found[0] if len(found) == 1 else pd.concat(found, ignore_index=True).sort_values(
                list(order), kind="stable", ignore_index=True)
        for col in times:
            frame[col] = utc_text_to_local(frame[col]).to_numpy()
        return frame

    def history(self, code: str | None = None) -> pd.DataFrame:
        return self._log_rows("history", 'id, code, category, version, action, field_key, field_label, before, after, '
                              '"user", at', ("id",), code, ("at",))

    def add_fog_event(self, code: str, date, user: User | str, *, start_time: str | None = None,
                      duration_h: float | None = None, min_visibility_m: int | None = None,
                      reporter: str | None = None) -> int:
        events = pd.DataFrame([{"code": code, "date": date, "start_time": start_time, "duration_h": duration_h,
                                "min_visibility_m": min_visibility_m, "reporter": reporter}])
        return self.add_fog_events(events, user)[0]

    def add_fog_events(self, events: pd.DataFrame, user: User | str, *, file: str | None = None) -> list[int]:
        """Log fog events (columns code, date, start_time, duration_h, min_visibility_m, reporter)."""
        self._actor(user, "inspect")  # refuse early, before any validation work
        rows, problems = clean_events(self.schema.events["fog_event"], events, file)
        code_label = self.schema.label("code")
        stamp = now_utc()
        with self.transaction() as con:
            user = self._actor(user, "inspect", con)
            for i, row in enumerate(rows, start=1):
                row["code"] = str(row.get("code", "")).strip()
                try:
                    c = self._category_of(con, row["code"])
                except NotFound:
                    problems.append(Problem(code_label, f"找不到图斑「{row['code']}」", row=i, file=file))
                    continue
                if c.key != self.schema.fog_category:
                    fog = self.schema.category(self.schema.fog_category).label
                    problems.append(Problem(code_label, f"「{row['code']}」是{c.label}，不是{fog}", row=i, file=file))
            if problems:
                raise ValidationError(problems)
            ids = []
            for row in rows:
                cur = con.execute("INSERT INTO fog_events (code, date, start_time, duration_h, min_visibility_m, "
                                  "reporter, created_at, created_by) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                                  (row["code"], row["date"].strftime("%Y-%m-%d"), row["start_time"], row["duration_h"],
                                   row["min_visibility_m"], row["reporter"] or user, stamp, user))
                ids.append(cur.fetchone()[0])
            return ids

    def fog_events(self, code: str | list[str] | None = None, con=None) -> pd.DataFrame:
        frame = self._log_rows("fog_events", "id, code, date, start_time, duration_h, min_visibility_m, reporter, "
                               "created_at, created_by", ("date", "id"), code, ("created_at",), con)
        frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d").astype("datetime64[ms]")
        return frame

    def inspections(self, code: str | None = None) -> pd.DataFrame:
        return self._log_rows("inspections", "*", ("inspected_at", "id"), code, ("inspected_at", "created_at"))

    def add_inspection(self, code: str, user: User | str, *, inspected_at: dt.datetime | None = None,
                       findings: str = "", status_after: str | None = None, lon: float | None = None,
                       lat: float | None = None, photos: list[tuple[bytes, str, int, int]] = ()) -> int:
        """Record an inspection (巡查) of a patch, with prepared photos (bytes, mime, width, height; see
        ``safetymap.photos``). A new rectification status and the inspection date are written to the
        patch as one change with history; nothing else of the patch can be changed this way."""
        when = inspected_at or now_local()
        _, problems = clean_events(self.schema.events["inspection"],
                                   pd.DataFrame([{"status_after": status_after, "lon": lon, "lat": lat}]))
        if problems:
            raise ValidationError(problems)

        def plan(current: dict, con) -> PatchChange:
            changes = {"last_inspection": when.date()}
            if status_after and status_after != current["rect_status"]:
                self._check_status_change(con, current, status_after)
                changes["rect_status"] = status_after
            return self._plan_change(current, changes, "inspection")

        with self.backend.snapshot() as con:
            change = plan(self._record(con, code), con)
        with self.transaction() as con:
            name = self._actor(user, "inspect", con)
            change = self._still_current(con, change, code, None, lambda now: plan(now, con))
            self._write_change(con, change, name)
            stamp, status_before = now_utc(), change.current["rect_status"]
            cur = con.execute(
                "INSERT INTO inspections (code, inspected_at, inspector, findings, status_before, status_after, lon, lat, "
                "created_at, created_by) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (code, utc_text(when), name, findings or None, status_before, status_after or status_before, lon, lat,
                 stamp, name))
            inspection_id = cur.fetchone()[0]
            con.executemany("INSERT INTO photos (inspection_id, code, mime, width, height, content, created_at, created_by) "
                            "VALUES (?,?,?,?,?,?,?,?)",
                            [(inspection_id, code, mime, w, h, data, stamp, name) for data, mime, w, h in photos])
            return inspection_id

    def photos(self, code: str | None = None) -> pd.DataFrame:
        """Photos' metadata (id, inspection_id, code, mime, width, height, created_at, created_by), newest last."""
        return self._log_rows("photos", "id, inspection_id, code, mime, width, height, created_at, created_by", ("id",),
                              code, ("created_at",))

    def photo_bytes(self, photo_id: int) -> bytes:
        row = self.backend.connection().execute("SELECT content FROM photos WHERE id = ?", (int(photo_id),)).fetchone()
        if row is None:
            raise NotFound(f"照片 {photo_id}")
        return row[0]

    # ---------------------------------------------------------------- users and audit (policy: safetymap.accounts)
    def user_row(self, name: str, con=None) -> dict | None:
        row = (con or self.backend.connection()).execute(f"SELECT {', '.join(USER_COLUMNS)} FROM users WHERE name = ?",
                                           (name,)).fetchone()
        return dict(zip(USER_COLUMNS, row)) if row else None

    def user_rows(self) -> pd.DataFrame:
        cols = [c for c in USER_COLUMNS if c != "password_hash"]
        frame = self.backend.query_frame(f"SELECT {', '.join(cols)} FROM users ORDER BY name")
        frame["disabled"] = frame["disabled"].astype(bool)
        for col in ("not_before", "locked_until", "created_at", "last_login"):
            frame[col] = utc_text_to_local(frame[col]).to_numpy()
        return frame

    def put_user_row(self, row: dict, con) -> None:
        """Insert or replace one user row inside the caller's transaction (``accounts`` decides what)."""
        cols = [c for c in USER_COLUMNS if c in row]
        con.execute(f"INSERT INTO users ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                    f"ON CONFLICT(name) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in cols if c != 'name')}",
                    [bool(row[c]) if c == "disabled" else row[c] for c in cols])

    def user_count(self, con=None) -> int:
        return (con or self.backend.connection()).execute("SELECT count(*) FROM users").fetchone()[0]

    def log(self, user: User | str, action: str, detail: str = "", con=None) -> None:
        """An audit-log line (logins, exports, imports, user changes); patch changes are in history."""
        name = user.name if isinstance(user, User) else str(user)
        sql, params = 'INSERT INTO audit (at, "user", action, detail) VALUES (?, ?, ?, ?)', (now_utc(), name, action, detail)
        if con is not None:
            con.execute(sql, params)
            return
        with self.transaction() as own:
            own.execute(sql, params)

    def exporting(self, user: User | str, detail: str) -> str:
        """Every export (files, downloads) asks here first: roles without the right are refused, the rest
        are written to the audit log. Returns the user's name."""
        with self.transaction() as con:
            name = self._actor(user, "export", con)
            self.log(name, "export", detail, con=con)
        return name

    def audit(self) -> pd.DataFrame:
        return self._log_rows("audit", 'id, at, "user", action, detail', ("id",), None, ("at",))

    # ---------------------------------------------------------------- routes
    def put_routes(self, routes: gpd.GeoDataFrame, user: User | str) -> None:
        """Add or replace route centrelines (route_code, name, start_stake_m, tech_grade, maint_unit, geometry)."""
        geoms = routes.geometry.to_crs(self.schema.storage_crs).to_numpy()
        info = [routes[k].where(routes[k].notna(), None) if k in routes else pd.Series(None, index=routes.index)
                for k in ROUTE_INFO]
        rows = list(zip(self.backend.encode(geoms), routes.get("name", routes["route_code"]),
                        routes.get("start_stake_m", pd.Series(0.0, index=routes.index)).astype(float), *info,
                        routes["route_code"]))
        columns = ["geom", "name", "start_stake_m", *ROUTE_INFO, "route_code"]
        with self.transaction() as con:
            self._actor(user, "edit", con)
            known = {r[0] for r in con.execute("SELECT route_code FROM routes").fetchall()}
            # an UPDATE of the known codes, not an upsert: GeoPackage R-tree triggers refuse an upsert's update
            con.executemany(f"UPDATE routes SET geom = {self.backend.geom_param}, "
                            + ", ".join(f"{c} = ?" for c in columns[1:-1]) + " WHERE route_code = ?",
                            [r for r in rows if r[-1] in known])
            con.executemany(f"INSERT INTO routes ({', '.join(columns)}) "
                            f"VALUES ({self.backend.geom_param}, {', '.join('?' * (len(columns) - 1))})",
                            [r for r in rows if r[-1] not in known])
            self.backend.after_geometry_write(con, "routes")

    def routes(self) -> gpd.GeoDataFrame:
        """Route centrelines with code, name, start stake, 技术等级 and 管养单位 (the route table forms pick from)."""
        keys = ["route_code", "name", "start_stake_m", *ROUTE_INFO]
        rows = self.backend.connection().execute(f"SELECT {self.backend.geom_out('geom')}, {', '.join(keys)} "
                                                 "FROM routes ORDER BY route_code").fetchall()
        cols = list(zip(*rows)) if rows else [[]] * (len(keys) + 1)
        return gpd.GeoDataFrame({k: list(v) for k, v in zip(keys, cols[1:])},
                                geometry=gpd.GeoSeries(self.backend.decode(cols[0]), crs=self.schema.storage_crs))

    def revision(self) -> tuple[int, ...]:
        """Changes whenever the ledger does (every patch write has a history row; fog events and
        inspections have their own tables): a cheap key for caching what is derived from the ledger."""
        return self._revision(self.backend.connection())

    @staticmethod
    def _revision(con) -> tuple[int, ...]:
        row = con.execute("SELECT (SELECT coalesce(max(id), 0) FROM history), "
                          "(SELECT coalesce(max(id), 0) FROM fog_events), "
                          "(SELECT coalesce(max(id), 0) FROM inspections), "
                          "(SELECT coalesce(max(id), 0) FROM hazard_history)").fetchone()
        return tuple(int(v) for v in row)

    def changes_since(self, revision: tuple[int, ...], keys, *, limit: int) -> LedgerChanges | None:
        """What changed since ``revision`` (an earlier ``revision()``), read in one snapshot: the patches written
        since and those with fog events logged since, their current rows (``read_columns(keys)``) and fog
        events, and what the caller checks its result against. Every patch write leaves a history row (the
        app's, an import's, and another client's through the live GeoPackage's triggers); a re-code carries
        the patch's rows over to the new code and leaves a row of field ``code`` whose ``before`` is the old
        one. None when more than ``limit`` patches changed (a whole read is then cheaper) or when the history
        cannot be accounted for (a code or a re-code's old code missing, a revision newer than now)."""
        with self.backend.snapshot() as con:
            now = self._revision(con)
            if len(now) != len(revision) or any(a < b for a, b in zip(now, revision)):
                return None
            codes = set()
            for sql, since in (("SELECT DISTINCT code FROM history WHERE id > ? LIMIT ?", revision[0]),
                               ("SELECT DISTINCT before FROM history WHERE id > ? AND field_key = 'code' LIMIT ?",
                                revision[0]),
                               ("SELECT DISTINCT code FROM fog_events WHERE id > ? LIMIT ?", revision[1])):
                codes |= {r[0] for r in con.execute(sql, (since, limit + 1))}
            if len(codes) > limit or None in codes:
                return None
            codes = sorted(codes)
            return LedgerChanges(now, codes, self._read_columns(con, keys, None, codes, None, False),
                                 self.fog_events(codes, con), self._totals(con))

    def _totals(self, con) -> dict[str, tuple[int, int]]:
        """Per category with current patches their number and the sum of their versions (any write bumps one)."""
        out = {}
        for c in self.schema.categories:
            count, versions = con.execute(f'SELECT count(*), coalesce(sum(version), 0) FROM "{c.table}" '
                                          "WHERE NOT archived").fetchone()
            if count:
                out[c.key] = (int(count), int(versions))
        return out

    # ---------------------------------------------------------------- 外部变更 (writes from other clients)
    def external_changes(self, *, open_only: bool = False) -> pd.DataFrame:
        """Features added, deleted or re-coded, and values outside a list, written by another client
        (QGIS, ArcGIS) to the live GeoPackage, as its triggers recorded them (``backends.gpkg_live``).
        Empty on a backend without them."""
        cols = "id, at, kind, table_name, category, fid, code, old_code, detail, status, resolved_by, resolved_at"
        with self.backend.snapshot() as con:
            if not self.backend.table_exists(con, "external_changes"):
                return pd.DataFrame(columns=cols.split(", "))
            where = " WHERE status = 'open'" if open_only else ""
            frame = self.backend.query_frame(f"SELECT {cols} FROM external_changes{where} ORDER BY id", con=con)
        for col in ("at", "resolved_at"):
            frame[col] = utc_text_to_local(frame[col]).to_numpy()
        return frame

    def resolve_external_change(self, change_id: int, decision: str, user: User | str) -> None:
        """An admin's answer to one 外部变更: ``accept`` keeps it; ``undo`` archives a feature added
        elsewhere, restores one deleted elsewhere, or gives a re-coded patch its old code back."""
        if decision not in ("accept", "undo"):
            raise ValueError(decision)
        with self.transaction() as con:
            name = self._actor(user, "archive", con)
            row = con.execute("SELECT kind, code, old_code, status FROM external_changes WHERE id = ?",
                              (int(change_id),)).fetchone()
            if row is None:
                raise NotFound(f"外部变更 {change_id}")
            kind, code, old_code, status = row
            if status != "open":
                raise ValidationError([Problem("外部变更", f"这条变更已处理（{status}）")])
            if decision == "undo":
                if kind == "invalid":
                    raise ValidationError([Problem("外部变更", "不在可选值中的值请在编辑页改正")])
                if kind == "insert":
                    self._set_archived(code, name, True, None)
                elif kind == "delete":
                    self._set_archived(code, name, False, None)
                elif kind == "recode":
                    self._recode(con, code, old_code, name)
            con.execute("UPDATE external_changes SET status = ?, resolved_by = ?, resolved_at = ? WHERE id = ?",
                        ("accepted" if decision == "accept" else "undone", name, now_utc(), int(change_id)))

    def _recode(self, con, code: str, old_code: str, user: str) -> None:
        if self._existing_codes(con, [old_code]):
            raise ValidationError([Problem("图斑编号", f"编号「{old_code}」已被占用，不能改回")])
        current = self._record(con, code)
        c = self.schema.category(current["category"])
        version, stamp = current["version"] + 1, now_utc()
        con.execute(f'UPDATE "{c.table}" SET code = ?, version = ?, updated_at = ?, updated_by = ? WHERE code = ?',
                    (old_code, version, stamp, user, code))
        for table in (SOURCE_TABLE, "history", "fog_events", "inspections", "photos", "external_changes"):
            con.execute(f"UPDATE {table} SET code = ? WHERE code = ?", (old_code, code))
        con.execute("INSERT INTO history (code, category, version, action, field_key, field_label, before, after, "
                    '"user", at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                    (old_code, c.key, version, "update", "code", c.field("code").label, code, old_code, user, stamp))

    # ---------------------------------------------------------------- meta
    def meta(self, key: str) -> str | None:
        row = self.backend.connection().execute("SELECT value FROM safetymap_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as con:
            con.execute("INSERT INTO safetymap_meta (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
