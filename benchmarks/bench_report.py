"""Benchmark: the monthly report of a past month, rebuilt from the change history (patches and
hazards as they stood on its last day, ``safetymap.asof``), beside the report of the running month
(today's ledger, nothing rebuilt) from the same data in the same run, alternating which goes first.

    python benchmarks/bench_report.py              # 2,000 and 10,000 patches
    python benchmarks/bench_report.py --n 2000 --rounds 5

The synthetic ledger (示例数据-like, GeoPackage in a temporary folder): every patch inserted in
September 2026; in October and November a third of them change status, grade and funding, a tenth are
archived, and a quarter get a hazard that moves on (some closed), so history after 31 October holds
about two rows per patch. Measured, min and median over ``--rounds``:
- load: ``stats.load`` (the ledger, history, fog events, hazards and their history, read once);
- rebuild: ``asof.ledger_as_of`` alone (patches and hazards as on 31 October);
- current: ``report.compose`` of the running month (December, made 3 December);
- past: ``report.compose`` of October made on 3 December (the rebuild and every table).
The ratio past / current is taken within each round."""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_store import BENCH_USER, make_data  # noqa: E402

from safetymap import hazard_ledger, report, stats  # noqa: E402
from safetymap import store as store_module  # noqa: E402
from safetymap.asof import ledger_as_of, moment_after  # noqa: E402
from safetymap.auth import User  # noqa: E402
from safetymap.seed import init_database  # noqa: E402

MADE_ON = dt.date(2026, 12, 3)
EDITOR, SAFETY = User("基准编辑", "editor"), User("基准安全科", "safety")


class Clock:
    """Stands in for the store's clock, so history rows carry the months the benchmark chooses."""

    def __init__(self):
        self.now = "2026-09-01T02:00:00.000Z"

    def __call__(self) -> str:
        return self.now

    def at(self, day: str) -> None:
        self.now = f"{day}T02:00:00.000Z"


def build(folder: Path, n: int, rng: np.random.Generator):
    clock = Clock()
    store_module.now_utc = hazard_ledger.now_utc = clock  # a benchmark process of its own: no need to restore
    store = init_database(folder / f"report_{n}.gpkg", sample=False)
    data = make_data(store.schema, n, rng)
    with store.transaction() as con:
        for key, (raw, geoms) in data.items():
            store.insert_many(key, raw, geoms, BENCH_USER, con=con)
    codes = [c for raw, _ in data.values() for c in raw["code"]]
    clock.at("2026-10-12")
    for code in rng.choice(codes, len(codes) // 4, replace=False):
        h = store.add_hazard(str(code), hazard(rng), EDITOR)
        store.move_hazard(h["hazard_code"], "整改中", h["version"], EDITOR)
    clock.at("2026-11-05")
    for code in rng.choice(codes, len(codes) // 3, replace=False):
        record = store.get(str(code))
        store.update(str(code), {"rect_status": "整改中", "funding_wan": 20.0, "grade_method": "直接判定",
                                 "risk_grade": "重大", "grade_basis": "复核"}, record["version"], BENCH_USER)
    hazards = store.hazards()
    for code in hazards["hazard_code"].iloc[::3]:
        h = store.hazard(code)
        h = store.move_hazard(code, "待验收", h["version"], EDITOR)
        if h["hazard_level"] == "一般隐患":
            store.move_hazard(code, "已销号", h["version"], SAFETY, opinion="复查合格")
    clock.at("2026-11-20")
    for code in rng.choice(codes, len(codes) // 10, replace=False):
        store.archive(str(code), BENCH_USER)
    return store


def hazard(rng: np.random.Generator) -> dict:
    return {"hazard_type": "其他", "hazard_level": str(rng.choice(["重大隐患", "一般隐患"])), "found_date": "2026-10-10",
            "description": "合成隐患", "measures": "合成措施", "lead_unit": "工程科", "resp_person": "王建国",
            "deadline": "2026-12-31", "fund_wan": float(rng.integers(1, 100)), "fund_source": "养护资金"}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(store, rounds: int) -> dict[str, list[float]]:
    schema, samples = store.schema, {k: [] for k in ("load", "rebuild", "current", "past", "past / current")}
    october, december = stats.Period.month(2026, 10), stats.Period.month(2026, 12)
    for r in range(rounds):
        data = stats.load(store)
        samples["load"].append(timed(lambda: stats.load(store)))
        samples["rebuild"].append(timed(lambda: ledger_as_of(data, schema, moment_after(october.last_day))))
        order = [("current", december), ("past", october)]
        times = {}
        for name, period in (order if r % 2 == 0 else order[::-1]):
            times[name] = timed(lambda: report.compose(data, schema, period, MADE_ON))
            samples[name].append(times[name])
        samples["past / current"].append(times["past"] / times["current"])
    return samples


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[2000, 10000], help="patches (several sizes allowed)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(20261203)
    with tempfile.TemporaryDirectory() as folder:
        for n in args.n:
            start = time.perf_counter()
            store = build(Path(folder), n, rng)
            data = stats.load(store)
            print(f"\n{n:,} patches, {len(data.history):,} history rows, {len(data.hazards):,} hazards "
                  f"({len(data.hazard_history):,} hazard history rows); built in {time.perf_counter() - start:.1f} s")
            for name, values in measure(store, args.rounds).items():
                unit = "×" if "/" in name else "s"
                print(f"  {name:<15} min {min(values):7.3f} {unit}   median {statistics.median(values):7.3f} {unit}")
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
