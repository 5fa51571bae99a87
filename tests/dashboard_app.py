"""A one-page app for testing the dashboard page on its own (AppTest runs a script file). The signed-in
role comes from $SAFETYMAP_TEST_ROLE (default editor)."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from safetymap.auth import User  # noqa: E402
from safetymap.ui import dashboard_page  # noqa: E402

st.set_page_config(layout="wide")  # as the app (safetymap.ui.main)
st.session_state.setdefault("user", User("统计测试员", os.environ.get("SAFETYMAP_TEST_ROLE", "editor")))
dashboard_page.render()
