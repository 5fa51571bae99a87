"""Streamlit entry: page navigation only; every page lives in safetymap/ui and calls the core."""
import streamlit as st

from safetymap.ui import ledger_page

st.set_page_config(page_title="江源区公路安全风险图斑台账", page_icon="🛣️", layout="wide")

pages = [
    st.Page(ledger_page.render, title="台账", icon="📋", url_path="ledger", default=True),
]
st.navigation(pages).run()
