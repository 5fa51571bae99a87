"""Sessions that follow the account, secrets kept out of pages and logs, downloads only through checked
buttons, and a command line that records who really ran it (issue 15: findings 1, 7, 8, 10, 12)."""
import asyncio
import datetime as dt
import getpass
import json
import sqlite3
import tomllib
from urllib.parse import urlencode

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, both_backends, page_test
from safetymap import accounts, sessions
from safetymap.auth import User
from safetymap.cli import main as cli_main
from safetymap.errors import PermissionDenied, SessionEnded
from safetymap.store import open_store
from safetymap.redaction import redact

ADMIN = User("admin1", "admin")
IDLE = 30 * 60


def session_user(store, name: str, password: str, now=None) -> tuple[User, str]:
    """A web session's user as the app makes it: signed in, then re-checked by the store at each use."""
    user = accounts.authenticate(store, name, password, client="10.0.0.7")
    token = sessions.start(store, user, IDLE, "10.0.0.7", now=now)
    return User(user.name, user.role, recheck=lambda: sessions.resolve(store, token, IDLE, touch=False)), token


# ---------------------------------------------------------------- 1. disabled or demoted while signed in
@both_backends
def test_a_disabled_users_open_session_can_neither_save_nor_download(store):
    accounts.add_user(store, "editor1", "editor", "editor-pass", ADMIN)
    user, token = session_user(store, "editor1", "editor-pass")
    code = store.read().iloc[0]["code"]
    store.update(code, {"hazard": "签到后第一次保存"}, 1, user)
    accounts.set_disabled(store, "editor1", True, ADMIN)
    with pytest.raises(PermissionDenied, match="停用|失效"):
        store.update(code, {"hazard": "停用后的保存"}, 2, user)
    with pytest.raises(PermissionDenied):
        store.exporting(user, "csv 65 个图斑（网页下载）")
    assert store.get(code)["hazard"] == "签到后第一次保存"
    with pytest.raises(SessionEnded):  # and the session is gone for good, even if re-enabled
        accounts.set_disabled(store, "editor1", False, ADMIN)
        sessions.resolve(store, token, IDLE, touch=True)


@both_backends
def test_a_demoted_user_gets_the_new_role_at_once(store):
    accounts.add_user(store, "editor1", "editor", "editor-pass", ADMIN)
    user, token = session_user(store, "editor1", "editor-pass")
    accounts.set_role(store, "editor1", "viewer", ADMIN)
    code = store.read().iloc[0]["code"]
    with pytest.raises(PermissionDenied, match="查看.*无权修改图斑"):
        store.update(code, {"hazard": "降级后的保存"}, 1, user)
    with pytest.raises(PermissionDenied, match="无权导出"):
        store.exporting(user, "xlsx（网页下载）")
    assert sessions.resolve(store, token, IDLE, touch=False).role == "viewer"


@both_backends
def test_store_refuses_a_signed_in_user_object_whose_account_was_disabled_or_demoted(store):
    """The store itself re-reads role and disabled flag inside every write and export transaction, for a
    plain User kept from sign-in (no session re-check attached)."""
    accounts.add_user(store, "editor1", "editor", "editor-pass", ADMIN)
    accounts.add_user(store, "editor2", "editor", "editor-pass", ADMIN)
    editor1 = accounts.authenticate(store, "editor1", "editor-pass")
    editor2 = accounts.authenticate(store, "editor2", "editor-pass")
    accounts.set_disabled(store, "editor1", True, ADMIN)
    accounts.set_role(store, "editor2", "viewer", ADMIN)
    code = store.read().iloc[0]["code"]
    for user in (editor1, editor2):
        with pytest.raises(PermissionDenied):
            store.update(code, {"hazard": "不应保存"}, 1, user)
        with pytest.raises(PermissionDenied):
            store.exporting(user, "csv（网页下载）")
    assert store.get(code)["version"] == 1


def test_an_idle_session_ends_and_a_check_without_activity_does_not_renew_it(store):
    accounts.add_user(store, "editor1", "editor", "editor-pass", ADMIN)
    start = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.timezone.utc)
    user = accounts.authenticate(store, "editor1", "editor-pass")
    token = sessions.start(store, user, IDLE, now=start)
    for minutes in (10, 20, 29):  # downloads and saves check the session but are not page activity
        sessions.resolve(store, token, IDLE, touch=False, now=start + dt.timedelta(minutes=minutes))
    with pytest.raises(SessionEnded, match="未操作"):
        sessions.resolve(store, token, IDLE, touch=False, now=start + dt.timedelta(minutes=31))


def sign_in_app(at, name, password):
    at.run()
    at.text_input[0].set_value(name)
    at.text_input[1].set_value(password)
    at.button[0].click().run()
    assert not at.exception, at.exception


def test_disabling_an_account_returns_its_open_page_to_sign_in(sample_db, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    store = open_store(sample_db)
    accounts.add_user(store, "editor1", "editor", "editor-pass", ADMIN)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    sign_in_app(at, "editor1", "editor-pass")
    assert at.session_state["user"].role == "editor"
    accounts.set_role(store, "editor1", "viewer", ADMIN)
    at.run()
    assert at.session_state["user"].role == "viewer"  # the new role at the next run
    accounts.set_disabled(store, "editor1", True, ADMIN)
    at.run()
    assert "user" not in at.session_state
    assert any(b.label == "登录" for b in at.button) and any("重新登录" in i.value for i in at.info)


# ---------------------------------------------------------------- 7. secrets before sign-in
def test_redact_hides_every_password_form():
    for location in ("postgresql://u:s3cr3t-pw@db/ledger", "postgresql://u@db/ledger?sslmode=require&password=s3cr3t-pw",
                     "host=db password=s3cr3t-pw dbname=ledger", "host=db password='s3cr3t pw' dbname=ledger"):
        shown = redact(location)
        assert "s3cr3t" not in shown and "***" in shown, shown
    assert redact("data/safetymap.gpkg") == "data/safetymap.gpkg"


def test_an_unreachable_database_before_sign_in_shows_a_generic_page_without_the_password(monkeypatch, caplog):
    monkeypatch.setenv("SAFETYMAP_DB", "postgresql://safetymap@127.0.0.1:1/ledger?password=s3cr3t-pw&connect_timeout=2")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    shown = json.dumps([str(e.proto) for e in at.main], ensure_ascii=False) + str(at.exception)
    assert "s3cr3t" not in shown
    assert not at.exception
    assert any("参考编号" in e.value for e in at.error)
    assert "s3cr3t" not in caplog.text and "参考编号" in caplog.text


# ---------------------------------------------------------------- 8. the ledger table's own download
def test_table_toolbars_offer_no_download_and_only_exporters_get_the_checked_button(sample_db, monkeypatch):
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    viewer = page_test("ledger_page", "查看员", "viewer").run()
    assert not viewer.exception and len(viewer.dataframe[0].value)
    assert not viewer.get("download_button")
    editor = page_test("ledger_page", "编辑员", "editor").run()
    assert [b.proto.label for b in editor.get("download_button")] == ["下载 CSV"]


# ---------------------------------------------------------------- 10. the command line names nobody
def test_cli_import_records_the_os_user_and_an_audit_row(sample_db, tmp_path, capsys):
    out = tmp_path / "ledger.geojson"
    assert cli_main(["export", "--db", str(sample_db), "--format", "geojson", "--out", str(out)]) == 0
    with pytest.raises(SystemExit):
        cli_main(["import", str(out), "--db", str(sample_db), "--user", "admin1"])
    data = json.loads(out.read_text())
    first = data["features"][0]["properties"]["图斑编号"]
    for feature in data["features"]:  # a patch's polygon and its source line both
        if feature["properties"]["图斑编号"] == first:
            feature["properties"]["隐患描述"] = "命令行导入的修改"
    out.write_text(json.dumps(data, ensure_ascii=False))
    assert cli_main(["import", str(out), "--db", str(sample_db)]) == 0, capsys.readouterr()
    assert cli_main(["backup", "--db", str(sample_db), "--out", str(tmp_path / "b.gpkg")]) == 0
    who = f"命令行:{getpass.getuser()}"
    con = sqlite3.connect(sample_db)
    audit = con.execute('SELECT "user", action FROM audit ORDER BY id').fetchall()
    history_users = {u for (u,) in con.execute("SELECT DISTINCT user FROM history WHERE action = 'import'")}
    assert [(who, "export"), (who, "import"), (who, "backup")] == [r for r in audit if r[1] in ("export", "import", "backup")]
    assert history_users == {who}


# ---------------------------------------------------------------- 12. a refresh keeps the session
def post_form(route, fields: dict):
    """Call a starlette route's endpoint with a form POST and return the response."""
    from starlette.requests import Request

    body = urlencode(fields).encode()
    scope = {"type": "http", "method": "POST", "path": route.path, "headers": [
        (b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", str(len(body)).encode())],
        "query_string": b"", "scheme": "http", "server": ("127.0.0.1", 8501), "client": ("127.0.0.1", 5000)}
    sent = []

    async def receive():
        if sent:
            return {"type": "http.disconnect"}
        sent.append(1)
        return {"type": "http.request", "body": body, "more_body": False}

    return asyncio.run(route.endpoint(Request(scope, receive)))


def test_sign_in_hand_off_sets_an_httponly_strict_cookie_once(sample_db, monkeypatch):
    from safetymap.ui.web import ROUTES

    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    store = open_store(sample_db)
    accounts.add_user(store, "editor1", "editor", "editor-pass", ADMIN)
    code = sessions.start(store, User("editor1", "editor"), IDLE)
    response = post_form(ROUTES[0], {"code": code, "next": "/edit?code=TW-001"})
    assert response.status_code == 303 and response.headers["location"] == "/edit?code=TW-001"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert sessions.resolve(store, token, IDLE, touch=True) == User("editor1", "editor")
    with pytest.raises(SessionEnded):  # the one-time code is spent and no longer signs anyone in
        sessions.resolve(store, code, IDLE, touch=False)
    assert post_form(ROUTES[0], {"code": code, "next": "/"}).status_code == 403
    stored = sqlite3.connect(sample_db).execute("SELECT token_hash FROM sessions").fetchall()
    assert stored == [(sessions.token_hash(token),)]  # only a hash is kept


def test_hand_off_never_redirects_to_another_site(sample_db, monkeypatch):
    from safetymap.ui.web import ROUTES

    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    store = open_store(sample_db)
    accounts.add_user(store, "editor1", "editor", "editor-pass", ADMIN)
    for target in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
        code = sessions.start(store, User("editor1", "editor"), IDLE)
        assert post_form(ROUTES[0], {"code": code, "next": target}).headers["location"] == "/"


def test_sign_out_ends_the_server_session(sample_db, monkeypatch):
    monkeypatch.setenv("SAFETYMAP_DB", str(sample_db))
    store = open_store(sample_db)
    accounts.add_user(store, "editor1", "editor", "editor-pass", ADMIN)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    sign_in_app(at, "editor1", "editor-pass")
    token = at.session_state["session_token"]
    assert sessions.resolve(store, token, IDLE, touch=False).name == "editor1"
    next(b for b in at.sidebar.button if b.label == "退出登录").click().run()
    with pytest.raises(SessionEnded):
        sessions.resolve(store, token, IDLE, touch=False)
