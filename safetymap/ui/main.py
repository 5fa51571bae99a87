"""The page script of ``app.py``: sign-in, the signed-in user re-read on every run, page navigation."""
from __future__ import annotations

import functools
import logging
import secrets
import traceback

import streamlit as st
from PIL import Image, ImageDraw

from .. import assets
from ..errors import SchemaError
from ..redaction import redact
from ..schema import load_schema
from ..text import md_format
from . import (audit_page, dashboard_page, edit_page, field_page, files_page, fog_page, hazard_page, ledger_page,
               login_page, map_page, session, users_page)

LOG = logging.getLogger("safetymap")


def pages_for(user):
    """The pages a role may open; the core refuses the actions anyway."""
    field_first = user.role == "inspector"  # field staff land on their phone form
    ledger = [(map_page.render, "地图", ":material/map:", "map"),
              (ledger_page.render, "台账", ":material/table_view:", "ledger"),
              (fog_page.render, "团雾台账", ":material/foggy:", "fog"),
              (hazard_page.render, "隐患台账", ":material/report:", "hazards"),
              (dashboard_page.render, "统计看板", ":material/bar_chart:", "dashboard")]
    work = []
    if user.can("edit"):
        work.append((edit_page.render, "图斑编辑", ":material/edit:", "edit"))
    if user.can("import") or user.can("export"):
        work.append((files_page.render, "导入导出", ":material/folder_open:", "files"))
    if user.can("inspect"):
        work.append((field_page.render, "巡查上报", ":material/phone_android:", "field"))
    admin = []
    if user.can("users"):
        admin += [(users_page.render, "用户管理", ":material/group:", "users"),
                  (audit_page.render, "操作审计", ":material/manage_search:", "audit")]
    return with_default({"台账": ledger, "业务": work, "管理": admin}, "field" if field_first else "map")


def with_default(sections: dict, default_path: str) -> dict:
    """``st.Page`` objects by section, the page at ``default_path`` served at "/". Streamlit serves the
    default page only there, so its own address (a shared ``/map?code=…`` link) would be "Page not
    found"; the same page, hidden from the menu, answers at that address too."""
    pages = {name: [st.Page(render, title=title, icon=icon, default=path == default_path,
                            url_path=DEFAULT_PATH if path == default_path else path)
                    for render, title, icon, path in specs] for name, specs in sections.items()}
    render, title, icon, path = next(s for specs in sections.values() for s in specs if s[3] == default_path)
    pages[next(iter(pages))].append(st.Page(render, title=title, icon=icon, url_path=path, visibility="hidden"))
    return pages


DEFAULT_PATH = "start"  # the default page's own name (Streamlit serves it at "/"); never in an address


PAGE_PATHS = ("map", "ledger", "fog", "hazards", "dashboard", "edit", "files", "field", "users", "audit")


def signed_out_navigation():
    """Only the sign-in form, but under every page's address too, so a bookmarked or refreshed link keeps
    its page and query through sign-in (and Streamlit shows no "page not found")."""
    session.remember_wanted_url()
    pages = [st.Page(login_page.render, title="登录", icon=":material/login:", url_path="login", default=True)]
    pages += [st.Page(login_page.render, title="登录", icon=":material/login:", url_path=path) for path in PAGE_PATHS]
    return st.navigation(pages, position="hidden")


def signed_in_navigation(user):
    session.hand_off()
    with st.sidebar:
        st.markdown(md_format("**{}**（{}）", user.name, user.role_label))
        if st.button("退出登录"):
            session.sign_out("已退出登录。")
            st.rerun()
    return st.navigation({k: v for k, v in pages_for(user).items() if v})


def before_sign_in_failed(exc: Exception) -> None:
    """Before sign-in nobody is known: a generic page with a reference; the detail (passwords hidden) goes
    only to the server log."""
    reference = secrets.token_hex(4).upper()
    where = "".join(traceback.format_tb(exc.__traceback__))  # code lines only: the message may hold a secret
    LOG.error("参考编号 %s：%s: %s\n%s", reference, type(exc).__name__, redact(exc), where)
    st.title("江源区公路安全风险图斑台账")
    st.error(f"系统暂时无法使用，请稍后再试或联系管理员（参考编号 {reference}）。")
    st.stop()


@functools.cache
def favicon() -> Image.Image:
    """The tab icon, drawn here: a Material icon as ``page_icon`` makes the browser fetch it from Google's
    servers, which an intranet cannot reach (and must not be asked)."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.polygon([(32, 2), (62, 32), (32, 62), (2, 32)], fill="#FF8C00", outline="#333333")  # a warning sign
    draw.rectangle([29, 16, 35, 38], fill="#333333")
    draw.rectangle([29, 43, 35, 49], fill="#333333")
    return image


def main() -> None:
    assets.install()  # Leaflet and plugins served from static/, never from a CDN
    st.set_page_config(page_title="江源区公路安全风险图斑台账", page_icon=favicon(), layout="wide")
    try:
        load_schema()  # a broken schema file is one Chinese line naming the file and the entry, not a traceback
    except SchemaError as exc:
        st.error(str(exc))
        st.stop()
    try:
        user = session.signed_in_user()
        navigation = signed_in_navigation(user) if user else signed_out_navigation()
    except Exception as exc:  # noqa: BLE001 - shown generically, logged in full (redacted), never swallowed
        if session.has_user():
            raise
        before_sign_in_failed(exc)
        return
    if user is None:
        _run_signed_out(navigation)
    else:
        navigation.run()


def _run_signed_out(navigation) -> None:
    try:
        navigation.run()
    except Exception as exc:  # noqa: BLE001 - as above: the login page itself failed (e.g. database down)
        before_sign_in_failed(exc)
