"""The bad-file corpus: every file in tests/data/marks/ goes through the real import service (and the upload
page), and its exact outcome is checked against the CASES table below.

Three outcomes exist:
- `Refused`: the file cannot work at all. `start_import` raises FileRefused (code, clear text) before a job
  exists; nothing is kept (no job, no row errors, no file in the uploads folder, no mark); the page says why (422).
- `Imported`: the job finishes; the bad rows are reported (row, column, code as the spreadsheet numbers them,
  the header being row 1) and skipped, every good row is created, nothing else.
- `Failed`: the beginning of the file reads fine, so a job starts, but the file breaks further down: the job
  fails before it writes anything.

Adding a file: put it in tests/data/marks/ (make_corpus.py writes the binary ones) and add one line to CASES.
"""
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from portal import uploads
from portal.imports.runner import IMPORT_AREA
from portal.imports.report import row_outcomes
from portal.imports.models import ImportJob, ImportOutcomes, ImportRowError
from portal.marks.models import Mark
from portal.imports.tables import FileRefused
from tests.conftest import page_text

DATA = Path(__file__).resolve().parents[1] / "data" / "marks"
FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass(frozen=True)
class Refused:
    code: str  # FileRefused.code
    text: str  # a part of FileRefused.text, the message the person sees
    problems: tuple = ()  # (row, column, code) of FileRefused.problems, in order


@dataclass(frozen=True)
class Imported:
    marks: tuple  # (word, office, registration number, classes) of the marks created: exactly these
    errors: tuple = ()  # (row, column, code) of the rows skipped, in report order
    encoding: str = "utf-8"
    file_format: str = "csv"
    job_warnings: tuple = ()  # the job's file-level warnings, exactly
    values: dict = field(default_factory=dict)  # {(row, column): the reported value, exactly}
    messages: dict = field(default_factory=dict)  # {(row, column): a part of the message}
    fields: dict = field(default_factory=dict)  # {registration number: {field: value}} of created marks


@dataclass(frozen=True)
class Failed:
    failure: str  # the job's failure, exactly
    encoding: str = "utf-8"


NOT_TEXT = Refused("not_text", "it looks like binary data")
WRONG_ENCODING = Refused("wrong_encoding", "text encoding was not recognised")
BAD_DATE = "Use an ISO date: YYYY-MM-DD"
INTERNATIONAL = (("LOUIS VUITTON", "EUIPO", "015123456", "18;25"), ("HERMÈS", "EUIPO", "000001234", "3;14;18"),
                 ("ŠKODA", "EUIPO", "000002345", "12"), ("小米", "CNIPA", "12345678", "9"),
                 ("ソニー", "JPO", "4123456", "9"))
BLANK_FIRST = (("BLANKFIRST", "USPTO", "2345678", "9"),)

CASES = {
    # --- refused before a job exists ---
    "missing_office_column.csv": Refused("missing_column", "The header row is not usable (office).",
                                         ((1, "office", "missing_column"),)),
    "missing_columns.xlsx": Refused("missing_column", "not usable (office, registration_number)",
                                    ((1, "office", "missing_column"), (1, "registration_number", "missing_column"))),
    "duplicate_column.csv": Refused("duplicate_column", "not usable (word)", ((1, "word", "duplicate_column"),)),
    "empty.csv": Refused("empty_file", "The file is empty"),
    "only_blank_lines.csv": Refused("empty_file", "The file is empty"),
    "header_only.csv": Refused("no_rows", "a header row but no data rows"),
    "header_then_blank_lines.csv": Refused("no_rows", "a header row but no data rows"),
    "junk_with_nuls.csv": NOT_TEXT,  # random bytes with NULs
    "junk_windows1252_controls.csv": NOT_TEXT,  # no NUL, every byte defined in Windows-1252, control characters
    "nul_in_text.csv": NOT_TEXT,  # a CSV with one NUL in a word
    "picture.png.csv": NOT_TEXT,  # a real PNG renamed .csv
    "junk_without_nuls.csv": WRONG_ENCODING,  # random bytes without NULs, 0x81 among them
    "shift_jis.csv": WRONG_ENCODING,  # ソニー: 0x81 is undefined in Windows-1252
    "gb18030.csv": WRONG_ENCODING,  # 騰訊: 0x8D is undefined in Windows-1252
    "legacy.xls": Refused("xls_not_supported", "Excel 97-2003 workbooks (.xls) are not read"),
    "csv_named.xlsx": Refused("bad_xlsx", "named .xlsx but is not an XLSX workbook"),
    "zip_not_xlsx.xlsx": Refused("bad_xlsx", "This zip file is not an XLSX workbook"),
    "truncated.xlsx": Refused("bad_xlsx", "not a readable XLSX workbook"),

    # --- the job runs: bad rows reported and skipped, good rows created ---
    "bad_dates.csv": Imported(
        marks=(("GOODDATES", "USPTO", "1000001", "9"), ("NODATES", "USPTO", "1000005", "25")),
        errors=((3, "registered_on", "bad_date"), (4, "expires_on", "bad_date"), (5, "registered_on", "bad_date"),
                (7, "registered_on", "bad_date")),
        values={(3, "registered_on"): "2024-13-45", (4, "expires_on"): "31/12/2030",
                (5, "registered_on"): "2024-02-30", (7, "registered_on"): "1700-01-01"},
        messages={(3, "registered_on"): BAD_DATE, (4, "expires_on"): BAD_DATE, (5, "registered_on"): BAD_DATE,
                  (7, "registered_on"): "year between 1800 and 2200"},
        fields={"1000001": {"registered_on": date(2020, 1, 15), "expires_on": date(2040, 1, 15)},
                "1000005": {"registered_on": None, "expires_on": None}}),
    "class_out_of_range.csv": Imported(
        marks=(("EDGES", "USPTO", "1100004", "1;45"),),
        errors=((2, "nice_classes", "class_out_of_range"), (3, "nice_classes", "class_out_of_range"),
                (4, "nice_classes", "class_out_of_range")),
        values={(2, "nice_classes"): "0", (3, "nice_classes"): "46", (4, "nice_classes"): "9;46"},
        messages={(2, "nice_classes"): "Class 0 does not exist", (3, "nice_classes"): "Class 46 does not exist",
                  (4, "nice_classes"): "Class 46 does not exist"}),
    "bad_numbers.csv": Imported(
        marks=(("GOODUS", "USPTO", "1234567", "9"), ("GOODEU", "EUIPO", "018123456", "9")),
        errors=((2, "registration_number", "bad_number"), (3, "registration_number", "bad_number"),
                (4, "registration_number", "bad_number")),
        values={(2, "registration_number"): "ABC123", (3, "registration_number"): "1234567890",
                (4, "registration_number"): "0"},
        messages={(2, "registration_number"): "Not a USPTO registration number",
                  (3, "registration_number"): "Not a EUIPO registration number"}),
    "duplicate_rows.csv": Imported(  # "1,234,567", "1234567" and "01234567" are one USPTO number
        marks=(("FIRST", "USPTO", "1234567", "9"), ("OTHEROFFICE", "EUIPO", "001234567", "9")),
        errors=((3, "registration_number", "duplicate_row"), (4, "registration_number", "duplicate_row")),
        values={(3, "registration_number"): "USPTO 1234567", (4, "registration_number"): "USPTO 1234567"},
        messages={(3, "registration_number"): "Row 2 has the same office and registration number",
                  (4, "registration_number"): "Row 2 has the same office and registration number"}),
    "formulas.csv": Imported(  # a word may start with = + - @: stored as text (exports make it inert)
        marks=(('=HYPERLINK("http://evil.example/","click me")', "USPTO", "2000001", "9"),
               ("+1+1", "USPTO", "2000002", "9"), ("@SUM(A1)", "USPTO", "2000003", "9"),
               ("-2+3", "USPTO", "2000004", "9")),
        errors=((6, "nice_classes", "bad_class"), (7, "office", "bad_office"),
                (8, "registration_number", "bad_number")),
        values={(6, "nice_classes"): "=SUM(9)", (7, "office"): "=cmd|' /C calc'!A0",
                (8, "registration_number"): "+2000007"}),
    "unicode_digit_classes.csv": Imported(  # ² and ① are "digits" to str.isdigit() but not numbers; ２５ is 25
        marks=(("GOODCLASS", "USPTO", "7000001", "9"), ("FULLWIDTH", "USPTO", "7000004", "25")),
        errors=((3, "nice_classes", "bad_class"), (4, "nice_classes", "bad_class")),
        values={(3, "nice_classes"): "²", (4, "nice_classes"): "9;①"},
        messages={(3, "nice_classes"): "is not a class number", (4, "nice_classes"): "is not a class number"}),
    "long_word.csv": Imported(
        marks=(("SHORT", "USPTO", "3000002", "9"),),
        errors=((2, "word", "too_long"),),
        values={(2, "word"): "W" * 200 + "… (10000 characters)"},
        messages={(2, "word"): "at most 200 characters"}),

    # --- encodings and layouts that must import exactly ---
    "utf8_bom.csv": Imported(marks=INTERNATIONAL, encoding="utf-8-sig"),
    "utf16_le_bom.csv": Imported(marks=INTERNATIONAL, encoding="utf-16"),
    "utf16_be_bom.csv": Imported(marks=INTERNATIONAL, encoding="utf-16"),
    "utf16_le_no_bom.csv": Imported(
        marks=(("HERMÈS", "EUIPO", "000001234", "3"), ("XBOX", "USPTO", "2345678", "9")), encoding="utf-16-le",
        job_warnings=("The file has no byte order mark; it was read as UTF-16.",)),
    "windows1252.csv": Imported(
        marks=(("HERMÈS", "EUIPO", "000001234", "3;14;18"), ("CITROËN", "EUIPO", "000005678", "12"),
               ("NESTLÉ", "USPTO", "2345678", "29;30"), ("MÜLLER€", "USPTO", "2345679", "29")),
        encoding="cp1252", job_warnings=("The file is not UTF-8; it was read as Windows-1252.",)),
    "semicolon_excel_europe.csv": Imported(  # ; between cells, so "3,5" is one cell with two classes
        marks=(("L'ORÉAL PARIS", "EUIPO", "000001234", "3;5"), ("GÖTTINGER, WURST", "EUIPO", "000005678", "29"),
               ("SIEMENS", "DPMA", "302019123456", "9")),
        fields={"000001234": {"registered_on": date(2019, 3, 1)}}),
    "comma_leading_blank_line.csv": Imported(marks=BLANK_FIRST),
    "semicolon_leading_blank_line.csv": Imported(marks=BLANK_FIRST),
    "several_sheets.xlsx": Imported(  # the second sheet's SECONDSHEET is not imported
        marks=(("FIRSTSHEET", "USPTO", "5000001", "9"), ("ALSOFIRST", "EUIPO", "005000002", "25")),
        file_format="xlsx", encoding="",
        job_warnings=("The workbook has 3 sheets; only the first, “Marks”, was read.",)),
    "typed_cells.xlsx": Imported(  # numeric numbers, real dates, header aliases, an empty row 4
        marks=(("XBOX", "USPTO", "2345678", "9"), ("4711", "EUIPO", "018123456", "3;5")),
        errors=((5, "nice_classes", "class_out_of_range"), (6, "expires_on", "bad_date")),
        values={(5, "nice_classes"): "46", (6, "expires_on"): "01/04/2036"},
        file_format="xlsx", encoding="",
        job_warnings=("The column “Notes” is not one the import reads; it was ignored.",),
        fields={"2345678": {"registered_on": date(2015, 3, 10), "expires_on": date(2035, 3, 10)},
                "018123456": {"registered_on": date(2001, 1, 2), "expires_on": None}}),

    # --- UTF-16 that breaks half-way: the whole file is decoded before a job exists, so it is refused ---
    "utf16_broken_halfway.csv": WRONG_ENCODING,
    # --- the job starts, then the counting pass finds the file broken: nothing written ---
    "nul_after_64k.csv": Failed(failure="Row 3002 holds a NUL character: the file is not plain text. Save it again "
                                        "as CSV UTF-8. Nothing was imported."),
}

# Product bugs: (test, file) -> why the test fails. The tests keep asserting the right behaviour.
KNOWN_BUGS = {}  # ("*", file): every test of that file


def cases(test, *kinds, where=lambda expected: True):
    """The parameters of `test`: the files whose outcome is one of `kinds` (and `where` holds), known product
    bugs as strict xfails."""
    params = []
    for name, expected in CASES.items():
        if isinstance(expected, kinds) and where(expected):
            reason = KNOWN_BUGS.get((test, name)) or KNOWN_BUGS.get(("*", name))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(name, marks=marks, id=name))
    return params


# --- helpers ----------------------------------------------------------------------------------------------

EXISTING = ("EXISTING", "USPTO", "9999999", "9")


def seed(world, org):
    """A mark the org had before the upload: it must come out untouched."""
    return world.mark(org, word=EXISTING[0], office=EXISTING[1], number=EXISTING[2], classes=EXISTING[3]).id


def kept_files(app):
    folder = Path(app.config["INSTANCE_PATH"]) / "uploads" / "imports"
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


def marks_of(app, org):
    with app.app_context():
        return {m.id: (m.word, m.office, m.registration_number, ";".join(map(str, m.classes)))
                for m in Mark.for_org(org)}


def assert_nothing_kept(app, org, existing_id, files_before):
    with app.app_context():
        assert ImportJob.for_org(org).count() == 0
        assert ImportRowError.for_org(org).count() == 0
        assert ImportOutcomes.for_org(org).count() == 0
    assert marks_of(app, org) == {existing_id: EXISTING}
    assert kept_files(app) == files_before


def assert_outcome(app, org, job, expected, existing_id, files_before, dry_run=False):
    """The job and the database after the import of a file whose expected outcome is `expected`."""
    with app.app_context():
        job = ImportJob.get_by_id(job.id)
        errors = list(job.row_errors.order_by(ImportRowError.row, ImportRowError.id))
        outcomes = row_outcomes(job, 2, 10_000)
    assert job.encoding == expected.encoding
    after = marks_of(app, org)
    assert after.pop(existing_id) == EXISTING
    if isinstance(expected, Failed):
        assert (job.status, job.failure) == ("failed", expected.failure)
        assert (job.created, job.updated, job.processed_rows) == (0, 0, 0)
        assert after == {}
        assert outcomes == []
        assert kept_files(app) == files_before
        return
    assert job.status == "done", job.failure
    assert job.file_format == expected.file_format
    assert job.warning_list == list(expected.job_warnings)
    assert [(e.row, e.column, e.code) for e in errors if e.level == "error"] == list(expected.errors)
    assert [e for e in errors if e.level == "warning"] == []
    reported = {(e.row, e.column): e for e in errors}
    for key, value in expected.values.items():
        assert reported[key].value == value
    for key, part in expected.messages.items():
        assert part in reported[key].message
    error_rows = {row for row, _, _ in expected.errors}
    assert (job.created, job.updated, job.unchanged, job.error_rows) == (len(expected.marks), 0, 0, len(error_rows))
    assert job.total_rows == job.processed_rows == len(expected.marks) + len(error_rows)
    assert sorted(row for row, outcome in outcomes if outcome == "error") == sorted(error_rows)
    assert sum(1 for _, outcome in outcomes if outcome == "create") == len(expected.marks)
    if dry_run:
        assert after == {}
        assert kept_files(app) == files_before | {job.stored_path}
        return
    assert sorted(after.values()) == sorted(expected.marks)
    assert not job.stored_path and kept_files(app) == files_before
    with app.app_context():
        for number, values in expected.fields.items():
            mark = Mark.for_org(org).where(Mark.registration_number == number).get()
            assert {name: getattr(mark, name) for name in values} == values


def upload_page(client, content, name, dry_run=False):
    return client.post_form("/marks/imports", data={"file": (io.BytesIO(content), name),
                                                    "dry_run": "y" if dry_run else ""},
                            content_type="multipart/form-data")


def download_csv(client, url):
    response = client.get(url)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


# --- every file through the service (the refused ones through the upload page too) --------------------------

@pytest.mark.parametrize("name", cases("refused", Refused))
def test_refused_file_leaves_nothing(app, world, admin, name):
    """Through the service, then through the upload page: refused before a job exists, nothing kept."""
    expected = CASES[name]
    client, org = admin
    existing = seed(world, org)
    before = kept_files(app)
    content = (DATA / name).read_bytes()
    with pytest.raises(FileRefused) as caught:
        world.upload(org, content, name)
    refused = caught.value
    assert refused.code == expected.code
    assert expected.text in refused.text
    assert [problem[:3] for problem in refused.problems] == list(expected.problems)
    assert_nothing_kept(app, org, existing, before)

    response = upload_page(client, content, name)
    assert response.status_code == 422
    page = page_text(response)
    assert refused.text in page
    for problem in refused.problems:
        assert problem[3] in page
    assert_nothing_kept(app, org, existing, before)


@pytest.mark.parametrize("name", cases("service", Imported, Failed))
def test_file_imports_exactly(app, world, name):
    org = world.org("Acme")
    existing = seed(world, org)
    before = kept_files(app)
    job = world.upload(org, (DATA / name).read_bytes(), name)
    assert_outcome(app, org, job, CASES[name], existing, before)


def has_row_errors(expected):
    return bool(expected.errors)


@pytest.mark.parametrize("name", cases("dry_run", Imported, where=has_row_errors))
def test_dry_run_reports_the_same_and_writes_nothing(app, world, name):
    org = world.org("Acme")
    existing = seed(world, org)
    before = kept_files(app)
    job = world.upload(org, (DATA / name).read_bytes(), name, dry_run=True)
    assert_outcome(app, org, job, CASES[name], existing, before, dry_run=True)
    with app.app_context():
        uploads.delete(IMPORT_AREA, job.stored_path)  # a dry run keeps its file to be applied; not needed here


@pytest.mark.parametrize("name", cases("batches", Imported, where=has_row_errors))
def test_batches_of_two_rows_change_nothing(app, world, monkeypatch, name):
    """Duplicates, blank rows and errors that straddle a batch boundary are reported the same way."""
    monkeypatch.setitem(app.config, "MARKS_IMPORT_BATCH_ROWS", 2)
    org = world.org("Acme")
    existing = seed(world, org)
    before = kept_files(app)
    job = world.upload(org, (DATA / name).read_bytes(), name)
    assert_outcome(app, org, job, CASES[name], existing, before)


def test_every_corpus_file_has_an_expected_outcome():
    files = {path.name for path in DATA.iterdir() if path.name != "make_corpus.py"}
    assert files == set(CASES)


# --- every file through the upload page -------------------------------------------------------------------

@pytest.mark.parametrize("name", cases("web", Imported, Failed))
def test_upload_page_imports_and_reports(app, world, admin, name):
    client, org = admin
    expected = CASES[name]
    existing = seed(world, org)
    before = kept_files(app)
    response = upload_page(client, (DATA / name).read_bytes(), name)
    assert response.status_code == 302
    job_id = int(re.fullmatch(r"/marks/imports/(\d+)", response.headers["Location"]).group(1))
    with app.app_context():
        job = ImportJob.get_for_org(job_id, org)
    assert_outcome(app, org, job, expected, existing, before)

    page = client.get(f"/marks/imports/{job_id}")
    assert page.status_code == 200
    if isinstance(expected, Failed):
        assert expected.failure in page_text(page)
    report = download_csv(client, f"/marks/imports/{job_id}/errors.csv")
    assert report[0] == ["row", "column", "code", "message", "value", "level"]
    assert [(int(row), column, code) for row, column, code, *_ in report[1:]] == \
        list(getattr(expected, "errors", ()))


# --- formulas and long values in the downloads ------------------------------------------------------------

def test_formula_cells_are_inert_in_the_error_report(app, world, admin):
    client, org = admin
    job = world.upload(org, (DATA / "formulas.csv").read_bytes(), "formulas.csv")
    assert job.status == "done" and job.created == 4
    report = download_csv(client, f"/marks/imports/{job.id}/errors.csv")
    assert [(row[0], row[1], row[2], row[4]) for row in report[1:]] == [
        ("6", "nice_classes", "bad_class", "'=SUM(9)"),
        ("7", "office", "bad_office", "'=cmd|' /C calc'!A0"),
        ("8", "registration_number", "bad_number", "'+2000007"),
    ]
    assert report[1][3].startswith("'=SUM(9) is not a class number")  # the message quotes the cell too
    for cell in [cell for row in report for cell in row]:
        assert not cell.startswith(FORMULA_STARTS), cell


def test_formula_cells_are_inert_in_the_marks_export(app, world, admin):
    client, org = admin
    job = world.upload(org, (DATA / "formulas.csv").read_bytes(), "formulas.csv")
    assert job.status == "done" and job.created == 4
    assert sorted(marks_of(app, org).values()) == sorted(CASES["formulas.csv"].marks)  # stored as typed
    export = download_csv(client, "/marks/export.csv")
    assert export[0][:4] == ["word", "office", "registration_number", "nice_classes"]
    assert sorted(row[:4] for row in export[1:]) == sorted([
        ["'=HYPERLINK(\"http://evil.example/\",\"click me\")", "USPTO", "2000001", "9"],
        ["'+1+1", "USPTO", "2000002", "9"], ["'@SUM(A1)", "USPTO", "2000003", "9"],
        ["'-2+3", "USPTO", "2000004", "9"]])
    for cell in [cell for row in export for cell in row]:
        assert not cell.startswith(FORMULA_STARTS), cell


def test_ten_thousand_character_word_is_reported_short(app, world, admin):
    client, org = admin
    job = world.upload(org, (DATA / "long_word.csv").read_bytes(), "long_word.csv")
    report = download_csv(client, f"/marks/imports/{job.id}/errors.csv")
    assert [row[:3] for row in report[1:]] == [["2", "word", "too_long"]]
    assert report[1][4] == "W" * 200 + "… (10000 characters)"
    page = client.get(f"/marks/imports/{job.id}")
    assert page.status_code == 200
    assert "W" * 201 not in page.get_data(as_text=True)
