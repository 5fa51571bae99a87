"""The map's data on the server, one copy per ledger revision for the whole process: the page's frame (a
few columns of every patch, read column-wise), the roads, and the revision the map's data routes serve.
Apart from the map page so that the server can build them when it starts (``web.warm_up``) without
importing the page's components outside a script run (Streamlit registers a component only when its
module is first imported inside one)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import mapdata, mapview
from ..fog import fog_counts
from ..ledger import OVERDUE_KEYS, overdue, today
from ..store import Store
from .common import cached_by_revision


@cached_by_revision
def load_context(store: Store) -> mapview.MapContext:
    """Roads, K marks and townships for the map (the routes change with the ledger only)."""
    return mapview.map_context(store.routes())


PAGE_KEYS = ("name", "route_code", "township", "risk_grade", *OVERDUE_KEYS, "version")
REPEATED = ("category", "route_code", "township", "risk_grade", "rect_status")  # a few values, many patches
FOG_KEYS = ("fog_monitor_start", "fog_events_manual", "fog_manual_year", "fog_manual_basis")  # for the count only
FEW_CHANGES = 10_000  # patches re-read by code after a change at most; beyond, the whole is read again


def change_limit(patches: int) -> int:
    """The most patches a change may touch for the previous frame to be updated (a twentieth of the ledger:
    read by code they take longer each than in a whole read)."""
    return max(100, min(FEW_CHANGES, patches // 20))


def updated(store: Store, previous: pd.DataFrame) -> pd.DataFrame | None:
    """``load``'s frame of an older revision or day brought up to date: the patches written (or given fog
    events) since are read again and replace theirs, the other rows are the previous frame's (their strings
    shared, not read again), the overdue flags judged again for today. None (read it all) when the fog
    window moved with the year, when the store cannot tell what changed or too much did, or when the
    result's count and sum of versions per category differ from the ledger's."""
    if previous.attrs.get("year") != today().year:
        return None
    changes = store.changes_since(previous.attrs["revision"], PAGE_KEYS + FOG_KEYS, limit=change_limit(len(previous)))
    if changes is None:
        return None
    rows = shared_texts(changes.rows, REPEATED, like=previous)
    rows = with_flags(store, rows, changes.fog_events).astype(previous.dtypes.to_dict()) if len(rows) \
        else previous.iloc[:0]
    order = merged_order(previous, rows, changes.codes, store.schema)
    frame = spliced(previous, rows, order)
    frame["overdue"] = overdue(frame, schema=store.schema).fillna(False).to_numpy(bool)  # the day may be new
    frame.attrs = {"revision": changes.revision, "year": today().year}
    return frame if totals(frame) == changes.totals else None


@cached_by_revision(update=updated)
def load(store: Store) -> pd.DataFrame:
    """Every current patch with what the filters, the search, the side panel's flags and the payload's index
    use: a few columns read column-wise, the patch's box instead of its geometry (the side panel reads the
    whole record with ``store.get``), and two flags: overdue and in the fog ledger. One frame per revision
    for the whole process (``cached_by_revision``), never copied by a rerun; after a change, made from the
    previous revision's (``updated``)."""
    revision = store.revision()  # read first: the frame is at least this new
    frame = shared_texts(store.read_columns(PAGE_KEYS + FOG_KEYS), REPEATED)
    frame = with_flags(store, frame, store.fog_events())
    frame.attrs = {"revision": revision, "year": today().year}  # names the map payload built from this frame
    return frame


def with_flags(store: Store, frame: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (of ``PAGE_KEYS`` and ``FOG_KEYS``) with the overdue and fog flags, without ``FOG_KEYS``;
    ``events`` holds at least the fog events of its patches."""
    frame["overdue"] = overdue(frame, schema=store.schema).fillna(False).to_numpy(bool)
    counts = fog_counts(frame[frame["category"] == store.schema.fog_category], events, store.schema)
    frame["fog_per_year"] = frame["code"].map(dict(zip(counts["code"], counts["per_year"])))
    frame["fog_ledger"] = frame["code"].isin(set(counts.loc[counts["in_ledger"], "code"]))
    return frame.drop(columns=list(FOG_KEYS))


def merged_order(previous: pd.DataFrame, rows: pd.DataFrame, codes, schema) -> np.ndarray:
    """Where the rows of ``previous`` but those of ``codes``, and ``rows``, come in the order ``read_columns``
    gives (by category as the schema lists them, then by code): positions in ``previous`` followed by
    ``rows``. Both frames have ``category`` and ``code``."""
    kept = np.flatnonzero(~previous["code"].isin(codes).to_numpy())
    positions = np.concatenate([kept, len(previous) + np.arange(len(rows))])
    both = pd.concat([previous[["category", "code"]].take(kept), rows[["category", "code"]]], ignore_index=True)
    by_code = np.argsort(both["code"].to_numpy(), kind="stable")  # a sorted frame and a few rows: quick
    rank = both["category"].map({c.key: i for i, c in enumerate(schema.categories)}).to_numpy()
    return positions[by_code[np.argsort(rank[by_code], kind="stable")]]


def spliced(previous: pd.DataFrame, rows: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    """``pd.concat([previous, rows]).take(order)``, made of slices: a few changed rows leave long runs of the
    previous frame, and a slice of a column of pandas strings (Arrow) is not copied, where ``take`` copied
    every string of 37 columns of 台账's table (1.4 s at 100,000 patches)."""
    n = len(previous)
    starts = np.flatnonzero(np.diff(order, prepend=-2) != 1)  # a run of consecutive positions, never across n
    starts = np.union1d(starts, np.flatnonzero(order == n))
    ends = np.append(starts[1:], len(order))
    pieces = [previous.iloc[order[a]:order[b - 1] + 1] if order[a] < n else rows.iloc[order[a] - n:order[b - 1] + 1 - n]
              for a, b in zip(starts, ends)]
    return joined_chunks(pd.concat(pieces, ignore_index=True)) if pieces else previous.iloc[:0].reset_index(drop=True)


MAX_CHUNKS = 64  # pieces an Arrow column may be made of before ``joined_chunks`` joins them


def joined_chunks(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its Arrow columns of more than ``MAX_CHUNKS`` pieces made one piece (joining slices keeps
    them apart: a table spliced after every edit would otherwise be made of ever more pieces)."""
    for column in frame.columns:
        values = frame[column].array
        if isinstance(values, pd.arrays.ArrowExtensionArray) and values.__arrow_array__().num_chunks > MAX_CHUNKS:
            frame[column] = pd.array(values.__arrow_array__().combine_chunks(), dtype=values.dtype)
    return frame


def totals(frame: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Per category the patches and the sum of their versions (``Store.changes_since``'s check)."""
    grouped = frame.groupby("category")["version"].agg(["count", "sum"])
    return {key: (int(row["count"]), int(row["sum"])) for key, row in grouped.iterrows()}


def shared_texts(frame: pd.DataFrame, columns, like: pd.DataFrame | None = None) -> pd.DataFrame:
    """``frame`` with one string object per distinct value in ``columns`` (the same objects as ``like``'s
    where it holds the value): the database hands back a new string per row (100,000 copies of a
    township's name held ~8 MB per column at 100,000 patches)."""
    for column in columns:
        if column in frame and frame[column].dtype == object:
            seen: dict = {} if like is None else {v: v for v in pd.unique(like[column].to_numpy()) if isinstance(v, str)}
            frame[column] = pd.Series([seen.setdefault(v, v) for v in frame[column].tolist()], index=frame.index,
                                      dtype=object)
    return frame


def publish_current(store: Store, everything: pd.DataFrame | None = None, *,
                    prepare: bool = True) -> mapdata.Revision:
    """The revision of ``everything`` (the page's frame; by default the current one), kept for the map's
    data routes (its coarse whole built in the background with ``prepare``)."""
    everything = load(store) if everything is None else everything
    return mapdata.publish(store, revision_token(everything), everything, today(), prepare=prepare)


def revision_token(everything: pd.DataFrame) -> str:
    """The name of the ledger revision ``everything`` (``load``'s frame) was read at (with the day: overdue
    flags change)."""
    return mapdata.token_of(everything.attrs["revision"], today())


