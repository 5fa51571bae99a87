"""HTTP routes beside the Streamlit page (served by ``st.App`` in ``app.py``): the sign-in hand-off that
sets the session cookie (a page script talks over a websocket and cannot set an HttpOnly cookie itself),
and the map's data: the ledger's patches of one revision, or the delta between two, for the browser-held
patch layer (``safetymap.mapdata``). The data is behind sign-in: the session cookie is checked on every
request (the map's iframe is same-origin, so its ``fetch`` carries the cookie)."""
from __future__ import annotations

import gzip
import logging
import threading
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import mapdata, sessions
from ..errors import SessionEnded
from ..backends import is_database_url
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


# ---------------------------------------------------------------- the map's data
IMMUTABLE = "private, max-age=31536000, immutable"  # a revision's payload never changes


def idle_seconds() -> float:
    from .session import idle_limit_seconds  # the page's setting (imports the page helpers only when asked)

    return idle_limit_seconds()


async def _signed_in(request: Request) -> Response | None:
    """None when the request carries a live session cookie; otherwise the refusal to send."""
    token = request.cookies.get(sessions.COOKIE)
    if not token:
        return PlainTextResponse("未登录：地图数据需要先登录。", status_code=401, headers={"Cache-Control": "no-store"})
    try:
        await run_in_threadpool(sessions.resolve, _store(), token, idle_seconds(), touch=False)
    except SessionEnded as ended:
        return PlainTextResponse(str(ended), status_code=403, headers={"Cache-Control": "no-store"})
    return None


def _payload(request: Request, body: bytes, etag: str) -> Response:
    """A gzip'd payload as is (or unpacked for a client that takes no gzip), cacheable for good."""
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE, "Vary": "Cookie, Accept-Encoding"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
    else:
        body = gzip.decompress(body)
    return Response(body, media_type="application/octet-stream", headers=headers)


async def patches(request: Request):
    """GET /api/patches/{level}/{token}: every patch of revision ``token``;
    GET /api/patches/{level}/{old}/{token}: only what changed since revision ``old``."""
    refused = await _signed_in(request)
    if refused is not None:
        return refused
    level, old, token = (request.path_params.get(k) for k in ("level", "old", "token"))
    location = _store().location
    try:
        await run_in_threadpool(_publish_current, token)
        if old is None:
            body = await run_in_threadpool(mapdata.full, location, token, level)
        else:
            body = await run_in_threadpool(mapdata.delta, location, old, token, level)
    except mapdata.Unknown:
        return PlainTextResponse("该版本的地图数据已不在服务器上，请刷新页面。", status_code=404,
                                 headers={"Cache-Control": "no-store"})
    return _payload(request, body, f'"{level}-{old or ""}-{token}"')


# ---------------------------------------------------------------- the map's view
async def report_view(request: Request):
    """POST /api/view/{key} {"z": …, "bounds": [w, s, e, n], "centre": [lat, lon]}: the map says where it
    is after a pan or zoom, so the page knows the view at its next run without a rerun of its own."""
    refused = await _signed_in(request)
    if refused is not None:
        return refused
    key = request.path_params["key"]
    try:
        view = mapdata.valid_view(await request.json())
    except ValueError:
        view = None
    if view is None or len(key) > 64:
        return PlainTextResponse("地图视野数据格式不对。", status_code=400)
    mapdata.remember_view(key, view)
    return Response(status_code=204)


def _publish_current(token: str) -> None:
    """When ``token`` is the ledger's current revision and not kept here yet (this process restarted, or
    another app server made the page), read and keep it as the map page does."""
    from .map_frame import load, publish_current, revision_token  # the page's own frame (its revision cache)

    store = _store()
    try:
        mapdata.revision(store.location, token)
        return
    except mapdata.Unknown:
        pass
    frame = load(store)
    if revision_token(frame) == token:
        publish_current(store, frame, prepare=False)


def warm_up() -> None:
    """Build what the map's first visitor would otherwise wait for: the page's frame, the roads and the
    coarse payload of the current revision (a ledger not made yet is left to the page, which makes it)."""
    from .map_frame import load_context, publish_current

    location = default_db_path()
    if not is_database_url(location) and not location.exists():
        return
    store = _store()
    publish_current(store, prepare=False).body("coarse")
    load_context(store)


@asynccontextmanager
async def lifespan(_app):
    """On start, the map's data is built in the background (``warm_up``); the server answers meanwhile."""
    threading.Thread(target=_warm_up_logged, daemon=True, name="mapdata-warm-up").start()
    yield


def _warm_up_logged() -> None:
    try:
        warm_up()
    except Exception:  # noqa: BLE001  (the first visitor builds it then, and sees the error if it recurs)
        logging.getLogger(__name__).exception("地图数据预先生成失败")


async def fine_cell(request: Request):
    """GET /api/patches/fine/{token}/cell/{cx}/{cy}: the fine level of one cell of revision ``token``."""
    refused = await _signed_in(request)
    if refused is not None:
        return refused
    token, cx, cy = request.path_params["token"], request.path_params["cx"], request.path_params["cy"]
    location = _store().location
    try:
        await run_in_threadpool(_publish_current, token)
        body = await run_in_threadpool(mapdata.fine_cell, location, token, cx, cy)
    except mapdata.Unknown:
        return PlainTextResponse("该版本的地图数据已不在服务器上，请刷新页面。", status_code=404,
                                 headers={"Cache-Control": "no-store"})
    return _payload(request, body, f'"fine-{token}-{cx}-{cy}"')


ROUTES = [Route("/api/session", start_session, methods=["POST"]),
          Route("/api/patches/fine/{token:str}/cell/{cx:int}/{cy:int}", fine_cell, methods=["GET"]),
          Route("/api/view/{key:str}", report_view, methods=["POST"]),
          Route("/api/patches/{level:str}/{token:str}", patches, methods=["GET"]),
          Route("/api/patches/{level:str}/{old:str}/{token:str}", patches, methods=["GET"])]
