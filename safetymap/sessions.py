"""Server-side sign-in sessions. The browser holds a random token in an HttpOnly cookie; the database
keeps only its SHA-256. A session lasts while it is used (the idle limit), and ends at sign-out or as soon
as its account is disabled. Every check re-reads the account, so a new role applies at once.

Hand-off: the page script cannot set an HttpOnly cookie (it talks over a websocket), so sign-in makes a
session whose token is good for one exchange within ``HANDOFF_SECONDS``; the browser posts it to the
``/api/session`` route (``safetymap.ui.web``), which replaces it with a fresh token sent only as the cookie."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from .auth import User
from .clock import parse_utc, utc_text
from .errors import SessionEnded
from .store import Store

COOKIE = "safetymap_session"
HANDOFF_SECONDS = 60
DEFAULT_IDLE_MINUTES = 30
COLUMNS = ("token_hash", "name", "created_at", "last_seen", "expires_at", "handoff_until", "client")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.timezone.utc)


def start(store: Store, user: User, idle_seconds: float, client: str = "", *,
          now: dt.datetime | None = None) -> str:
    """A new session for ``user`` (just authenticated); returns its token (also the one-time hand-off code)."""
    now = _now(now)
    token = secrets.token_urlsafe(32)
    with store.transaction() as con:
        _prune(con, now)
        con.execute(f"INSERT INTO sessions ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (token_hash(token), user.name, utc_text(now), utc_text(now),
                     utc_text(now + dt.timedelta(seconds=idle_seconds)),
                     utc_text(now + dt.timedelta(seconds=HANDOFF_SECONDS)), client[:64]))
    return token


def exchange(store: Store, code: str, *, now: dt.datetime | None = None) -> str | None:
    """The hand-off: a fresh token for the cookie in place of ``code``, or None when the code is unknown,
    used already or too old. The old token stops working."""
    now = _now(now)
    fresh = secrets.token_urlsafe(32)
    with store.transaction() as con:
        cur = con.execute("UPDATE sessions SET token_hash = ?, handoff_until = NULL "
                          "WHERE token_hash = ? AND handoff_until IS NOT NULL AND handoff_until > ?",
                          (token_hash(fresh), token_hash(code or ""), utc_text(now)))
        return fresh if cur.rowcount == 1 else None


def resolve(store: Store, token: str | None, idle_seconds: float, *, touch: bool,
            now: dt.datetime | None = None) -> User:
    """The session's user as the account is now; SessionEnded (the session deleted) when the session is
    unknown, idle past the limit, or its account disabled or gone. ``touch`` (user activity) restarts the
    idle limit; a download or a save checks without touching."""
    if not token:
        raise SessionEnded("未登录")
    now = _now(now)
    key = token_hash(token)
    with store.transaction() as con:
        row = con.execute("SELECT s.expires_at, u.name, u.role, u.disabled FROM sessions s "
                          "LEFT JOIN users u ON u.name = s.name WHERE s.token_hash = ?", (key,)).fetchone()
        reason = _ended(row, now)
        if reason:
            con.execute("DELETE FROM sessions WHERE token_hash = ?", (key,))
            raise SessionEnded(reason)
        if touch:
            con.execute("UPDATE sessions SET last_seen = ?, expires_at = ? WHERE token_hash = ?",
                        (utc_text(now), utc_text(now + dt.timedelta(seconds=idle_seconds)), key))
    return User(row[1], row[2])


def _ended(row, now: dt.datetime) -> str | None:
    if row is None:
        return "登录已失效，请重新登录。"
    expires_at, name, _role, disabled = row
    if name is None or disabled:
        return "该账户已停用，请联系管理员。"
    if parse_utc(expires_at) <= now:
        return "长时间未操作，已自动退出，请重新登录。"
    return None


def end(store: Store, token: str | None) -> None:
    """Sign-out: the session is deleted, so its cookie no longer signs anyone in."""
    if token:
        with store.transaction() as con:
            con.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))


def end_all(con, name: str) -> None:
    """Every session of ``name`` (inside the caller's transaction: disabling an account)."""
    con.execute("DELETE FROM sessions WHERE name = ?", (name,))


def _prune(con, now: dt.datetime) -> None:
    con.execute("DELETE FROM sessions WHERE expires_at <= ?", (utc_text(now),))
