"""CSV downloads never hand a spreadsheet a formula (issue 18, part 6), and an exported list still uploads
again unchanged.

A cell is guarded with a leading apostrophe when it starts with TAB or CR (OWASP), or when its first
character that is not a space is = + - @ or one of their full-width, small or superscript forms; spaces
include NBSP, the ideographic space, line breaks and invisible format characters (zero-width space, BOM).
A cell already starting with apostrophes before such a start is guarded too, so the upload, which takes
one apostrophe off exactly those cells, gives every value back as it was.

`test_every_csv_download_is_covered` finds every call of `csv_response` in the portal's source: a new
download fails it until it is added to EXPORTS below with data planted in it.
"""
import ast
import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.csvutil import csv_lines, safe_cell
from portal.intel.models import Flag, Seller
from portal.imports.models import ImportJob, ImportRowError
from portal.marks.models import Mark
from portal.imports.tables import inert_cell
from portal.notices.models import NoticeItem

PORTAL = Path(__file__).resolve().parents[2] / "portal"

# Written out here rather than taken from portal.csvutil: the characters a spreadsheet program may read as
# the start of a formula, and what it may skip before one.
FORMULA_LOOKALIKES = "=+-@＝＋－＠﹦﹢﹣﹫⁺⁼₊₌﬩⩵⩶"
SKIPPED = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008" \
          "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u202a\u202e"

# Values a download must guard, one of each kind.
FORMULAS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\tplain", "\rplain",
            "＝1+1", "＋1", "－1", "＠SUM(A1)", "﹦1", "⁼1", "⩵1",  # full-width, small, superscript, ==
            " =1", "\u00a0=1", "\u3000＋1", "\u2003-1", "\n=1", "\r\n@x", "\u200b=1", "\ufeff@x", "\u202e=1",
            "'=1", "''+1", "' =1", "'\tplain"]  # already apostrophed: guarded again, so the upload undoes one
# Values a download must leave as they are.
HARMLESS = ["", "plain", "a=b", "1-2", "e@mail", "'", "'quoted", "''", "\nplain", " plain", "\u00a0plain",
            "'\nplain", "−1", "(=1)", "\u200bplain"]


def spreadsheet_may_evaluate(cell):
    """What a spreadsheet program could take for a formula: TAB or CR first, or a formula character
    after skippable characters. A guarded cell starts with an apostrophe, which none of them skips."""
    if cell.startswith(("\t", "\r")):
        return True
    rest = cell.lstrip(SKIPPED)
    return rest[:1] != "" and rest[:1] in FORMULA_LOOKALIKES


def read_csv(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def assert_inert(rows):
    for row in rows:
        for cell in row:
            assert not spreadsheet_may_evaluate(cell), (cell, row)


# --- the rule --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", FORMULAS)
def test_formula_like_cells_get_an_apostrophe(value):
    assert safe_cell(value) == "'" + value
    assert inert_cell(safe_cell(value)) == value


@pytest.mark.parametrize("value", HARMLESS)
def test_other_cells_are_left_as_they_are(value):
    assert safe_cell(value) == value
    assert inert_cell(value) == value


def test_what_the_oracle_calls_dangerous_is_what_gets_guarded():
    for value in FORMULAS:
        assert spreadsheet_may_evaluate(value.lstrip("'")), ascii(value)
    for value in HARMLESS:
        assert not spreadsheet_may_evaluate(value.lstrip("'")), ascii(value)


def test_non_text_cells():
    assert [safe_cell(v) for v in (None, 0, -5, 1.5, -0.5)] == ["", "0", "'-5", "1.5", "'-0.5"]


starts = st.sampled_from(["", "'", "''", " ", "\u00a0", "\u3000", "\n", "\t", "\r", "\u200b", "\ufeff"])
heads = st.sampled_from(list(FORMULA_LOOKALIKES) + ["a", "1", "'", " ", "−", "(", ""])


@given(value=st.builds(lambda a, b, c: a + b + c, starts, heads, st.text(max_size=8)) | st.text())
@settings(max_examples=500, deadline=None)
def test_any_text_is_exported_inert_and_uploads_back_unchanged(value):
    exported = safe_cell(value)
    assert not spreadsheet_may_evaluate(exported)
    assert exported in (value, "'" + value)
    assert inert_cell(exported) == value


def test_csv_lines_guard_every_cell_header_included():
    lines = "".join(csv_lines(["=header", "ok"], [["＋1", "plain"], ["\u00a0@x", None]]))
    assert list(csv.reader(io.StringIO(lines, newline=""))) == [["'=header", "ok"], ["'＋1", "plain"],
                                                                  ["'\u00a0@x", ""]]


# --- every download -------------------------------------------------------------------------------------

def csv_download_sites():
    """{"module:function"} of every function in the portal that calls csv_response."""
    found = set()
    for path in PORTAL.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = ".".join(path.relative_to(PORTAL.parent).with_suffix("").parts)
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                    == "csv_response" for node in ast.walk(function)):
                found.add(f"{module}:{function.name}")
    return found - {"portal.csvutil:csv_response"}


@pytest.fixture
def parties(world):
    """A brand (Microsoft, an admin signed in) partnering with Alibaba, which runs Taobao."""
    alibaba = world.org("Alibaba", kind="platform")
    world.marketplace(alibaba, "Taobao")
    brand = world.org("Microsoft")
    client = world.app.test_client()
    client.sign_in(world.person(brand, "admin").email)
    return {"client": client, "brand": brand, "platform": alibaba,
            "partnership": world.partnership(brand, alibaba)}


def plant_marks(world, parties):
    """One mark per value, the value as its word (written straight to the row: the export is under test,
    not the rules that would tidy a typed word). {registration number: value}."""
    planted = {}
    for n, value in enumerate(FORMULAS + HARMLESS):
        number = str(3000000 + n)
        mark = world.mark(parties["brand"], word=f"WORD{n}", number=number)
        Mark.update(word=value).where(Mark.id == mark.id).execute()
        planted[number] = value
    return planted


def check_marks_export(world, parties):
    planted = plant_marks(world, parties)
    rows = read_csv(parties["client"].get("/marks/export.csv"))
    assert_inert(rows)
    words = {row[2]: row[0] for row in rows[1:]}
    assert words == {number: safe_cell(value) for number, value in planted.items()}
    assert {number: inert_cell(word) for number, word in words.items()} == planted


def check_flags_export(world, parties):
    """Seller ids, display names and shop URLs of flags, each a planted value."""
    brand, values = parties["brand"], FORMULAS + HARMLESS
    for n, value in enumerate(values):
        flag = world.flag(brand, f"seller-{n}", "taobao", display_name=f"Shop {n}")
        Flag.update(display_name=value, shop_url=value).where(Flag.id == flag.id).execute()
        Seller.update(external_id=value + f"#{n}" if value else f"#{n}").where(Seller.id == flag.seller_id).execute()
    rows = read_csv(parties["client"].get("/intel/flags.csv"))
    assert_inert(rows)
    header = rows[0]
    shown = sorted((row[header.index("display_name")], row[header.index("shop_url")]) for row in rows[1:])
    assert shown == sorted((safe_cell(v), safe_cell(v)) for v in values)
    assert sorted(row[header.index("seller_id")] for row in rows[1:]) == sorted(
        safe_cell(v + f"#{n}" if v else f"#{n}") for n, v in enumerate(values))


def check_notice_items_export(world, parties):
    values = FORMULAS + HARMLESS
    filed = world.notice(parties["brand"], parties["partnership"],
                         [f"https://item.taobao.com/item.htm?id={n}" for n in range(len(values))]).notice
    items = list(NoticeItem.select().where(NoticeItem.notice == filed).order_by(NoticeItem.position))
    for item, value in zip(items, values):
        NoticeItem.update(title=value, seller_id=value, url=value).where(NoticeItem.id == item.id).execute()
    rows = read_csv(parties["client"].get("/notices/items.csv"))
    assert_inert(rows)
    header = rows[0]
    for name in ("url", "seller_id", "title"):
        assert [row[header.index(name)] for row in rows[1:]] == [safe_cell(v) for v in values], name


def check_audit_export(world, parties):
    """Audit events whose actor label and change carry the values (an actor label is whatever `acting_as`
    was given: a CLI user's text); the sentence and the change columns hold them too."""
    from portal.audit import AuditEvent, acting_as
    from portal.db import db
    values = FORMULAS + HARMLESS
    for value in values:
        with acting_as(value), db.atomic():
            from portal import audit
            audit.record("invitation.created", parties["brand"], None, {"email": value, "role": "viewer"})
    rows = read_csv(parties["client"].get("/audit.csv?action=invitation.created"))
    assert_inert(rows)
    header = rows[0]
    assert [row[header.index("actor_label")] for row in rows[1:]] == [safe_cell(v) for v in reversed(values)]
    assert AuditEvent.for_org(parties["brand"]).where(AuditEvent.action == "invitation.created").count() == len(values)


def plant_row_errors(job):
    """The job's error rows, their values and messages replaced by the planted values."""
    values = FORMULAS + HARMLESS
    errors = list(ImportRowError.select().where(ImportRowError.job == job)
                  .order_by(ImportRowError.row, ImportRowError.id))  # in the report's order
    assert len(errors) >= len(values)
    for error, value in zip(errors, values):
        ImportRowError.update(value=value, message=value).where(ImportRowError.id == error.id).execute()
    return values


MARK_HEADER = ["word", "office", "registration_number", "nice_classes"]


def marks_file(rows):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([MARK_HEADER, *rows])
    return buffer.getvalue()


def marks_job(world, parties):
    """An import whose rows carry every kind of value in every column, and enough errors for all of them."""
    rows = []
    for n, value in enumerate(FORMULAS + HARMLESS):
        rows += [[value or "W", "USPTO", str(3000000 + n), "9"], ["W", value, str(3100000 + n), "9"],
                 ["W", "USPTO", value, "9"], ["W", "USPTO", str(3200000 + n), value]]
    return world.upload(parties["brand"], marks_file(rows))


def check_marks_error_report(world, parties):
    job = marks_job(world, parties)
    values = plant_row_errors(job)
    rows = read_csv(parties["client"].get(f"/marks/imports/{job.id}/errors.csv"))
    assert_inert(rows)
    shown = [(row[3], row[4]) for row in rows[1:len(values) + 1]]
    assert shown == [(safe_cell(v), safe_cell(v)) for v in values]


def check_marks_row_report(world, parties):
    job = marks_job(world, parties)
    rows = read_csv(parties["client"].get(f"/marks/imports/{job.id}/report.csv"))
    assert_inert(rows)
    cells = {cell for row in rows for cell in row}
    # The keys as the rows gave them (tidied by the import's rules), guarded: the full-width and
    # zero-width starts survive that tidying.
    assert {"'=1+1", "'＝1+1", "'\u200b=1", "'＠SUM(A1)"} <= cells


FLAG_HEADER = ["marketplace", "seller_id", "category", "tlp", "distribution", "display_name", "notes"]


def flags_job(world, parties):
    from portal.audit import acting_as
    from portal.intel.imports import start_flag_import
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FLAG_HEADER)
    for n, value in enumerate(FORMULAS + HARMLESS):
        writer.writerow(["taobao", value or "s", "suspected_counterfeit", "green", "alliance", value, value])
        writer.writerow(["taobao", f"shop-{n}", value or "?", "green", "alliance", "", ""])
    with world.app.app_context(), acting_as("test"):
        return start_flag_import(parties["brand"], io.BytesIO(buffer.getvalue().encode()), "flags.csv")


def check_flags_error_report(world, parties):
    job = flags_job(world, parties)
    values = plant_row_errors(job)
    rows = read_csv(parties["client"].get(f"/intel/flags/import/{job.id}/errors.csv"))
    assert_inert(rows)
    assert [(row[3], row[4]) for row in rows[1:len(values) + 1]] == [(safe_cell(v), safe_cell(v)) for v in values]


def check_flags_row_report(world, parties):
    job = flags_job(world, parties)
    rows = read_csv(parties["client"].get(f"/intel/flags/import/{job.id}/report.csv"))
    assert_inert(rows)
    assert {"'=1+1", "'＝1+1", "'\u200b=1"} <= {cell for row in rows for cell in row}


def check_template(path):
    def check(world, parties):
        assert_inert(read_csv(parties["client"].get(path)))
    return check


# Every function that calls csv_response, and how each of its downloads is filled and checked.
EXPORTS = {
    "portal.marks.views:export": [check_marks_export],
    "portal.marks.views:template": [check_template("/marks/template.csv")],
    "portal.imports.pages:error_report": [check_marks_error_report, check_flags_error_report],
    "portal.imports.pages:row_report": [check_marks_row_report, check_flags_row_report],
    "portal.intel.views:export": [check_flags_export],
    "portal.intel.views:flag_import_template": [check_template("/intel/flags/import-template.csv")],
    "portal.intel.screening_views:authorized_import_template": [check_template("/intel/authorized-sellers/import-template.csv")],
    "portal.intel.screening_views:template": [check_template("/intel/screenings/template.csv")],
    "portal.notices.views:export_items": [check_notice_items_export],
    "portal.notices.views:listings_template": [check_template("/notices/listings-template.csv")],
    "portal.notices.batch_views:batch_template": [check_template("/notices/batches/template.csv")],
    "portal.accounts.views:audit_trail_csv": [check_audit_export],
}


def test_every_csv_download_is_covered():
    assert csv_download_sites() == set(EXPORTS), "a CSV download without a test: add it to EXPORTS"


@pytest.mark.parametrize("check", [check for checks in EXPORTS.values() for check in checks],
                         ids=lambda check: getattr(check, "__name__", "template"))
def test_every_csv_download_guards_every_kind_of_cell(world, parties, check):
    check(world, parties)


# --- the round trip ---------------------------------------------------------------------------------------

def test_an_export_with_formula_like_words_uploads_again_unchanged(world, parties):
    """Words the marks rules keep as typed (no leading spaces: those are trimmed), guarded on the way out
    and given back exactly on the way in, an apostrophe of their own included."""
    kept = ["=1+1", "+1", "-1", "@HOME", "＝1+1", "＋1", "－1", "＠HOME", "﹦1", "\u200b=1", "'=1", "''+1",
            "' =1", "'quoted", "a=b"]
    brand = parties["brand"]
    for n, word in enumerate(kept):
        world.mark(brand, word=word, number=str(4000000 + n))
    assert sorted(Mark.for_org(brand).select(Mark.word).tuples()) == sorted((w,) for w in kept)  # as typed
    exported = parties["client"].get("/marks/export.csv")
    assert_inert(read_csv(exported))
    job = world.upload(brand, exported.get_data())
    assert (job.unchanged, job.updated, job.created, job.error_rows) == (len(kept), 0, 0, 0)
    assert sorted(w for (w,) in Mark.for_org(brand).select(Mark.word).tuples()) == sorted(kept)
    assert ImportJob.for_org(brand).count() == 1
