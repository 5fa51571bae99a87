"""Create a database and seed it with the sample ledger (示例数据) shipped in ``data/``."""
from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from .geo import STORAGE_CRS
from .backends import is_database_url
from .errors import Problem, StepRefused, ValidationError
from .schema import DATA_DIR, Schema, load_schema
from .store import Store, create_store

SAMPLE_SEGMENTS = DATA_DIR / "segments.geojson"
SAMPLE_ROUTES = DATA_DIR / "routes.geojson"
SAMPLE_FOG_EVENTS = DATA_DIR / "fog_events.csv"
SAMPLE_HAZARDS = DATA_DIR / "hazards.csv"
ACCEPTANCE_KEYS = ("accept_by", "accept_date", "accept_opinion", "closed_date",  # given at the closing step
                   "recheck_date", "recheck_by", "recheck_way")
SAMPLE_USER = "示例数据"
DEFAULT_DB = DATA_DIR / "safetymap.gpkg"  # the project's, whichever folder the command runs in


def default_db_path() -> Path | str:
    """``$SAFETYMAP_DB`` or data/safetymap.gpkg: a file path, or a ``postgresql://…`` URL kept as text."""
    location = os.environ.get("SAFETYMAP_DB") or DEFAULT_DB
    return location if is_database_url(location) else Path(location)


def init_database(path: str | os.PathLike, *, sample: bool = True, force: bool = False,
                  schema: Schema | None = None) -> Store:
    """A new ledger at ``path`` (a file, or a ``postgresql://…`` URL); refuses to replace an existing
    one unless ``force``."""
    store = create_store(path, schema or load_schema(), force=force)
    if sample:
        seed_sample(store)
    store.checkpoint()
    return store


def read_sample_segments() -> gpd.GeoDataFrame:
    """The sample patches with every value as the file types it: read as JSON, because GDAL's GeoJSON
    reader guesses types and turns 高发时段 "00:00–07:00" into the time 00:00:00."""
    with open(SAMPLE_SEGMENTS, encoding="utf-8") as fh:
        features = json.load(fh)["features"]
    properties = pd.DataFrame([f["properties"] for f in features])
    geometry = [shapely.geometry.shape(f["geometry"]) for f in features]
    return gpd.GeoDataFrame(properties, geometry=geometry, crs=STORAGE_CRS)


def seed_sample(store: Store, hazards: Path = SAMPLE_HAZARDS) -> int:
    """Load routes, patches, fog events and hazards of the sample ledger."""
    routes = pyogrio.read_dataframe(SAMPLE_ROUTES)
    store.put_routes(routes, SAMPLE_USER)
    segments = read_sample_segments()
    total = 0
    with store.transaction() as con:  # all patches or none
        for category in store.schema.categories:
            part = segments[segments["category"] == category.key]
            if not len(part):
                continue
            attrs = pd.DataFrame(part.drop(columns=["category", "geometry"])).dropna(axis=1, how="all")
            # No inspection records come with the sample, so no 最近巡查日期 either (it would contradict 暂无巡查记录);
            # the first inspection recorded sets it.
            attrs = attrs[[c for c in attrs.columns if c in category.keys and c != "last_inspection"]]
            total += store.insert_many(category.key, attrs.reset_index(drop=True), part.geometry.to_numpy(),
                                       SAMPLE_USER, file=SAMPLE_SEGMENTS.name, con=con)
    events = pd.read_csv(SAMPLE_FOG_EVENTS, dtype=str, keep_default_na=False)
    store.add_fog_events(events, SAMPLE_USER, file=SAMPLE_FOG_EVENTS.name)
    seed_hazards(store, hazards)
    store.set_meta("sample", "示例数据")
    return total


def seed_hazards(store: Store, path: Path = SAMPLE_HAZARDS) -> int:
    """The sample hazards, each taken through the closure workflow to its status in the file (so the
    store's rules vouch that the sample has no contradictions); all or none."""
    rows = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig").to_dict("records")
    with store.transaction():
        for i, row in enumerate(rows, start=1):
            try:
                _seed_hazard(store, row)
            except ValidationError as exc:
                raise ValidationError([Problem(p.field, p.message, row=i, file=path.name) for p in exc.problems]) from None
            except StepRefused as exc:
                raise ValidationError([Problem("状态", str(exc), row=i, file=path.name)]) from None
    return len(rows)


def _seed_hazard(store: Store, row: dict) -> None:
    statuses = list(store.schema.hazard.status_labels)
    values = {k: v for k, v in row.items() if k not in ("code", "status", *ACCEPTANCE_KEYS) and v != ""}
    hazard = store.add_hazard(row["code"], values, SAMPLE_USER)
    for target in statuses[1:statuses.index(row["status"]) + 1]:
        given = {k: row[k] for k in ACCEPTANCE_KEYS if row.get(k) and target == statuses[-1]}
        hazard = store.move_hazard(hazard["hazard_code"], target, hazard["version"], SAMPLE_USER, values=given)
