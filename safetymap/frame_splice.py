"""A frame of the whole ledger brought to a newer revision from an older one: the rows of the patches that
changed since (``Store.changes_since``) put in place of theirs, the rest kept as it was. Used by the map's
page frame and 台账's table (``safetymap.ui``), which keep one such frame per revision for the process."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .store import LedgerChanges, Store

FEW_CHANGES = 10_000  # patches re-read by code after a change at most; beyond, the whole is read again


def change_limit(patches: int) -> int:
    """The most patches a change may touch for the previous frame to be updated (a twentieth of the ledger:
    read by code they take longer each than in a whole read)."""
    return max(100, min(FEW_CHANGES, patches // 20))


Pairs = list[tuple[pd.DataFrame, pd.DataFrame]]  # (a frame of the older revision, its rows for the changes)


def brought_up_to_date(store: Store, revision: tuple[int, ...], keys, patches: int,
                       make: Callable[[LedgerChanges], Pairs | None]
                       ) -> tuple[tuple[int, ...], list[pd.DataFrame]] | None:
    """Frames of ``patches`` rows each read at an older ``revision`` brought up to the ledger's current one.
    ``make`` is handed the changes since (``Store.changes_since`` of columns ``keys``) and gives, per frame,
    the older frame and its rows for ``changes.rows``, row for row with the same columns and dtypes (the
    first pair's with ``category``, ``code`` and ``version``), or None when they cannot be spliced in. In
    each older frame the rows of the patches that changed are then replaced by those. Returns the new
    revision and the frames, or None (read it all) when the store cannot tell what changed or too much did,
    when ``make`` gives None, or when the first frame's count and sum of versions per category differ from
    the ledger's."""
    changes = store.changes_since(revision, keys, limit=change_limit(patches))
    if changes is None:
        return None
    pairs = make(changes)
    if pairs is None:
        return None
    order = merged_order(pairs[0][0], changes.rows, changes.codes, store.schema)
    frames = [spliced(older, rows, order) for older, rows in pairs]
    return (changes.revision, frames) if totals(frames[0]) == changes.totals else None


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
