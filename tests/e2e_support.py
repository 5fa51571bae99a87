"""Shared helpers for end-to-end tests in a real browser.

- ``AppServer``: the real app (``streamlit run app.py``) on a free port, on its own database file, polled
  on ``/_stcore/health``, stopped (with its child processes) afterwards.
- ``require_browser()`` / the ``chromium`` fixture: Debian's ``/usr/bin/chromium`` driven by Playwright
  (no browser download). Without it a test is skipped with the reason — but fails when
  ``SAFETYMAP_REQUIRE_BROWSER=1`` (set by ``.ci/run``), so nothing is skipped in CI.
- ``NetworkLog``: every request and websocket a browser context opens; requests to any host but the
  app's are refused (this machine has no internet anyway) and reported.
- Streamlit and map helpers: sign in, open a page from the sidebar, wait for a rerun to finish, open an
  expander and wait until it has opened, find the ``st_folium`` map frame, the screen point of a map
  coordinate, the patches drawn.

Use in a test module::

    from e2e_support import chromium  # noqa: F401  (pytest fixture)
    import e2e_support as e2e

    def test_something(chromium, sample_db, tmp_path):
        db = e2e.copy_database(sample_db, tmp_path)
        with e2e.AppServer(db) as app:
            context = chromium.new_context(viewport={"width": 1400, "height": 900})
            log = e2e.NetworkLog(context, app.url)
            ...
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"  # git-ignored: screenshots
CHROMIUM = Path(os.environ.get("SAFETYMAP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
REQUIRE_ENV = "SAFETYMAP_REQUIRE_BROWSER"
# Settings that would change what the app shows or fetches: tests start without them unless given.
SCRUBBED_ENV = ("SAFETYMAP_TIANDITU_KEY", "SAFETYMAP_LOCAL_TILES", "SAFETYMAP_BASEMAP", "SAFETYMAP_SCHEMA")
MAP_PATH = "map"
MAP_TITLE = "地图"
MAP_FRAME = 'iframe[title*="st_folium"]'


# ---------------------------------------------------------------- skip or fail
def browser_missing_reason() -> str | None:
    """Why a browser test cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (install the Debian package chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"the playwright package is missing: {exc}"
    return None


def require_browser() -> None:
    """Skip the calling test when no browser can run — or fail, when the environment requires one."""
    reason = browser_missing_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
    pytest.skip(reason)


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium for the whole test module (import this fixture into the module)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        yield browser
        browser.close()


# ---------------------------------------------------------------- the app
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_database(source: Path, folder: Path, name: str = "e2e.gpkg") -> Path:
    """A private copy of a (checkpointed) database file for one app run."""
    target = Path(folder) / name
    shutil.copy(source, target)
    return target


def add_user(store, name: str, role: str, password: str) -> None:
    """A user made as the command line would (trusted local process)."""
    from safetymap import accounts

    accounts.add_user(store, name, role, password, "测试")


class AppServer:
    """``streamlit run app.py`` on a free port with ``SAFETYMAP_DB`` = ``db``; a context manager."""

    def __init__(self, db: Path, *, env: dict | None = None, port: int | None = None, timeout: float = 90,
                 folder: Path = ROOT):
        self.db = Path(db)
        self.folder = Path(folder)  # the checkout whose app.py runs (a benchmark serves an older one too)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.timeout = timeout
        self.extra_env = env or {}
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkstemp(prefix="safetymap-app-", suffix=".log")[1])

    def command(self) -> list[str]:
        return [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
                "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--server.fileWatcherType", "none", "--server.enableStaticServing", "true"]

    def environment(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env.update({"SAFETYMAP_DB": str(self.db), "PYTHONUNBUFFERED": "1"}, **self.extra_env)
        return env

    def start(self) -> AppServer:
        with open(self.log_path, "wb") as log:  # the child keeps its own handle
            self.process = subprocess.Popen(self.command(), cwd=self.folder, env=self.environment(), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited with {self.process.returncode}:\n{self.log()}")
            if self.healthy():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the app did not answer /_stcore/health within {self.timeout:.0f} s:\n{self.log()}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                return response.read().strip() == b"ok"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # the app's own process group
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------- the network
class NetworkLog:
    """Every request and websocket of a browser context. Requests to any host but ``app_url``'s are
    refused before they leave, and listed in ``foreign()``."""

    LOCAL_SCHEMES = ("data", "blob", "about", "chrome", "chrome-extension")

    def __init__(self, context, app_url: str):
        self.app_host = urlsplit(app_url).netloc
        self.requests: list[str] = []
        self.websockets: list[str] = []
        context.route("**/*", self._route)
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("page", self._watch_page)
        for page in context.pages:
            self._watch_page(page)

    def _watch_page(self, page) -> None:
        page.on("websocket", lambda ws: self.websockets.append(ws.url))

    def _route(self, route) -> None:
        if self.is_local(route.request.url):
            route.continue_()
        else:
            route.abort()

    def is_local(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in self.LOCAL_SCHEMES or parts.netloc == self.app_host

    def foreign(self) -> list[str]:
        """Every request or websocket that went (or tried to go) to another host."""
        return [u for u in self.requests + self.websockets if not self.is_local(u)]


# ---------------------------------------------------------------- Streamlit pages
def wait_idle(page, timeout: float = 60) -> None:
    """Wait until the app has finished its current run (no 'running' status, no stale elements)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')
               && !document.querySelector('[data-stale="true"]')""", timeout=timeout * 1000)
    page.wait_for_timeout(300)  # let a rerun triggered by the last event start, then settle
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')
               && !document.querySelector('[data-stale="true"]')""", timeout=timeout * 1000)


def sign_in(page, base_url: str, name: str, password: str, timeout: float = 60) -> None:
    page.goto(base_url)
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name="退出登录").wait_for(timeout=timeout * 1000)
    wait_idle(page, timeout)


def signed_in_context(browser, app: "AppServer", name: str, password: str, **options):
    """A new browser context already signed in to ``app`` as ``name``, holding the session cookie the sign-in
    form and its hand-off would leave (``session_cookie``) without going through them: two page loads and a
    sign-in run, ~4 s of the suite's two cores each time. The form and the hand-off are what
    ``test_auth_e2e``, ``test_ui_e2e`` and ``test_edit_e2e`` sign in with (``sign_in``). Tests that sign out or
    change the user's account make their own."""
    context = browser.new_context(**options)
    context.add_cookies([session_cookie(app, name, password)])
    return context


def open_signed_in(page, app: "AppServer", name: str, password: str, path: str = "", timeout: float = 60) -> None:
    """``page`` (listeners already on it) at the app's ``path``, signed in as ``name`` by its session cookie
    (``session_cookie``), not the form: for tests whose subject comes after the sign-in."""
    page.context.add_cookies([session_cookie(app, name, password)])
    page.goto(f"{app.url}/{path}")
    page.get_by_role("button", name="退出登录").wait_for(timeout=timeout * 1000)
    wait_idle(page, timeout)


def session_cookie(app: "AppServer", name: str, password: str) -> dict:
    """The cookie of a new session of ``name`` in ``app``'s database, made the way the app makes one: the
    password checked (``accounts.authenticate``), the session started and its hand-off code exchanged for
    the token the browser keeps (``sessions.exchange``, as the hand-off route does), HttpOnly, SameSite=Strict."""
    from safetymap import accounts, sessions
    from safetymap.store import open_store

    store = open_store(app.db)
    try:
        user = accounts.authenticate(store, name, password, client="127.0.0.1")
        token = sessions.exchange(store, sessions.start(store, user, sessions.DEFAULT_IDLE_MINUTES * 60, "127.0.0.1"))
    finally:
        store.close()
    return {"name": sessions.COOKIE, "value": token, "url": app.url, "httpOnly": True, "sameSite": "Strict"}


def open_app(context, base_url: str, path: str = "", timeout: float = 60):
    """A new tab of ``context`` at the app's page ``path`` (its default page: ""), its first run finished."""
    page = context.new_page()
    page.goto(f"{base_url}/{path}")
    wait_idle(page, timeout)
    return page


def open_page(page, title: str, timeout: float = 60) -> None:
    """Open a page from the sidebar navigation (same session: a new URL would start a new one)."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    wait_idle(page, timeout)


def open_expander(section, timeout: float = 10) -> None:
    """Open the ``st.expander`` ``section`` as a person does: click its title (unless it is open), then wait
    until it has opened. Streamlit animates the opening (500 ms), and a click meanwhile can miss: here one was
    pressed on 开始整改 110 ms after the title's click and released 7 ms later on the line above it, the
    content having moved down 49 px, so the app got nothing. With both cores busy, 3 of 119 clicks made right
    after the title's missed so, and none of 118 made after this."""
    details = section.locator("details")
    if not details.evaluate("(d) => d.open"):
        section.locator("summary").click()
    opened = details.evaluate(OPENED_JS, timeout * 1000)
    assert opened, f"{section} did not finish opening in {timeout:g} s"


# Resolves true once the <details> is open, its height no longer animated, and its height and its content's
# have not changed for three frames; false after ``limit`` ms.
OPENED_JS = """(details, limit) => new Promise(done => {
  const start = performance.now(); let last = null, same = 0;
  const look = () => {
    const content = details.querySelector('[data-testid="stExpanderDetails"]');
    const now = details.open && content && details.getAnimations().length === 0
      ? `${details.getBoundingClientRect().height} ${content.getBoundingClientRect().height}` : null;
    same = now !== null && now === last ? same + 1 : 0;
    last = now;
    if (same >= 3) done(true);
    else if (performance.now() - start > limit) done(false);
    else requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
})"""


def wait_text(page, text: str, timeout: float = 60) -> None:
    """Wait for ``text`` on the page; if it does not come, fail saying what the page showed instead (a CI log
    has no screenshot)."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.get_by_text(text).first.wait_for(timeout=timeout * 1000)
    except PlaywrightError as exc:
        shown = page.locator('[data-testid="stMain"]').inner_text(timeout=5000)[-6000:]  # a section low on a long page too
        raise AssertionError(f"no 「{text}」 after {timeout:g} s; the page showed:\n{shown}") from exc


# ---------------------------------------------------------------- the map (st_folium)
def _page_shown(page, ends: int = 800) -> str:
    """The start and the end of the page's text, and its toggles' and expanders' states: what a failure
    report needs where a CI log has no screenshot (a map is often at the bottom of a long form)."""
    text = page.locator('[data-testid="stMain"]').inner_text(timeout=5000)
    shown = text if len(text) <= 2 * ends else f"{text[:ends]}\n…\n{text[-ends:]}"
    states = page.evaluate(r"""() => [
        ...[...document.querySelectorAll('[data-testid="stMain"] details')].map(
            (d) => `expander ${d.open ? 'open' : 'closed'}: ${(d.querySelector('summary')?.innerText || '').replace(/\s+/g, ' ').trim()}`),
        ...[...document.querySelectorAll('[data-testid="stMain"] input[type="checkbox"]')].map(
            (i) => `checkbox ${i.checked ? 'on' : 'off'}: ${(i.closest('label')?.innerText || '').replace(/\s+/g, ' ').trim()}`)]""")
    return shown + "\n" + "\n".join(states)


def map_frame(page, timeout: float = 60):
    """The st_folium iframe once its Leaflet map exists (``window.map``)."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.wait_for_selector(MAP_FRAME, timeout=timeout * 1000)
    except PlaywrightError as exc:  # say what the page showed instead: a CI log has no screenshot
        raise AssertionError(f"no map frame after {timeout:g} s; the page showed:\n{_page_shown(page)}") from exc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "st_folium" in frame.url:
                try:
                    if frame.evaluate("() => !!(window.map && window.L)"):
                        return frame
                except PlaywrightError:  # the frame is being replaced
                    continue
        page.wait_for_timeout(100)
    raise AssertionError("the map did not appear")


DRAWN_JS = """() => { if (window.SMP && window.SMP.current) return window.SMP.drawnCodes();  // the browser-held layer
  var codes = [];
  window.map.eachLayer(function (l) { if (l.feature && l.feature.properties && l.feature.properties.code)
    codes.push(l.feature.properties.code); });
  return codes; }"""


def drawn_codes(frame) -> list[str]:
    """Codes of the patches currently on the map."""
    return frame.evaluate(DRAWN_JS)


def set_view(frame, lat: float, lng: float, zoom: int) -> None:
    frame.evaluate(f"() => {{ window.map.setView([{lat}, {lng}], {zoom}, {{animate: false}}); }}")


def screen_point(page, frame, lat: float, lng: float) -> tuple[float, float]:
    """Page coordinates of a map coordinate (for mouse clicks on the canvas)."""
    x, y = frame.evaluate(f"""() => {{ var p = window.map.latLngToContainerPoint([{lat}, {lng}]);
        var r = window.map.getContainer().getBoundingClientRect(); return [p.x + r.left, p.y + r.top]; }}""")
    box = page.locator(MAP_FRAME).bounding_box()
    return box["x"] + x, box["y"] + y


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
