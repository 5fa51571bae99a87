"""The map's data (issue 16): the ledger as one compact payload per revision, the delta an edit makes,
and the routes that serve them only to a signed-in browser. Real GeoPackage files, the real app."""
from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request

import numpy as np
import pytest
import shapely

import e2e_support as e2e
from safetymap import mapdata, mapview, sessions
from safetymap.auth import User
from safetymap.ledger import today
from safetymap.store import open_store


@pytest.fixture(autouse=True)
def fresh_cache():
    mapdata.forget()
    yield
    mapdata.forget()


def publish(store):
    frame = store.read()
    frame["overdue"], frame["fog_ledger"] = False, False
    token = mapdata.token_of(store.revision(), today())
    return mapdata.publish(store, token, frame, today(), prepare=False), frame


def test_payload_carries_every_patch_with_its_styles_texts_and_quantised_geometry(sample_db):
    store = open_store(sample_db)
    frame = store.read()
    body = mapdata.encode(frame, store.schema, "fine")
    header, arrays = mapdata.decode_header(body), mapdata.decode_arrays(body)
    assert header["code"] == frame["code"].tolist() and header["n"] == len(frame)
    assert header["name"] == frame["name"].tolist()
    keys = [c.key for c in store.schema.categories]
    assert [keys[i] for i in arrays["cat"]] == frame["category"].tolist()
    ranks = {g.label: g.rank for g in store.schema.grades}
    assert arrays["grade"].tolist() == [ranks.get(g, -1) for g in frame["risk_grade"]]
    # The first patch's rings, rebuilt from the int32 deltas, are its simplified polygon within 1e-6°.
    first = mapview.simplify_for_zoom([frame.geometry.iloc[0]], mapdata.LEVEL_ZOOMS["fine"])[0]
    count = int(arrays["polyLen"][0])
    xy = np.cumsum(arrays["polyXY"][:2 * count].reshape(-1, 2), axis=0) * mapdata.QUANTUM
    assert np.abs(xy - shapely.get_coordinates(first.exterior)[:-1]).max() <= mapdata.QUANTUM
    assert len(gzip.compress(body)) < 40 * len(frame) * 1000  # sanity: tens of kB for the sample


def test_an_edit_makes_a_delta_of_only_the_changed_patch(sample_db):
    store = open_store(sample_db)
    before, frame = publish(store)
    row = frame.iloc[5]
    store.update(row["code"], {"name": "改名后的图斑"}, int(row["version"]), "测试")
    after, _ = publish(store)
    assert after.token != before.token
    body = gzip.decompress(mapdata.delta(store.location, before.token, after.token, "coarse"))
    header = mapdata.decode_header(body)
    assert header["code"] == [row["code"]] and header["name"] == ["改名后的图斑"] and header["removed"] == []

    archived = frame.iloc[7]
    store.archive(archived["code"], "测试")
    gone, _ = publish(store)
    header = mapdata.decode_header(gzip.decompress(mapdata.delta(store.location, after.token, gone.token, "fine")))
    assert header["code"] == [] and header["removed"] == [archived["code"]]
    with pytest.raises(mapdata.Unknown):  # deltas lead to the newest revision only
        mapdata.delta(store.location, before.token, after.token, "coarse")


def test_a_reported_view_must_be_numbers():
    assert mapdata.valid_view({"z": 12, "bounds": [126.1, 41.9, 126.5, 42.1], "centre": [42.0, 126.3]})
    assert mapdata.valid_view({"z": "x", "bounds": [1, 2, 3, 4], "centre": [1, 2]}) is None
    assert mapdata.valid_view({"z": 1, "bounds": [1, 2, 3], "centre": [1, 2]}) is None
    assert mapdata.valid_view({"z": float("nan"), "bounds": [1, 2, 3, 4], "centre": [1, 2]}) is None


# ---------------------------------------------------------------- the routes, in the real app
@pytest.fixture(scope="module")
def app(tmp_path_factory, sample_template):
    db = e2e.copy_database(sample_template, tmp_path_factory.mktemp("map_data"))
    store = open_store(db)
    e2e.add_user(store, "数据测试员", "viewer", "map-data-password")
    store.close()
    with e2e.AppServer(db) as server:
        yield server


def get(url: str, cookie: str | None = None, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={**headers, **({"Cookie": f"{sessions.COOKIE}={cookie}"}
                                                                  if cookie else {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def session_token(db) -> str:
    store = open_store(db)
    try:
        return sessions.start(store, User("数据测试员", "viewer"), 600)
    finally:
        store.close()


def current_token(db) -> str:
    store = open_store(db)
    try:
        return mapdata.token_of(store.revision(), today())
    finally:
        store.close()


def test_the_data_routes_refuse_a_request_without_a_session(app):
    url = f"{app.url}/api/patches/coarse/{current_token(app.db)}"
    status, headers, body = get(url)
    assert status == 401 and "登录" in body.decode() and headers.get("cache-control") == "no-store"
    status, _, body = get(url, cookie="not-a-session")
    assert status == 403 and "登录" in body.decode()
    request = urllib.request.Request(f"{app.url}/api/view/abc", data=json.dumps({"z": 3}).encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401


def test_a_signed_in_browser_gets_the_revision_gzipped_and_cacheable(app):
    cookie, token = session_token(app.db), current_token(app.db)
    status, headers, body = get(f"{app.url}/api/patches/coarse/{token}", cookie, **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip" and "immutable" in headers["cache-control"]
    header = mapdata.decode_header(gzip.decompress(body))
    assert header["n"] == len(open_store(app.db).read()) > 0
    status, _, _ = get(f"{app.url}/api/patches/coarse/{token}", cookie, **{"If-None-Match": headers["etag"]})
    assert status == 304
    status, _, body = get(f"{app.url}/api/patches/coarse/1-2-3-4-20200101", cookie)
    assert status == 404 and "刷新" in body.decode()
