"""Import a file into the ledger in two steps. ``preview_import`` reads, matches columns, validates and
compares with the database, writing nothing: what will be added, what updated (matched by 图斑编号, with
the changed fields), every problem with file, row and field. ``ImportPreview.commit`` then writes all
of it in one store transaction (history action "import"), or nothing if anything is refused.

Geometry comes from the file (reprojected to CGCS2000 from the file's CRS or the one the user names),
from 经度/纬度 columns of a table, or from 路线编码 + 起止桩号 on the route centreline. A patch already
in the ledger keeps its geometry when the file has none and its route and stakes did not change."""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from ..errors import ImportRefused, Problem
from ..geo import GEOMETRY_LABEL, lengths_m, stake_column
from ..schema import Category, Field, Schema
from ..validation import clean_frame, derive, grade_problems, stake_length_notes
from ..values import blank_mask, display_value, to_python
from . import formats
from .batches import Batch, layer_batches, take_patch_attributes
from .geometry import check_geometries, parse_crs, same_geometry, stake_geometries
from .reader import read_file
from .uploads import DEFAULT_LIMITS, UploadLimits, check_file

STAKE_DECIMALS = 2  # stakes are shown (and exported) to the centimetre
MAX_PROBLEMS = 1000  # problems listed in a preview; the rest are counted in a last line
MAX_NOTICE_LINES = 20  # notices also listed as warning lines (page, command line); all are in the problem table
NOTICE = "警告："  # how a notice reads in the problem table
ROWS_LISTED = 10  # rows named in one duplicated-code problem


@dataclass
class Change:
    code: str
    values: dict
    version: int
    geometry: object | None  # a new source geometry, or None to keep it


@dataclass
class ImportPreview:
    file: str
    updates: pd.DataFrame  # one row per changed field
    unchanged: int
    problems: list[Problem]
    warnings: list[str]
    new: dict[str, tuple[pd.DataFrame, np.ndarray]] = field(default_factory=dict, repr=False)
    changes: list[Change] = field(default_factory=list, repr=False)
    added: list["NewRows"] = field(default_factory=list, repr=False)  # the adds table, built when asked
    add_columns: tuple[str, ...] = ()  # the adds table's headers (labels from the schema)
    n_problems: int = 0  # every problem found, also those beyond MAX_PROBLEMS not listed
    notices: list[Problem] = field(default_factory=list)  # warnings by row that do not refuse the import

    @functools.cached_property
    def adds(self) -> pd.DataFrame:
        """One row per patch to add: category, code, name, route, stakes, grade, file and row."""
        if not self.added:
            return pd.DataFrame(columns=list(self.add_columns))
        return pd.concat([_adds_table(rows) for rows in self.added], ignore_index=True)

    @property
    def n_added(self) -> int:
        return sum(len(rows.rows) for rows in self.added)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def n_updated(self) -> int:
        return len(self.changes)

    def summary(self) -> str:
        text = (f"文件 {self.file}：新增 {self.n_added} 个图斑，更新 {self.n_updated} 个，"
                f"无变化 {self.unchanged} 个")
        return text + (f"；发现 {self.n_problems} 处问题，不能导入" if self.problems else "")

    def problem_table(self) -> pd.DataFrame:
        """Every problem, then every notice (警告, not refusing the import), one row each."""
        rows = [(p, "") for p in self.problems] + [(p, NOTICE) for p in self.notices]
        return pd.DataFrame([{"文件": p.file or "", "行": p.row, "字段": p.field, "问题": kind + p.message}
                             for p, kind in rows], columns=["文件", "行", "字段", "问题"]).astype({"行": "Int64"})

    def commit(self, store, user: str) -> dict[str, int]:
        """Write the preview in one transaction: all of it, or nothing (ImportRefused, ConflictError…)."""
        if self.problems:
            raise ImportRefused(self.problems)
        with store.transaction():
            store.insert_checked(self.new, user, action="import", file=self.file)  # checked by the preview: not again
            for change in self.changes:
                store.update(change.code, change.values, change.version, user,
                             source_geometry=change.geometry, action="import")
        return {"added": self.n_added, "updated": self.n_updated}


# ---------------------------------------------------------------- checking one batch
@dataclass
class Checked:
    batch: Batch
    derived: pd.DataFrame
    geoms: np.ndarray
    new_geometry: np.ndarray  # True where the geometry differs from the stored one (or the patch is new)
    current: pd.DataFrame | None  # the stored patch of each row (missing for new codes); None: none stored
    existing: np.ndarray
    bad_cells: set = field(default_factory=set)  # (position, field label) of values that failed validation
    notices: list = field(default_factory=list)  # warnings by row (桩号长度核对) that do not refuse


def _at(problem: Problem, rows: np.ndarray) -> Problem:
    """A problem numbered by position -> numbered by the file's row."""
    return dataclasses.replace(problem, row=None if problem.row is None else int(rows[problem.row]))


def _stake_changed(clean: pd.DataFrame, current: pd.DataFrame, raw_columns) -> np.ndarray:
    changed = np.zeros(len(clean), bool)
    if "route_code" in raw_columns:
        changed |= (clean["route_code"].astype(object).fillna("") != current["route_code"].astype(object).fillna("")).to_numpy()
    for key in ("start_stake", "end_stake"):
        if key in raw_columns:
            new = np.round(clean[key].to_numpy(dtype=float), STAKE_DECIMALS)
            old = np.round(current[key].to_numpy(dtype=float), STAKE_DECIMALS)
            changed |= ~((new == old) | (np.isnan(new) & np.isnan(old)))
    return changed


def _source_geometries(batch: Batch, clean: pd.DataFrame, stored: pd.DataFrame, existing: np.ndarray, routes: dict):
    """(each row's source geometry, rows whose geometry is new and must be checked, problems): the file's
    geometry; else the stored one while route and stakes stay; else the segment on the centreline."""
    geoms = batch.geoms.copy()
    from_file = ~shapely.is_missing(geoms)
    keep = np.zeros(len(geoms), bool)
    if stored is not None:
        moved = existing & _stake_changed(clean, stored, batch.raw.columns)
        keep = ~from_file & existing & ~moved
        geoms[keep] = stored["source_geometry"].to_numpy()[keep]
    positions = np.flatnonzero(~from_file & ~keep)
    made, messages, no_centreline = stake_geometries(clean, positions, routes)
    geoms[positions] = made
    problems = []
    for i, msg, no_route in zip(positions, messages, no_centreline):
        if msg and existing[i] and no_route:  # stakes changed, no centreline to follow: keep the geometry
            geoms[i] = stored["source_geometry"].iloc[i]
        elif msg:
            problems.append(Problem(GEOMETRY_LABEL, msg, row=int(batch.rows[i]), file=batch.file))
    return geoms, ~shapely.is_missing(geoms) & ~keep, problems


def _check_batch(batch: Batch, schema: Schema, current: pd.DataFrame, routes: dict):
    """Clean and check one batch, and line it up with the stored patches of the same codes."""
    c = batch.category
    clean, problems = clean_frame(c, batch.raw, schema, file=batch.file, first_row=0)
    bad_cells = {(p.row, p.field) for p in problems}
    problems = [_at(p, batch.rows) for p in problems]
    codes = clean["code"].astype(object)
    existing = (current["category"].reindex(codes) == c.key).to_numpy()  # the same code in another category is refused
    # the stored rows lined up with the file's only when some are stored (an empty ledger has none)
    stored = current.reindex(codes).reset_index(drop=True) if existing.any() else None
    geoms, checked_rows, more = _source_geometries(batch, clean, stored, existing, routes)
    refused = check_geometries(c, geoms, checked_rows, batch.rows, batch.file)
    problems += more + refused
    with np.errstate(invalid="ignore"):  # lengths of geometries already reported as wrong are NaN
        derived = derive(c, clean, geoms, schema, lengths=False)  # the store derives lengths as it writes
    problems += [_at(p, batch.rows) for p in grade_problems(c, derived, range(len(derived)), batch.file)]
    refused_rows = np.isin(batch.rows, [p.row for p in refused])  # a problem: neither a change nor measured
    new_geometry = ~existing
    if stored is not None:
        new_geometry |= checked_rows & ~refused_rows & ~same_geometry(geoms, stored["source_geometry"].to_numpy())
    measured = np.where(refused_rows, None, geoms)
    notices = _stake_length_notices(c, clean, measured, batch, schema)
    return Checked(batch, derived, geoms, new_geometry, stored, existing, bad_cells, notices), problems


def _stake_length_notices(c, clean: pd.DataFrame, geoms, batch: Batch, schema: Schema) -> list[Problem]:
    """Rows whose stakes and geometry length disagree (the schema's stake_length_rule): warnings."""
    with np.errstate(invalid="ignore"):
        notes = stake_length_notes(clean, lengths_m(geoms), schema)
    label = c.field("end_stake").label if "end_stake" in c.keys else GEOMETRY_LABEL
    return [Problem(label, note, row=int(batch.rows[i]), file=batch.file) for i, note in enumerate(notes) if note]


# ---------------------------------------------------------------- comparing with the ledger
def _differs(f: Field, old: pd.Series, new: pd.Series) -> np.ndarray:
    """Vectorised: True where the stored value and the file's value differ (blank equals blank)."""
    if f.type in ("float", "int", "bool", "stake"):
        o = old.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        n = new.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        o_blank, n_blank = np.isnan(o), np.isnan(n)
        if f.type == "stake":
            same = np.round(o, STAKE_DECIMALS) == np.round(n, STAKE_DECIMALS)
        else:
            same = np.isclose(o, n, rtol=1e-9, atol=1e-9)
    elif f.type in ("date", "datetime"):
        o = pd.to_datetime(old).to_numpy("datetime64[s]")
        n = pd.to_datetime(new).to_numpy("datetime64[s]")
        o_blank, n_blank = np.isnat(o), np.isnat(n)
        same = o == n
    else:
        o, n = old.to_numpy(dtype=object), new.to_numpy(dtype=object)
        o_blank, n_blank = blank_mask(old), blank_mask(new)
        same = np.zeros(len(o), bool)
        both = ~o_blank & ~n_blank
        same[both] = o[both] == n[both]
    return (o_blank != n_blank) | (~o_blank & ~n_blank & ~same)


def _changes(checked: Checked, file_has) -> tuple[list[Change], list[dict], list[Problem], int]:
    """Field-level changes of the rows whose code is already in the ledger."""
    c, derived, stored = checked.batch.category, checked.derived, checked.current
    if not checked.existing.any():
        return [], [], [], 0
    fields = [f for f in c.editable_fields if f.key != "code" and f.key in file_has]
    diff = {f.key: _differs(f, stored[f.key], derived[f.key]) & checked.existing for f in fields}
    keys = {f.label: f.key for f in fields}
    for position, label in checked.bad_cells:  # an invalid value is a problem, not a change to show
        if label in keys:
            diff[keys[label]][position] = False
    geometry = checked.new_geometry & checked.existing
    any_change = np.logical_or.reduce([geometry, *diff.values()]) if diff else geometry
    changes, rows, problems = [], [], []
    file_versions = pd.to_numeric(checked.batch.raw["version"], errors="coerce").to_numpy(dtype=float) \
        if "version" in file_has else None
    for i in np.flatnonzero(any_change):
        code, current_version = str(derived["code"].iloc[i]), int(stored["version"].iloc[i])
        if file_versions is not None and file_versions[i] < current_version:
            problems.append(_stale(checked, i, code, int(file_versions[i]), current_version))
            continue
        values = {f.key: to_python(f, derived[f.key].iloc[i]) for f in fields if diff[f.key][i]}
        geom = checked.geoms[i] if geometry[i] else None
        changes.append(Change(code, values, current_version, geom))
        rows += [{CODE_COLUMN: code, "类别": c.label, "字段": f.label, "原值": display_value(f, stored[f.key].iloc[i], stored.iloc[i]),
                  "新值": display_value(f, derived[f.key].iloc[i], derived.iloc[i])} for f in fields if diff[f.key][i]]
        if geom is not None:
            rows.append({CODE_COLUMN: code, "类别": c.label, "字段": GEOMETRY_LABEL, "原值": "原几何", "新值": "新几何"})
    unchanged = int((checked.existing & ~any_change).sum())
    return changes, rows, problems, unchanged


def _stale(checked: Checked, i: int, code: str, file_version: int, current_version: int) -> Problem:
    who = checked.current["updated_by"].iloc[i] or "其他用户"
    when = checked.current["updated_at"].iloc[i]
    when_text = when.strftime("%Y-%m-%d %H:%M") if hasattr(when, "strftime") else ""
    return Problem("版本", f"图斑「{code}」在文件导出后已被 {who} 于 {when_text} 修改（当前版本 {current_version}，"
                         f"文件中为版本 {file_version}）；请重新导出最新台账再修改后导入，以免覆盖他人的修改",
                   row=int(checked.batch.rows[i]), file=checked.batch.file)


def _rows_text(rows) -> str:
    shown = "、".join(str(r) for r in rows[:ROWS_LISTED])
    return f"第 {shown}… 行，共 {len(rows)} 行" if len(rows) > ROWS_LISTED else f"第 {shown} 行"


def _duplicate_problems(checked: list[Checked]) -> list[Problem]:
    """One problem per code that appears more than once in the file (over all its layers), at its first
    row, naming the first few rows: one per occurrence, each listing all rows, grew with the square."""
    if not checked:
        return []
    found = pd.DataFrame({
        "code": np.concatenate([ch.derived["code"].to_numpy(dtype=object) for ch in checked]),
        "file": np.concatenate([np.full(len(ch.derived), ch.batch.file, dtype=object) for ch in checked]),
        "row": np.concatenate([ch.batch.rows for ch in checked]),
    }).dropna(subset=["code"])
    dupes = found[found["code"].duplicated(keep=False)]
    problems = []
    for code, places in dupes.groupby("code", sort=False):
        rows = places["row"].tolist()
        problems.append(Problem(checked[0].batch.category.field("code").label, f"编号「{code}」在文件中出现 {len(rows)} 次（{_rows_text(rows)}）",
                                row=int(rows[0]), file=places["file"].iloc[0]))
    return problems


def _capped(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return problems[:MAX_PROBLEMS] + [Problem("", f"另有 {len(problems) - MAX_PROBLEMS} 处问题未列出，请先改正以上问题")]


def _category_problems(checked: Checked, current: pd.DataFrame, labels: dict) -> list[Problem]:
    codes = checked.derived["code"].astype(object)
    stored = current["category"].reindex(codes).to_numpy(dtype=object)
    wrong = ~pd.isna(stored) & (stored != checked.batch.category.key)
    return [Problem(checked.batch.category.field("code").label, f"编号「{codes.iloc[i]}」已被「{labels[stored[i]]}」图斑使用，不能作为"
                                f"「{checked.batch.category.label}」导入", row=int(checked.batch.rows[i]), file=checked.batch.file)
            for i in np.flatnonzero(wrong)]


ADD_KEYS = ("code", "name", "route_code", "start_stake", "end_stake", "risk_grade")  # labelled from the schema
CODE_COLUMN = "code"  # the updates table's code column while it is built; labelled in ``_outcome``


def _add_columns(schema: Schema) -> tuple[str, ...]:
    return ("类别", *(schema.label(k) for k in ADD_KEYS), "文件", "行")


@dataclass
class NewRows:
    """What the adds table shows of one batch's new rows: not the batch itself, which is freed once
    the preview is made (the commit needs only ``ImportPreview.new``)."""
    category: Category
    file: str
    rows: np.ndarray  # as the file numbers them
    values: pd.DataFrame  # the ADD_KEYS columns and stake_prefix of those rows

    @classmethod
    def of(cls, checked: Checked, new: np.ndarray) -> "NewRows":
        keys = [k for k in (*ADD_KEYS, "stake_prefix") if k in checked.derived]
        return cls(checked.batch.category, checked.batch.file, checked.batch.rows[new],
                   checked.derived.loc[new, keys])


def _adds_table(added: NewRows) -> pd.DataFrame:
    d, c = added.values, added.category
    table = pd.DataFrame({"类别": c.label}, index=d.index)
    for key in ADD_KEYS:
        if key in d:
            table[c.field(key).label] = stake_column(d, key) if key.endswith("stake") else d[key]
    table["文件"] = added.file
    table["行"] = added.rows
    return table


def _routes(store) -> dict:
    routes = store.routes()
    return {code: (geom, float(start)) for code, geom, start in
            zip(routes["route_code"], routes.geometry, routes["start_stake_m"])}


def preview_import(store, path: str | Path, *, name: str | None = None, category: str | None = None,
                   crs: str | int | None = None, encoding: str | None = None,
                   limits: UploadLimits = DEFAULT_LIMITS) -> ImportPreview:
    """Read, check and compare a file with the ledger; writes nothing."""
    path = Path(path)
    name = name or path.name
    schema = store.schema
    if store.path is not None and path.resolve() == Path(store.path).resolve():
        raise ImportRefused([Problem("", "不能导入台账数据库文件本身", file=name)])
    check_file(path, name, limits)
    problems: list[Problem] = []
    try:
        user_crs = parse_crs(crs)
    except ValueError as exc:
        user_crs = None
        problems.append(Problem("坐标系", str(exc), file=name))
    user_category = schema.category(category).key if category else None
    custom = formats.reader_for(name)
    read = custom(path, name, schema) if custom else read_file(path, name, schema, encoding=encoding, limits=limits)
    problems += read.problems
    warnings = list(read.warnings)
    batches = _batches(read.layers, schema, user_category, user_crs, problems, warnings)
    del read  # the batches hold copies of the rows they take: the layers as read are freed before comparing
    batches, notes = take_patch_attributes(batches)
    return _compare(store, name, batches, problems, warnings + notes)


def _batches(layers: list, schema: Schema, user_category, user_crs, problems: list, warnings: list) -> list[Batch]:
    """Every layer's rows as batches by category (``layer_batches``); problems and warnings appended."""
    batches = []
    for layer in layers:
        b, p, w = layer_batches(layer, schema, user_category, user_crs)
        batches += b
        problems += p
        warnings += w
    return batches


def _compare(store, name: str, batches: list[Batch], problems: list[Problem], warnings: list[str]) -> ImportPreview:
    """Check every batch against the ledger as it is now (one read of the database)."""
    schema = store.schema
    current = store.read(include_archived=True)
    current = current.drop_duplicates("code").set_index("code", drop=False)
    routes = _routes(store) if any(shapely.is_missing(b.geoms).any() for b in batches) else {}
    labels = {c.key: c.label for c in schema.categories}
    checked = []
    for batch in batches:
        ch, p = _check_batch(batch, schema, current, routes)
        checked.append(ch)
        problems += p + _category_problems(ch, current, labels)
    problems[:0] = _duplicate_problems(checked)  # first: one line each, not lost beyond the cap
    if not batches and not problems:
        problems.append(Problem("", "文件中没有可导入的图斑", file=name))
    preview = _outcome(name, checked, problems, warnings, schema)
    if refused := _status_problems(store, checked, preview.changes):
        preview = dataclasses.replace(preview, problems=_capped(refused + preview.problems),
                                      n_problems=preview.n_problems + len(refused))
    return preview


def _status_problems(store, checked: list[Checked], changes: list[Change]) -> list[Problem]:
    """A new 整改状态 the patch's open hazards forbid: named in the preview, not first at the commit."""
    statuses = [c for c in changes if "rect_status" in c.values]
    if not statuses:
        return []
    where = {str(code): (ch.batch.file, int(ch.batch.rows[i]))
             for ch in checked for i, code in enumerate(ch.derived["code"]) if ch.existing[i]}
    found = []
    for change in statuses:
        file, row = where[change.code]
        found += [dataclasses.replace(p, file=file, row=row)
                  for p in store.status_change_problems(change.code, change.values["rect_status"])]
    return found


def _outcome(name: str, checked: list[Checked], problems: list[Problem], warnings: list[str],
             schema: Schema) -> ImportPreview:
    """The preview: rows to add (by category), field changes of existing patches, what stays the same."""
    added, updates, new, changes, unchanged = [], [], {}, [], 0
    notices = [n for ch in checked for n in ch.notices]
    warnings += [f"{n.file} 第 {n.row} 行 {n.field}：{n.message}" for n in notices[:MAX_NOTICE_LINES]]
    if len(notices) > MAX_NOTICE_LINES:
        warnings.append(f"…… 桩号与长度不符共 {len(notices)} 处，见问题表")
    for ch in checked:
        is_new = ~ch.existing & ch.derived["code"].notna().to_numpy()
        if is_new.any():
            added.append(NewRows.of(ch, is_new))
            keys = [f.key for f in ch.batch.category.editable_fields]
            frame = (ch.derived[keys] if is_new.all() else ch.derived.loc[is_new, keys]).reset_index(drop=True)
            _append_new(new, ch.batch.category.key, frame, ch.geoms[is_new])
        ch_changes, rows, p, same = _changes(ch, set(ch.batch.raw.columns))
        changes += ch_changes
        updates += rows
        problems += p
        unchanged += same
        if ch.existing.any() and bool(ch.current["archived"].fillna(False).astype(bool)[ch.existing].any()):
            warnings.append(f"{ch.batch.file}：部分图斑已归档，导入会更新其内容，但不会恢复")
    updates_table = pd.DataFrame(updates, columns=[CODE_COLUMN, "类别", "字段", "原值", "新值"])
    updates_table = updates_table.rename(columns={CODE_COLUMN: schema.label("code")})
    return ImportPreview(name, updates_table, unchanged, _capped(problems), warnings, new, changes, added,
                         _add_columns(schema), n_problems=len(problems), notices=_capped(notices))


def _append_new(new: dict, key: str, frame: pd.DataFrame, geoms: np.ndarray) -> None:
    if key in new:
        old_frame, old_geoms = new[key]
        frame = pd.concat([old_frame, frame], ignore_index=True)
        geoms = np.concatenate([old_geoms, geoms])
    new[key] = (frame, geoms)


def import_file(store, path: str | Path, user: str, **options) -> ImportPreview:
    """Preview and, if nothing is refused, commit. Raises ImportRefused listing every problem."""
    preview = preview_import(store, path, **options)
    preview.commit(store, user)
    return preview

