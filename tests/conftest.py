"""Shared fixtures: real GeoPackage files in temporary folders, seeded from the shipped sample."""
from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from safetymap.schema import load_schema  # noqa: E402
from safetymap.seed import init_database  # noqa: E402
from safetymap.store import Store  # noqa: E402


@pytest.fixture(scope="session")
def schema():
    return load_schema()


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
def store(sample_db) -> Store:
    s = Store(sample_db)
    yield s
    s.close()


@pytest.fixture
def empty_store(tmp_path) -> Store:
    s = init_database(tmp_path / "empty.gpkg", sample=False)
    yield s
    s.close()


def database_dump(path: Path) -> str:
    """Every table's rows as SQL text: equal dumps mean nothing was written."""
    con = sqlite3.connect(path)
    try:
        return "\n".join(line for line in con.iterdump() if "last_change" not in line)
    finally:
        con.close()
