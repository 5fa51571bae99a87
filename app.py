"""Streamlit entry: sign-in and page navigation only; every page lives in safetymap/ui and calls the core."""
import streamlit as st

from safetymap import assets
from safetymap.ui import (audit_page, dashboard_page, edit_page, field_page, files_page, fog_page, ledger_page,
                          login_page, map_page, session, users_page)

assets.install()  # Leaflet and plugins served from static/, never from a CDN

st.set_page_config(page_title="江源区公路安全风险图斑台账", page_icon=":material/add_road:", layout="wide")


def pages_for(user):
    """The pages a role may open; the core refuses the actions anyway."""
    field_first = user.role == "inspector"  # field staff land on their phone form
    ledger = [st.Page(map_page.render, title="地图", icon=":material/map:", url_path="map", default=not field_first),
              st.Page(ledger_page.render, title="台账", icon=":material/table_view:", url_path="ledger"),
              st.Page(fog_page.render, title="团雾台账", icon=":material/foggy:", url_path="fog"),
              st.Page(dashboard_page.render, title="统计看板", icon=":material/bar_chart:", url_path="dashboard")]
    work = []
    if user.can("edit"):
        work.append(st.Page(edit_page.render, title="图斑编辑", icon=":material/edit:", url_path="edit"))
    if user.can("import") or user.can("export"):
        work.append(st.Page(files_page.render, title="导入导出", icon=":material/folder_open:", url_path="files"))
    if user.can("inspect"):
        work.append(st.Page(field_page.render, title="巡查上报", icon=":material/phone_android:", url_path="field",
                            default=field_first))
    admin = []
    if user.can("users"):
        admin += [st.Page(users_page.render, title="用户管理", icon=":material/group:", url_path="users"),
                  st.Page(audit_page.render, title="操作审计", icon=":material/manage_search:", url_path="audit")]
    return {"台账": ledger, "业务": work, "管理": admin}


user = session.signed_in_user()
if user is None:
    navigation = st.navigation([st.Page(login_page.render, title="登录", icon=":material/login:", url_path="login")])
else:
    with st.sidebar:
        st.markdown(f"**{user.name}**（{user.role_label}）")
        if st.button("退出登录"):
            session.sign_out("已退出登录。")
            st.rerun()
    navigation = st.navigation({k: v for k, v in pages_for(user).items() if v})
navigation.run()
