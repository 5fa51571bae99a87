"""Benchmark of the map at scale (issue 16): the real app (``streamlit run``) in headless Chromium, the
browser-held map of this checkout beside the baseline map page of commit ``586600c`` (the patches in view
sent as folium feature groups on every rerun), both served on copies of the same synthetic ledger.

    python benchmarks/bench_scale.py                          # 1,000, 10,000 and 100,000 patches
    python benchmarks/bench_scale.py --sizes 1000 10000 --repeat 3
    python benchmarks/bench_scale.py --sizes 100000 --ledger L --against /other/checkout --first-paint-only --repeat 6

Per size and app, in runs alternated between the two apps (new, base, base, new, …), each in a fresh
browser context signed in on 用户管理 (so the clock starts before the map begins; a page that reads no
patches, so that the time and memory measured are the map's), then the app left to
finish what it does by itself (its processes idle for a second: the new app builds the map's data when
it starts and after a change, as a user coming to an app started a while ago would find it), measured:

- first paint: from clicking 地图 to the patches drawn; the bytes the browser received meanwhile (HTTP
  bodies as sent plus websocket frames, from the DevTools protocol) and the JS heap afterwards;
- pan (a mouse drag, Leaflet's inertia off so that the map stops where the drag ends) and zoom (the
  wheel, with Leaflet's zoom animation): script reruns (messages the page sent over the websocket), bytes
  received, and the time from the gesture to the patches drawn again (for the baseline: to the end of
  the rerun the gesture caused, which includes the 250 ms streamlit-folium waits before reporting);
- an edit elsewhere (``Store.update`` of one patch's grade) while the user looks at that patch (a search
  took the map there first), then the page's next run (the same search again, which leaves the view): the
  bytes received until that patch shows its new colour, and the time;
- three users opening the map at once: each one's time to drawn patches;
- the app process's resident memory (``/proc/<pid>/status`` VmRSS) after each run, and its peak (VmHWM);
- the CPU seconds the app's processes and the browser's (Chromium's and Playwright's driver) used during the
  first paint and until the last of three users had drawn: the browsers here share the app's cores, which
  a user's own computer does not.

The first paint's wait for the payload is split by the map iframe's own timings: until the iframe is made
(Streamlit's run of the page and the page's render), until the payload is asked for (the map's scripts
loaded and run), the server's time for it (request to first byte) and its transfer.

``--link-mbit N``: every byte between the browsers and the app crosses a link of N Mbit/s (Linux ``tc``
token bucket on the loopback device, which needs root and shapes everything on it while the benchmark runs;
removed at the end): an office network instead of loopback, where the payload's bytes cost their time.

``--against DIR``: the baseline is instead the browser-held map of another checkout (an earlier state of this
one), measured the same way as this one's. ``--first-paint-only``: each run stops after the first paint (no
pan, zoom or edit), so that more runs fit in the time.

Reported: min and median over ``--repeat`` runs (the first run of an app is cold: the ledger not yet
read). No timing is asserted anywhere; the smoke test runs this at a tiny size.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

import e2e_support as e2e  # noqa: E402
from bench_rerun import make_ledger  # noqa: E402

BASELINE = "586600c"
BACKGROUND_ARGS = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                   "--disable-backgrounding-occluded-windows"]
USER, PASSWORD = "基准", "bench-password-1"
LANDING = "/users"  # where the user signs in before clicking 地图: 用户管理 reads no patches (导入导出, the
# landing before, reads the whole ledger on every run: at 100,000 patches 20–35 s of the app's CPU and ~1.8 GB
# of its memory that were counted as the map's)
TIMEOUT_S = float(os.environ.get("BENCH_SCALE_TIMEOUT", 300))
NEW_PAINTED = """() => { var l = window.SMP && window.SMP.current; return !!(l && l.painted && l.painted.shown > 0); }"""
OLD_PAINTED = """() => { var n = 0; window.map.eachLayer(function (l) { if (l.feature && l.feature.properties
  && l.feature.properties.code) n++; }); return n > 0; }"""
NEW_FILL = """(code) => window.SMP.fillOf(code)"""
OLD_FILL = """(code) => { var out = null; window.map.eachLayer(function (l) { if (l.feature && l.feature.properties
  && l.feature.properties.code === code && l.options && l.options.fillColor) out = l.options.fillColor; }); return out; }"""
# The coarse payload's fetch is the page's own (a checkout before the worker, or no worker could run) or the
# worker's that early.js starts: its timing, ms since the epoch, kept in SMPearly.timing.
WORKER_TIMING = "(window.SMPearly && window.SMPearly.timing) || null"
# The worker's timing comes in its last message, after the block: known once set (null: none), or no worker.
TIMING_KNOWN = "() => !window.SMPearly || window.SMPearly.timing !== undefined"
PAYLOAD_ARRIVED = """() => { var e = performance.getEntriesByType('resource').filter(function (r) {
  return r.name.indexOf('/api/patches/coarse/') >= 0; })[0]; if (e) return performance.timeOrigin + e.responseEnd;
  var t = WORKER_TIMING; return t ? t.responseEnd : NaN; }""".replace("WORKER_TIMING", WORKER_TIMING)
# Bytes of the worker's fetch (headers and body as sent): the DevTools session of the page sees only its own.
WORKER_BYTES = "() => { var t = WORKER_TIMING; return t ? t.transferSize : 0; }".replace("WORKER_TIMING", WORKER_TIMING)
# Where the time before the payload arrived went, from the map iframe's own timings (ms since the epoch, so
# comparable with the click): the iframe made (Streamlit's run of the page and its render), the fetch of the
# payload started (Leaflet, the plugins and patches.js loaded and run), the server's answer (request sent ->
# first byte: session check, revision look-up, the body) and its transfer.
PAYLOAD_PARTS = """() => { var e = performance.getEntriesByType('resource').filter(function (r) {
  return r.name.indexOf('/api/patches/coarse/') >= 0; })[0], o = performance.timeOrigin, t = WORKER_TIMING;
  if (e) return {frame: o, fetch: o + e.startTime, server: e.responseStart - e.requestStart,
                 transfer: e.responseEnd - e.responseStart};
  return t && {frame: o, fetch: t.start, server: t.responseStart - t.requestStart, transfer: t.responseEnd - t.responseStart};
  }""".replace("WORKER_TIMING", WORKER_TIMING)
# The first paint as the browser saw it (ms since the epoch): the click event's time in the page, and the start
# of the animation frame that put the drawn tiles on screen in the map's iframe (``painted.at`` in a checkout
# from before that frame was stamped). The wall clock around Playwright's calls also counts its finding the new
# iframe (polled every 100 ms) and its round trips, which no user waits for.
MARK_CLICK = """() => { window.__clickAt = null; document.addEventListener('click', function (e) {
  window.__clickAt = performance.timeOrigin + e.timeStamp; }, {capture: true, once: true}); }"""
CLICKED_AT = "() => window.__clickAt"
FRAME_STAMPED = """() => { var p = window.SMP && SMP.current && SMP.current.painted; return !!p && p.frame !== null; }"""
PAINTED_AT = """() => { var p = window.SMP && SMP.current && SMP.current.painted; if (!p) return NaN;
  return performance.timeOrigin + (p.frame === undefined ? p.at : p.frame); }"""
MARK_GESTURE = """() => { window.__gesture = null; ['mouseup', 'wheel'].forEach(function (type) {
  document.addEventListener(type, function () { window.__gesture = performance.now(); }, {capture: true, once: true}); }); }"""


# ---------------------------------------------------------------- the two apps
class Served(e2e.AppServer):
    """``streamlit run app.py`` of the checkout in ``folder`` (this one, or the baseline's)."""

    def __init__(self, db: Path, folder: Path, port: int | None = None):
        super().__init__(db, timeout=180, port=port, folder=folder)

    def cpu_seconds(self) -> float:
        """CPU time the app's process group has used so far (user + system), seconds."""
        rows = [_cpu_ticks(pid) for pid in _group_pids(self.process.pid)]
        return sum(ticks for _parent, ticks in filter(None, rows)) / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, quiet_s: float = 1.0, timeout_s: float = TIMEOUT_S) -> float:
        """Wait until the app has been idle (under 5 % of a core) for ``quiet_s``: a user opening the map
        comes to an app that had a fair chance to build what it builds ahead (on start, after a change).
        Returns the seconds waited."""
        start = last_busy = time.monotonic()
        used = self.cpu_seconds()
        while time.monotonic() - last_busy < quiet_s and time.monotonic() - start < timeout_s:
            time.sleep(0.25)
            now = self.cpu_seconds()
            if now - used > 0.05 * 0.25:
                last_busy = time.monotonic()
            used = now
        return time.monotonic() - start

    def rss_mb(self, field: str = "VmRSS") -> float:
        """Resident memory of the app's process group (the server and any children), MB: now (``VmRSS``)
        or the most since the app started (``VmHWM``, each process's peak)."""
        total = 0
        for pid in _group_pids(self.process.pid):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
            except FileNotFoundError:
                continue
        return total / 1024


def _group_pids(pgid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    out.append(int(entry.name))
            except ProcessLookupError:
                continue
    return out


def _cpu_ticks(pid: int) -> tuple[int, int] | None:
    """(parent pid, user + system ticks) of a process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12])


def cpu_seconds(app: "Served") -> dict[str, float]:
    """CPU seconds used so far by the app's process group ("app") and by every other process this benchmark
    started ("browser": Chromium's processes, and Playwright's driver, which relays the pages' events). A
    process's time counts once it has ended only if it was seen before: read it around the span measured."""
    table = {int(e.name): _cpu_ticks(int(e.name)) for e in Path("/proc").iterdir() if e.name.isdigit()}
    table = {pid: row for pid, row in table.items() if row is not None}
    app_pids = set(_group_pids(app.process.pid)) & set(table)
    mine, frontier = set(), {os.getpid()}
    while frontier:  # this process's descendants
        frontier = {pid for pid, (parent, _) in table.items() if parent in frontier and pid not in mine}
        mine |= frontier
    hz = os.sysconf("SC_CLK_TCK")
    return {"app": sum(table[p][1] for p in app_pids) / hz, "browser": sum(table[p][1] for p in mine - app_pids) / hz}


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in before}


@contextlib.contextmanager
def shaped_loopback(mbit: float | None):
    """While inside, the loopback device sends at most ``mbit`` Mbit/s (a ``tc`` token bucket); nothing when
    ``mbit`` is None."""
    if not mbit:
        yield
        return
    rule = ["tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", f"{mbit}mbit", "burst", "256kb", "latency", "100ms"]
    done = subprocess.run(rule, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench_scale --link-mbit: could not shape the loopback ({' '.join(rule)}): "
                         f"{done.stderr.strip()} (it needs root and tc, and no other root qdisc on lo)")
    try:
        yield
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=True)


def baseline_checkout(target: Path) -> Path:
    """The baseline commit's files (``git archive``: no change to this repository's worktrees)."""
    done = subprocess.run(["git", "archive", BASELINE], cwd=ROOT, capture_output=True)
    if done.returncode:
        raise SystemExit(f"bench_scale: the baseline commit {BASELINE} is not in this checkout "
                         f"({done.stderr.decode(errors='replace').strip()}); a shallow clone needs `git fetch --unshallow`")
    archive = done.stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


# ---------------------------------------------------------------- one browser run
class Meter:
    """Bytes a page receives (HTTP as sent, websocket frames) and messages it sends, via the DevTools protocol."""

    def __init__(self, context, page):
        self.received = 0
        self.sent = 0
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Performance.enable")
        cdp.on("Network.loadingFinished", lambda e: self._add(e.get("encodedDataLength", 0)))
        cdp.on("Network.webSocketFrameReceived", lambda e: self._add(len(e["response"].get("payloadData", ""))))
        cdp.on("Network.webSocketFrameSent", lambda e: self._sent())
        self.cdp = cdp

    def _add(self, n) -> None:
        self.received += int(n)

    def _sent(self) -> None:
        self.sent += 1

    def heap_mb(self) -> float:
        metrics = {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        return metrics.get("JSHeapUsedSize", 0) / 1e6


def signed_in_page(browser, app, user: str = USER):
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    meter = Meter(context, page)
    e2e.sign_in(page, f"{app.url}{LANDING}", user, PASSWORD, timeout=TIMEOUT_S)
    if page.locator(e2e.MAP_FRAME).count():
        raise RuntimeError("sign-in landed on the map: the clock would start after it began drawing")
    return context, page, meter


def wait_painted(page, new: bool, timeout_s: float = TIMEOUT_S):
    frame = e2e.map_frame(page, timeout=timeout_s)
    frame.wait_for_function(NEW_PAINTED if new else OLD_PAINTED, timeout=timeout_s * 1000, polling=50)
    if not new:  # the old map draws with the feature groups: two frames later it is on screen
        frame.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return frame


def app_idle(page, timeout_s: float = TIMEOUT_S) -> None:
    page.wait_for_function("""() => !document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')
        && !document.querySelector('[data-stale="true"]')""", timeout=timeout_s * 1000, polling=50)


def gesture(page, frame, new: bool, act) -> dict:
    """Reruns, bytes and seconds to drawn again for one pan or zoom gesture ``act()``."""
    frame.evaluate("() => { window.map.options.inertia = false; }")  # drawn at the drag's end, not after a glide
    frame.evaluate(MARK_GESTURE)
    before_bytes, before_sent = page.meter.received, page.meter.sent
    old_paint = frame.evaluate("() => window.SMP && SMP.current && SMP.current.painted && SMP.current.painted.at") \
        if new else None
    start = time.perf_counter()
    act()
    if new:
        frame.wait_for_function("(old) => SMP.current.painted && SMP.current.painted.at !== old", arg=old_paint,
                                timeout=TIMEOUT_S * 1000, polling=20)
        seconds = frame.evaluate("() => (SMP.current.painted.at - window.__gesture) / 1000")
        page.wait_for_timeout(600)  # anything streamlit-folium would report comes after 250 ms
    else:
        for _ in range(40):  # the report comes 250 ms after the gesture; then the rerun
            if page.meter.sent > before_sent:
                break
            page.wait_for_timeout(50)
        page.wait_for_timeout(200)
        app_idle(page)
        e2e.map_frame(page, timeout=TIMEOUT_S).evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        seconds = time.perf_counter() - start  # wall clock from the gesture, the rerun included
    return {"reruns": page.meter.sent - before_sent, "bytes": page.meter.received - before_bytes,
            "seconds": max(seconds, 0.0)}


def one_run(browser, app, new: bool, edit_code: str, grade: str, colour: str, db: Path, warm_code: str,
            first_paint_only: bool = False) -> dict:
    context, page, meter = signed_in_page(browser, app)
    page.meter = meter
    out = {}
    try:
        progress(f"app idle after {app.wait_idle():.1f} s")
        page.evaluate(MARK_CLICK)
        cpu = cpu_seconds(app)
        start, received, clicked_ms = time.perf_counter(), meter.received, time.time() * 1000
        page.locator('[data-testid="stSidebarNav"] a', has_text=e2e.MAP_TITLE).first.click()
        frame = wait_painted(page, new)
        out["cpu"] = cpu_used(cpu, cpu_seconds(app))
        progress("painted")
        out["first_paint_s"] = time.perf_counter() - start
        if new:  # when the whole payload had arrived: the rest of the first paint is the browser's drawing
            frame.wait_for_function(TIMING_KNOWN, timeout=TIMEOUT_S * 1000, polling=20)
            out["payload_s"] = (frame.evaluate(PAYLOAD_ARRIVED) - clicked_ms) / 1000
            out["payload_parts"] = payload_parts(frame, clicked_ms)
            out["first_paint_browser_s"] = browser_seconds(page, frame)
        out["first_bytes"] = meter.received - received + (frame.evaluate(WORKER_BYTES) if new else 0)
        if first_paint_only:
            return out
        app_idle(page)
        page.wait_for_timeout(800)
        out["heap_mb"] = meter.heap_mb()
        box = page.locator(e2e.MAP_FRAME).bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

        def pan():
            page.mouse.move(cx, cy)
            page.mouse.down()
            page.mouse.move(cx + 200, cy + 80, steps=6)
            page.mouse.up()

        def zoom():
            page.mouse.move(cx, cy)
            page.mouse.wheel(0, -300)

        out["pan"] = gesture(page, frame, new, pan)
        progress("panned")
        out["zoom"] = gesture(page, frame, new, zoom)
        progress("zoomed")
        # Once, the side panel a search opens (Streamlit loads its table scripts the first time): not the edit's bytes.
        page.get_by_label("搜索图斑编号或名称").fill(warm_code)
        page.keyboard.press("Enter")
        app_idle(page)
        page.wait_for_timeout(1500)
        out["edit"] = edit_then_paint(page, frame, new, edit_code, grade, colour, db)
        out["heap_after_mb"] = meter.heap_mb()
    finally:
        context.close()
    return out


def edit_then_paint(page, frame, new: bool, code: str, grade: str, colour: str, db: Path) -> dict:
    from safetymap.store import open_store

    # The user is already looking at the patch (the search moved the map there, its cells are loaded), so
    # what is counted is what the edit costs, not the move: then the edit elsewhere, then the page's next
    # run (the same search again, a space added: a rerun that leaves the view where it is).
    search = page.get_by_label("搜索图斑编号或名称")
    search.fill(code)
    page.keyboard.press("Enter")
    e2e.map_frame(page, timeout=TIMEOUT_S).wait_for_function(
        f"(c) => !!({NEW_FILL if new else OLD_FILL})(c)", arg=code, timeout=TIMEOUT_S * 1000, polling=50)
    app_idle(page)
    page.wait_for_timeout(800)
    store = open_store(db)
    try:
        current = store.get(code)
        store.update(code, {"grade_method": "直接判定", "risk_grade": grade, "grade_basis": "基准测试"},
                     current["version"], "基准测试")
    finally:
        store.close()
    received, start = page.meter.received, time.perf_counter()
    search.fill(code + " ")
    page.keyboard.press("Enter")
    frame = e2e.map_frame(page, timeout=TIMEOUT_S)
    frame.wait_for_function(f"(c) => (({NEW_FILL if new else OLD_FILL})(c) || '').toLowerCase() === {colour.lower()!r}",
                            arg=code, timeout=TIMEOUT_S * 1000, polling=50)
    seconds = time.perf_counter() - start
    app_idle(page)
    return {"bytes": page.meter.received - received, "seconds": seconds}


def three_users(browser, app, new: bool) -> tuple[list[float], list[float], list[float], dict[str, float]]:
    """Three signed-in users click 地图 at (nearly) the same moment; each one's seconds to drawn patches (around
    Playwright's calls), to the payload whole and in the browser's clocks, and the CPU seconds the app and the
    browsers used until the last one was drawn."""
    users = [signed_in_page(browser, app) for _ in range(3)]
    progress(f"app idle after {app.wait_idle():.1f} s")
    starts, clicked_ms = [], []
    for _context, page, _meter in users:
        page.evaluate(MARK_CLICK)
    cpu = cpu_seconds(app)
    for _context, page, _meter in users:
        starts.append(time.perf_counter())
        clicked_ms.append(time.time() * 1000)
        # a script click: a mouse click waits for the page to be in front, and only one page is
        page.locator('[data-testid="stSidebarNav"] a', has_text=e2e.MAP_TITLE).first.evaluate("a => a.click()")
    done = [None] * 3
    deadline = time.monotonic() + TIMEOUT_S
    while None in done and time.monotonic() < deadline:
        for k, (_context, page, _meter) in enumerate(users):
            if done[k] is None and _painted_now(page, new):
                done[k] = time.perf_counter() - starts[k]
        users[0][1].wait_for_timeout(50)  # (lets Playwright take in the pages' events: new frames)
    cpu = cpu_used(cpu, cpu_seconds(app))
    progress(f"three users: CPU while they waited: app {cpu['app']:.2f} s, browsers {cpu['browser']:.2f} s")
    served = [(_payload_arrived(page) - clicked) / 1000 if new else float("nan")
              for (_context, page, _meter), clicked in zip(users, clicked_ms)]
    if new:
        for (_context, page, _meter), clicked in zip(users, clicked_ms):
            frame = _map_frame(page)
            parts = payload_parts(frame, clicked) if frame is not None else {}
            progress("three users, one: " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))
    seen = [browser_seconds(page, _map_frame(page)) if new and d is not None else float("nan")
            for (_context, page, _meter), d in zip(users, done)]
    for context, _page, _meter in users:
        context.close()
    return [d if d is not None else float("nan") for d in done], served, seen, cpu


def browser_seconds(page, frame) -> float:
    """Click → patches on screen, in the browser's clocks (``MARK_CLICK`` set before the click)."""
    frame.wait_for_function(FRAME_STAMPED, timeout=TIMEOUT_S * 1000, polling=20)
    return (frame.evaluate(PAINTED_AT) - page.evaluate(CLICKED_AT)) / 1000


def payload_parts(frame, clicked_ms: float) -> dict:
    """Seconds from the click to the map's iframe and to the payload's fetch; the server's and the transfer's
    seconds of that fetch (``PAYLOAD_PARTS``)."""
    parts = frame.evaluate(PAYLOAD_PARTS)
    if not parts:
        return {}
    return {"frame": (parts["frame"] - clicked_ms) / 1000, "fetch": (parts["fetch"] - clicked_ms) / 1000,
            "server": parts["server"] / 1000, "transfer": parts["transfer"] / 1000}


def _map_frame(page):
    return next((f for f in page.frames if "st_folium" in f.url), None)


def _payload_arrived(page) -> float:
    frame = _map_frame(page)
    if frame is None:
        return float("nan")
    frame.wait_for_function(TIMING_KNOWN, timeout=TIMEOUT_S * 1000, polling=20)
    return frame.evaluate(PAYLOAD_ARRIVED)


def _painted_now(page, new: bool) -> bool:
    from playwright.sync_api import Error as PlaywrightError

    frame = _map_frame(page)
    if frame is None:
        return False
    try:
        return bool(frame.evaluate("() => !!(window.map && window.L) && (" + (NEW_PAINTED if new else OLD_PAINTED)
                                   + ")()"))
    except PlaywrightError as error:  # the frame is being replaced: not yet
        progress(f"not yet: {str(error)[:80]}")
        return False


# ---------------------------------------------------------------- main
def summarise(runs: list[dict], key) -> str:
    values = []
    for r in runs:
        try:
            values.append(key(r))
        except KeyError:  # not measured (--first-paint-only)
            continue
    values = [v for v in values if v == v]
    if not values:
        return "–"
    return f"{min(values):.2f} / {statistics.median(values):.2f}"


def mb(n: float) -> float:
    return n / 1e6


def report(n: int, results: dict, base: str = BASELINE) -> None:
    print(f"\n{n:,} patches (min / median of {len(results['new']['runs'])} runs; base = {base})")
    rows = [
        ("first paint, s (wall clock around Playwright's click and wait)", lambda r: r["first_paint_s"]),
        ("first paint in the browser: click → frame on screen, s", lambda r: r.get("first_paint_browser_s", float("nan"))),
        ("first paint: whole payload arrived, s", lambda r: r.get("payload_s", float("nan"))),
        ("first paint: map iframe made, s", lambda r: r.get("payload_parts", {}).get("frame", float("nan"))),
        ("first paint: payload asked for, s", lambda r: r.get("payload_parts", {}).get("fetch", float("nan"))),
        ("first paint: payload's server time, s", lambda r: r.get("payload_parts", {}).get("server", float("nan"))),
        ("first paint: payload's transfer, s", lambda r: r.get("payload_parts", {}).get("transfer", float("nan"))),
        ("first paint, MB received", lambda r: mb(r["first_bytes"])),
        ("first paint: CPU s of the app", lambda r: r["cpu"]["app"]),
        ("first paint: CPU s of the browser (all its processes)", lambda r: r["cpu"]["browser"]),
        ("JS heap after first paint, MB", lambda r: r["heap_mb"]),
        ("pan: reruns", lambda r: r["pan"]["reruns"]),
        ("pan: MB received", lambda r: mb(r["pan"]["bytes"])),
        ("pan: s to drawn", lambda r: r["pan"]["seconds"]),
        ("zoom: reruns", lambda r: r["zoom"]["reruns"]),
        ("zoom: MB received", lambda r: mb(r["zoom"]["bytes"])),
        ("zoom: s to drawn", lambda r: r["zoom"]["seconds"]),
        ("edit, next paint: MB received", lambda r: mb(r["edit"]["bytes"])),
        ("edit, next paint: s", lambda r: r["edit"]["seconds"]),
    ]
    print("| measure | base | new |")
    print("|---|---:|---:|")
    for label, key in rows:
        print(f"| {label} | {summarise(results['base']['runs'], key)} | {summarise(results['new']['runs'], key)} |")
    three_rows = [("three users at once, s each", 0),  # each trio: (wall clock, payload arrived, in the browser)
                  ("three users at once, in the browser: click → frame on screen, s each", 2),
                  ("three users at once: whole payload arrived, s each", 1)]
    for label, at in three_rows:
        cells = [summarise([{"v": s} for trio in results[name]["three"] for s in trio[at]], lambda r: r["v"])
                 for name in ("base", "new")]
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    for label, who in (("three users at once: CPU s of the app until all three drawn", "app"),
                       ("three users at once: CPU s of the three browsers until all three drawn", "browser")):
        cells = [summarise([{"v": trio[3][who]} for trio in results[name]["three"]], lambda r: r["v"])
                 for name in ("base", "new")]
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    print(f"| app resident memory, MB (max) | {max(results['base']['rss'] or [0]):.0f} | "
          f"{max(results['new']['rss'] or [0]):.0f} |")
    print(f"| app resident memory, MB (peak, VmHWM) | {max(results['base']['peak'] or [0]):.0f} | "
          f"{max(results['new']['peak'] or [0]):.0f} |")
    for name in ("base", "new"):
        if results[name]["failures"]:
            print(f"{name}: {len(results[name]['failures'])} run(s) failed: {results[name]['failures'][:2]}")
    sys.stdout.flush()


def progress(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def record_memory(result: dict, app: Served, name: str) -> None:
    result["rss"].append(app.rss_mb())
    result["peak"].append(app.rss_mb("VmHWM"))
    progress(f"{name}: app resident memory {result['rss'][-1]:.0f} MB (peak so far {result['peak'][-1]:.0f} MB)")


def bench_size(n: int, repeat: int, browser, base_folder: Path | None, work: Path, three: int, ports: dict,
               names: tuple[str, ...] = ("new", "base"), ledger: Path | None = None, base_held: bool = False,
               first_paint_only: bool = False) -> dict:
    """``three``: how many times three users open the map at once, per app (alternated). ``base_held``: the
    baseline's map is browser-held too (``--against``), measured as this one's."""
    from safetymap.schema import load_schema
    from safetymap.store import open_store

    work = work / f"n{n}"
    work.mkdir()
    db = work / "ledger.gpkg"
    if ledger is None:
        make_ledger(db, n, work)
    else:  # a ledger made before (by make_ledger), copied: iterating on one app is quicker
        db = e2e.copy_database(ledger, work, "ledger.gpkg")
    store = open_store(db)
    codes = store.codes()
    e2e.add_user(store, USER, "admin", PASSWORD)  # an admin: 用户管理 to land on, and editing
    store.checkpoint()
    store.close()
    schema = load_schema()
    grades = [g.label for g in schema.grades]
    results = {name: {"runs": [], "three": [], "rss": [], "peak": [], "failures": []} for name in ("new", "base")}
    dbs = {name: e2e.copy_database(db, work, f"{name}-{n}.gpkg") for name in names}
    folders = {"new": ROOT, "base": base_folder}
    held = {"new": True, "base": base_held}
    apps = {name: Served(dbs[name], folders[name], ports[name]).start() for name in names}
    try:
        for k in range(repeat):
            order = names if k % 2 == 0 else names[::-1]
            for name in order:
                grade = grades[k % len(grades)]
                code = codes[(k * 31 + 7) % len(codes)]
                current = open_store(dbs[name]).get(code)["risk_grade"]
                if current == grade:
                    grade = grades[(k + 1) % len(grades)]
                progress(f"{n:,} patches, run {k + 1}, {name}")
                try:
                    results[name]["runs"].append(one_run(browser, apps[name], held[name], code, grade,
                                                         schema.grade_color(grade), dbs[name], codes[0],
                                                         first_paint_only))
                except Exception as error:  # noqa: BLE001  (a run that fails is reported, the others go on)
                    results[name]["failures"].append(f"{type(error).__name__}: {str(error)[:200]}")
                record_memory(results[name], apps[name], name)
        for k in range(three):
            for name in (names if k % 2 == 0 else names[::-1]):
                progress(f"{n:,} patches, three users, {name}")
                results[name]["three"].append(three_users(browser, apps[name], held[name]))
                record_memory(results[name], apps[name], name)
    finally:
        for app in apps.values():
            app.stop()
    return results


def free_ports() -> dict[str, int]:
    """Two different free ports, for the new app and the baseline."""
    new = e2e.free_port()
    return {"new": new, "base": next(port for port in iter(e2e.free_port, None) if port != new)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-three", action="store_true", help="skip the three users at once")
    parser.add_argument("--three-repeat", type=int, default=1, help="times three users open the map at once, per app")
    parser.add_argument("--port-base", type=int, default=None,
                        help="the new app's port; the baseline's is next (default: free ports, so that runs at once "
                             "and other servers on the machine do not collide)")
    parser.add_argument("--apps", choices=["both", "new", "base"], default="both",
                        help="measure both apps (the default, for the README) or one (while iterating)")
    parser.add_argument("--ledger", type=Path, help="a ledger made before by bench_rerun.make_ledger (one size only)")
    parser.add_argument("--against", type=Path, help="the baseline: the browser-held map of this other checkout")
    parser.add_argument("--first-paint-only", action="store_true", help="no pan, zoom or edit after the first paint")
    parser.add_argument("--link-mbit", type=float, help="the browsers reach the app over a link of this many Mbit/s "
                        "(tc on the loopback device: needs root)")
    args = parser.parse_args(argv)
    if args.ledger and len(args.sizes) != 1:
        parser.error("--ledger takes exactly one --sizes value (the ledger's size)")
    names = ("new", "base") if args.apps == "both" else (args.apps,)
    reason = e2e.browser_missing_reason()
    if reason:
        print(f"bench_scale needs a browser: {reason}")
        return 0
    from playwright.sync_api import sync_playwright

    link = f", over a {args.link_mbit:g} Mbit/s link" if args.link_mbit else ""
    print(f"bench_scale: sizes {args.sizes}, {args.repeat} runs per app, baseline {args.against or BASELINE}{link}")
    with tempfile.TemporaryDirectory(prefix="safetymap-scale-") as tmp, sync_playwright() as playwright, \
            shaped_loopback(args.link_mbit):
        work = Path(tmp)
        base_folder = None
        if "base" in names:
            base_folder = args.against.resolve() if args.against else baseline_checkout(work / "baseline")
        # e2e_support's flags, and no throttling of pages not in front (three users' pages at once)
        browser = playwright.chromium.launch(executable_path=str(e2e.CHROMIUM), args=e2e.CHROMIUM_ARGS + BACKGROUND_ARGS)
        try:
            for n in args.sizes:
                progress(f"making {n:,} patches")
                ports = {"new": args.port_base, "base": args.port_base + 1} if args.port_base else free_ports()
                three = 0 if args.no_three else args.three_repeat
                results = bench_size(n, args.repeat, browser, base_folder, work, three, ports, names,
                                     args.ledger, base_held=args.against is not None,
                                     first_paint_only=args.first_paint_only)
                report(n, results, str(args.against) if args.against else BASELINE)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
