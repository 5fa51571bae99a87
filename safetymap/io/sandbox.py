"""Read an uploaded file in another process, with a wall-time and a memory limit.

GDAL and openpyxl can be made to spin or to allocate without end by a small hostile file (a view over
an endless recursive query, a sheet of a million rows), and neither a Streamlit rerun nor a Python
thread can interrupt code running inside them. So the reading runs in a child process: the parent
waits for it with the GIL released (other sessions are served meanwhile), kills it when time is up,
and gets the result back through a temporary pickle file the child writes. The child's address space
is capped with RLIMIT_AS where the platform has it (not on Windows, where the time limit still holds).

The child comes from a fork server (started once, with the reader's modules imported) when the process
runs other Python threads (the web server: forking a process while another thread holds a lock can
leave the child stuck); a process with only its main thread (a command-line import, a worker) forks
the child from itself on Linux, which spares the fork server's start (a second at 100,000 patches)
and its memory (160 MB) for a one-off read, with the same limits."""
from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import tempfile
import threading
import traceback
import tracemalloc
from pathlib import Path

from ..errors import ReaderFailed
from .uploads import MB, refuse

try:
    import resource
except ImportError:  # Windows
    resource = None

# Imported once by the fork server, so that each read starts in milliseconds rather than seconds.
PRELOAD = ["safetymap.io.reader"]


def _context():
    if sys.platform == "win32" or "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _address_space() -> int | None:
    """The process's current virtual size in bytes (Linux), the base the memory limit is added to:
    numpy, pyarrow and GDAL already reserve a lot of address space they never touch."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except FileNotFoundError:
        return None


def _limit_memory(memory: int) -> None:
    if resource is None:
        return
    base = _address_space()
    if base is None:  # no /proc (macOS): RLIMIT_AS is not enforced there anyway
        return
    limit = base + memory
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _child(func, args, kwargs, out: str, memory: int) -> None:
    if tracemalloc.is_tracing():  # inherited from a parent forked while tracing (a test): not the child's
        tracemalloc.stop()
    _limit_memory(memory)
    try:
        result = ("ok", func(*args, **kwargs))
    except MemoryError:
        result = ("memory", None)
    except Exception:  # noqa: BLE001 - handed to the parent, which raises it there
        result = ("error", traceback.format_exc())
    with open(out, "wb") as fh:
        pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _memory_message(memory: int) -> str:
    return f"内存超限（读取时需要超过 {memory / MB:g} MB 内存），已停止；请拆分文件后分批导入"


def _outcome(exitcode: int, out: Path, name: str, memory: int):
    if exitcode != 0 or not out.exists():
        if exitcode is not None and exitcode < 0:
            raise refuse(name, f"读取进程异常终止（信号 {-exitcode}）：可能是内存超限（上限 {memory / MB:g} MB）"
                               "或文件已损坏，已停止")
        raise refuse(name, f"读取进程异常退出（退出码 {exitcode}）：可能是内存超限（上限 {memory / MB:g} MB）"
                           "或文件已损坏，已停止")
    with open(out, "rb") as fh:
        kind, value = pickle.load(fh)  # written by our own child process just now
    if kind == "memory":
        raise refuse(name, _memory_message(memory))
    if kind == "error":
        raise ReaderFailed(f"读取文件 {name} 的进程出错：\n{value}")
    return value


def run_bounded(func, *args, name: str, seconds: float, memory: int, **kwargs):
    """``func(*args, **kwargs)`` in a child process, at most ``seconds`` of wall time and ``memory`` bytes
    more than the child starts with. ImportRefused naming ``name`` and the cause when a limit is hit;
    ``func`` and its arguments and result must pickle (``func`` importable at module level)."""
    with tempfile.TemporaryDirectory(prefix="safetymap-read-") as tmp:
        out = Path(tmp) / "result.pickle"
        process = _context().Process(target=_child, args=(func, args, kwargs, str(out), memory), daemon=True)
        process.start()
        process.join(seconds)
        if process.is_alive():
            process.kill()
            process.join()
            raise refuse(name, f"读取超时（超过 {seconds:g} 秒），已停止；文件可能过大，或含有无休止的查询")
        return _outcome(process.exitcode, out, name, memory)
