"""The pages, driven by Streamlit's AppTest against a real seeded database."""
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from conftest import ROOT


@pytest.fixture
def app(sample_db, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    yield at
    st.cache_resource.clear()  # the store is a cached resource: do not share it between tests


def test_ledger_page_shows_the_sample_ledger_and_filters(app, store):
    app.run()
    assert not app.exception
    assert any("示例数据" in c.value for c in app.caption)
    table = app.dataframe[0].value
    assert len(table) == len(store.read())
    assert {"图斑编号", "类别", "风险等级", "起点桩号"} <= set(table.columns)
    app.multiselect[1].set_value(["重大"]).run()
    filtered = app.dataframe[0].value
    assert 0 < len(filtered) < len(table) and set(filtered["风险等级"]) == {"重大"}
