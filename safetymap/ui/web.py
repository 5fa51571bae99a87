"""HTTP routes beside the Streamlit page (served by ``st.App`` in ``app.py``): the sign-in hand-off that
sets the session cookie. A page script talks over a websocket and cannot set an HttpOnly cookie itself."""
from __future__ import annotations

from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Route

from .. import sessions
from ..seed import default_db_path
from ..store import Store, open_store

_stores: dict[str, Store] = {}


def _store() -> Store:
    """The ledger named by the settings, opened once per process (created by the page on first run)."""
    location = str(default_db_path())
    if location not in _stores:
        _stores[location] = open_store(default_db_path())
    return _stores[location]


def safe_next(target: str) -> str:
    """A path on this server only: never ``//other.host`` or ``https://…`` (no open redirect)."""
    parts = urlsplit(target or "/")
    if parts.scheme or parts.netloc or not (target or "/").startswith("/") or target.startswith("//"):
        return "/"
    return target


def _same_origin(request: Request) -> bool:
    """Browsers send Origin with a form POST: another site must not sign this browser in (login CSRF)."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


async def _form(request: Request) -> dict:
    form = await request.form()
    return {key: str(form.get(key) or "") for key in ("code", "next")}


def session_cookie(request: Request, response, token: str) -> None:
    response.set_cookie(sessions.COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")


async def start_session(request: Request):
    """POST code=<one-time sign-in code>&next=<path>: the cookie with a fresh token, then back to the page."""
    if not _same_origin(request):
        return PlainTextResponse("请求来源不符。", status_code=403)
    fields = await _form(request)
    token = await _run(sessions.exchange, fields["code"])
    if token is None:
        return PlainTextResponse("登录链接已失效，请重新登录。", status_code=403)
    response = RedirectResponse(safe_next(fields["next"]), status_code=303)
    session_cookie(request, response, token)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _run(func, *args):
    """Database work off the event loop."""
    return await run_in_threadpool(func, _store(), *args)


ROUTES = [Route("/api/session", start_session, methods=["POST"])]
