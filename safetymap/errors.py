"""Exceptions named for their cause. The core raises them; pages show them beside the input;
the CLI prints them as one line and exits non-zero. Messages are Chinese, for the bureau's staff."""
from __future__ import annotations

from dataclasses import dataclass


class SafetymapError(Exception):
    """Base of every error the core raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem with one value: where it is (file, row), which field, what is wrong."""

    field: str  # the field's Chinese label (or "几何" for geometry)
    message: str
    row: int | None = None  # 1-based data row in the input, when there is one
    file: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(f"文件 {self.file}")
        if self.row is not None:
            where.append(f"第 {self.row} 行")
        if self.field:
            where.append(f"字段「{self.field}」")
        prefix = "，".join(where)
        return f"{prefix}：{self.message}" if prefix else self.message


class ValidationError(SafetymapError):
    """Input that breaks the schema. Carries every problem at once, not just the first."""

    prefix = "数据有误，未保存"

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        shown = "；".join(str(p) for p in self.problems[:5])
        more = f"（另有 {len(self.problems) - 5} 处问题）" if len(self.problems) > 5 else ""
        super().__init__(f"{self.prefix}：{shown}{more}")


class RequestError(ValidationError):
    """A request (export filter, report period, output file) that cannot be carried out; nothing is saved
    either way, so the message does not say so."""

    prefix = "请求有误"


class ImportRefused(ValidationError):
    """A file that cannot be imported; nothing of it was written."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems)
        shown = "；".join(str(p) for p in self.problems[:5])
        more = f"（另有 {len(self.problems) - 5} 处问题）" if len(self.problems) > 5 else ""
        self.args = (f"导入被拒绝，未写入任何数据：{shown}{more}",)


class UnknownCategory(ValidationError):
    def __init__(self, name: str, known: list[str]):
        super().__init__([Problem("类别", f"未知类别「{name}」，可选：{'、'.join(known)}")])


class NotFound(SafetymapError):
    def __init__(self, code: str):
        self.code = code
        super().__init__(f"找不到图斑「{code}」")


class ConflictError(SafetymapError):
    """A save based on an older version. Carries the newer record, and who saved it when."""

    def __init__(self, code: str, expected_version: int, current: dict, kind: str = "图斑"):
        self.code = code
        self.expected_version = expected_version
        self.current = current
        who = current.get("updated_by") or "未知用户"
        when = current.get("updated_at")
        when_text = when.strftime("%Y-%m-%d %H:%M:%S") if hasattr(when, "strftime") else str(when)
        super().__init__(
            f"{kind}「{code}」已被 {who} 于 {when_text} 修改（当前版本 {current.get('version')}，"
            f"您编辑的是版本 {expected_version}），本次保存未写入。请对照最新内容后重试。"
        )


class PermissionDenied(SafetymapError):
    pass


class StepRefused(SafetymapError):
    """A hazard's status move the closure workflow does not allow: one sentence naming the rule."""


class SessionEnded(PermissionDenied):
    """A web session that is over: signed out, idle too long, or the account disabled."""

    def __init__(self, reason: str = "登录已失效，请重新登录"):
        super().__init__(reason)


class DatabaseExists(SafetymapError):
    def __init__(self, path, hint: str = "如需覆盖请加 --force"):
        super().__init__(f"文件 {path} 已存在；{hint}")


class DatabaseMissing(SafetymapError):
    def __init__(self, path):
        super().__init__(f"数据库文件 {path} 不存在；请先运行 python -m safetymap init --db {path}")


class LedgerMissing(DatabaseMissing):
    """A PostgreSQL database with no ledger in it."""

    def __init__(self, shown_location: str):
        SafetymapError.__init__(self, f"数据库 {shown_location} 中没有台账；请先运行 python -m safetymap init --db <地址>，"
                                      "或用 python -m safetymap migrate 迁入已有台账")


class LedgerExists(DatabaseExists):
    def __init__(self, shown_location: str, hint: str = "如需覆盖请加 --force"):
        SafetymapError.__init__(self, f"数据库 {shown_location} 中已有台账；{hint}")


class DatabaseUnavailable(SafetymapError):
    """The PostgreSQL server cannot be reached, or lacks PostGIS."""


class BackupUnsupported(SafetymapError):
    pass


class MigrationRefused(SafetymapError):
    pass


class SchemaError(SafetymapError, ValueError):
    """A schema file (schema.toml) that cannot be used: names the file, the entry and the problem."""

    def __init__(self, file, entry: str, problem: str):
        self.file, self.entry, self.problem = str(file), entry, problem
        super().__init__(f"台账定义文件 {self.file} 有误：{entry}：{problem}")


class CompatError(SafetymapError):
    """A private name of another package that this code relies on is gone (that package changed)."""

    def __init__(self, package: str, name: str, installed: str | None, checked: str):
        self.package, self.name, self.installed, self.checked = package, name, installed, checked
        super().__init__(
            f"已安装的 {package} {installed or '（未安装）'} 没有 {name}（本程序按 {checked} 检查过）；"
            f"请安装 {package}=={checked}。 {package} {installed} lacks {name} (checked against {checked})")


class TileError(SafetymapError, ValueError):
    """A local tile source that cannot be served (missing, unknown format, vector tiles)."""


class LoginRefused(PermissionDenied):
    """A sign-in refused: wrong name or password, locked or disabled account."""


class KmlTooDeep(ValueError):
    """MultiGeometry or Folder elements of an uploaded KML nested deeper than the reader allows."""

    def __init__(self, what: str, limit: int):
        self.what = what
        super().__init__(f"{what} nested deeper than {limit} levels")


class ReaderFailed(RuntimeError):
    """The reading process raised an error that is not about the file (a bug): carries its traceback."""
