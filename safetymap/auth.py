"""Users and roles. The checks live here and are called by the store and the core, so a call without
the right role is refused there, not only hidden in the pages."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .errors import PermissionDenied

ROLES = {"viewer": "查看", "inspector": "巡查", "editor": "编辑", "safety": "安全科", "admin": "管理"}
ACTIONS = {
    "read": ("viewer", "inspector", "editor", "safety", "admin"),
    "inspect": ("inspector", "editor", "safety", "admin"),  # inspections, fog events, reporting a hazard
    "edit": ("editor", "admin"),
    "import": ("editor", "admin"),
    "export": ("editor", "safety", "admin"),
    "accept": ("safety", "admin"),  # 验收: close a hazard (销号) or send it back to 整改中
    "archive": ("admin",),
    "users": ("admin",),
    "settings": ("admin",),
}
ACTION_LABELS = {"read": "查看台账", "inspect": "巡查上报", "edit": "修改图斑", "import": "导入", "export": "导出", "accept": "验收销号隐患",
                 "archive": "归档或恢复图斑", "users": "管理用户", "settings": "修改设置"}


@dataclass(frozen=True)
class User:
    """Who acts. A web session's user carries ``recheck``: asked again at every write and export (also from
    a download built on another thread), it returns the account as it is now, or raises PermissionDenied
    once the session has ended, expired or the account was disabled."""

    name: str
    role: str
    recheck: Callable[[], "User"] | None = field(default=None, compare=False, repr=False)

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)

    def can(self, action: str) -> bool:
        return self.role in ACTIONS[action]


def actor(user: User | str, action: str) -> str:
    """The name to record for ``user`` doing ``action``; raises PermissionDenied if the role may not.
    A plain name stands for a trusted local process (the command line, scripts), which has file access
    to the database anyway."""
    if isinstance(user, User):
        if user.recheck is not None:
            user = user.recheck()
        if not user.can(action):
            raise PermissionDenied(f"用户「{user.name}」（{user.role_label}）无权{ACTION_LABELS[action]}")
        return user.name
    if not str(user).strip():
        raise PermissionDenied("未登录，不能写入")
    return str(user)
