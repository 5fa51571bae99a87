"""The 团雾台账 (年均发生3次以上团雾路段台账): which fog segments are listed, and why.

A segment's count depends on its own events only. Counted: events in a fixed window (the last
``window_years`` complete calendar years before today, or from the segment's monitoring start when
later), one per segment per day, and only those below the visibility threshold. A hand-entered count
stands for one stated year, with its basis, and only when that year has no logged events. The yearly
average is the count over the window's length in years; a window shorter than ``min_monitoring_years``
is not judged yet. Parameters come from the schema's ``[fog_rule]``."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .clock import today
from .schema import Schema

SOURCE_EVENTS, SOURCE_MANUAL, SOURCE_BOTH, SOURCE_NONE = "事件记录", "人工填报", "事件记录+人工填报", "无记录"
COLUMNS = ["code", "window", "years", "events", "per_year", "tier", "source", "in_ledger", "reason"]


@dataclass(frozen=True)
class FogRule:
    window_years: int = 3
    min_monitoring_years: float = 1.0
    visibility_below_m: float = 200.0
    tiers: tuple[float, ...] = (3.0, 10.0, 20.0)

    @classmethod
    def of(cls, schema: Schema) -> "FogRule":
        raw = dict(schema.fog_rule)
        if "tiers" in raw:
            raw["tiers"] = tuple(float(t) for t in raw["tiers"])
        return cls(**raw)

    @property
    def threshold(self) -> float:
        """Events a year that list a segment."""
        return self.tiers[0]

    def window(self, on: dt.date) -> tuple[dt.date, dt.date]:
        """The counted period's first and last day: whole calendar years before ``on``'s year."""
        return dt.date(on.year - self.window_years, 1, 1), dt.date(on.year - 1, 12, 31)

    def describe(self) -> str:
        return (f"统计近 {self.window_years} 个完整年度（监测起始晚于统计期起点的，从监测起始日起算，不满 "
                f"{self.min_monitoring_years:g} 年暂不判定）；同一路段同一天只计一次；最低能见度低于 "
                f"{self.visibility_below_m:g} m 才计为团雾；年均 ≥{self.threshold:g} 次列入台账")


def counted_events(events: pd.DataFrame, rule: FogRule) -> pd.DataFrame:
    """Events that count as 团雾: below the visibility threshold, one per segment per day."""
    visibility = pd.to_numeric(events["min_visibility_m"], errors="coerce")
    fog = events[(visibility < rule.visibility_below_m).to_numpy(dtype=bool, na_value=False)]
    days = pd.to_datetime(fog["date"]).dt.normalize()
    return pd.DataFrame({"code": fog["code"].astype(str).to_numpy(), "date": days.to_numpy()}).drop_duplicates()


def fog_counts(fog_patches: pd.DataFrame, events: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.DataFrame:
    """Per fog segment: the count per year of the window, the yearly average, its tier, whether it is
    listed and why (``reason``). Year columns are ints, one per calendar year of the window."""
    rule = FogRule.of(schema)
    first, last = rule.window(on or today())
    years = list(range(first.year, last.year + 1))
    counted = counted_events(events, rule)
    counted = counted[(counted["date"] >= pd.Timestamp(first)) & (counted["date"] <= pd.Timestamp(last))]
    # a dict: a lookup per segment and year in a Series' MultiIndex took seconds for 20,000 segments
    per_year = counted.assign(year=counted["date"].dt.year).groupby(["code", "year"]).size().to_dict()
    rows = [_segment(rule, row, per_year, first, last, years) for row in fog_patches.to_dict("records")]
    return pd.DataFrame(rows, columns=["code", *years, *COLUMNS[1:]])


def fog_ledger(fog_patches: pd.DataFrame, events: pd.DataFrame, schema: Schema, on: dt.date | None = None) -> pd.DataFrame:
    """The listed segments only."""
    counts = fog_counts(fog_patches, events, schema, on)
    return counts[counts["in_ledger"].to_numpy(dtype=bool)].reset_index(drop=True)


def _segment(rule: FogRule, patch: dict, per_year: dict, first: dt.date, last: dt.date, years: list[int]) -> dict:
    code = str(patch["code"])
    start = _monitoring_start(patch.get("fog_monitor_start"), first)
    counts = {y: int(per_year.get((code, y), 0)) if y >= start.year else 0 for y in years}
    logged = sum(counts.values())
    manual_year, manual_note = _manual(patch, counts, start, last)
    if manual_year is not None:
        counts[manual_year] = int(patch["fog_events_manual"])
    span = _years_covered(start, last)
    total = sum(counts.values())
    source = _source(logged, manual_year)
    row = {"code": code, **counts, "window": f"{start:%Y-%m-%d}～{last:%Y-%m-%d}", "years": round(span, 2),
           "events": total, "source": source}
    if span < rule.min_monitoring_years:
        return row | {"per_year": np.nan, "tier": None, "in_ledger": False,
                      "reason": f"监测起始 {start:%Y-%m-%d}，统计期 {span:.1f} 年，不满 {rule.min_monitoring_years:g} 年，"
                                f"暂不判定{manual_note}"}
    average = total / span
    tier = max((t for t in rule.tiers if average >= t), default=None)
    verdict = (f"≥{rule.threshold:g} 次，列入台账（{tier:g} 次以上档）" if tier is not None
               else f"<{rule.threshold:g} 次，不列入")
    reason = f"统计期内共 {total} 次，年均 {average:.2f} 次 {verdict}{manual_note}"
    return row | {"per_year": average, "tier": None if tier is None else f"≥{tier:g}", "in_ledger": tier is not None,
                  "reason": reason}


def _years_covered(start: dt.date, last: dt.date) -> float:
    """Calendar years from ``start`` to ``last``: whole years count 1, a part year its share of days."""
    if start > last:
        return 0.0
    whole = last.year - start.year
    first_year_days = (dt.date(start.year, 12, 31) - dt.date(start.year, 1, 1)).days + 1
    return whole + ((dt.date(start.year, 12, 31) - start).days + 1) / first_year_days


def _monitoring_start(value, first: dt.date) -> dt.date:
    if value is None or pd.isna(value):
        return first
    return max(pd.Timestamp(value).date(), first)


def _manual(patch: dict, counts: dict[int, int], start: dt.date, last: dt.date) -> tuple[int | None, str]:
    """The year a hand-entered count stands for, if it is taken, and a note on why it is or is not."""
    value, year, basis = (patch.get(k) for k in ("fog_events_manual", "fog_manual_year", "fog_manual_basis"))
    if value is None or pd.isna(value):
        return None, ""
    if year is None or pd.isna(year) or not basis or pd.isna(basis):
        return None, "；人工填报缺少年份或依据，未计入"
    year = int(year)
    if not start.year <= year <= last.year:
        return None, f"；人工填报的 {year} 年不在统计期内，未计入"
    if counts.get(year):
        return None, f"；{year} 年已有事件记录，人工填报未计入"
    return year, f"；{year} 年按人工填报 {int(value)} 次（{basis}）"


def _source(logged: int, manual_year: int | None) -> str:
    if logged and manual_year is not None:
        return SOURCE_BOTH
    if logged:
        return SOURCE_EVENTS
    return SOURCE_MANUAL if manual_year is not None else SOURCE_NONE
