"""巡查上报 after a submit: the result first on the screen (and a toast), the form empty, the same
submit a second time not recorded again (issue 17, finding 5)."""
import pytest

from conftest import page_test
from safetymap.store import open_store
from ui_text import nodes


@pytest.fixture
def field_app(sample_db, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    yield page_test("field_page", "巡查员小王", "inspector")


def submit(at, findings):
    at.text_area[0].set_value(findings)
    next(b for b in at.button if b.label == "提交巡查记录").click().run()
    assert not at.exception, at.exception


def main_kinds(at) -> list[str]:
    """The main area's elements in screen order, as (proto type: first text)."""
    out = []
    for node in nodes(at):
        if node.proto.DESCRIPTOR.name in ("Heading", "Alert", "Markdown"):
            out.append(node.proto.DESCRIPTOR.name + ":" + getattr(node.proto, "body", ""))
    return out


def test_the_result_is_at_the_top_and_a_toast_and_the_form_is_empty(field_app, sample_db):
    code = open_store(sample_db).read("curve").iloc[0]["code"]
    field_app.run()
    field_app.selectbox(key="field_search").set_value(code).run()
    submit(field_app, "护栏松动")
    first_alert = next(n for n in nodes(field_app) if n.proto.DESCRIPTOR.name == "Alert")
    assert "已记录" in first_alert.proto.body
    children = list(field_app.main.children.values())
    position = next(i for i, c in enumerate(children) if "已记录" in str(getattr(c, "proto", "")) or
                    any("已记录" in str(getattr(n, "proto", "")) for n in getattr(c, "children", {}).values()))
    assert position <= 1, "the result must come right under the title, not under the form"
    assert any("已记录" in t.value for t in field_app.toast)
    assert field_app.text_area[0].value == ""  # a new, empty form


def test_a_second_identical_submit_is_not_recorded(field_app, sample_db):
    store = open_store(sample_db)
    code = store.read("curve").iloc[0]["code"]
    field_app.run()
    field_app.selectbox(key="field_search").set_value(code).run()
    submit(field_app, "同一条巡查记录")
    submit(field_app, "同一条巡查记录")
    assert len(store.inspections(code)) == 1
    assert any("已经提交过" in i.value for i in field_app.info)
    submit(field_app, "另一条巡查记录")
    assert len(store.inspections(code)) == 2
