"""Hazards (隐患) on a patch and the closure workflow the store enforces (issue 12)."""
import pandas as pd
import pytest
from conftest import both_backends

from safetymap.auth import User
from safetymap.errors import ConflictError, PermissionDenied, StepRefused, ValidationError

INSPECTOR, EDITOR, SAFETY = User("巡查员", "inspector"), User("编辑员", "editor"), User("安全科员", "safety")
MAJOR = {"hazard_type": "抗倾覆能力不足", "hazard_level": "重大隐患", "found_date": "2026-03-01",
         "description": "独柱墩抗倾覆能力不足", "measures": "增设盖梁", "resp_person": "张三",
         "deadline": "2026-10-31", "fund_wan": 80, "lead_unit": "工程科", "assist_units": "质监办、交投公司"}


def to_pending(store, code="DZ-003", values=MAJOR):
    h = store.add_hazard(code, values, INSPECTOR)
    h = store.move_hazard(h["hazard_code"], "整改中", h["version"], EDITOR)
    return store.move_hazard(h["hazard_code"], "待验收", h["version"], EDITOR)


@both_backends
def test_an_inspector_reports_and_the_safety_section_closes_with_an_opinion(store):
    h = to_pending(store)
    assert h["hazard_code"] == "DZ-003-YH01" and h["status"] == "待验收" and h["done_date"] is not None
    closed = store.move_hazard(h["hazard_code"], "已销号", h["version"], SAFETY, opinion="现场复查合格")
    assert (closed["status"], closed["accept_opinion"], closed["accept_by"]) == ("已销号", "现场复查合格", "安全科员")
    assert closed["closed_date"] is not None
    assert list(store.hazards("DZ-003")["status"]) == ["已销号"]


@pytest.mark.parametrize("user", [INSPECTOR, EDITOR], ids=["inspector", "editor"])
def test_only_the_acceptance_right_closes(store, user):
    h = to_pending(store)
    with pytest.raises(PermissionDenied, match="无权验收销号隐患"):
        store.move_hazard(h["hazard_code"], "已销号", h["version"], user, opinion="合格")
    assert store.hazard(h["hazard_code"])["status"] == "待验收"


def test_no_step_may_be_skipped(store):
    h = store.add_hazard("DZ-003", MAJOR, INSPECTOR)
    for target in ("已销号", "待验收"):
        with pytest.raises(StepRefused, match=f"不允许从「待整改」直接改为「{target}」"):
            store.move_hazard(h["hazard_code"], target, 1, SAFETY, opinion="合格")
    with pytest.raises(StepRefused, match="只能按整改流程"):
        store.update_hazard(h["hazard_code"], {"status": "已销号"}, 1, EDITOR)
    assert store.hazard(h["hazard_code"])["status"] == "待整改"


def test_closing_needs_an_opinion(store):
    h = to_pending(store)
    with pytest.raises(StepRefused, match="须先填写验收意见"):
        store.move_hazard(h["hazard_code"], "已销号", h["version"], SAFETY)


def test_failed_acceptance_goes_back_to_rectification(store):
    h = to_pending(store)
    with pytest.raises(PermissionDenied):
        store.move_hazard(h["hazard_code"], "整改中", h["version"], EDITOR, opinion="x")
    back = store.move_hazard(h["hazard_code"], "整改中", h["version"], SAFETY, opinion="盖梁未完工，退回")
    assert back["status"] == "整改中" and back["accept_opinion"] == "盖梁未完工，退回"


def test_a_major_hazard_needs_five_in_place(store):
    h = to_pending(store, values={k: v for k, v in MAJOR.items() if k not in ("fund_wan", "resp_person")})
    with pytest.raises(StepRefused, match="重大隐患须五到位方可销号，尚缺：资金、责任人"):
        store.move_hazard(h["hazard_code"], "已销号", h["version"], SAFETY, opinion="合格")
    patch = store.get("DZ-003")
    store.update("DZ-003", {"plan": None}, patch["version"], EDITOR)
    h = store.update_hazard(h["hazard_code"], {"fund_wan": 10, "resp_person": "李四"}, h["version"], EDITOR)
    with pytest.raises(StepRefused, match="尚缺：预案"):  # 预案 is the patch's plan
        store.move_hazard(h["hazard_code"], "已销号", h["version"], SAFETY, opinion="合格")


def test_a_general_hazard_closes_without_five_in_place(store):
    h = to_pending(store, values={"hazard_type": "限载标志缺失", "hazard_level": "一般隐患", "found_date": "2026-03-01",
                                  "description": "限载标志缺失", "measures": "补设标志"})
    assert store.move_hazard(h["hazard_code"], "已销号", h["version"], SAFETY, opinion="合格")["status"] == "已销号"


def test_a_dangerous_bridge_without_retrofit_cannot_close_its_structural_hazard(store):
    patch = store.get("DZ-010")  # 5类, 抗倾覆验算不满足, 改造未启动
    assert (patch["tech_class"], patch["anti_overturn"], patch["retrofit_status"]) == (5, "不满足", "未启动")
    h = to_pending(store, "DZ-010")
    with pytest.raises(StepRefused, match="违反规则「危桥及抗倾覆验算不满足的桥梁改造未启动不得销号」"):
        store.move_hazard(h["hazard_code"], "已销号", h["version"], SAFETY, opinion="合格")
    store.update("DZ-010", {"retrofit_status": "施工中"}, patch["version"], EDITOR)
    assert store.move_hazard(h["hazard_code"], "已销号", h["version"], SAFETY, opinion="合格")["status"] == "已销号"


def test_bad_values_name_the_field_and_write_nothing(store):
    before = store.revision()
    with pytest.raises(ValidationError) as err:
        store.add_hazard("DZ-003", MAJOR | {"hazard_type": "视距不足", "hazard_level": "特大", "fund_wan": -1}, EDITOR)
    text = str(err.value)
    assert "隐患类型" in text and "隐患等级" in text and "资金金额" in text
    with pytest.raises(ValidationError, match="格式不对"):
        store.add_hazard("DZ-003", MAJOR | {"hazard_code": "DZ-004-YH01"}, EDITOR)
    assert store.revision() == before and store.hazards("DZ-003").empty


@both_backends
def test_a_stale_version_is_a_conflict_and_history_has_every_change(store):
    h = store.add_hazard("DZ-003", MAJOR, INSPECTOR)
    store.update_hazard(h["hazard_code"], {"measures": "更换支座"}, 1, EDITOR)
    with pytest.raises(ConflictError, match="隐患「DZ-003-YH01」已被 编辑员"):
        store.update_hazard(h["hazard_code"], {"measures": "别的"}, 1, EDITOR)
    with pytest.raises(ConflictError):
        store.move_hazard(h["hazard_code"], "整改中", 1, EDITOR)
    store.move_hazard(h["hazard_code"], "整改中", 2, EDITOR)
    history = store.hazard_history(h["hazard_code"])
    rows = list(zip(history["version"], history["action"], history["field_label"].fillna(""),
                    history["before"].fillna(""), history["after"].fillna(""), history["user"]))
    assert rows == [(1, "insert", "", "", "", "巡查员"), (2, "update", "整改措施", "增设盖梁", "更换支座", "编辑员"),
                    (3, "move", "状态", "待整改", "整改中", "编辑员")]
    assert store.hazard(h["hazard_code"])["measures"] == "更换支座"


def test_hazard_photos_are_kept_with_the_hazard(store):
    h = store.add_hazard("DZ-003", MAJOR, INSPECTOR, photos=[(b"\xff\xd8jpeg", "image/jpeg", 4, 3)])
    photos = store.hazard_photos(h["hazard_code"])
    assert list(photos["width"]) == [4] and store.hazard_photo_bytes(int(photos["id"][0])) == b"\xff\xd8jpeg"


def test_patches_start_under_control(store):
    assert set(store.read()["control_status"]) == {"管控中"}


def test_the_sample_hazards_are_in_every_state_without_contradictions(store):
    hazards = store.hazards()
    assert set(hazards["status"]) == set(store.schema.hazard.status_labels)
    closed = hazards[hazards["status"] == "已销号"]
    assert closed["accept_opinion"].str.len().gt(0).all() and closed["accept_date"].notna().all()
    for code in ("DZ-001", "DZ-006", "DZ-013", "DZ-010"):  # 4–5类 / 未验算 / 未启动: nothing closed there
        assert "已销号" not in set(hazards.loc[hazards["code"] == code, "status"]), code
    road = hazards[hazards["hazard_type"] != "超限超载通行"]
    assert set(road["lead_unit"]) == {"工程科"}
    assert set(hazards.loc[hazards["hazard_type"] == "超限超载通行", "lead_unit"]) == {"综合执法大队"}


def test_the_shipped_sample_has_no_contradiction(store):
    """Every declared cross-field rule holds for every patch and hazard of the sample: the fields' own rules
    (requires, within, stake order) on the file, and the [hazard] rules on each hazard's status and on
    each patch's 整改状态 beside its hazards (DZ-001/006/013 were 已销号 with open hazards)."""
    from safetymap.hazards import hazard_contradictions, patch_contradictions
    from safetymap.seed import read_sample_segments
    from safetymap.validation import clean_frame
    schema, spec = store.schema, store.schema.hazard
    segments = read_sample_segments()
    for c in schema.categories:
        raw = segments[segments["category"] == c.key].drop(columns=["category", "geometry"]).dropna(axis=1, how="all")
        assert not clean_frame(c, raw.reset_index(drop=True), schema)[1], c.key
    hazards = store.hazards()
    patches = {r["code"]: r for r in store.read().to_dict("records")}
    found = []
    for code, patch in patches.items():
        found += patch_contradictions(spec, patch, hazards[hazards["code"] == code].to_dict("records"))
    for hazard in hazards.to_dict("records"):
        found += hazard_contradictions(spec, hazard, patches[hazard["code"]])
    assert found == []
    assert {patches[c]["rect_status"] for c in ("DZ-001", "DZ-006", "DZ-013")} <= {"待整改", "整改中"}
    closed = hazards[hazards["status"] == "已销号"]
    assert not closed[closed["supervise_level"].notna()].empty  # a 挂牌督办 hazard closed after its recheck


def test_a_contradiction_in_the_sample_would_be_named(store):
    from safetymap.hazards import patch_contradictions
    spec, patch = store.schema.hazard, store.get("DZ-010")  # 5类, 不满足, 改造未启动, open hazards
    bridge = store.schema.category("bridge")
    found = patch_contradictions(spec, patch | {"rect_status": "已销号"}, store.hazards("DZ-010").to_dict("records"),
                                 lambda k: bridge.field(k).label)
    assert found == [("图斑「DZ-010」整改状态为已销号，违反规则「危桥及抗倾覆验算不满足的桥梁改造未启动不得销号」"
                      "（技术状况等级为5，抗倾覆验算为不满足，改造状态为未启动）。"),
                     ("图斑「DZ-010」整改状态为已销号，违反规则「图斑尚有未销号的隐患时不得为已整改或已销号」"
                      "（未销号隐患：DZ-010-YH01、DZ-010-YH02）。")]


@both_backends
def test_an_inspection_cannot_close_a_patch_against_its_hazards(store):
    """Issue 12: an inspector closed DZ-010 (5类, 抗倾覆验算不满足, 改造未启动, open hazards) from the field page."""
    before = store.get("DZ-010")
    with pytest.raises(ValidationError) as err:
        store.add_inspection("DZ-010", INSPECTOR, findings="已处理", status_after="已销号")
    assert str(err.value).count("违反规则") == 2 and "整改状态不得改为已销号" in str(err.value)
    assert "（未销号隐患：DZ-010-YH01、DZ-010-YH02）" in str(err.value)
    assert store.get("DZ-010")["version"] == before["version"] and store.inspections("DZ-010").empty
    store.add_inspection("DZ-010", INSPECTOR, findings="限载标志完好", status_after="整改中")
    assert store.get("DZ-010")["rect_status"] == "整改中"


@both_backends
def test_an_editor_cannot_close_a_patch_against_its_hazards(store):
    """Issue 12: an editor jumped 待整改 → 已销号 on the edit form while the patch's hazards were open."""
    before = store.get("DZ-010")
    with pytest.raises(ValidationError) as err:
        store.update("DZ-010", {"rect_status": "已销号"}, before["version"], EDITOR)
    assert "整改状态不得改为已销号" in str(err.value) and "DZ-010-YH01" in str(err.value)
    after = store.get("DZ-010")
    assert after["version"] == before["version"] and after["rect_status"] == before["rect_status"]
    store.update("DZ-010", {"rect_status": "整改中"}, before["version"], EDITOR)
    assert store.get("DZ-010")["rect_status"] == "整改中"


def test_a_bad_sample_row_names_file_row_and_field(empty_store, tmp_path):
    from safetymap.seed import seed_hazards
    bad = tmp_path / "hazards.csv"
    bad.write_text("code,status,hazard_type,hazard_level,found_date,description\n"
                   "DZ-001,待整改,支座病害,一般隐患,2026-01-01,甲\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="文件 hazards.csv，第 1 行"):
        seed_hazards(empty_store, bad)  # the empty ledger has no DZ-001
    assert empty_store.hazards().empty


GENERAL = {"hazard_type": "护栏缺失或不足", "hazard_level": "一般隐患", "found_date": "2026-03-01",
           "description": "弯道外侧护栏高度不足", "measures": "更换加强型护栏"}
SUPERVISED = GENERAL | {"supervise_level": "市级", "supervise_doc": "白市交安办〔2026〕9号"}


@both_backends
def test_a_supervised_hazard_closes_only_after_an_on_site_recheck(store):
    h = to_pending(store, "JW-002", SUPERVISED)
    with pytest.raises(StepRefused, match="不得已销号：违反规则「挂牌督办隐患须经现场复查方可销号」"
                                          "（隐患「JW-002-YH01」挂牌督办级别为市级，尚缺复查日期、复查人、复查方式）。"):
        store.move_hazard(h["hazard_code"], "已销号", h["version"], SAFETY, opinion="合格")
    h = store.update_hazard(h["hazard_code"], {"recheck_date": "2026-11-20", "recheck_by": "安全科员",
                                               "recheck_way": "资料复查"}, h["version"], EDITOR)
    with pytest.raises(StepRefused, match="复查方式须为现场复查"):  # a desk review is not an on-site recheck
        store.move_hazard(h["hazard_code"], "已销号", h["version"], SAFETY, opinion="合格")
    assert store.hazard(h["hazard_code"])["status"] == "待验收"
    closed = store.move_hazard(h["hazard_code"], "已销号", h["version"], SAFETY, opinion="现场复查合格",
                               values={"recheck_way": "现场复查"})
    assert (closed["status"], closed["recheck_way"], closed["recheck_by"]) == ("已销号", "现场复查", "安全科员")


def test_an_unsupervised_hazard_needs_no_recheck(store):
    h = to_pending(store, "JW-002", GENERAL)
    assert store.move_hazard(h["hazard_code"], "已销号", h["version"], SAFETY, opinion="合格")["status"] == "已销号"


def test_the_page_asks_for_the_recheck_of_a_supervised_hazard_only(store):
    from safetymap.hazards import needed_fields
    spec, patch = store.schema.hazard, store.get("JW-002")
    close = next(s for s in spec.steps if s.target == "已销号")
    back = next(s for s in spec.steps if s.source == "待验收" and s.target == "整改中")
    assert needed_fields(spec, close, GENERAL, patch) == ["accept_opinion"]
    assert needed_fields(spec, close, SUPERVISED, patch) == ["accept_opinion", "recheck_date", "recheck_by", "recheck_way"]
    assert needed_fields(spec, back, SUPERVISED, patch) == ["accept_opinion"]


def schema_without(tmp_path, keys):
    """A copy of the shipped schema without the [[hazard.fields]] of ``keys`` and the rule that needs them
    (as an earlier release had it)."""
    from safetymap.schema import DEFAULT_SCHEMA_PATH, load_schema
    text = DEFAULT_SCHEMA_PATH.read_text(encoding="utf-8")
    rule = text.index('  [[hazard.rules]]\n  name = "挂牌督办隐患须经现场复查方可销号"')
    text = text[:rule] + text[text.index("  # 隐患类型 per category", rule):]
    for key in keys:
        start = text.index(f'  [[hazard.fields]]\n  key = "{key}"')
        text = text[:start] + text[text.index("  [[hazard.fields]]", start + 10):]
    path = tmp_path / "schema_before.toml"
    path.write_text(text, encoding="utf-8")
    return load_schema(path)


@both_backends
def test_the_hazard_table_follows_the_schema_and_an_older_ledger_gains_new_fields(blank_location, tmp_path):
    from safetymap.backends.tables import hazard_column_defs
    from safetymap.schema import load_schema
    from safetymap.seed import SAMPLE_HAZARDS, init_database, seed_sample
    from safetymap.store import open_store
    new = ["recheck_date", "recheck_by", "recheck_way"]
    older = schema_without(tmp_path, new)
    store = init_database(blank_location, sample=False, schema=older)
    hazards = pd.read_csv(SAMPLE_HAZARDS, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    hazards.drop(columns=new).to_csv(tmp_path / "hazards.csv", index=False)  # as the earlier release shipped it
    seed_sample(store, tmp_path / "hazards.csv")
    with store.backend.snapshot() as con:
        assert set(store.backend.table_columns(con, "hazards")) - {"id"} == set(hazard_column_defs(older))
    before, history = store.hazards(), store.hazard_history()
    store.close()
    store = open_store(blank_location, load_schema())  # today's schema: the new fields' columns are added
    with store.backend.snapshot() as con:
        assert set(store.backend.table_columns(con, "hazards")) - {"id"} == set(hazard_column_defs(store.schema))
    after = store.hazards()
    assert after[before.columns].equals(before) and after[new].isna().all().all()
    assert store.hazard_history().equals(history)
    h = store.hazard("LS-001-YH01")
    assert store.update_hazard(h["hazard_code"], {"recheck_by": "安全科员"}, h["version"], EDITOR)["recheck_by"] == "安全科员"
    store.close()


@pytest.fixture
def hazard_app(sample_db, monkeypatch):
    from conftest import page_test
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    yield lambda role: page_test("hazard_page", "安全科员", role)


def test_the_hazard_page_asks_for_the_recheck_before_closing_a_supervised_hazard(hazard_app, sample_db):
    from safetymap.store import open_store
    at = hazard_app("safety").run()
    at.selectbox(key="hazard_chosen").set_value("DZ-008-YH01").run()  # 待验收, 挂牌督办 市级
    assert not at.exception, at.exception
    assert [t.label for t in at.text_area] == ["验收意见"] and [t.label for t in at.text_input] == ["复查人"]
    assert [d.label for d in at.date_input] == ["复查日期"] and at.selectbox[-1].label == "复查方式"
    at.text_area[0].set_value("加固完成，验收合格")
    next(b for b in at.button if b.label == "验收通过，销号").click().run()
    assert "违反规则「挂牌督办隐患须经现场复查方可销号」" in at.error[0].value
    assert open_store(sample_db).hazard("DZ-008-YH01")["status"] == "待验收"
    at.date_input[0].set_value(pd.Timestamp("2026-11-25").date())
    at.text_input[0].set_value("局安全科 陈静")
    at.selectbox[-1].set_value("现场复查")
    next(b for b in at.button if b.label == "验收通过，销号").click().run()
    assert not at.error and not at.exception, [e.value for e in at.error]
    closed = open_store(sample_db).hazard("DZ-008-YH01")
    assert (closed["status"], closed["recheck_way"], closed["accept_opinion"]) == ("已销号", "现场复查", "加固完成，验收合格")


def test_a_viewer_sees_the_hazards_but_no_step(hazard_app):
    at = hazard_app("viewer").run()
    at.selectbox(key="hazard_chosen").set_value("DZ-008-YH01").run()
    assert not at.exception and not at.button
    assert any("无可办理的流程步骤" in c.value for c in at.caption)


def test_the_hazard_ledgers_filter_and_chosen_hazard_survive_leaving_and_returning(hazard_app):
    """隐患台账: the status filter and the hazard chosen are still there after a look at another page (the map,
    the patch's timeline), as the edit form's values are (Streamlit drops the keys of widgets not drawn)."""
    from conftest import leave_and_return
    at = hazard_app("safety").run()
    at.multiselect(key="hazard_statuses").set_value(["待验收"]).run()
    at.selectbox(key="hazard_chosen").set_value("DZ-008-YH01").run()
    assert "验收通过，销号" in [b.label for b in at.button]
    leave_and_return(at)
    assert at.multiselect(key="hazard_statuses").value == ["待验收"]
    assert at.selectbox(key="hazard_chosen").value == "DZ-008-YH01"
    assert "验收通过，销号" in [b.label for b in at.button]


def test_what_is_typed_into_a_step_survives_leaving_and_returning(hazard_app):
    """隐患台账: 验收意见, 复查人 and the other step fields typed but not yet sent are still there after a look at
    another page (the patch's timeline, the map), as the edit form's values are; a step taken starts the next
    one blank (the fields belong to the hazard's version)."""
    from conftest import leave_and_return
    at = hazard_app("safety").run()
    at.selectbox(key="hazard_chosen").set_value("DZ-008-YH01").run()  # 待验收, 挂牌督办: asks for the recheck too
    at.text_area[0].set_value("加固完成，验收合格")
    at.text_input[0].set_value("局安全科 陈静")
    at.selectbox[-1].set_value("现场复查")
    at.date_input[0].set_value(pd.Timestamp("2026-11-25").date())
    at.run()
    leave_and_return(at)
    assert at.text_area[0].value == "加固完成，验收合格"
    assert at.text_input[0].value == "局安全科 陈静"
    assert at.selectbox[-1].value == "现场复查"
    assert at.date_input[0].value == pd.Timestamp("2026-11-25").date()
    assert not at.warning, [w.value for w in at.warning]
    next(b for b in at.button if b.label == "验收通过，销号").click().run()
    assert not at.error and not at.exception, [e.value for e in at.error]


def test_a_step_field_shows_the_hazards_stored_value_until_edited(hazard_app, sample_db):
    """The inputs start from what the hazard holds (an earlier 整改措施), as before they were kept."""
    from safetymap.store import open_store
    store = open_store(sample_db)
    h = store.hazard("DZ-008-YH01")
    store.update_hazard(h["hazard_code"], {"recheck_by": "局安全科 陈静"}, h["version"], EDITOR)
    store.close()
    at = hazard_app("safety").run()
    at.selectbox(key="hazard_chosen").set_value("DZ-008-YH01").run()
    assert at.text_input[0].value == "局安全科 陈静"
    assert not at.warning and not at.exception
