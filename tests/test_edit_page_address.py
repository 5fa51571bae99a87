"""图斑编辑 keeps the chosen patch in its address (``/edit?code=…``), so a refresh (F5, a new session with
only the address) or a link opens the same patch; a code the ledger does not have is named, not a crash."""
from __future__ import annotations


from conftest import page_test
from safetymap.store import open_store

PATCH_BOX = "图斑（可输入编号或名称搜索）"


def edit_app(db, monkeypatch, code: str | None = None):
    """The page in a new session, as a refresh or a link opens it (the address may name a patch)."""
    monkeypatch.setenv("SAFETYMAP_DB", str(db))
    at = page_test("edit_page", "编辑员甲", "editor")
    if code is not None:
        at.query_params["code"] = code
    at.run()
    assert not at.exception, at.exception
    return at


def address_code(at) -> str | None:
    value = at.query_params.get("code")
    return value[0] if isinstance(value, list) and value else value or None


def patch_box(at):
    return next(s for s in at.selectbox if s.label == PATCH_BOX)


def form_titles(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**编辑 ")]


def test_the_chosen_patch_is_put_in_the_address_and_a_refresh_opens_it(sample_db, monkeypatch):
    code = open_store(sample_db).read("curve").iloc[0]["code"]
    at = edit_app(sample_db, monkeypatch)
    assert address_code(at) is None
    patch_box(at).set_value(code).run()
    assert address_code(at) == code
    refreshed = edit_app(sample_db, monkeypatch, code)  # F5: a new session, only the address is kept
    assert patch_box(refreshed).value == code
    assert any(code.replace("-", "\\-") in t for t in form_titles(refreshed))
    assert address_code(refreshed) == code


def test_a_code_the_ledger_does_not_have_is_named(sample_db, monkeypatch):
    at = edit_app(sample_db, monkeypatch, "XX-404")
    assert any("XX\\-404" in w.value and "不存在" in w.value for w in at.warning), [w.value for w in at.warning]
    assert patch_box(at).value is None and not form_titles(at)
    assert address_code(at) is None  # the address no longer names it


def test_an_archived_patch_opens_from_its_address(sample_db, monkeypatch):
    store = open_store(sample_db)
    code = store.read("bridge").iloc[0]["code"]
    store.archive(code, "管理员", store.get(code)["version"])
    at = edit_app(sample_db, monkeypatch, code)
    assert patch_box(at).value == code
    assert any("恢复" in b.label for b in at.button) or form_titles(at)
