"""The map's data on the server, one copy per ledger revision for the whole process: the page's frame (a
few columns of every patch, read column-wise), the roads, and the revision the map's data routes serve.
Apart from the map page so that the server can build them when it starts (``web.warm_up``) without
importing the page's components outside a script run (Streamlit registers a component only when its
module is first imported inside one)."""
from __future__ import annotations

import pandas as pd

from .. import mapdata, mapview
from ..fog import fog_counts
from ..ledger import OVERDUE_KEYS, overdue, today
from ..store import Store
from ..frame_splice import brought_up_to_date
from .common import cached_by_revision


@cached_by_revision
def load_context(store: Store) -> mapview.MapContext:
    """Roads, K marks and townships for the map (the routes change with the ledger only)."""
    return mapview.map_context(store.routes())


PAGE_KEYS = ("name", "route_code", "township", "risk_grade", *OVERDUE_KEYS, "version")
REPEATED = ("category", "route_code", "township", "risk_grade", "rect_status")  # a few values, many patches
FOG_KEYS = ("fog_monitor_start", "fog_events_manual", "fog_manual_year", "fog_manual_basis")  # for the count only


def updated(store: Store, previous: pd.DataFrame) -> pd.DataFrame | None:
    """``load``'s frame of an older revision or day brought up to date: the patches written (or given fog
    events) since are read again and replace theirs, the other rows are the previous frame's (their strings
    shared, not read again), the overdue flags judged again for today. None (read it all) when the fog
    window moved with the year, when the store cannot tell what changed or too much did, or when the
    result's count and sum of versions per category differ from the ledger's."""
    if previous.attrs.get("year") != today().year:
        return None

    def pairs(changes) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
        rows = shared_texts(changes.rows, REPEATED, like=previous)
        return [(previous, with_flags(store, rows, changes.fog_events).astype(previous.dtypes.to_dict()) if len(rows)
                 else previous.iloc[:0])]

    done = brought_up_to_date(store, previous.attrs["revision"], PAGE_KEYS + FOG_KEYS, len(previous), pairs)
    if done is None:
        return None
    revision, (frame,) = done
    frame["overdue"] = overdue(frame, schema=store.schema).fillna(False).to_numpy(bool)  # the day may be new
    frame.attrs = {"revision": revision, "year": today().year}
    return frame


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


