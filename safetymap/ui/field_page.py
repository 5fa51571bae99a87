"""巡查上报: the field staff's page, made for a 360-px phone screen. Find a patch (search, or nearest to
the phone), record an inspection with photos and position, report a hazard (隐患)
with photos, or report a fog event. Field staff change nothing else."""
from __future__ import annotations

import datetime as dt
import hashlib

import streamlit as st

from ..editing import nearest_patches
from ..errors import ConflictError, PermissionDenied, StepRefused, ValidationError
from ..photos import MAX_UPLOAD_BYTES, prepare_photo
from ..clock import now_local
from ..store import Store
from ..text import md_escape, md_format
from . import hazard_page, patch_lists
from .common import current_user, get_store, sample_banner
from .geolocation import device_position
from .widgets import keep_across_pages


def render() -> None:
    store = get_store()
    st.title("巡查上报")
    result = st.container()  # the last submit's result, at the top of the phone screen
    _show_result(result)
    sample_banner(store)
    user = current_user()
    if not user.can("inspect"):
        st.warning(md_format("当前用户「{}」（{}）无权巡查上报。", user.name, user.role_label))
        return
    code = _pick_patch(store)
    if not code:
        return
    record = store.get(code)
    st.markdown(md_format("**{} {}**  \n{} · {} · 风险等级 {} · 整改状态 {}", record["code"], record["name"],
                          record["route_code"], record["township"], record["risk_grade"], record["rect_status"]))
    tabs = ["巡查记录", "上报隐患"] + (["团雾事件"] if record["category"] == store.schema.fog_category else [])
    chosen = st.tabs(tabs)
    with chosen[0]:
        _inspection_form(store, record, user)
    with chosen[1]:
        _hazard_form(store, record, user)
    if len(chosen) > 2:
        with chosen[2]:
            _fog_event_form(store, record, user)


DONE = "field_done"  # the message of the last successful submit, shown once after the rerun
FORM_N = "field_form_n"  # part of the forms' keys: a new form after each submit, so a second click is void
LAST_SUBMIT = "field_last_submit"  # fingerprint of the last recorded submit: the same one again is ignored


def _show_result(where) -> None:
    if DONE in st.session_state:
        message = st.session_state.pop(DONE)
        where.success(message, icon=":material/check_circle:")
        st.toast(message, icon=":material/check_circle:", duration="long")


def _fingerprint(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else repr(part).encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _already_submitted(fingerprint: str) -> bool:
    """True (and said so) when exactly this submit was recorded already: a double tap, or a resend."""
    if st.session_state.get(LAST_SUBMIT) == fingerprint:
        st.info("这条记录已经提交过，没有重复记录。")
        return True
    return False


def _done(fingerprint: str, message: str) -> None:
    st.session_state[LAST_SUBMIT] = fingerprint
    st.session_state[FORM_N] = st.session_state.get(FORM_N, 0) + 1
    st.session_state[DONE] = message
    st.rerun()


def _pick_patch(store: Store) -> str | None:
    labels = patch_lists.current_patches(store)
    keep_across_pages(["field_how", "field_search"])  # a patch archived since is no option: none is chosen
    how = st.radio("查找图斑", ["搜索编号或名称", "离我最近"], horizontal=True, key="field_how")
    if how == "离我最近":
        position = device_position("field_position")
        if position and "error" in position:
            st.error(md_escape(position["error"]))
        elif position:
            st.session_state["field_position_value"] = position
            near = nearest_patches(patch_lists.patch_places(store), position["lon"], position["lat"], n=5)
            options = list(near["code"])
            names = {r.code: md_format("{} {}（{} 米）", r.code, r.name, f"{r.distance_m:.0f}")
                     for r in near.itertuples()}
            return st.radio("最近的图斑", options, format_func=names.get, key="field_near")
        return None
    return st.selectbox("图斑", list(labels), format_func=labels.get, placeholder="输入编号或名称", index=None,
                        key="field_search")


def _now() -> dt.datetime:
    return now_local().replace(second=0, microsecond=0)


def _inspection_form(store: Store, record: dict, user) -> None:
    declared = store.schema.events["inspection"]
    statuses = list(declared.field("status_after").values)
    use_camera = st.toggle("用相机拍照", key="field_use_camera", help="手机浏览器需 HTTPS 才能使用相机")
    n = st.session_state.get(FORM_N, 0)
    with st.form(f"inspection-{record['code']}-{n}", clear_on_submit=True, enter_to_submit=False):
        now = _now()
        day = st.date_input("巡查日期", value=now.date(), format="YYYY-MM-DD")
        time = st.time_input("巡查时间", value=now.time(), step=300)
        findings = st.text_area(declared.field("findings").label, placeholder="现场情况、隐患变化、已采取的措施")
        status = st.selectbox(declared.field("status_after").label, statuses, index=statuses.index(record["rect_status"]))
        files = _photo_inputs(f"{record['code']}-{n}", use_camera)
        use_position = st.checkbox("附上我的位置", value="field_position_value" in st.session_state,
                                   help="先在“离我最近”中获取位置")
        submitted = st.form_submit_button("提交巡查记录", type="primary", use_container_width=True)
    if not submitted:
        return
    position = st.session_state.get("field_position_value") if use_position else None
    fingerprint = _fingerprint("inspection", record["code"], day, time, findings, status, position,
                               *(f.getvalue() for f in files))
    if _already_submitted(fingerprint):
        return
    try:
        photos = [prepare_photo(f.getvalue(), f.name) for f in files]
        store.add_inspection(record["code"], user, inspected_at=dt.datetime.combine(day, time), findings=findings,
                             status_after=status, lon=position and position.get("lon"),
                             lat=position and position.get("lat"), photos=photos)
    except (ValidationError, PermissionDenied) as exc:
        st.error(md_escape(exc))
        return
    _done(fingerprint, md_format("已记录 {} 的巡查（{} 张照片）", record["code"], len(photos)))


def _photo_inputs(key: str, use_camera: bool) -> list:
    """The camera (when switched on) and the gallery; the files chosen."""
    camera = st.camera_input("拍照", key=f"camera-{key}") if use_camera else None
    limit_mb = MAX_UPLOAD_BYTES // 1048576
    gallery = st.file_uploader(f"从相册选择照片（每张不超过 {limit_mb} MB）",
                               type=["jpg", "jpeg", "png", "webp", "heic"], accept_multiple_files=True,
                               max_upload_size=limit_mb, key=f"gallery-{key}",
                               help=f"可选多张 JPG、PNG、WebP 或 HEIC 照片，每张不超过 {limit_mb} MB；"
                                    "照片会自动转正并缩小后保存")
    return [f for f in [camera, *(gallery or [])] if f is not None]


def _hazard_form(store: Store, record: dict, user) -> None:
    """上报隐患: type, level, how found, what, with photos; the result shown at the top like the others."""
    use_camera = st.toggle("用相机拍照", key="field_hazard_camera", help="手机浏览器需 HTTPS 才能使用相机")
    n = st.session_state.get(FORM_N, 0)
    with st.form(f"hazard-{record['code']}-{n}", clear_on_submit=True, enter_to_submit=False):
        values = hazard_page.hazard_inputs(store, hazard_page.REPORT_KEYS, record["category"], f"hazard-{n}")
        files = _photo_inputs(f"hazard-{record['code']}-{n}", use_camera)
        submitted = st.form_submit_button("上报隐患", type="primary", use_container_width=True)
    if not submitted:
        return
    values.setdefault("found_date", now_local().date())
    fingerprint = _fingerprint("hazard", record["code"], sorted(values.items()), *(f.getvalue() for f in files))
    if _already_submitted(fingerprint):
        return
    try:
        photos = [prepare_photo(f.getvalue(), f.name) for f in files]
        added = store.add_hazard(record["code"], values, user, photos=photos)
    except (ValidationError, PermissionDenied, StepRefused, ConflictError) as exc:
        st.error(md_escape(exc))
        return
    _done(fingerprint, md_format("已上报隐患 {}（{} 张照片）", added["hazard_code"], len(photos)))


def _number_input(f, step):
    """A number input bounded by the declared field's range (int fields take whole numbers)."""
    cast = int if f.type == "int" else float
    bound = (lambda v: None if v is None else cast(v))
    return st.number_input(f.label_with_unit, min_value=bound(f.min), max_value=bound(f.max), value=None,
                           step=cast(step))


def _fog_event_form(store: Store, record: dict, user) -> None:
    declared = store.schema.events["fog_event"]
    n = st.session_state.get(FORM_N, 0)
    with st.form(f"fog-{record['code']}-{n}", clear_on_submit=True, enter_to_submit=False):
        now = _now()
        day = st.date_input(f"团雾{declared.field('date').label}", value=now.date(), format="YYYY-MM-DD")
        start = st.time_input(declared.field("start_time").label, value=now.time(), step=300)
        duration = _number_input(declared.field("duration_h"), 0.5)
        visibility = _number_input(declared.field("min_visibility_m"), 10)
        submitted = st.form_submit_button("上报团雾事件", type="primary", use_container_width=True)
    if not submitted:
        return
    fingerprint = _fingerprint("fog", record["code"], day, start, duration, visibility)
    if _already_submitted(fingerprint):
        return
    try:
        store.add_fog_event(record["code"], day, user, start_time=start.strftime("%H:%M"), duration_h=duration,
                            min_visibility_m=visibility, reporter=user.name)
    except (ValidationError, PermissionDenied) as exc:
        st.error(md_escape(exc))
        return
    _done(fingerprint, md_format("已上报 {} {} 的团雾事件", record["code"], f"{day:%Y-%m-%d}"))
