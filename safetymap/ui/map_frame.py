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
from .common import cached_by_revision


@cached_by_revision
def load_context(store: Store) -> mapview.MapContext:
    """Roads, K marks and townships for the map (the routes change with the ledger only)."""
    return mapview.map_context(store.routes())


PAGE_KEYS = ("name", "route_code", "township", "risk_grade", *OVERDUE_KEYS, "version")
REPEATED = ("category", "route_code", "township", "risk_grade", "rect_status")  # a few values, many patches
FOG_KEYS = ("fog_monitor_start", "fog_events_manual", "fog_manual_year", "fog_manual_basis")  # for the count only


@cached_by_revision
def load(store: Store) -> pd.DataFrame:
    """Every current patch with what the filters, the search, the side panel's flags and the payload's index
    use: a few columns read column-wise, the patch's box instead of its geometry (the side panel reads the
    whole record with ``store.get``), and two flags: overdue and in the fog ledger. One frame per revision
    for the whole process (``cached_by_revision``), never copied by a rerun."""
    revision = store.revision()  # read first: the frame is at least this new
    frame = shared_texts(store.read_columns(PAGE_KEYS + FOG_KEYS), REPEATED)
    frame.attrs["revision"] = revision  # names the map payload built from this frame
    frame["overdue"] = overdue(frame, schema=store.schema).fillna(False).to_numpy(bool)
    counts = fog_counts(frame[frame["category"] == store.schema.fog_category], store.fog_events(), store.schema)
    frame["fog_per_year"] = frame["code"].map(dict(zip(counts["code"], counts["per_year"])))
    frame["fog_ledger"] = frame["code"].isin(set(counts.loc[counts["in_ledger"], "code"]))
    return frame.drop(columns=list(FOG_KEYS))


def shared_texts(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """``frame`` with one string object per distinct value in ``columns``: the database hands back a new
    string per row (100,000 copies of a township's name held ~8 MB per column at 100,000 patches)."""
    for column in columns:
        if column in frame and frame[column].dtype == object:
            seen: dict = {}
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


