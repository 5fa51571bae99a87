"""The GeoPackage backend's connections: each Streamlit run is a new thread, and a new SQLite connection
parses the GeoPackage's whole schema (~25 ms) before its first statement. A thread's connection is given
back when the thread ends and taken by the next one: it must then read what was written since, and a
connection left inside a transaction must not be handed on."""
import sqlite3
import threading

import pytest

from safetymap.store import open_store


def in_thread(work):
    """``work()`` in a new thread that then ends (as a Streamlit run does); its result."""
    out = {}

    def run():
        out["value"] = work()
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return out["value"]


def test_the_next_thread_takes_the_ended_thread_s_connection_and_reads_later_writes(sample_db):
    store = open_store(sample_db)
    code = store.codes()[0]
    first = in_thread(lambda: (store.backend.connection(), store.get(code)["hazard"]))
    writer = open_store(sample_db)  # another user saves meanwhile
    writer.update(code, {"hazard": "线程之间写入"}, writer.get(code)["version"], "测试")
    writer.close()
    second = in_thread(lambda: (store.backend.connection(), store.get(code)["hazard"]))
    assert second[0] is first[0], "the ended thread's connection was not reused"
    assert first[1] != "线程之间写入" and second[1] == "线程之间写入"
    store.close()


def test_a_connection_left_inside_a_transaction_is_not_handed_on(sample_db):
    store = open_store(sample_db)

    def begin_and_end():
        con = store.backend.connection()
        con.execute("BEGIN")
        return con
    left = in_thread(begin_and_end)
    assert not store.backend._pool
    with pytest.raises(sqlite3.ProgrammingError):  # closed, so its read lock is gone too
        left.execute("SELECT 1")
    taken = in_thread(store.backend.connection)
    assert taken is not left and not taken.in_transaction
    store.close()


def test_closing_the_store_closes_the_connections_given_back_and_later_ones(sample_db):
    store = open_store(sample_db)
    started, stop = threading.Event(), threading.Event()
    running = {}

    def still_running():
        running["con"] = store.backend.connection()
        started.set()
        stop.wait(30)
    thread = threading.Thread(target=still_running)
    thread.start()
    started.wait(30)
    given_back = in_thread(store.backend.connection)
    assert given_back is not running["con"] and store.backend._pool == [given_back]
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        given_back.execute("SELECT 1")
    running["con"].execute("SELECT 1")  # still its thread's
    stop.set()
    thread.join()
    with pytest.raises(sqlite3.ProgrammingError):  # its thread ended after the close: not kept
        running["con"].execute("SELECT 1")


RUNS_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
import threading
import streamlit as st
from safetymap.ui.common import get_store
store = get_store()
store.codes()
marker = st.session_state.setdefault("marker", threading.local())  # set in the threads it has seen
st.session_state.setdefault("runs", []).append((getattr(marker, "seen", False), id(store.backend.connection())))
marker.seen = True
"""


def test_successive_streamlit_runs_use_one_connection(sample_db, monkeypatch):
    """Each run of a page is a new thread: the runs after the first take the connection the first gave back."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    at = AppTest.from_string(RUNS_SCRIPT.format(root=str(Path(__file__).resolve().parent.parent)), default_timeout=60)
    for _ in range(4):
        at.run()
        assert not at.exception
    runs = at.session_state["runs"]
    assert not any(seen for seen, _ in runs), runs  # each run in a thread of its own
    assert len({connection for _, connection in runs}) == 1, runs
