"""Every script in ``benchmarks/`` runs at HEAD on a tiny ledger, so that none can rot unnoticed (a
benchmark that fails is found here, not when someone needs its numbers). Nothing here asserts a time:
the numbers of a tiny run on a shared machine mean nothing, only that each script runs to the end."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import e2e_support as e2e
import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
PG_URL_ENV = "SAFETYMAP_TEST_PG"


def smoke_args() -> dict[str, list[str]]:
    """Each benchmark's arguments for a run of a few seconds."""
    browser = e2e.browser_missing_reason() is None
    return {
        "bench_map.py": ["--sizes", "200", "--no-check"] + (["--app"] if browser else ["--no-browser"]),
        "bench_io.py": ["--n", "200"],
        "bench_store.py": ["--sizes", "200", "--rounds", "2", "--per-round", "3"],
        "bench_rerun.py": ["--n", "200", "--reruns", "2"],
        "bench_desktop_commits.py": ["--commits", "3", "--repeat", "1", "--paths", "2"],  # says so and exits 0 without QGIS
        "bench_report.py": ["--n", "200", "--rounds", "2"],
        "bench_scale.py": ["--sizes", "100", "--repeat", "1", "--no-three"],
    }


def test_every_benchmark_has_smoke_arguments():
    scripts = sorted(p.name for p in BENCHMARKS.glob("bench_*.py"))
    assert scripts and set(scripts) == set(smoke_args()), "a new benchmark needs its tiny-size arguments here"


@pytest.mark.parametrize("script", sorted(smoke_args()))
def test_benchmark_runs(script, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in e2e.SCRUBBED_ENV}
    if script == "bench_map.py" and e2e.browser_missing_reason() and os.environ.get(e2e.REQUIRE_ENV) == "1":
        pytest.fail(e2e.browser_missing_reason())
    run = subprocess.run([sys.executable, str(BENCHMARKS / script), *smoke_args()[script]], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=420, check=False)
    assert run.returncode == 0, f"{script} failed:\n{run.stdout[-3000:]}\n{run.stderr[-6000:]}"
    assert run.stdout.strip(), f"{script} printed nothing"


def test_bench_rerun_runs_every_page(tmp_path):
    """``bench_rerun.py --page``: the other pages that list the ledger, with the code of a named checkout,
    all in one run (one ledger made, one interpreter started)."""
    env = {k: v for k, v in os.environ.items() if k not in e2e.SCRUBBED_ENV}
    pages = ["files", "ledger", "edit", "field", "fog"]
    run = subprocess.run([sys.executable, str(BENCHMARKS / "bench_rerun.py"), "--n", "100", "--reruns", "1",
                          "--page", *pages, "--code", str(ROOT)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=420, check=False)
    assert run.returncode == 0, f"bench_rerun.py --page {' '.join(pages)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-6000:]}"
    for page in pages:
        assert f"{page} page of {ROOT}" in run.stdout, page
