"""The lists a page picks a patch from (图斑编辑, 巡查上报): code → "code name", built from the map's shared
frame once per ledger revision for the whole process (``cached_by_revision``), so a rerun reads nothing.
Shared between sessions: read them, never change them."""
from __future__ import annotations

import pandas as pd
import shapely

from ..store import Store
from .common import cached_by_revision
from .map_frame import load


@cached_by_revision
def current_patches(store: Store) -> dict[str, str]:
    """Every current patch."""
    frame = load(store)
    return dict(zip(frame["code"], frame["code"] + " " + frame["name"].fillna("")))


@cached_by_revision
def every_patch(store: Store) -> dict[str, str]:
    """The current patches, then the archived ones (marked 已归档), each read alone: archiving is done
    patch by patch, so they are few."""
    labels = dict(current_patches(store))
    for code in sorted(set(store.codes()) - labels.keys()):
        record = store.get(code)
        labels[code] = f"{code} {record['name'] or ''}" + ("（已归档）" if record["archived"] else "")
    return labels


@cached_by_revision
def patch_places(store: Store) -> pd.DataFrame:
    """Code, name and source geometry of every current patch (what ``editing.nearest_patches`` measures),
    read column-wise, built only when someone asks for the nearest patches."""
    frame = store.read_columns(["name"], geometry=True)
    places = frame[["code", "name"]].copy()  # not a view keeping the WKB columns alive
    places["source_geometry"] = shapely.from_wkb(frame["source_wkb"].to_numpy())
    return places
