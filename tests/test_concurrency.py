"""Several processes writing the same patches at once lose nothing."""
import json
import subprocess
import sys
from pathlib import Path

from conftest import both_backends

WORKER = Path(__file__).with_name("concurrency_worker.py")


@both_backends
def test_four_processes_times_100_updates_on_10_patches_lose_nothing(store):
    codes = list(store.read()["code"][:10])
    procs = [subprocess.Popen([sys.executable, str(WORKER), store.location, str(n), "100", ",".join(codes)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(4)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    accepted = [tuple(a) for r in results for a in r["accepted"]]
    assert len(accepted) == 400
    history = store.history()
    updates = history[(history["action"] == "update") & (history["field_key"] == "hazard")]
    for code in codes:
        mine = sorted((v, value) for c, v, value in accepted if c == code)
        versions = [v for v, _ in mine]
        assert versions == list(range(2, 2 + len(mine))), code  # no version accepted twice, none skipped
        logged = updates[updates["code"] == code].sort_values("version")
        assert list(zip(logged["version"], logged["after"])) == mine  # every accepted change is in history
        assert store.get(code)["hazard"] == mine[-1][1]  # the last accepted value is the one stored
        assert store.get(code)["version"] == versions[-1]


def run_workers(store, codes, processes, updates, kind):
    procs = [subprocess.Popen([sys.executable, str(WORKER), store.location, str(n), str(updates), ",".join(codes), kind],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(processes)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    return [tuple(a) for r in results for a in r["accepted"]]


@both_backends
def test_four_processes_times_50_hazard_edits_on_5_hazards_lose_nothing(store):
    codes = list(store.hazards()["hazard_code"][:5])
    accepted = run_workers(store, codes, 4, 50, "hazard")
    assert len(accepted) == 200
    history = store.hazard_history()
    updates = history[(history["action"] == "update") & (history["field_key"] == "measures")]
    for code in codes:
        mine = sorted((v, value) for c, v, value in accepted if c == code)
        first = mine[0][0]
        assert [v for v, _ in mine] == list(range(first, first + len(mine))), code  # none twice, none skipped
        logged = updates[updates["hazard_code"] == code].sort_values("version")
        assert list(zip(logged["version"], logged["after"])) == mine
        assert store.hazard(code)["measures"] == mine[-1][1] and store.hazard(code)["version"] == mine[-1][0]
