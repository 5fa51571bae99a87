"""Formula injection (issue 15, finding 4): text that a spreadsheet would run — starting with
= + - @, a tab or a carriage return — reaches every .xlsx and .csv the app writes as text with the
common apostrophe prefix; numbers stay numbers; the ledger's own import takes the prefix off again."""
from __future__ import annotations

import csv
import io

import openpyxl
import pandas as pd
import pytest
from test_stats import SAMPLE_ON

from safetymap import accounts, reminders, report, report_files, stats
from safetymap.accounts import LoginRefused
from safetymap.io.csv import csv_bytes, read_csv_text
from safetymap.io.reader import read_sheets
from safetymap.io.export import export
from safetymap.io.importer import preview_import
from safetymap.stats import Period
from safetymap.ui.audit_page import audit_excel, audit_table

FORMULA = '=HYPERLINK("http://x","点我")'


def late_patch(store) -> str:
    """An overdue patch (so it is listed in the report and the reminders), renamed to a formula."""
    code = stats.overdue_list(stats.load(store).patches, store.schema, SAMPLE_ON)["图斑编号"].iloc[0]
    store.update(code, {"name": FORMULA}, store.get(code)["version"], "测试")
    return code


def assert_text_not_formula(book: openpyxl.Workbook) -> int:
    """No cell of the workbook is a formula; returns how many cells hold FORMULA as neutralised text."""
    found = 0
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and FORMULA in cell.value and cell.value.startswith("'="):
                    found += 1
    return found


def test_ledger_xlsx_holds_the_name_as_text(store, tmp_path):
    late_patch(store)
    out = tmp_path / "台账.xlsx"
    export(store.read(), "xlsx", out, store.schema, on=SAMPLE_ON)
    assert assert_text_not_formula(openpyxl.load_workbook(out)) == 2  # its category sheet and the GIS table


def test_ledger_csv_holds_the_name_as_text(store, tmp_path):
    late_patch(store)
    out = tmp_path / "台账.csv"
    export(store.read(), "csv", out, store.schema)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [r["名称"] for r in rows if FORMULA in r["名称"]] == ["'" + FORMULA]


def test_report_xlsx_holds_the_name_as_text(store, tmp_path):
    late_patch(store)
    path = report_files.save(report.build_report(store, Period.parse_month("2026-11"), SAMPLE_ON), tmp_path / "月报.xlsx")
    assert assert_text_not_formula(openpyxl.load_workbook(path)) >= 1


def test_reminder_xlsx_holds_the_name_as_text(store):
    late_patch(store)
    table = reminders.due(stats.load(store).patches, store.schema, 30, SAMPLE_ON)
    book = openpyxl.load_workbook(io.BytesIO(reminders.excel_bytes(table, store.schema, 30, SAMPLE_ON)))
    assert assert_text_not_formula(book) == 1


def test_dashboard_csv_holds_the_name_as_text(store):
    late_patch(store)
    table = stats.overdue_list(stats.load(store).patches, store.schema, SAMPLE_ON)
    text = csv_bytes(table).decode("utf-8-sig")
    names = [r["名称"] for r in csv.DictReader(io.StringIO(text))]
    assert "'" + FORMULA in names and FORMULA not in names


def test_failed_sign_in_with_a_formula_name_lands_in_the_audit_workbook_as_text(store):
    with pytest.raises(LoginRefused):
        accounts.authenticate(store, FORMULA, "wrong")
    book = openpyxl.load_workbook(io.BytesIO(audit_excel(audit_table(store.history(), store.audit()))))
    cells = [cell for ws in book.worksheets for row in ws.iter_rows() for cell in row]
    assert not any(cell.data_type == "f" for cell in cells)
    assert not any(FORMULA in str(cell.value) for cell in cells if cell.value)  # an unknown name is kept only as a hash


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_every_dangerous_start_is_neutralised_and_numbers_stay_numbers(text):
    table = pd.DataFrame({"名称": [text, "K12+350"], "数值": [-3.5, 2.0], "整数": [-7, 1]})
    book = openpyxl.load_workbook(io.BytesIO(report_files.tables_workbook([report.Table("t", table)], "局", "")))
    ws = book.active
    header = [c.value for c in ws[3]]
    first = dict(zip(header, ws[4]))
    # XML parsers read a raw carriage return back as a line feed
    assert first["名称"].value == "'" + text.replace("\r", "\n") and first["名称"].data_type == "s"
    assert first["数值"].value == -3.5 and first["数值"].data_type == "n"
    assert first["整数"].value == -7 and first["整数"].data_type == "n"
    assert dict(zip(header, ws[5]))["名称"].value == "K12+350"
    rows = list(csv.reader(io.StringIO(csv_bytes(table).decode("utf-8-sig"))))
    assert rows[1] == ["'" + text, "-3.5", "-7"] and rows[2][0] == "K12+350"


def test_importing_an_export_gives_back_the_name(store, tmp_path):
    late_patch(store)
    export(store.read(), "xlsx", tmp_path / "台账.xlsx", store.schema)
    export(store.read(), "csv", tmp_path / "台账.csv", store.schema)
    cells = [v for _, rows in read_sheets(tmp_path / "台账.xlsx") for row in rows for v in row]
    assert FORMULA in cells and "'" + FORMULA not in cells
    frame, _ = read_csv_text(tmp_path / "台账.csv")
    assert FORMULA in set(frame["名称"]) and "'" + FORMULA not in set(frame["名称"])


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_then_import_of_formula_text_changes_nothing(store, tmp_path, fmt):
    code = late_patch(store)
    store.update(code, {"hazard": "'-已整改"}, store.get(code)["version"], "测试")  # already starts with an apostrophe
    out = tmp_path / f"台账.{fmt}"
    export(store.read(), fmt, out, store.schema)
    preview = preview_import(store, out)
    assert preview.ok, preview.problems[:3]
    assert len(preview.adds) == 0 and preview.n_updated == 0 and preview.unchanged == len(store.read())
