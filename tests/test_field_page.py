"""The field page (巡查上报) through AppTest, and photo preparation, against a real database."""
import io

import pytest
from PIL import Image

from safetymap.auth import User
from safetymap.errors import PermissionDenied, ValidationError
from safetymap.photos import MAX_EDGE_PX, prepare_photo
from safetymap.store import open_store
from conftest import leave_and_return, page_test


def jpeg(width, height, orientation=None) -> bytes:
    img = Image.new("RGB", (width, height), (200, 30, 30))
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def field_app(sample_db, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    yield page_test("field_page", "巡查员小王", "inspector")


def test_photo_is_turned_upright_resized_and_checked():
    data, mime, w, h = prepare_photo(jpeg(3000, 1000, orientation=6), "IMG_0001.jpg")  # rotated 90° on camera
    assert mime == "image/jpeg" and (w, h) == (MAX_EDGE_PX * 1000 // 3000, MAX_EDGE_PX)
    assert Image.open(io.BytesIO(data)).size == (w, h)
    with pytest.raises(ValidationError, match="notes.txt.*不是可识别的图片"):
        prepare_photo(b"not an image", "notes.txt")
    with pytest.raises(ValidationError, match="超过"):
        prepare_photo(b"\0" * (16 * 1024 * 1024), "huge.jpg")


def test_field_page_records_an_inspection_with_a_photo(field_app, sample_db):
    store = open_store(sample_db)
    record = store.read("curve").iloc[0]
    field_app.run()
    field_app.selectbox(key="field_search").set_value(record["code"]).run()
    assert not field_app.exception
    field_app.text_area[0].set_value("护栏立柱松动两处，已设置警示锥")
    field_app.selectbox[1].set_value("整改中")
    field_app.file_uploader[0].set_value(("现场.jpg", jpeg(2000, 1500), "image/jpeg"))
    field_app.button[0].click().run()
    assert not field_app.exception, field_app.exception
    assert any("已记录" in s.value for s in field_app.success)
    inspections = store.inspections(record["code"])
    assert len(inspections) == 1 and inspections.iloc[0]["inspector"] == "巡查员小王"
    assert inspections.iloc[0]["findings"].startswith("护栏立柱松动")
    photos = store.photos(record["code"])
    assert len(photos) == 1 and photos.iloc[0]["width"] == MAX_EDGE_PX
    assert Image.open(io.BytesIO(store.photo_bytes(photos.iloc[0]["id"]))).format == "JPEG"
    patch = store.get(record["code"])
    assert patch["rect_status"] == "整改中" and patch["last_inspection"] is not None
    assert set(store.history(record["code"])["user"]) >= {"巡查员小王"}


def test_field_page_reports_a_fog_event(field_app, sample_db):
    store = open_store(sample_db)
    code = store.read("fog").iloc[0]["code"]
    before = len(store.fog_events(code))
    field_app.run()
    field_app.selectbox(key="field_search").set_value(code).run()
    field_app.tabs[1]  # the fog tab exists for fog segments
    field_app.number_input[0].set_value(3.5)
    field_app.number_input[1].set_value(40)
    next(b for b in field_app.button if b.label == "上报团雾事件").click().run()
    assert not field_app.exception
    events = store.fog_events(code)
    assert len(events) == before + 1
    assert events.iloc[-1]["min_visibility_m"] == 40 and events.iloc[-1]["created_by"] == "巡查员小王"


def test_field_page_reports_a_hazard_with_a_photo(field_app, sample_db):
    store = open_store(sample_db)
    code = next(c for c in store.read("curve")["code"] if store.hazards(c).empty)
    field_app.run()
    field_app.selectbox(key="field_search").set_value(code).run()
    prefix = "hazard-0-"  # the hazard form's inputs (form number 0)
    field_app.selectbox(key=prefix + "hazard_type").set_value("警示标志缺失")
    field_app.selectbox(key=prefix + "hazard_level").set_value("一般隐患")
    field_app.text_area(key=prefix + "description").set_value("急弯警告标志被撞倒")
    next(u for u in field_app.file_uploader if "hazard" in u.key).set_value(("标志.jpg", jpeg(2000, 1500), "image/jpeg"))
    next(b for b in field_app.button if b.label == "上报隐患").click().run()
    assert not field_app.exception and not field_app.error, [e.value for e in field_app.error]
    assert field_app.success[0].value.replace("\\", "") == f"已上报隐患 {code}-YH01（1 张照片）"  # first on the page
    hazard = store.hazard(f"{code}-YH01")
    assert (hazard["status"], hazard["updated_by"]) == ("待整改", "巡查员小王")
    assert hazard["found_date"] is not None and len(store.hazard_photos(hazard["hazard_code"])) == 1
    assert field_app.text_area(key="hazard-1-description").value == ""  # a new, empty form


def test_inspector_can_log_but_cannot_change_a_patch(store):
    inspector = User("巡查员", "inspector")
    code = store.read("fog").iloc[0]["code"]
    store.add_inspection(code, inspector, findings="正常")
    store.add_fog_event(code, "2026-09-01", inspector, min_visibility_m=50)
    with pytest.raises(PermissionDenied, match="无权修改图斑"):
        store.update(code, {"name": "改名"}, store.get(code)["version"], inspector)



def test_the_patch_found_survives_leaving_and_returning(sample_db, monkeypatch):
    """A patch found on 巡查上报 is still chosen after a look at another page (台账 on the phone), as a
    new patch begun is on 图斑编辑: Streamlit drops the keys of widgets a run does not draw."""
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    code = open_store(sample_db).read("curve").iloc[0]["code"]
    at = page_test("field_page", "巡查员小王", "inspector").run()
    at.selectbox(key="field_search").set_value(code).run()
    assert [t.label for t in at.tabs] == ["巡查记录", "上报隐患"]
    leave_and_return(at)
    assert at.selectbox(key="field_search").value == code
    assert [t.label for t in at.tabs] == ["巡查记录", "上报隐患"]
    at.radio(key="field_how").set_value("离我最近").run()
    leave_and_return(at)
    assert at.radio(key="field_how").value == "离我最近"
    at.radio(key="field_how").set_value("搜索编号或名称").run()
    assert at.selectbox(key="field_search").value == code
    store = open_store(sample_db)
    store.archive(code, "编辑员甲", store.get(code)["version"])  # while the inspector is on another page
    leave_and_return(at)
    assert at.selectbox(key="field_search").value is None and not at.tabs  # gone from the search, not an error
