"""操作审计 (admins): who did what and when — patch changes from history plus logins, imports,
exports and user changes from the audit log; filterable and exportable to Excel."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from ..io.excel import DATETIME_FORMAT, Sheet, workbook_bytes
from ..ledger import ACTION_LABELS, shown as shown_table, today as bureau_today
from . import external_changes
from .common import checked_download, current_user, get_store

AUDIT_LABELS = {"login": "登录", "login_failed": "登录失败", "user_add": "添加用户", "user_password": "修改密码",
                "user_disable": "停用用户", "user_enable": "启用用户", "user_unlock": "解锁用户",
                "user_role": "修改角色",
                "export": "导出", "import": "导入", "backup": "备份"}


def audit_table(history: pd.DataFrame, audit: pd.DataFrame) -> pd.DataFrame:
    changes = pd.DataFrame({
        "时间": history["at"], "用户": history["user"], "操作": history["action"].map(lambda a: ACTION_LABELS.get(a, a)),
        "对象": history["code"],
        "内容": [f"{r.field_label}：{r.before or '（空）'} → {r.after or '（空）'}" if isinstance(r.field_label, str) else ""
               for r in history.itertuples()]})
    events = pd.DataFrame({"时间": audit["at"], "用户": audit["user"],
                           "操作": audit["action"].map(lambda a: AUDIT_LABELS.get(a, a)), "对象": "", "内容": audit["detail"]})
    return pd.concat([changes, events], ignore_index=True).sort_values("时间", ascending=False, kind="stable")


def audit_excel(table: pd.DataFrame) -> bytes:
    """The rows shown, header on the first row (frozen, filtered); every name and detail as text."""
    return workbook_bytes([Sheet("操作审计", table.reset_index(drop=True), formats={"时间": DATETIME_FORMAT})])


def render() -> None:
    store = get_store()
    st.title("操作审计")
    if not current_user().can("users"):
        st.warning("只有管理员可以查看操作审计。")
        return
    table = audit_table(store.history(), store.audit())
    cols = st.columns(3)
    users = cols[0].multiselect("用户", sorted(table["用户"].dropna().unique()), placeholder="全部用户")
    actions = cols[1].multiselect("操作", sorted(table["操作"].dropna().unique()), placeholder="全部操作")
    today = bureau_today()
    chosen = cols[2].date_input("日期范围", value=(today - dt.timedelta(days=90), today), format="YYYY-MM-DD")
    start, end = (chosen[0], chosen[-1]) if chosen else (dt.date.min, today)
    shown = table[(table["时间"].dt.date >= start) & (table["时间"].dt.date <= end)]
    if users:
        shown = shown[shown["用户"].isin(users)]
    if actions:
        shown = shown[shown["操作"].isin(actions)]
    st.caption(f"共 {len(shown)} 条")
    st.dataframe(shown_table(shown), hide_index=True, width="stretch")
    st.download_button("导出 Excel", checked_download("操作审计.xlsx", lambda: audit_excel(shown)), file_name=f"操作审计_{today:%Y%m%d}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    external_changes.render_section()
