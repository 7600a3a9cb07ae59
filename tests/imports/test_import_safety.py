"""Safe bulk updates: a blank cell keeps the stored value, "-" empties it, and the dry run shows each row's
natural key, field-by-field change and consequences (page, CSV, API) and counts them before anything is
applied. Marks and flags alike."""
import io
import re

import openpyxl
import pytest

from portal.audit import acting_as
from portal.intel.imports import start_flag_import
from portal.intel.models import Flag
from portal.intel.services import identifiers_of
from portal.imports import report as import_report
from portal.imports import runner, service
from portal.imports import tasks as import_tasks
from portal.imports.models import ImportJob, ImportRowChange
from portal.marks.models import Mark
from portal.marks.workbook import xlsx_template
from tests.conftest import page_text
from tests.platform.test_api import bearer, client_token

HEADER = "word,office,registration_number,nice_classes,registered_on,expires_on,jurisdictions\n"


@pytest.fixture
def verified(world):
    """Microsoft's verified MICROSOFT mark (USPTO 1200236, registered 1982-06-01) and its partner platform."""
    org, platform = world.org("Microsoft"), world.org("Alibaba", kind="platform")
    world.partnership(org, platform)
    mark = world.verified_mark(org, platform, word="MICROSOFT", office="USPTO", number="1200236",
                               registered_on="1982-06-01", expires_on="2032-06-01")
    assert mark.status == "verified"
    return org, platform, mark


def report(job, show="all"):
    return {row.row: row for row in import_report.rows_page(job, show, 1, 1000)}


def test_a_blank_cell_keeps_the_stored_value_and_the_verification(world, verified):
    """The filed defect: an empty registered_on cell cleared the date and sent the verified mark to pending."""
    org, _, mark = verified
    dry = world.upload(org, HEADER + "MICROSOFT,USPTO,1200236,9,,,\n", dry_run=True)
    assert (dry.updated, dry.unchanged) == (0, 1) and dry.consequence_counts == {}
    job = world.upload(org, HEADER + "MICROSOFT,USPTO,1200236,9,,,\n")
    assert (job.updated, job.unchanged) == (0, 1)
    mark = Mark.get_by_id(mark.id)
    assert (str(mark.registered_on), str(mark.expires_on), mark.status) == ("1982-06-01", "2032-06-01", "verified")


def test_blank_word_and_classes_keep_theirs_on_an_update_but_a_new_mark_needs_them(world, verified):
    org, _, mark = verified
    job = world.upload(org, HEADER + ",USPTO,1200236,,,2033-06-01,\n,USPTO,7654321,,,,\n")
    assert (job.updated, job.error_rows) == (1, 1)
    mark = Mark.get_by_id(mark.id)
    assert (mark.word, mark.classes, str(mark.expires_on)) == ("MICROSOFT", [9], "2033-06-01")
    rows = report(job)
    assert rows[3].outcome == "error" and {p.column for p in rows[3].problems} == {"word", "nice_classes"}
    assert "so this row adds one" in rows[3].problems[0].message
    assert not Mark.for_org(org).where(Mark.registration_number == "7654321").exists()


def test_a_minus_empties_a_value_and_the_dry_run_says_what_that_does(app, world, verified):
    org, _, mark = verified
    content = HEADER + "MICROSOFT,USPTO,1200236,9,-,,\n"
    dry = world.upload(org, content, dry_run=True)
    assert dry.updated == 1 and dry.consequence_counts == {"verified_to_pending": 1, "clears_value": 1}
    assert import_report.consequence_summary(dry) == [
        "1 verified mark will return to pending: notices cannot rely on it until a partner platform verifies "
        "it again.", "1 row will empty a stored value."]
    row = report(dry)[2]
    assert row.key == ["MICROSOFT", "USPTO", "1200236"] and row.outcome == "update"
    assert row.changes == [["registered_on", "1982-06-01", ""], ["status", "verified", "pending"]]
    assert row.consequences == ["verified_to_pending", "clears_value"]
    assert Mark.get_by_id(mark.id).registered_on is not None  # a dry run writes nothing
    with app.app_context(), acting_as("test"):
        applied = service.apply_dry_run(dry)
    assert applied.consequence_counts == dry.consequence_counts
    assert import_report.consequence_summary(applied)[0].startswith("1 verified mark returned to pending")
    mark = Mark.get_by_id(mark.id)
    assert (mark.registered_on, mark.status, mark.reviewed_by_org) == (None, "pending", None)


def test_required_columns_cannot_be_emptied(world, verified):
    org, _, mark = verified
    job = world.upload(org, HEADER + "-,USPTO,1200236,-,,,\nX,-,1200236,9,,,\n")
    assert job.error_rows == 2 and job.updated == 0
    rows = report(job)
    assert {(p.column, p.code) for p in rows[2].problems} == {("word", "cannot_clear"), ("nice_classes", "cannot_clear")}
    assert [(p.column, p.code) for p in rows[3].problems] == [("office", "cannot_clear")]
    assert Mark.get_by_id(mark.id).word == "MICROSOFT"


def test_rules_between_columns_are_checked_against_the_stored_mark(world, verified):
    """A row giving only an expiry date before the stored registration date is refused."""
    org, _, mark = verified
    job = world.upload(org, HEADER + "MICROSOFT,USPTO,1200236,9,,1980-01-01,\n")
    assert job.error_rows == 1
    assert [(p.column, p.code) for p in report(job)[2].problems] == [("expires_on", "date_order")]
    assert str(Mark.get_by_id(mark.id).expires_on) == "2032-06-01"


def test_created_as_expired_and_becoming_expired_are_consequences(world, verified):
    org, _, mark = verified
    content = HEADER + "OLD MARK,USPTO,1111111,9,2000-01-01,2010-01-01,\nMICROSOFT,USPTO,1200236,9,,2020-01-01,\n"
    dry = world.upload(org, content, dry_run=True)
    assert dry.consequence_counts == {"created_expired": 1, "becomes_expired": 1}
    rows = report(dry)
    assert (rows[2].outcome, rows[2].consequences, rows[2].changes) == ("create", ["created_expired"], [])
    assert ["status", "verified", "expired"] in rows[3].changes
    summary = import_report.consequence_summary(dry)
    assert "1 mark will become expired" in summary[0] and "1 new mark will be created as expired" in summary[1]


def test_the_report_filters_errors_updates_and_consequences(world, verified):
    org, _, _ = verified
    world.upload(org, HEADER + "ONE,USPTO,2000001,9,,,\nTWO,USPTO,2000002,9,,,\n")
    content = (HEADER + "ONE,USPTO,2000001,9;25,,,\n"  # update, no consequence (pending stays pending)
               "BAD,USPTO,ABC,9,,,\n"  # error
               "MICROSOFT,USPTO,1200236,9;25,,,\n"  # update of a verified mark: back to pending
               "TWO,USPTO,2000002,9,,,\n"  # unchanged
               "\n"
               "NEW,USPTO,2000003,9,,,\n")  # create
    dry = world.upload(org, content, dry_run=True)
    assert [(r.row, r.outcome) for r in report(dry).values()] == [
        (2, "update"), (3, "error"), (4, "update"), (5, "unchanged"), (7, "create")]
    assert list(report(dry, "errors")) == [3] and report(dry, "errors")[3].key == ["BAD", "USPTO", "ABC"]
    assert list(report(dry, "updates")) == [2, 4]
    assert list(report(dry, "consequences")) == [4]
    assert import_report.shown_counts(dry) == {"all": 5, "errors": 1, "updates": 2, "consequences": 1}
    # Pages continue after the last row shown, across blank rows.
    assert [r.row for r in import_report.rows_page(dry, "all", 5, 2)] == [7]
    assert [r.row for r in import_report.rows_page(dry, "updates", 2, 5)] == [4]


def upload_stopped_at_batch(world, org, content, monkeypatch, batch_number, error):
    """Upload `content` with the worker stopped at its `batch_number`th batch by `error` (KeyboardInterrupt:
    killed, the job left running; an Exception: a bug, the job failed). Returns the job."""
    original, calls = runner.Importer.apply_batch, {"n": 0}

    def stop_at_batch(self, batch):
        calls["n"] += 1
        if calls["n"] == batch_number:
            raise error
        return original(self, batch)
    with monkeypatch.context() as patched:
        patched.setattr(runner.Importer, "apply_batch", stop_at_batch)
        try:
            world.upload(org, content)
        except KeyboardInterrupt:
            pass
    return ImportJob.for_org(org).order_by(ImportJob.id.desc()).get()


def resume(app, job):
    """What the worker's periodic task does for a job whose worker stopped beating."""
    ImportJob.update(heartbeat_at=job.heartbeat_at - runner.STALLED_AFTER * 2).where(ImportJob.id == job.id).execute()
    with app.app_context():
        import_tasks.resume_stalled_imports.call_local()
    return ImportJob.get_by_id(job.id)


def test_consequences_survive_a_resumed_job(app, world, verified, monkeypatch):
    org, _, _ = verified
    monkeypatch.setitem(app.config, "MARKS_IMPORT_BATCH_ROWS", 1)
    content = HEADER + "MICROSOFT,USPTO,1200236,9;25,,,\nOLD,USPTO,1111111,9,,2010-01-01,\nNEW,USPTO,1111112,9,,,\n"
    job = upload_stopped_at_batch(world, org, content, monkeypatch, 3, KeyboardInterrupt("worker killed"))
    assert job.status == "running"
    job = resume(app, job)
    assert job.status == "done" and job.consequence_counts == {"verified_to_pending": 1, "created_expired": 1}
    assert ImportRowChange.select().where(ImportRowChange.job == job).count() == 2


# --- page, CSV and API --------------------------------------------------------------------------------

def visible(response):
    """The page's text without its tags, spaces collapsed: what a reader sees."""
    return " ".join(re.sub(r"<[^>]+>", " ", page_text(response)).split()).replace(" :", ":")


def upload_page(client, content, dry_run=True):
    data = {"file": (io.BytesIO(content.encode()), "marks.csv")}
    if dry_run:
        data["dry_run"] = "y"
    return client.post_form("/marks/imports", data, content_type="multipart/form-data")


def test_the_dry_run_page_shows_keys_changes_consequences_and_filters(make_client, world, verified):
    org, _, _ = verified
    client = make_client()
    client.sign_in(world.person(org, "admin").email)
    response = upload_page(client, HEADER + "MICROSOFT,USPTO,1200236,9,-,,\nBAD,USPTO,ABC,9,,,\n")
    job = ImportJob.for_org(org).get()
    text = visible(client.get(response.headers["Location"]))
    assert "1 verified mark will return to pending" in text and "1 row will empty a stored value" in text
    assert "Import this file now" in text
    assert "MICROSOFT" in text and "1200236" in text and "registered on: 1982-06-01 → (blank)" in text
    assert "verified → pending" in text and "clears a value" in text
    assert "Errors (1)" in text and "Updates (1)" in text and "Consequences (1)" in text
    errors_only = visible(client.get(f"/marks/imports/{job.id}?show=errors"))
    assert "Not a USPTO registration number" in errors_only and "1982-06-01 → (blank)" not in errors_only
    consequences = visible(client.get(f"/marks/imports/{job.id}?show=consequences"))
    assert "1982-06-01 → (blank)" in consequences and "BAD" not in consequences.split("Row by row")[1]
    csv = client.get(f"/marks/imports/{job.id}/report.csv").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert csv[0] == "row,word,office,registration_number,outcome,changes,consequences,problems"
    assert csv[1] == ("2,MICROSOFT,USPTO,1200236,update,registered on: 1982-06-01 → (blank) | status: verified → "
                      "pending,verified → pending; clears a value,")
    assert csv[2].startswith("3,BAD,USPTO,ABC,error,,,registration_number: Not a USPTO registration number")
    only = client.get(f"/marks/imports/{job.id}/report.csv?show=updates").get_data(as_text=True).splitlines()
    assert len(only) == 2 and only[1].startswith("2,MICROSOFT")
    assert client.get(f"/marks/imports/{job.id}/report.csv?show=nonsense").status_code == 404


def test_the_api_gives_the_row_report_and_the_consequences(client, world, verified):
    org, _, _ = verified
    token = client_token(client, org, "marks:read marks:write")
    content = HEADER + "MICROSOFT,USPTO,1200236,9,-,,\nBAD,USPTO,ABC,9,,,\nNEW,USPTO,3000001,9,,,\n"
    started = client.post("/api/v1/marks/imports", headers=bearer(token), content_type="multipart/form-data",
                          data={"file": (io.BytesIO(content.encode()), "marks.csv"), "dry_run": "true"})
    assert started.status_code == 202, started.json
    body = started.json
    assert body["consequences"] == {"verified_to_pending": 1, "clears_value": 1}
    assert body["summary"][0].startswith("1 verified mark will return to pending")
    rows = client.get(body["rows_url"], headers=bearer(token)).json
    assert rows["next_cursor"] is None and [r["row"] for r in rows["items"]] == [2, 3, 4]
    first = rows["items"][0]
    assert first["key"] == {"word": "MICROSOFT", "office": "USPTO", "registration_number": "1200236"}
    assert first["changes"] == [{"field": "registered_on", "before": "1982-06-01", "after": ""},
                                {"field": "status", "before": "verified", "after": "pending"}]
    assert first["consequences"] == [{"code": "verified_to_pending", "label": "verified → pending"},
                                     {"code": "clears_value", "label": "clears a value"}]
    assert rows["items"][1]["problems"][0]["code"] == "bad_number"
    page = client.get(body["rows_url"] + "?limit=1", headers=bearer(token)).json
    assert [r["row"] for r in page["items"]] == [2] and page["next_cursor"] == "2"
    rest = client.get(body["rows_url"] + "?limit=5&cursor=2", headers=bearer(token)).json
    assert [r["row"] for r in rest["items"]] == [3, 4]
    errors = client.get(body["rows_url"] + "?show=errors", headers=bearer(token)).json
    assert [r["row"] for r in errors["items"]] == [3]
    bad = client.get(body["rows_url"] + "?show=everything", headers=bearer(token))
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "show"


def test_the_template_and_the_upload_page_say_how_to_keep_and_empty_values(admin):
    client, _ = admin
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_template()))
    help_text = " ".join(str(cell) for row in workbook["How to fill in"].iter_rows(values_only=True) for cell in row)
    assert runner.UPDATE_RULES_HELP in help_text
    assert runner.UPDATE_RULES_HELP in page_text(client.get("/marks/imports"))
    assert runner.UPDATE_RULES_HELP in page_text(client.get("/intel/flags/import"))


# --- flags --------------------------------------------------------------------------------------------

FLAG_HEADER = "marketplace,seller_id,category,confidence,tlp,distribution,share_with,display_name,notes,email,domain\n"


@pytest.fixture
def alliance(world):
    alibaba = world.org("Alibaba", kind="platform")
    world.marketplace(alibaba, "Taobao")
    return dict(lv=world.org("Louis Vuitton"), swarovski=world.org("Swarovski"), alibaba=alibaba)


def flag_upload(app, org, content, dry_run=False):
    with app.app_context(), acting_as("test"):
        return start_flag_import(org, io.BytesIO(content.encode()), "flags.csv", dry_run=dry_run)


def test_a_blank_flag_cell_keeps_and_a_minus_empties(app, world, alliance):
    lv = alliance["lv"]
    flag = world.flag(lv, "shop-k", "taobao", display_name="Keep Me", notes="Test buy TB-1.",
                      identifiers={"email": "old@shop.example", "domain": "shop.example"})
    blank = FLAG_HEADER + "taobao,shop-k,,,,,,,,,\n"
    job = flag_upload(app, lv, blank)
    assert (job.unchanged, job.updated) == (1, 0)
    flag = Flag.get_by_id(flag.id)
    assert (flag.display_name, flag.notes, flag.tlp, flag.category) == ("Keep Me", "Test buy TB-1.", "green",
                                                                        "suspected_counterfeit")
    emptied = FLAG_HEADER + "taobao,shop-k,,,,,,,-,-,\n"
    dry = flag_upload(app, lv, emptied, dry_run=True)
    row = report(dry)[2]
    assert row.key == ["taobao", "shop-k"] and row.consequences == ["clears_value"]
    assert row.changes == [["notes", "Test buy TB-1.", ""], ["email", "old@shop.example", ""]]
    job = flag_upload(app, lv, emptied)
    flag = Flag.get_by_id(flag.id)
    assert (flag.display_name, flag.notes) == ("Keep Me", "")
    assert identifiers_of([flag])[flag.id] == [("domain", "shop.example")]


def test_flag_sharing_changes_are_consequences_checked_on_the_merged_flag(app, world, alliance):
    lv = alliance["lv"]
    flag = world.flag(lv, "shop-s", "taobao", tlp="amber", distribution="group", share_with=[alliance["swarovski"]])
    # A blank share_with keeps the group; only the label changes.
    dry = flag_upload(app, lv, FLAG_HEADER + "taobao,shop-s,,,red,,,,,,\n", dry_run=True)
    row = report(dry)[2]
    assert row.changes == [["tlp", "amber", "red"]] and row.consequences == ["changes_sharing"]
    assert dry.consequence_counts == {"changes_sharing": 1}
    # RED to the whole alliance contradicts, though the row gives only the distribution.
    world.flag(lv, "shop-r", "taobao", tlp="red", distribution="group", share_with=[alliance["swarovski"]])
    refused = flag_upload(app, lv, FLAG_HEADER + "taobao,shop-r,,,,alliance,-,,,,\n")
    assert refused.error_rows == 1 and report(refused)[2].problems[0].column == "tlp"
    # Emptying the group of a group flag is refused too; the label cannot be emptied.
    refused = flag_upload(app, lv, FLAG_HEADER + "taobao,shop-s,,,-,,-,,,,\n")
    problems = {(p.column, p.code) for p in report(refused)[2].problems}
    assert ("tlp", "cannot_clear") in problems
    assert Flag.get_by_id(flag.id).tlp == "amber"


def test_a_new_flag_needs_its_label_category_and_distribution(app, world, alliance):
    job = flag_upload(app, alliance["lv"], FLAG_HEADER + "taobao,shop-new,,,green,alliance,,,,,\n")
    assert job.error_rows == 1 and not Flag.select().exists()
    assert [(p.column, p.code) for p in report(job)[2].problems] == [("category", "required")]


def test_a_corrected_row_below_a_refused_one_is_applied_and_holds_the_key(world):
    """A row refused once merged (a new mark without its word) does not hold its key: the corrected row
    below it is created, and a third row with the key is the duplicate of the corrected one."""
    org = world.org("Microsoft")
    job = world.upload(org, HEADER + ",USPTO,7777777,9,,,\nNEWONE,USPTO,7777777,9,,,\nAGAIN,USPTO,7777777,9,,,\n")
    rows = report(job)
    assert [(n, r.outcome) for n, r in rows.items()] == [(2, "error"), (3, "create"), (4, "error")]
    assert rows[4].problems[0].message.startswith("Row 3 has the same office")
    assert Mark.for_org(org).get().word == "NEWONE"


def test_a_resumed_job_knows_which_rows_held_their_keys(app, world, monkeypatch):
    """Resuming, the duplicate check is rebuilt from the committed outcomes: a refused row holds no key."""
    org = world.org("Microsoft")
    monkeypatch.setitem(app.config, "MARKS_IMPORT_BATCH_ROWS", 1)
    content = HEADER + ",USPTO,7777777,9,,,\nNEWONE,USPTO,7777777,9,,,\n\nAGAIN,USPTO,7777777,9,,,\n"
    job = upload_stopped_at_batch(world, org, content, monkeypatch, 4, KeyboardInterrupt("worker killed"))
    assert job.last_row == 4  # rows 2, 3 and the blank row 4 committed
    job = resume(app, job)
    rows = report(job)
    assert job.status == "done" and [(n, r.outcome) for n, r in rows.items()] == [
        (2, "error"), (3, "create"), (5, "error")]
    assert rows[5].problems[0].message.startswith("Row 3 has the same office")


def test_a_dash_from_autocorrect_empties_like_a_hyphen(world, verified):
    org, _, mark = verified
    job = world.upload(org, HEADER + "MICROSOFT,USPTO,1200236,9,\u2013,,\n")
    assert job.consequence_counts == {"verified_to_pending": 1, "clears_value": 1}
    assert Mark.get_by_id(mark.id).registered_on is None
    refused = world.upload(org, HEADER + "\u2212,USPTO,1200236,9,,,\n")  # a minus sign in the word: not a word
    assert [p.code for p in report(refused)[2].problems] == ["cannot_clear"]


def test_a_hyphen_our_csv_download_guarded_is_the_text_not_the_marker(app, world, alliance):
    """A stored "-" downloads as "'-"; uploaded again it is the text "-", not an order to empty."""
    lv = alliance["lv"]
    flag = world.flag(lv, "shop-d", "taobao", display_name="-", notes="keep")
    job = flag_upload(app, lv, FLAG_HEADER + "taobao,shop-d,,,,,,'-,'-,,\n")
    assert job.unchanged == 0 and job.updated == 1  # the notes become the text "-", the name stays "-"
    flag = Flag.get_by_id(flag.id)
    assert (flag.display_name, flag.notes) == ("-", "-")
    assert report(job)[2].consequences == []


def test_confidence_and_show_group_cannot_be_emptied(app, world, alliance):
    lv = alliance["lv"]
    flag = world.flag(lv, "shop-c", "taobao", confidence="high")
    job = flag_upload(app, lv, FLAG_HEADER.replace("notes,", "show_group,") + "taobao,shop-c,,-,,,,,-,,\n")
    assert {(p.column, p.code) for p in report(job)[2].problems} == {("confidence", "cannot_clear"),
                                                                       ("show_group", "cannot_clear")}
    assert Flag.get_by_id(flag.id).confidence == "high"


def test_an_api_cursor_past_the_last_row_is_an_empty_page(client, world, verified):
    org, _, _ = verified
    token = client_token(client, org, "marks:read marks:write")
    job = world.upload(org, HEADER + "MICROSOFT,USPTO,1200236,9;25,,,\n", dry_run=True)
    for show in ("all", "errors", "updates", "consequences"):
        page = client.get(f"/api/v1/marks/imports/{job.id}/rows?show={show}&cursor=9999999999999999999",
                          headers=bearer(token))
        assert page.status_code == 200 and page.json == {"items": [], "next_cursor": None}


def test_a_failed_import_shows_what_it_did_before_it_stopped(app, make_client, world, verified, monkeypatch):
    org, _, _ = verified
    monkeypatch.setitem(app.config, "MARKS_IMPORT_BATCH_ROWS", 1)
    job = upload_stopped_at_batch(world, org, HEADER + "MICROSOFT,USPTO,1200236,9;25,,,\nNEW,USPTO,3000001,9,,,\n",
                                  monkeypatch, 2, RuntimeError("a bug of ours"))
    assert job.status == "failed" and job.consequence_counts == {"verified_to_pending": 1}
    client = make_client()
    client.sign_in(world.person(org, "admin").email)
    text = visible(client.get(f"/marks/imports/{job.id}"))
    assert "Before it stopped, this import did this" in text and "1 verified mark returned to pending" in text


def test_an_import_whose_consequences_differ_from_its_dry_run_says_so(app, make_client, world, verified):
    org, platform, mark = verified
    new = world.mark(org, word="XBOX", office="USPTO", number="2345678", classes="9")
    dry = world.upload(org, HEADER + "XBOX,USPTO,2345678,9;28,,,\n", dry_run=True)
    assert dry.consequence_counts == {}  # a pending mark stays pending
    from portal.marks.services import review_mark
    with app.app_context(), acting_as("test"):
        review_mark(Mark.get_by_id(new.id), platform, None, "verify")  # verified between dry run and import
        applied = service.apply_dry_run(dry)
    assert applied.consequence_counts == {"verified_to_pending": 1}
    assert import_report.differs_from_dry_run(applied) and not import_report.differs_from_dry_run(dry)
    client = make_client()
    client.sign_in(world.person(org, "admin").email)
    assert "This differs from what its dry run showed" in visible(client.get(f"/marks/imports/{applied.id}"))
