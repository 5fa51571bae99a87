"""Accounts, roles and backup: refused by the core and the store, not only hidden in the pages."""
import datetime as dt
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import shapely

from conftest import ROOT, both_backends, ledger_state
from safetymap import accounts
from safetymap.auth import User
from safetymap.errors import PermissionDenied
from safetymap.store import open_store

WORKER = Path(__file__).with_name("concurrency_worker.py")
VIEWER, INSPECTOR, EDITOR, ADMIN = (User("查看员", "viewer"), User("巡查员", "inspector"),
                                    User("编辑员", "editor"), User("管理员", "admin"))


@both_backends
def test_viewer_cannot_save_import_or_archive(store):
    code = store.read().iloc[0]["code"]
    before = ledger_state(store)
    with pytest.raises(PermissionDenied, match="无权修改图斑"):
        store.update(code, {"name": "x"}, 1, VIEWER)
    frame = pd.DataFrame([{"code": "TW-901", "name": "导入", "route_code": "G201", "start_stake": "K1+000",
                           "township": "江源街道", "risk_grade": "一般", "rect_status": "待整改"}])
    line = shapely.LineString([(126.70, 42.0), (126.705, 42.001)])
    with pytest.raises(PermissionDenied, match="无权导入"):
        store.insert_many("fog", frame, [line], VIEWER, action="import")
    with pytest.raises(PermissionDenied, match="无权归档"):
        store.archive(code, VIEWER)
    with pytest.raises(PermissionDenied, match="无权归档"):
        store.archive(code, EDITOR)
    with pytest.raises(PermissionDenied):
        store.add_fog_event(store.read("fog").iloc[0]["code"], "2026-08-01", VIEWER)
    assert ledger_state(store) == before


@both_backends
def test_inspector_adds_inspections_and_fog_events_but_cannot_change_fields(store):
    code = store.read("fog").iloc[0]["code"]
    store.add_inspection(code, INSPECTOR, findings="雾天诱导灯工作正常", status_after="整改中")
    store.add_fog_event(code, "2026-09-02", INSPECTOR, start_time="04:30", duration_h=3, min_visibility_m=45)
    version = store.get(code)["version"]
    with pytest.raises(PermissionDenied, match="无权修改图斑"):
        store.update(code, {"risk_grade": "较小"}, version, INSPECTOR)
    assert store.get(code)["rect_status"] == "整改中"


@both_backends
def test_every_history_row_carries_a_user(store):
    code = store.read().iloc[0]["code"]
    store.update(code, {"hazard": "新描述"}, 1, EDITOR)
    store.archive(code, ADMIN)
    store.restore(code, ADMIN)
    with pytest.raises(PermissionDenied, match="未登录"):
        store.update(code, {"hazard": "匿名"}, store.get(code)["version"], "")
    history = store.history()
    assert history["user"].notna().all() and (history["user"].str.strip() != "").all()


@both_backends
def test_five_wrong_passwords_lock_the_account_for_a_while(empty_store):
    accounts.add_user(empty_store, "张工", "editor", "right-password", ADMIN)
    start = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.timezone.utc)
    for i in range(5):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(empty_store, "张工", "wrong", now=start + dt.timedelta(minutes=i))
    with pytest.raises(accounts.LoginRefused, match="锁定"):
        accounts.authenticate(empty_store, "张工", "right-password", now=start + dt.timedelta(minutes=6))
    unlocked = start + dt.timedelta(minutes=4 + accounts.LOCK_MINUTES + 1)
    assert accounts.authenticate(empty_store, "张工", "right-password", now=unlocked) == User("张工", "editor")


@both_backends
def test_failures_are_slowed_before_the_lock(empty_store):
    accounts.add_user(empty_store, "李工", "editor", "right-password", ADMIN)
    now = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.timezone.utc)
    for _ in range(accounts.SLOW_AFTER):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(empty_store, "李工", "wrong", now=now)
    with pytest.raises(accounts.LoginRefused, match="秒后再试"):
        accounts.authenticate(empty_store, "李工", "right-password", now=now)
    later = now + dt.timedelta(seconds=accounts.SLOW_SECONDS + 1)
    assert accounts.authenticate(empty_store, "李工", "right-password", now=later).role == "editor"


def test_no_password_in_clear_in_the_database_or_any_log(tmp_path):
    db = tmp_path / "t.gpkg"
    secret = "Plain-Text-Secret-42"
    run = lambda *a, **kw: subprocess.run([sys.executable, "-m", "safetymap", *a, "--db", str(db)], cwd=ROOT,
                                         capture_output=True, text=True, timeout=120, **kw)
    outputs = [run("init", "--no-sample")]
    outputs.append(run("user", "add", "王工", "--role", "admin", "--password-stdin", input=secret + "\n"))
    store = open_store(db)
    with pytest.raises(accounts.LoginRefused):
        accounts.authenticate(store, "王工", secret + "x")
    assert accounts.authenticate(store, "王工", secret).role == "admin"
    outputs.append(run("user", "list"))
    store.checkpoint()
    for path in tmp_path.iterdir():
        assert secret.encode() not in path.read_bytes(), path
    for proc in outputs:
        assert proc.returncode == 0, proc.stderr
        assert secret not in proc.stdout + proc.stderr
    assert not store.audit()["detail"].fillna("").str.contains(secret).any()
    assert store.user_row("王工")["password_hash"].startswith("$argon2")


@both_backends
def test_first_admin_only_while_no_user_exists(empty_store):
    accounts.create_first_admin(empty_store, "管理员", "admin-pass")
    with pytest.raises(PermissionDenied, match="首次设置已关闭"):
        accounts.create_first_admin(empty_store, "另一个", "other-pass")
    with pytest.raises(PermissionDenied, match="无权管理用户"):
        accounts.add_user(empty_store, "新人", "editor", "new-password", EDITOR)


def test_backup_while_another_process_writes_is_consistent_and_complete(store, tmp_path):
    codes = list(store.read()["code"][:10])
    writer = subprocess.Popen([sys.executable, str(WORKER), str(store.path), "0", "300", ",".join(codes)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while store.get(codes[0])["version"] < 3 and time.time() < deadline:  # the writer is under way
            time.sleep(0.05)
        committed = {code: store.get(code)["version"] for code in codes}  # committed before the backup starts
        backup = store.backup(tmp_path / "backup.gpkg")
    finally:
        out, err = writer.communicate(timeout=600)
    assert writer.returncode == 0, err
    con = sqlite3.connect(backup)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    copy = open_store(backup)
    for code in codes:
        assert copy.get(code)["version"] >= committed[code]
    assert len(copy.history()) >= sum(committed.values())
    assert open_store(store.path).get(codes[0])["version"] > committed[codes[0]]  # the writer went on after


def test_export_is_refused_for_viewers_and_logged_for_editors(store):
    with pytest.raises(PermissionDenied, match="无权导出"):
        store.exporting(VIEWER, "xlsx 65 个图斑")
    with pytest.raises(PermissionDenied, match="无权导出"):
        store.exporting(INSPECTOR, "xlsx 65 个图斑")
    assert store.exporting(EDITOR, "shp 65 个图斑") == EDITOR.name
    audit = store.audit()
    assert list(audit.loc[audit["action"] == "export", "user"]) == [EDITOR.name]


# ---------------------------------------------------------------- issue 15: sign-in that cannot be abused
def test_failed_sign_ins_store_neither_long_names_nor_passwords_typed_as_names(empty_store):
    accounts.add_user(empty_store, "张工", "editor", "right-password", ADMIN)
    huge = "=HYPERLINK(\"http://x\")" + "名" * 2_000_000
    typed_password = "Pa55-typed-into-the-name-field"
    for name in (huge, typed_password):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(empty_store, name, "whatever", client="10.0.0.9")
    logged = empty_store.audit()
    failed = logged[logged["action"] == "login_failed"]
    assert len(failed) == 2
    assert failed["user"].str.len().max() <= 64
    assert not failed["user"].str.contains(typed_password).any()
    assert not failed["detail"].fillna("").str.contains(typed_password).any()
    assert not failed["user"].str.startswith("=").any()
    with pytest.raises(accounts.LoginRefused):
        accounts.authenticate(empty_store, "张工", "wrong", client="10.0.0.9")
    assert empty_store.audit()["user"].iloc[-1] == "张工"  # a real account is named


def test_unknown_names_cost_the_same_as_real_ones(empty_store, monkeypatch):
    """An unknown name runs the same argon2 check, with the same parameters, as a real one (counted, not
    timed: a timing ratio failed under load in a full run)."""
    from argon2 import PasswordHasher, extract_parameters
    from argon2.exceptions import VerificationError

    accounts.add_user(empty_store, "张工", "editor", "right-password", ADMIN)
    checked = []
    real_verify = PasswordHasher.verify

    def counting_verify(self, hash, password):
        checked.append(extract_parameters(hash))
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    for name in ("张工", "没有这个人"):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(empty_store, name, "wrong", client="10.0.1.1")
    assert len(checked) == 2 and checked[0] == checked[1], checked
    with pytest.raises(VerificationError):
        real_verify(PasswordHasher(), accounts.dummy_hash(), "wrong")


def test_unknown_names_are_slowed_exactly_like_real_ones(empty_store):
    accounts.add_user(empty_store, "张工", "editor", "right-password", ADMIN)
    now = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.timezone.utc)
    answers = {}
    for name in ("张工", "没有这个人"):
        for _ in range(accounts.SLOW_AFTER):
            with pytest.raises(accounts.LoginRefused):
                accounts.authenticate(empty_store, name, "wrong", client="10.0.0.9", now=now)
        with pytest.raises(accounts.LoginRefused) as refused:
            accounts.authenticate(empty_store, name, "wrong", client="10.0.0.9", now=now)
        answers[name] = str(refused.value)
    assert answers["张工"] == answers["没有这个人"] and "秒后再试" in answers["张工"]


def test_a_stranger_cannot_lock_an_account_for_its_owner(empty_store):
    accounts.add_user(empty_store, "admin1", "admin", "right-password", ADMIN)
    now = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.timezone.utc)
    for i in range(accounts.MAX_FAILURES + 2):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(empty_store, "admin1", "guess", client="203.0.113.66",
                                  now=now + dt.timedelta(minutes=i))
    later = now + dt.timedelta(minutes=accounts.MAX_FAILURES + 3)
    with pytest.raises(accounts.LoginRefused, match="锁定"):
        accounts.authenticate(empty_store, "admin1", "right-password", client="203.0.113.66", now=later)
    assert accounts.authenticate(empty_store, "admin1", "right-password", client="10.0.0.2", now=later).role == "admin"


def test_user_names_are_unique_regardless_of_case(empty_store):
    accounts.add_user(empty_store, "admin1", "admin", "right-password", ADMIN)
    with pytest.raises(accounts.ValidationError, match="已存在"):
        accounts.add_user(empty_store, "Admin1", "viewer", "other-password", ADMIN)
    assert empty_store.user_rows()["name"].tolist() == ["admin1"]
