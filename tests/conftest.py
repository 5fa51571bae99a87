"""Shared fixtures: real GeoPackage files in temporary folders, seeded from the shipped sample, and
the same ledgers on PostgreSQL + PostGIS (one fresh schema per test) for tests marked ``both_backends``."""
from __future__ import annotations

import functools
import os
import shutil
import sqlite3
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from safetymap.schema import load_schema  # noqa: E402
from safetymap.seed import init_database  # noqa: E402
from safetymap.migrate import migrate  # noqa: E402
from safetymap.testing import ledger_snapshot  # noqa: E402
from safetymap.store import Store, open_store# noqa: E402

PG_URL_ENV = "SAFETYMAP_TEST_PG"  # a PostgreSQL + PostGIS database to make test schemas in
BACKENDS = ["sqlite", "postgresql"]
both_backends = pytest.mark.parametrize("backend", BACKENDS, indirect=True)  # store fixtures on each backend


# The modules that drive Chromium or serve the app for it (the benchmarks' smoke runs too). Under xdist they are
# one unit of work, run one after another by one process while the other takes the rest: two browsers and two
# app servers at once on 2 cores slowed every page, and a 60 s wait timed out.
BROWSER_MODULES = frozenset({
    "test_auth_e2e.py", "test_benchmarks_smoke.py", "test_edit_e2e.py", "test_edit_form_e2e.py", "test_hazard_e2e.py",
    "test_map_data.py", "test_map_draw_e2e.py", "test_map_e2e.py", "test_map_readable_e2e.py", "test_report.py",
    "test_ui_e2e.py"})


def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserModulesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "browser modules" if Path(module).name in BROWSER_MODULES else super()._split_scope(nodeid)

    return BrowserModulesTogether(config, log)


def _scan_components_once() -> None:
    """Each new AppTest scans the metadata of every installed package for Streamlit components (~0.9 s
    here, more than most page runs); the installed packages do not change during a test run, so the scan
    is made once per process. Streamlit asks ``manifest_scanner`` for the function at each call."""
    from streamlit.components.v2 import manifest_scanner

    if not hasattr(manifest_scanner.scan_component_manifests, "cache_info"):
        manifest_scanner.scan_component_manifests = functools.cache(manifest_scanner.scan_component_manifests)


@pytest.fixture(autouse=True)
def fresh_streamlit_state():
    """Streamlit's caches live as long as the process: every test starts with them empty, so that a page's
    ``get_store`` opens the ledger this test's ``SAFETYMAP_DB`` names, never an earlier test's. An AppTest
    leaves its script as the process's ``__main__``, which multiprocessing would run first in a later test's
    fork-server children: it is put back."""
    if "streamlit" in sys.modules:
        import streamlit as st

        st.cache_resource.clear()
        st.cache_data.clear()
        _scan_components_once()
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def schema():
    return load_schema()


@pytest.fixture
def backend(request) -> str:
    """The backend of the ``store``, ``empty_store`` and ``blank_location`` fixtures: SQLite, unless a
    test is marked ``both_backends``. PostgreSQL needs $SAFETYMAP_TEST_PG; without it those tests
    skip, except in CI ($SAFETYMAP_REQUIRE_PG=1), where they fail."""
    name = getattr(request, "param", "sqlite")
    if name == "postgresql" and not os.environ.get(PG_URL_ENV):
        reason = f"PostgreSQL 测试需要 ${PG_URL_ENV}=postgresql://…（bash scripts/start_test_postgres.sh 会给出）"
        if os.environ.get("SAFETYMAP_REQUIRE_PG") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return name


def with_search_path(url: str, schema_name: str) -> str:
    """The URL with ``schema_name`` first on its search_path (PostGIS stays reachable in public)."""
    options = quote(f"-c search_path={schema_name},public")
    return f"{url}{'&' if '?' in url else '?'}options={options}"


@contextmanager
def pg_schema():
    """A fresh, empty schema in the test database, dropped afterwards; yields its URL."""
    base = os.environ[PG_URL_ENV]
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield with_search_path(base, name)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def blank_location(backend, tmp_path):
    """Where a new ledger can be made: a file path, or the URL of a fresh PostgreSQL schema."""
    if backend == "sqlite":
        yield tmp_path / "blank.gpkg"
        return
    with pg_schema() as url:
        yield url


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory) -> Path:
    """One seeded database per test session; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "sample.gpkg"
    init_database(path, sample=True).close()
    return path


@pytest.fixture
def sample_db(sample_template, tmp_path) -> Path:
    path = tmp_path / "ledger.gpkg"
    shutil.copy(sample_template, path)
    return path


@pytest.fixture
def store(backend, request) -> Store:
    """A copy of the sample ledger (on PostgreSQL: migrated into a fresh schema)."""
    if backend == "sqlite":
        s = open_store(request.getfixturevalue("sample_db"))
    else:
        location = request.getfixturevalue("blank_location")
        migrate(request.getfixturevalue("sample_template"), location)
        s = open_store(location)
    yield s
    s.close()


@pytest.fixture(scope="session")
def empty_template(tmp_path_factory) -> Path:
    """One new empty ledger per test session (~0.4 s to make); tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "empty.gpkg"
    init_database(path, sample=False).close()
    return path


@pytest.fixture
def empty_store(backend, tmp_path, request) -> Store:
    if backend == "sqlite":
        location = tmp_path / "empty.gpkg"
        shutil.copy(request.getfixturevalue("empty_template"), location)
        s = open_store(location)
    else:
        s = init_database(request.getfixturevalue("blank_location"), sample=False)
    yield s
    s.close()


def ledger_state(store: Store) -> dict:
    """Everything a store holds, on either backend: every table's rows (``ledger_snapshot``) and, for a
    GeoPackage, its whole SQL dump too. Equal states mean nothing was written."""
    state = ledger_snapshot(store)
    if store.path is not None:
        state["sqlite dump"] = database_dump(store.path)
    return state


PAGE_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
import streamlit as st
from safetymap.auth import User
from safetymap.ui import {page}
st.session_state.setdefault("user", User({name!r}, {role!r}))
if st.session_state.get("away"):
    st.title("台账")  # another page: this page's widgets are not drawn in this run (``leave_and_return``)
else:
    {page}.render()
"""


def page_test(page: str, name: str, role: str):
    """An AppTest of one page (``safetymap.ui.<page>``) signed in as ``name`` with ``role``; the ledger is
    the one ``SAFETYMAP_DB`` names."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_string(PAGE_SCRIPT.format(root=str(ROOT), page=page, name=name, role=role), default_timeout=60)


def leave_and_return(at):
    """An AppTest of ``page_test`` taken to another page for one run and back, as a user clicks away and back
    (Streamlit drops the keys of the widgets a run does not draw)."""
    at.session_state["away"] = True
    at.run()
    at.session_state["away"] = False
    at.run()
    assert not at.exception
    return at


def database_dump(path: Path) -> str:
    """Every table's rows as SQL text: equal dumps mean nothing was written."""
    con = sqlite3.connect(path)
    try:
        return "\n".join(line for line in con.iterdump() if "last_change" not in line)
    finally:
        con.close()
