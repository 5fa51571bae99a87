"""The reading child is forked from the process itself when it runs only its main thread (a command-line
import: no fork server to start, 1 s and 160 MB at 100,000 patches), and comes from the fork server while
other threads run (the web server); either way the time and memory limits hold."""
from __future__ import annotations

import sys
import threading
import time
import types
from pathlib import Path

import pytest

from safetymap.errors import ImportRefused
from safetymap.io import sandbox
from safetymap.io.sandbox import run_bounded
from safetymap.io.uploads import MB

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork and RLIMIT_AS: Linux")]


def limits_hold() -> None:
    with pytest.raises(ImportRefused, match="读取超时（超过 2 秒）"):
        run_bounded(time.sleep, 30, name="慢.gpkg", seconds=2, memory=512 * MB)
    with pytest.raises(ImportRefused, match="内存超限"):
        run_bounded(bytearray, 4096 * MB, name="大.xlsx", seconds=30, memory=256 * MB)
    assert run_bounded(sum, [1, 2, 3], name="小.csv", seconds=30, memory=256 * MB) == 6


def test_a_process_with_one_thread_forks_the_reader_itself():
    if threading.active_count() != 1:
        pytest.skip("another thread runs in this test process")
    assert sandbox._context().get_start_method() == "fork"
    limits_hold()


def test_a_process_with_other_threads_reads_through_the_fork_server():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert sandbox._context().get_start_method() == "forkserver"
        limits_hold()
    finally:
        stop.set()
        other.join()


def test_a_reader_started_while_a_page_runs_does_not_run_the_app_first():
    """While a page runs, Streamlit makes app.py the process's ``__main__``; multiprocessing hands that file
    to each fork-server child to run first. The child used to import Streamlit and build the app there."""
    page = types.ModuleType("__main__")
    page.__file__ = str(ROOT / "app.py")  # as Streamlit's script runner sets it
    main, sys.modules["__main__"] = sys.modules["__main__"], page
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # a server's thread: the fork server is used
    other.start()
    try:
        loaded = run_bounded(eval, "sorted({'streamlit', 'safetymap.ui'} & set(__import__('sys').modules))",
                             name="小.csv", seconds=60, memory=512 * MB)
    finally:
        sys.modules["__main__"] = main
        stop.set()
        other.join()
    assert loaded == []
