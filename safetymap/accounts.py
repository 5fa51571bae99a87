"""Local accounts: argon2 password hashes, roles, slowed and then locked repeated failures, and the
first administrator. Raw rows live in the store; the policy lives here."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .auth import ROLES, User, actor
from .errors import LoginRefused, PermissionDenied, Problem, ValidationError
from .clock import CHINA_TZ, now_utc, parse_utc, utc_text
from .sessions import end_all
from .store import Store

MIN_PASSWORD_LENGTH = 8
MAX_FAILURES = 5  # then the account is locked
LOCK_MINUTES = 15
SLOW_AFTER = 3  # from the third failure on, each next try must wait
SLOW_SECONDS = 5
NAME_RE = re.compile(r"^[\w\u4e00-\u9fff.-]{2,32}$")
MAX_NAME_LENGTH = 64  # a typed sign-in name longer than this is refused before any lookup
MAX_CLIENT_LENGTH = 64
ADDRESS_SLOW_AFTER = 20  # failures from one address (any account) before that address is slowed
ADDRESS_MAX_WAIT = 60
THROTTLE_FORGET = dt.timedelta(hours=1)  # failure counts untouched this long are dropped
_hasher = PasswordHasher()


@functools.cache
def dummy_hash() -> str:
    """What an unknown name is checked against, so that it costs the same argon2 check (made when first
    needed: hashing takes ~0.14 s, which every command-line run would pay at import)."""
    return _hasher.hash("safetymap: no such account")


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
        same = _account(store, name, con)
        if same:
            raise ValidationError([Problem("用户名", f"用户「{same['name']}」已存在（用户名不区分大小写）")])
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
        if disabled:
            end_all(con, name)
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


def authenticate(store: Store, name: str, password: str, *, client: str = "",
                 now: dt.datetime | None = None) -> User:
    """The user, if the password is right and the account usable; LoginRefused (saying why) otherwise.

    Repeated failures are slowed and then locked per (account, client address), so a stranger elsewhere
    cannot keep an account locked; many failures from one address slow that address. An unknown name
    costs the same argon2 check and gets the same answers as a known one, and is logged only as a short
    hash (it may be a password typed into the wrong field)."""
    now = _utc(now)
    name = (name or "").strip()
    client = (client or "")[:MAX_CLIENT_LENGTH]
    with store.transaction() as con:
        row = _account(store, name, con) if _name_usable(name) else None
        keys = (_pair_key(name, client), _address_key(client))
        refusal = _throttled(con, keys, now)
        if refusal is None:
            right = _verify(row["password_hash"] if row else dummy_hash(), password) and row is not None
            if right and not row["disabled"]:
                return _signed_in(store, row, con, keys[0], now)
            refusal = "该账户已停用，请联系管理员" if right else _record_failures(con, keys, now)
            if not right and row is not None:
                row["failed_logins"] = int(row["failed_logins"]) + 1
                store.put_user_row(row, con)
        store.log(_logged_name(name, row), "login_failed", refusal, con)
    raise LoginRefused(refusal)


def _signed_in(store: Store, row: dict, con, pair_key: str, now: dt.datetime) -> User:
    row.update(failed_logins=0, not_before=None, locked_until=None, last_login=utc_text(now))
    store.put_user_row(row, con)
    con.execute("DELETE FROM login_throttle WHERE key = ?", (pair_key,))
    store.log(row["name"], "login", "", con)
    return User(row["name"], row["role"])


def _name_usable(name: str) -> bool:
    return 0 < len(name) <= MAX_NAME_LENGTH and name.isprintable()


def _account(store: Store, name: str, con) -> dict | None:
    """The account whose name equals ``name`` regardless of case."""
    found = con.execute("SELECT name FROM users WHERE lower(name) = ?", (name.lower(),)).fetchone()
    return store.user_row(found[0], con) if found else None


def _logged_name(name: str, row: dict | None) -> str:
    """What the audit log records for a failed sign-in: the account, or for an unknown name only a short
    hash (the typed text may be a password, a formula or megabytes of junk)."""
    if row is not None:
        return row["name"]
    return f"未知用户名#{hashlib.sha256(name.encode('utf-8', 'replace')).hexdigest()[:8]}"


def _account_key(name: str) -> str:
    return hashlib.sha256(name.lower().encode("utf-8", "replace")).hexdigest()[:24]


def _pair_key(name: str, client: str) -> str:
    return f"{_account_key(name)}|{client}"


def _address_key(client: str) -> str:
    return f"*|{client}"


def _throttle_row(con, key: str) -> dict:
    row = con.execute("SELECT failures, not_before, locked_until, updated_at FROM login_throttle WHERE key = ?",
                      (key,)).fetchone()
    return dict(zip(("failures", "not_before", "locked_until", "updated_at"), row or (0, None, None, None)))


def _throttled(con, keys: tuple[str, str], now: dt.datetime) -> str | None:
    for key in keys:
        row = _throttle_row(con, key)
        locked = parse_utc(row["locked_until"])
        if locked and locked > now:
            return f"密码错误次数过多，已锁定至 {locked.astimezone(CHINA_TZ):%H:%M}，请稍后再试或联系管理员"
        wait = parse_utc(row["not_before"])
        if wait and wait > now:
            return f"尝试过于频繁，请 {int((wait - now).total_seconds()) + 1} 秒后再试"
    return None


def _record_failures(con, keys: tuple[str, str], now: dt.datetime) -> str:
    con.execute("DELETE FROM login_throttle WHERE updated_at < ?", (utc_text(now - THROTTLE_FORGET),))
    pair = _count_failure(con, keys[0], now)
    address = _count_failure(con, keys[1], now)
    if pair >= MAX_FAILURES:
        _put_throttle(con, keys[0], pair, None, utc_text(now + dt.timedelta(minutes=LOCK_MINUTES)), now)
        return f"密码连续错误 {pair} 次，已锁定 {LOCK_MINUTES} 分钟"
    if pair >= SLOW_AFTER:
        wait = SLOW_SECONDS * 2 ** (pair - SLOW_AFTER)
        _put_throttle(con, keys[0], pair, utc_text(now + dt.timedelta(seconds=wait)), None, now)
    if address >= ADDRESS_SLOW_AFTER:
        wait = min(ADDRESS_MAX_WAIT, SLOW_SECONDS * (address - ADDRESS_SLOW_AFTER + 1))
        _put_throttle(con, keys[1], address, utc_text(now + dt.timedelta(seconds=wait)), None, now)
    return "用户名或密码错误"


def _count_failure(con, key: str, now: dt.datetime) -> int:
    """The key's failures including this one; a lock that has run out starts the count again."""
    row = _throttle_row(con, key)
    locked = parse_utc(row["locked_until"])
    failures = (0 if locked and locked <= now else int(row["failures"])) + 1
    _put_throttle(con, key, failures, None, None, now)
    return failures


def _put_throttle(con, key: str, failures: int, not_before, locked_until, now: dt.datetime) -> None:
    con.execute("INSERT INTO login_throttle (key, failures, not_before, locked_until, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, "
                "not_before = excluded.not_before, locked_until = excluded.locked_until, "
                "updated_at = excluded.updated_at", (key, failures, not_before, locked_until, utc_text(now)))


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
        con.execute("DELETE FROM login_throttle WHERE key LIKE ?", (f"{_account_key(name)}|%",))  # every address
        store.log(by_name, "user_unlock", name, con)


def locks(store: Store, names, now: dt.datetime | None = None) -> dict[str, dt.datetime]:
    """For each of ``names`` locked (from any address) or made to wait by wrong passwords: until when (UTC)."""
    now = _utc(now)
    out = {}
    with store.transaction() as con:
        for name in names:
            rows = con.execute("SELECT locked_until, not_before FROM login_throttle WHERE key LIKE ?",
                               (f"{_account_key(name)}|%",)).fetchall()
            until = [parse_utc(v) for row in rows for v in row if v]
            until = [u for u in until if u > now]
            if until:
                out[name] = max(until)
    return out
