"""导入导出: download the ledger (or a filtered part) in every format; upload a file, see what it would
add and change and every problem, then confirm. The page only reads input and calls ``safetymap.io``."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import streamlit as st

from ..errors import SafetymapError
from ..filters import PatchFilter
from ..io.export import FORMATS, default_filename, export, related_tables
from ..io.geojson import SOURCE_WKT_COLUMN
from ..io.importer import ImportPreview, preview_import
from ..io.reader import SUPPORTED, SUPPORTED_TEXT
from ..io.uploads import DEFAULT_LIMITS, save_upload
from ..ledger import shown
from ..text import md_escape
from .common import current_user, get_store, sample_banner
from .filter_form import filter_form
from .map_frame import load

PREVIEW_KEY = "files_import_preview"
UPLOAD_TYPES = sorted(s.lstrip(".") for s in SUPPORTED if s != ".shp")  # a lone .shp lacks its other parts
ENCODINGS = {"自动（UTF-8 或 .cpg）": None, "GBK（中文 Windows）": "gbk", "UTF-8": "utf-8"}
EXPORT_CONTENTS = (  # what each file holds, as a user opening it in QGIS or Excel finds it
    "GeoJSON：一个图层，每个图斑一个面要素（共 {count} 个）；路段线、桥梁点以 WKT 文字存于「" + SOURCE_WKT_COLUMN
    + "」列，供重新导入，要在 QGIS 中显示线和点请导出 Shapefile 或 GeoPackage。"
    "Shapefile：每个类别的图斑面、路段线、桥梁点各一层，含字段对照表；超过 254 字节的文字在 .dbf 中截断，全文另存于 超长文本.csv。"
    "GeoPackage：每个类别一个图斑面图层和一个源几何图层，另有变更历史、巡查和团雾记录。"
    "KML/KMZ：每个类别一个图斑面文件夹和一个源几何文件夹。Excel、CSV：每个图斑一行。")


def render() -> None:
    store = get_store()
    st.title("导入导出")
    sample_banner(store)
    user = current_user()
    export_tab, import_tab = st.tabs(["导出台账", "导入图斑"])
    with export_tab:
        if user.can("export"):
            _export_section(store, user)
        else:
            st.info(f"您的角色（{user.role_label}）不能导出台账。")
    with import_tab:
        if user.can("import"):
            _import_section(store, user)
        else:
            st.info(f"您的角色（{user.role_label}）不能导入图斑。")


# ---------------------------------------------------------------- export
def _export_bytes(store, chosen: PatchFilter, count: int, fmt: str, options: dict, user):
    """A callable the download button runs on click, so only the chosen format is built, from the
    patches read then (a rerun of the page reads no geometry), once the store has checked the user
    and logged the export of the ``count`` patches the page showed."""
    def build() -> bytes:
        store.exporting(user, f"{fmt} {count} 个图斑（网页下载）")
        frame = store.read(filters=chosen)
        with tempfile.TemporaryDirectory(prefix="safetymap-download-") as tmp:
            out = Path(tmp) / f"ledger{FORMATS[fmt].suffix}"
            tables = related_tables(store, frame["code"]) if fmt == "gpkg" else None
            export(frame, fmt, out, store.schema, tables=tables, database=store.location, **options)
            return out.read_bytes()
    return build


def _export_section(store, user) -> None:
    everything = load(store)  # the map's frame: a few columns of every patch, one per revision for the process
    try:
        chosen = filter_form(store.schema, everything, key="export_f", overdue_label="只导出逾期未整改",
                             parts=("category", "grade", "status", "township", "route", "overdue"))
        count = int(chosen.mask(everything).sum())
    except SafetymapError as exc:
        st.error(str(exc))
        return
    st.metric("将导出的图斑", count)
    if not count:
        st.info("筛选结果为空，没有可导出的图斑。")
        return
    cols = st.columns(2)
    encoding = cols[0].radio("Shapefile 文字编码", ["utf-8", "gbk"], horizontal=True,
                             format_func={"utf-8": "UTF-8（推荐，含 .cpg）", "gbk": "GBK（旧版 ArcGIS）"}.get)
    rfc7946 = cols[1].checkbox("GeoJSON 按 RFC 7946（WGS84 经纬度）")
    options = {"shp": {"encoding": encoding}, "geojson": {"rfc7946": rfc7946}}
    cols = st.columns(4)
    for i, (key, fmt) in enumerate(FORMATS.items()):
        cols[i % 4].download_button(fmt.label, _export_bytes(store, chosen, count, key, options.get(key, {}), user),
                                    file_name=default_filename(key), mime=fmt.mime, key=f"download_{key}",
                                    on_click="ignore", width="stretch")
    st.caption(EXPORT_CONTENTS.format(count=count))


# ---------------------------------------------------------------- import
def _options(store) -> dict:
    labels = {c.key: c.label for c in store.schema.categories}
    cols = st.columns(3)
    category = cols[0].selectbox("类别（文件中没有「类别」列时）", [None, *labels], format_func=lambda k: "自动判断" if k is None else labels[k])
    crs = cols[1].text_input("坐标系（文件没有时）", placeholder="如 4490、4551", help="国家2000经纬度 4490；"
                             "国家2000 3度带126°E 4551。高德、腾讯地图坐标为 GCJ-02，须先转换。")
    encoding = cols[2].selectbox("文字编码（Shapefile 无 .cpg 或 CSV）", list(ENCODINGS))
    return {"category": category, "crs": crs.strip() or None, "encoding": ENCODINGS[encoding]}


def make_preview(store, name: str, data: bytes, **options) -> ImportPreview:
    """Check the size, save the upload to a temporary folder and preview it (nothing is written)."""
    with tempfile.TemporaryDirectory(prefix="safetymap-upload-") as tmp:
        path = save_upload(data, name, tmp, DEFAULT_LIMITS)
        return preview_import(store, path, name=name, **options)


def _show_preview(preview: ImportPreview) -> None:
    (st.error if preview.problems else st.success)(md_escape(preview.summary()))
    for warning in preview.warnings:  # they name the file's own columns, layers and members
        st.warning(md_escape(warning))
    tabs = st.tabs([f"问题（{len(preview.problems)}）", f"新增（{preview.n_added}）",
                    f"更新（{preview.n_updated} 个图斑）"])
    with tabs[0]:
        if preview.problems:
            st.dataframe(shown(preview.problem_table()), hide_index=True, width="stretch")
        else:
            st.write("没有发现问题。")
    with tabs[1]:
        st.dataframe(shown(preview.adds), hide_index=True, width="stretch")
    with tabs[2]:
        st.dataframe(shown(preview.updates), hide_index=True, width="stretch")


def _import_section(store, user) -> None:
    st.caption(f"可导入：{SUPPORTED_TEXT}。{DEFAULT_LIMITS.describe()}。"
               "先预览，确认后一次写入；有任何问题则不写入。")
    options = _options(store)
    upload = st.file_uploader("选择文件（Shapefile 请把 .shp、.shx、.dbf、.prj、.cpg 打包成 zip）", type=UPLOAD_TYPES,
                              max_upload_size=DEFAULT_LIMITS.max_mb, key="files_upload",
                              help=f"可导入：{SUPPORTED_TEXT}；单个文件不超过 {DEFAULT_LIMITS.max_mb} MB。"
                                   "其他类型的文件（如 Word）选择框不接受。")
    if upload is None:
        st.session_state.pop(PREVIEW_KEY, None)
        return
    data = upload.getvalue()
    key = (upload.name, hashlib.sha256(data).hexdigest(), tuple(sorted(options.items())))
    saved = st.session_state.get(PREVIEW_KEY)
    if saved is None or saved[0] != key:
        try:
            with st.spinner("正在读取和检查…"):
                saved = (key, make_preview(store, upload.name, data, **options))
        except SafetymapError as exc:
            st.error(md_escape(exc))  # names the uploaded file or its members
            return
        st.session_state[PREVIEW_KEY] = saved
    preview = saved[1]
    _show_preview(preview)
    nothing = not preview.n_added and not preview.n_updated
    if st.button("确认导入", type="primary", disabled=bool(preview.problems) or nothing, key="files_confirm"):
        try:
            counts = preview.commit(store, user)
        except SafetymapError as exc:
            st.error(md_escape(exc))
            return
        st.session_state.pop(PREVIEW_KEY, None)
        st.success(f"已导入：新增 {counts['added']} 个，更新 {counts['updated']} 个图斑。")
