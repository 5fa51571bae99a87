"""Local accounts: argon2 password hashes, roles, slowed and then locked repeated failures, and the
first administrator. Raw rows live in the store; the policy lives here."""
from __future__ import annotations

import datetime as dt
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .auth import ROLES, User, actor
from .errors import PermissionDenied, Problem, ValidationError
from .clock import CHINA_TZ, now_utc, parse_utc, utc_text
from .store import Store

MIN_PASSWORD_LENGTH = 8
MAX_FAILURES = 5  # then the account is locked
LOCK_MINUTES = 15
SLOW_AFTER = 3  # from the third failure on, each next try must wait
SLOW_SECONDS = 5
NAME_RE = re.compile(r"^[\w\u4e00-\u9fff.-]{2,32}$")
_hasher = PasswordHasher()


class LoginRefused(PermissionDenied):
    pass


def _utc(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.timezone.utc)


def _check_new(name: str, role: str, password: str) -> None:
    problems = []
    if not NAME_RE.match(name or ""):
        problems.append(Problem("用户名", "须为 2–32 个汉字、字母、数字或 . _ -"))
    if role not in ROLES:
        problems.append(Problem("角色", f"「{role}」不是可用角色（{'、'.join(ROLES)}）"))
    problems += _password_problems(password)
    if problems:
        raise ValidationError(problems)


def _password_problems(password: str) -> list[Problem]:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return [Problem("密码", f"至少 {MIN_PASSWORD_LENGTH} 个字符")]
    return []


def add_user(store: Store, name: str, role: str, password: str, by: User | str) -> None:
    by_name = actor(by, "users")
    _check_new(name, role, password)
    with store.transaction() as con:
        if store.user_row(name, con):
            raise ValidationError([Problem("用户名", f"用户「{name}」已存在")])
        store.put_user_row({"name": name, "role": role, "password_hash": _hasher.hash(password), "disabled": 0,
                            "failed_logins": 0, "created_at": now_utc()}, con)
        store.log(by_name, "user_add", f"{name}（{ROLES[role]}）", con)


def create_first_admin(store: Store, name: str, password: str) -> User:
    """The first administrator, from the first-run form: refused as soon as any user exists."""
    _check_new(name, "admin", password)
    with store.transaction() as con:
        if store.user_count(con):
            raise PermissionDenied("已有用户，首次设置已关闭；请由管理员添加用户")
        store.put_user_row({"name": name, "role": "admin", "password_hash": _hasher.hash(password), "disabled": 0,
                            "failed_logins": 0, "created_at": now_utc()}, con)
        store.log(name, "user_add", f"{name}（管理，首次设置）", con)
    return User(name, "admin")


def _existing(store: Store, name: str, con) -> dict:
    row = store.user_row(name, con)
    if row is None:
        raise ValidationError([Problem("用户名", f"没有用户「{name}」")])
    return row


def set_password(store: Store, name: str, password: str, by: User | str) -> None:
    by_name = actor(by, "users") if not (isinstance(by, User) and by.name == name) else name
    problems = _password_problems(password)
    if problems:
        raise ValidationError(problems)
    with store.transaction() as con:
        row = _existing(store, name, con)
        row.update(password_hash=_hasher.hash(password), failed_logins=0, not_before=None, locked_until=None)
        store.put_user_row(row, con)
        store.log(by_name, "user_password", name, con)


def set_disabled(store: Store, name: str, disabled: bool, by: User | str) -> None:
    by_name = actor(by, "users")
    with store.transaction() as con:
        row = _existing(store, name, con)
        row["disabled"] = int(disabled)
        store.put_user_row(row, con)
        store.log(by_name, "user_disable" if disabled else "user_enable", name, con)


def set_role(store: Store, name: str, role: str, by: User | str) -> None:
    by_name = actor(by, "users")
    if role not in ROLES:
        raise ValidationError([Problem("角色", f"「{role}」不是可用角色（{'、'.join(ROLES)}）")])
    with store.transaction() as con:
        row = _existing(store, name, con)
        row["role"] = role
        store.put_user_row(row, con)
        store.log(by_name, "user_role", f"{name} → {ROLES[role]}", con)


def authenticate(store: Store, name: str, password: str, *, now: dt.datetime | None = None) -> User:
    """The user, if the password is right and the account usable; LoginRefused (saying why) otherwise.
    From the third failure each try must wait a little longer; the fifth locks the account a while."""
    now = _utc(now)
    with store.transaction() as con:
        row = store.user_row(name, con)
        refusal = _refusal(row, now)
        if refusal is None and _verify(row["password_hash"], password):
            row.update(failed_logins=0, not_before=None, locked_until=None, last_login=utc_text(now))
            store.put_user_row(row, con)
            store.log(name, "login", "", con)
            return User(row["name"], row["role"])
        if refusal is None and row is not None:
            refusal = _record_failure(row, now)
            store.put_user_row(row, con)
        store.log(name or "?", "login_failed", refusal or "用户名或密码错误", con)
    raise LoginRefused(refusal or "用户名或密码错误")


def _refusal(row: dict | None, now: dt.datetime) -> str | None:
    if row is None:
        return "用户名或密码错误"
    if row["disabled"]:
        return "该账户已停用，请联系管理员"
    locked = parse_utc(row["locked_until"])
    if locked and locked > now:
        return f"密码错误次数过多，账户已锁定至 {locked.astimezone(CHINA_TZ):%H:%M}"
    wait = parse_utc(row["not_before"])
    if wait and wait > now:
        return f"尝试过于频繁，请 {int((wait - now).total_seconds()) + 1} 秒后再试"
    return None


def _record_failure(row: dict, now: dt.datetime) -> str:
    locked = parse_utc(row["locked_until"])
    failures = 0 if (locked and locked <= now) else int(row["failed_logins"])
    failures += 1
    row.update(failed_logins=failures, locked_until=None, not_before=None)
    if failures >= MAX_FAILURES:
        row["locked_until"] = utc_text(now + dt.timedelta(minutes=LOCK_MINUTES))
        return f"密码连续错误 {failures} 次，账户锁定 {LOCK_MINUTES} 分钟"
    if failures >= SLOW_AFTER:
        row["not_before"] = utc_text(now + dt.timedelta(seconds=SLOW_SECONDS * 2 ** (failures - SLOW_AFTER)))
    return "用户名或密码错误"


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def unlock(store: Store, name: str, by: User | str) -> None:
    """Lift a lock (and the waiting time) left by wrong passwords, so the user can sign in again at once;
    the password and the disabled flag stay as they are."""
    by_name = actor(by, "users")
    with store.transaction() as con:
        row = _existing(store, name, con)
        row.update(failed_logins=0, not_before=None, locked_until=None)
        store.put_user_row(row, con)
        store.log(by_name, "user_unlock", name, con)
