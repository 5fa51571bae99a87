"""The store's hazard (隐患) records: many per patch, versioned, with their own history, photos and a
closure workflow enforced here (rules: ``safetymap.hazards``). Mixed into ``Store``."""
from __future__ import annotations

import pandas as pd

from . import hazards as rules
from .auth import User
from .backends.tables import hazard_column_defs
from .clock import now_utc, today, utc_text_to_local
from .errors import ConflictError, NotFound, Problem, StepRefused, ValidationError
from .values import differs, display_value, is_blank

HAZARD_KIND = "隐患"


class HazardLedger:
    """Hazard methods of ``Store`` (uses its backend, schema, ``_actor`` and ``_record``)."""

    @property
    def _hazard_spec(self):
        if self.schema.hazard is None:
            raise NotFound("隐患（schema 中没有 [hazard]）")
        return self.schema.hazard

    @property
    def _hazard_columns(self) -> list[str]:
        return list(hazard_column_defs(self.schema))  # the table as the schema declares it

    # ---------------------------------------------------------------- reading
    def _hazard_rows(self, con, where: str = "", params: tuple = ()) -> list[dict]:
        cols = self._hazard_columns
        rows = con.execute(f"SELECT {', '.join(cols)} FROM hazards{where} ORDER BY hazard_code", params).fetchall()
        return [self._hazard_record(dict(zip(cols, row))) for row in rows]

    def _hazard_record(self, row: dict) -> dict:
        event = self._hazard_spec.event
        for f in event.fields:
            if f.type == "date" and not is_blank(row[f.key]):
                row[f.key] = pd.Timestamp(row[f.key]).date()
        row["updated_at"] = utc_text_to_local(pd.Series([row["updated_at"]])).iloc[0]
        return row

    def _hazard(self, con, hazard_code: str) -> dict:
        found = self._hazard_rows(con, " WHERE hazard_code = ?", (hazard_code,))
        if not found:
            raise NotFound(hazard_code)
        return found[0]

    def hazard(self, hazard_code: str) -> dict:
        """One hazard as a dict: every declared field by key, plus code (the patch), status, version."""
        with self.backend.snapshot() as con:
            return self._hazard(con, hazard_code)

    def hazards(self, code: str | None = None) -> pd.DataFrame:
        """Hazards (all, or one patch's) as a DataFrame, one row each, columns by key."""
        with self.backend.snapshot() as con:
            rows = self._hazard_rows(con, *((" WHERE code = ?", (code,)) if code else ("", ())))
        return pd.DataFrame(rows, columns=self._hazard_columns)

    def hazard_history(self, hazard_code: str | None = None, *, code: str | None = None) -> pd.DataFrame:
        """History rows of one hazard, of every hazard of a patch (``code``), or all."""
        where, params = ((" WHERE hazard_code = ?", (hazard_code,)) if hazard_code else
                         (" WHERE code = ?", (code,)) if code else ("", ()))
        frame = self.backend.query_frame('SELECT id, hazard_code, code, version, action, field_key, field_label, '
                                         f'before, after, "user", at FROM hazard_history{where} ORDER BY id', params)
        frame["at"] = utc_text_to_local(frame["at"]).to_numpy()
        return frame

    def hazard_photos(self, hazard_code: str | None = None, *, code: str | None = None) -> pd.DataFrame:
        where, params = ((" WHERE hazard_code = ?", (hazard_code,)) if hazard_code else
                         (" WHERE code = ?", (code,)) if code else ("", ()))
        frame = self.backend.query_frame("SELECT id, hazard_code, code, mime, width, height, created_at, created_by "
                                         f"FROM hazard_photos{where} ORDER BY id", params)
        frame["created_at"] = utc_text_to_local(frame["created_at"]).to_numpy()
        return frame

    def hazard_photo_bytes(self, photo_id: int) -> bytes:
        row = self.backend.connection().execute("SELECT content FROM hazard_photos WHERE id = ?",
                                                (int(photo_id),)).fetchone()
        if row is None:
            raise NotFound(f"隐患照片 {photo_id}")
        return row[0]

    def hazard_steps(self, hazard: dict, user: User) -> list:
        """The workflow steps ``user`` may take from the hazard's status now (for the pages' buttons)."""
        return [s for s in self._hazard_spec.steps_from(hazard["status"]) if user.can(s.right)]

    def _patch_status_problems(self, con, patch: dict, status: str) -> list[Problem]:
        """The declared rules a new 整改状态 of ``patch`` would break beside its hazards, one Problem each."""
        if self.schema.hazard is None:
            return []
        c = self.schema.category(patch["category"])
        hazards = self._hazard_rows(con, " WHERE code = ?", (patch["code"],))
        found = rules.patch_contradictions(self._hazard_spec, patch | {"rect_status": status}, hazards,
                                           lambda k: c.field(k).label if k in c.keys else k, proposed=True)
        return [Problem(self.schema.label("rect_status"), text) for text in found]

    # ---------------------------------------------------------------- writing
    def add_hazard(self, code: str, values: dict, user: User | str, *,
                   photos: list[tuple[bytes, str, int, int]] = ()) -> dict:
        """Record a hazard on patch ``code`` (status 待整改, version 1), with prepared photos (see
        ``safetymap.photos``); 隐患编号 is the next free one when not given. Returns it as stored."""
        spec = self._hazard_spec
        with self.transaction() as con:
            name = self._actor(user, "inspect", con)
            try:
                patch = self._record(con, code)
            except NotFound:
                raise ValidationError([Problem(self.schema.label("code"), f"找不到图斑「{code}」")]) from None
            clean, problems = rules.clean_hazard(spec, patch["category"], dict(values))
            taken = [r[0] for r in con.execute("SELECT hazard_code FROM hazards WHERE code = ?", (code,))]
            clean["hazard_code"] = clean.get("hazard_code") or rules.next_code(code, taken)
            problems += [p for p in [rules.code_problem(spec, code, clean["hazard_code"])] if p]
            if con.execute("SELECT 1 FROM hazards WHERE hazard_code = ?", (clean["hazard_code"],)).fetchone():
                problems.append(Problem(rules.CODE_LABEL, f"编号「{clean['hazard_code']}」已存在"))
            if problems:
                raise ValidationError(problems)
            stamp = now_utc()
            row = {**clean, "code": code, "status": spec.first_status, "version": 1, "updated_at": stamp,
                   "updated_by": name}
            cols = self._hazard_columns
            con.execute(f"INSERT INTO hazards ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        [self._hazard_sql(k, row.get(k)) for k in cols])
            self._hazard_log(con, row, "insert", [], name, stamp)
            con.executemany("INSERT INTO hazard_photos (hazard_code, code, mime, width, height, content, created_at, "
                            "created_by) VALUES (?,?,?,?,?,?,?,?)",
                            [(row["hazard_code"], code, mime, w, h, data, stamp, name) for data, mime, w, h in photos])
            return self._hazard(con, row["hazard_code"])

    def update_hazard(self, hazard_code: str, changes: dict, expected_version: int, user: User | str) -> dict:
        """Change a hazard's fields (not its status: see ``move_hazard``) if nobody saved since
        ``expected_version``; raises ConflictError otherwise."""
        if "status" in changes:
            raise StepRefused("隐患状态只能按整改流程逐步变更（待整改 → 整改中 → 待验收 → 已销号）。")
        with self.backend.snapshot() as con:  # validated before the write lock is taken (see Store.update)
            current = self._hazard(con, hazard_code)
            planned = self._hazard_change(con, current, changes) if current["version"] == expected_version else None
        with self.transaction() as con:
            name = self._actor(user, "edit", con)
            if planned is None or self._hazard_version_now(con, hazard_code) != current["version"]:
                current = self._current_hazard(con, hazard_code, expected_version)
                planned = self._hazard_change(con, current, changes)
            self._write_hazard_change(con, current, *planned, name, "update")
            return self._hazard(con, hazard_code)

    def move_hazard(self, hazard_code: str, to_status: str, expected_version: int, user: User | str, *,
                    opinion: str | None = None, values: dict | None = None) -> dict:
        """Take one workflow step (the schema's [[hazard.steps]]), with the right it needs, the fields it
        requires (``opinion`` is 验收意见) and its checks (五到位, contradiction rules)."""
        spec = self._hazard_spec
        given = dict(values or {}) | ({"accept_opinion": opinion} if opinion is not None else {})
        with self.transaction() as con:
            current = self._current_hazard(con, hazard_code, expected_version)
            s = rules.step(spec, current["status"], to_status)
            name = self._actor(user, s.right, con)
            given = rules.filled(s, current, given, name, today())
            after = current | rules.clean_hazard(spec, "", given, partial=True)[0]
            patch = self._record(con, current["code"])
            c = self.schema.category(patch["category"])
            why = rules.refusal(spec, s, after, patch, lambda k: c.field(k).label if k in c.keys else k)
            if why:
                raise StepRefused(why)
            self._write_hazard(con, current, given | {"status": s.target}, name, "move")
            return self._hazard(con, hazard_code)

    def _current_hazard(self, con, hazard_code: str, expected_version: int) -> dict:
        current = self._hazard(con, hazard_code)
        if current["version"] != expected_version:
            raise ConflictError(hazard_code, expected_version, current, kind=HAZARD_KIND)
        return current

    @staticmethod
    def _hazard_version_now(con, hazard_code: str) -> int | None:
        row = con.execute("SELECT version FROM hazards WHERE hazard_code = ?", (hazard_code,)).fetchone()
        return None if row is None else row[0]

    def _write_hazard(self, con, current: dict, changes: dict, name: str, action: str) -> None:
        self._write_hazard_change(con, current, *self._hazard_change(con, current, changes), name, action)

    def _hazard_change(self, con, current: dict, changes: dict) -> tuple[list, dict]:
        """The keys that change and their clean values, validated (reads only the patch's category)."""
        spec = self._hazard_spec
        category = self._record(con, current["code"])["category"]
        status = changes.get("status")
        fields = {k: v for k, v in changes.items() if k != "status"}
        if "hazard_code" in fields and str(fields["hazard_code"]).strip() != current["hazard_code"]:
            raise ValidationError([Problem(rules.CODE_LABEL, "隐患编号不能修改")])
        clean, problems = rules.clean_hazard(spec, category, fields, partial=True)
        missing = [spec.event.field(k).label for k in spec.event.keys
                   if spec.event.field(k).required and is_blank(clean.get(k, current[k]))]
        problems += [Problem(label, "必须填写") for label in missing]
        if problems:
            raise ValidationError(problems)
        changed = [k for k, v in clean.items() if differs(spec.event.field(k), current[k], v)]
        if status is not None and status != current["status"]:
            changed.append("status")
            clean["status"] = status
        return changed, clean

    def _write_hazard_change(self, con, current: dict, changed: list, clean: dict, name: str, action: str) -> None:
        if not changed:
            return
        stamp, version = now_utc(), current["version"] + 1
        sets = ", ".join(f"{k} = ?" for k in changed)
        con.execute(f"UPDATE hazards SET {sets}, version = ?, updated_at = ?, updated_by = ? "
                    "WHERE hazard_code = ? AND version = ?",
                    [*(self._hazard_sql(k, clean[k]) for k in changed), version, stamp, name,
                     current["hazard_code"], current["version"]])
        self._hazard_log(con, current | {"version": version}, action,
                         [(k, current[k], clean[k]) for k in changed], name, stamp)

    def _hazard_label(self, key: str) -> str:
        return "状态" if key == "status" else self._hazard_spec.event.field(key).label

    def _hazard_sql(self, key: str, value):
        if is_blank(value):
            return None
        if key in self._hazard_spec.event.keys and self._hazard_spec.event.field(key).type == "date":
            return pd.Timestamp(value).strftime("%Y-%m-%d")
        return value

    def _hazard_log(self, con, hazard: dict, action: str, changes: list, name: str, stamp: str) -> None:
        event = self._hazard_spec.event
        shown = lambda k, v: display_value(event.field(k) if k in event.keys else None, v)  # noqa: E731
        rows = [(hazard["hazard_code"], hazard["code"], hazard["version"], action, k, self._hazard_label(k),
                 shown(k, before), shown(k, after), name, stamp) for k, before, after in changes]
        rows = rows or [(hazard["hazard_code"], hazard["code"], hazard["version"], action, None, None, None, None,
                         name, stamp)]
        con.executemany('INSERT INTO hazard_history (hazard_code, code, version, action, field_key, field_label, '
                        'before, after, "user", at) VALUES (?,?,?,?,?,?,?,?,?,?)', rows)
