"""Bulk upload of marks through the import service: upsert by natural key, dry run and apply, re-upload,
limits, batches, resume after a crash, the pages and the error report. (Bad files: test_marks_corpus.py.)"""
import io

import openpyxl
import pytest

from portal.audit import AuditEvent, acting_as, verify_chain
from portal.imports import report as import_report
from portal.imports import runner, service
from portal.imports import tasks as import_tasks
from portal.imports.models import ImportJob, ImportOutcomes, ImportRowError
from portal.marks.models import Mark
from tests.conftest import page_text

HEADER = "word,office,registration_number,nice_classes,registered_on,expires_on,jurisdictions\n"


def rows(count, start=1, word="MARK"):
    return "".join(f"{word} {n},USPTO,{3000000 + n},9;25,2015-01-01,2035-01-01,\n" for n in range(start, start + count))


def outcomes(job):
    return dict(import_report.row_outcomes(job, 2, 10_000))


def test_import_then_reimport_changes_nothing_and_says_so(app, world):
    org = world.org("Microsoft")
    content = HEADER + rows(5)
    first = world.upload(org, content)
    assert (first.status, first.total_rows, first.processed_rows, first.created) == ("done", 5, 5, 5)
    assert Mark.for_org(org).count() == 5
    again = world.upload(org, content)
    assert (again.created, again.updated, again.unchanged, again.error_rows) == (0, 0, 5, 0)
    assert again.changed_nothing and service.previous_import_of_same_file(again).id == first.id
    assert set(outcomes(again).values()) == {"unchanged"}
    # The second import wrote no mark events: nothing changed.
    assert AuditEvent.for_org(org).where(AuditEvent.action == "marks.imported").count() == 1


def test_upsert_updates_changed_rows_only_and_resets_verification(world):
    org, platform = world.org("Microsoft"), world.org("Alibaba", kind="platform")
    world.partnership(org, platform)
    world.upload(org, HEADER + rows(3))
    from portal.marks.services import review_mark
    verified = Mark.for_org(org).where(Mark.registration_number == "3000001").get()
    review_mark(verified, platform, world.person(platform, "analyst"), "verify")
    changed = HEADER + rows(3).replace("MARK 1,USPTO,3000001,9;25", "MARK 1,USPTO,3000001,9;25;28") + rows(1, 10)
    job = world.upload(org, changed)
    assert (job.created, job.updated, job.unchanged) == (1, 1, 2)
    assert outcomes(job) == {2: "update", 3: "unchanged", 4: "unchanged", 5: "create"}
    mark = Mark.get_by_id(verified.id)
    assert mark.classes == [9, 25, 28] and mark.status == "pending" and mark.reviewed_by_org is None
    event = AuditEvent.for_org(org).where(AuditEvent.action == "marks.imported").order_by(AuditEvent.seq.desc()).first()
    assert event.change_data["created"] == [["USPTO", "3000010", "MARK 10", ";9;25;", "2015-01-01", "2035-01-01",
                                             ";US;", "pending"]]
    assert event.change_data["updated"][0]["after"] == {"nice_classes": ";9;25;28;", "status": "pending"}
    assert verify_chain().ok


def test_dry_run_writes_no_marks_and_can_be_applied(app, world):
    org = world.org("Microsoft")
    world.upload(org, HEADER + rows(2))
    content = HEADER + rows(4) + "BAD,USPTO,ABC,9,,,\n"
    dry = world.upload(org, content, dry_run=True)
    assert (dry.status, dry.created, dry.unchanged, dry.error_rows) == ("done", 2, 2, 1)
    assert outcomes(dry) == {2: "unchanged", 3: "unchanged", 4: "create", 5: "create", 6: "error"}
    assert Mark.for_org(org).count() == 2 and dry.stored_path
    with app.app_context():
        applied = service.apply_dry_run(dry)
        assert (applied.created, applied.unchanged, applied.error_rows) == (2, 2, 1)
        assert applied.applied_from_id == dry.id and applied.stored_path == ""
        with pytest.raises(runner.FileRefused):
            service.apply_dry_run(ImportJob.get_by_id(dry.id))  # once only
    assert Mark.for_org(org).count() == 4


def test_blank_rows_are_skipped_and_rows_keep_spreadsheet_numbers(world):
    org = world.org("Microsoft")
    job = world.upload(org, "\n" + HEADER + rows(1) + ",,,,,,\n\n" + "X,USPTO,ABC,9,,,\n")
    assert job.total_rows == 2 and job.error_rows == 1
    assert [e.row for e in job.row_errors] == [6]  # header on row 2, blank rows 4 and 5


def test_xlsx_with_typed_cells(world):
    org = world.org("Swarovski")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Word", "OFFICE", "Registration Number", "Nice classes", "registered on", "Expires_On"])
    from datetime import datetime
    sheet.append(["SWAROVSKI", "EUIPO", 18123456, 14, datetime(2019, 3, 14), datetime(2029, 3, 14)])
    sheet.append(["CRYSTAL", "USPTO", 1234567.0, "14;25", "2019-03-14", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = world.upload(org, buffer.getvalue(), filename="list.xlsx")
    assert (job.status, job.file_format, job.created, job.error_rows) == ("done", "xlsx", 2, 0)
    mark = Mark.for_org(org).where(Mark.office == "EUIPO").get()
    assert (mark.registration_number, mark.classes, str(mark.expires_on)) == ("018123456", [14], "2029-03-14")
    assert Mark.for_org(org).where(Mark.office == "USPTO").get().registration_number == "1234567"


def test_row_limit_is_enforced_before_anything_is_written(app, world, monkeypatch):
    org = world.org("Microsoft")
    monkeypatch.setitem(app.config, "MARKS_IMPORT_MAX_ROWS", 3)
    job = world.upload(org, HEADER + rows(4))
    assert job.status == "failed" and "has 4 rows; the limit is 3" in job.failure
    assert Mark.for_org(org).count() == 0 and job.processed_rows == 0
    assert world.upload(org, HEADER + rows(3)).status == "done"


def test_size_limit_is_refused_with_a_clear_message(app, admin, monkeypatch):
    client, org = admin
    monkeypatch.setitem(app.config, "MARKS_IMPORT_MAX_BYTES", 100)
    response = client.post_form("/marks/imports", {"file": (io.BytesIO((HEADER + rows(5)).encode()), "big.csv")},
                                content_type="multipart/form-data")
    assert response.status_code == 422 and "larger than the limit of 100 bytes" in page_text(response)
    assert ImportJob.for_org(org).count() == 0


def test_batches_commit_progress_and_a_crashed_job_resumes(app, world, monkeypatch):
    """A worker killed mid-import leaves its committed batches; the job continues after the last one with
    the same counts, and the duplicate check still knows the rows before the crash."""
    org = world.org("Microsoft")
    monkeypatch.setitem(app.config, "MARKS_IMPORT_BATCH_ROWS", 3)
    content = HEADER + rows(7) + "DUP,USPTO,3000002,9,,,\n"
    calls = {"n": 0}
    original = runner.Importer.apply_batch

    def crash_on_third_batch(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("worker killed")  # not an Exception: nothing inside may catch it
        return original(self, batch)
    monkeypatch.setattr(runner.Importer, "apply_batch", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        world.upload(org, content)
    job = ImportJob.for_org(org).get()
    assert (job.status, job.processed_rows, job.created, job.last_row) == ("running", 6, 6, 7)
    assert Mark.for_org(org).count() == 6
    monkeypatch.setattr(runner.Importer, "apply_batch", original)
    ImportJob.update(heartbeat_at=job.heartbeat_at - runner.STALLED_AFTER * 2).execute()
    with app.app_context():
        assert import_tasks.resume_stalled_imports.call_local() == [job.id]
    job = ImportJob.get_by_id(job.id)
    assert (job.status, job.processed_rows, job.created, job.error_rows) == ("done", 8, 7, 1)
    assert ImportRowError.get(ImportRowError.job == job).message.startswith("Row 3 has the same office")
    assert Mark.for_org(org).count() == 7
    assert ImportOutcomes.select().where(ImportOutcomes.job == job).count() == 3
    # A page of outcomes starting inside a batch and crossing into the next one.
    assert import_report.row_outcomes(job, 6, 3) == [(6, "create"), (7, "create"), (8, "create")]
    assert import_report.row_outcomes(job, 9, 5) == [(9, "error")]


def test_a_running_job_is_not_taken_twice(world):
    org = world.org("Microsoft")
    job = world.upload(org, HEADER + rows(1))
    assert runner.claim(job.id) is None  # done
    ImportJob.update(status="running", heartbeat_at=job.finished_at).where(ImportJob.id == job.id).execute()
    assert runner.claim(job.id) is None  # a live worker has it (heartbeat is recent)


def test_large_files_go_to_the_worker(app, world, monkeypatch):
    from portal.imports import tasks
    org = world.org("Microsoft")
    queued = []
    monkeypatch.setitem(app.config, "MARKS_IMPORT_INLINE_BYTES", 10)
    monkeypatch.setattr(tasks, "run_import_job", lambda job_id: queued.append(job_id))
    job = world.upload(org, HEADER + rows(2))
    assert job.status == "queued" and queued == [job.id]
    assert Mark.for_org(org).count() == 0
    with app.app_context():
        runner.run_import(job.id)  # what the worker does
    assert ImportJob.get_by_id(job.id).status == "done" and Mark.for_org(org).count() == 2


# --- pages --------------------------------------------------------------------------------------------

def upload(client, content, name="marks.csv", dry_run=False):
    data = {"file": (io.BytesIO(content.encode() if isinstance(content, str) else content), name)}
    if dry_run:
        data["dry_run"] = "y"
    return client.post_form("/marks/imports", data, content_type="multipart/form-data")


def test_upload_page_flow_with_error_report(admin):
    client, org = admin
    page = page_text(client.get("/marks/imports"))
    assert "registration_number" in page and "template" in page.lower()
    content = HEADER + rows(3) + "=cmd|' /C calc'!A0,USPTO,ABC,0,,,\n"
    response = upload(client, content, dry_run=True)
    assert response.status_code == 302
    job = ImportJob.for_org(org).get()
    text = page_text(client.get(response.headers["Location"]))
    assert "Dry run of marks.csv" in text and "Would create" in text and "Import this file now" in text
    assert "Not a USPTO registration number" in text and "Class 0 does not exist" in text
    progress = client.get(f"/marks/imports/{job.id}/progress").json
    assert progress["status"] == "done" and progress["processed_rows"] == 4 and progress["errors"] == 1
    report = client.get(f"/marks/imports/{job.id}/errors.csv").get_data(as_text=True).lstrip("\ufeff")
    lines = report.splitlines()
    assert lines[0] == "row,column,code,message,value,level"
    assert lines[1].startswith("5,registration_number,bad_number,") and len(lines) == 3
    applied = client.post_form(f"/marks/imports/{job.id}/apply")
    assert applied.status_code == 302 and Mark.for_org(org).count() == 3
    second = page_text(client.get(applied.headers["Location"]))
    assert "Import of marks.csv" in second and "Created" in second
    assert "This file was imported" in page_text(client.get(f"/marks/imports/{job.id}"))


def test_reuploading_shows_nothing_changed(admin):
    client, org = admin
    upload(client, HEADER + rows(2))
    response = upload(client, HEADER + rows(2))
    text = page_text(client.get(response.headers["Location"]))
    assert "Nothing changed: every row matches the registry already" in text
    assert "same file as the import of" in text


def test_viewer_sees_jobs_but_cannot_upload(make_client, world):
    org = world.org("Microsoft")
    job = world.upload(org, HEADER + rows(1))
    viewer = make_client()
    viewer.sign_in(world.person(org, "viewer").email)
    assert "marks.csv" in page_text(viewer.get("/marks/imports")) and viewer.get(f"/marks/imports/{job.id}").status_code == 200
    assert upload(viewer, HEADER + rows(1, 5)).status_code == 403
    assert ImportJob.for_org(org).count() == 1


def test_a_chinese_legacy_encoding_is_refused_not_misread_as_windows_1252(world):
    """华为 in GB18030 uses only bytes Windows-1252 defines: decoding it so would import mojibake."""
    org = world.org("Huawei")
    content = (HEADER + "华为,CNIPA,12345678,9,,,\n腾讯,CNIPA,22345678,9;42,,,\n").encode("gb18030")
    with pytest.raises(runner.FileRefused) as refused:
        world.upload(org, content)
    assert refused.value.code == "wrong_encoding" and "multi-byte" in refused.value.text
    western = (HEADER + "HERMÈS,INPI,4123456,18,,,\nCITROËN,INPI,4123457,12,,,\n").encode("cp1252")
    job = world.upload(org, western)
    assert job.encoding == "cp1252" and sorted(m.word for m in Mark.for_org(org)) == ["CITROËN", "HERMÈS"]


def test_two_imports_of_one_org_at_once_both_finish(app, world):
    """Overlapping keys in opposite orders: without the org lock PostgreSQL deadlocks one of them."""
    import threading

    from portal.audit import acting_as
    org = world.org("Microsoft")
    world.upload(org, HEADER + rows(600))
    forward = HEADER + rows(600, word="FORWARD")
    backward = HEADER + "".join(reversed(rows(600, word="BACKWARD").splitlines(keepends=True)))
    app.config["MARKS_IMPORT_BATCH_ROWS"] = 50
    results, errors = {}, []

    def run(name, content):
        try:
            with app.app_context(), acting_as("test"):
                results[name] = service.start_import(org, io.BytesIO(content.encode()), f"{name}.csv", "marks",
                                                     run_inline=True)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
    try:
        threads = [threading.Thread(target=run, args=(n, c)) for n, c in (("f", forward), ("b", backward))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        app.config["MARKS_IMPORT_BATCH_ROWS"] = 1000
    assert errors == []
    assert {name: (job.status, job.updated, job.error_rows) for name, job in results.items()} == \
        {"f": ("done", 600, 0), "b": ("done", 600, 0)}
    assert Mark.for_org(org).count() == 600
    assert {m.word.split()[0] for m in Mark.for_org(org)} <= {"FORWARD", "BACKWARD"}
    assert verify_chain().ok


def test_damaged_xlsx_and_odd_query_strings_are_not_500(admin, world):
    client, org = admin
    import zipfile
    workbook = openpyxl.Workbook()
    workbook.active.append(["word", "office", "registration_number", "nice_classes"])
    for n in range(50):
        workbook.active.append([f"W{n}", "USPTO", 1000000 + n, 9])
    good = io.BytesIO()
    workbook.save(good)
    damaged = io.BytesIO()
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # the sheet's XML cut in half
            target.writestr(item, data)
    # The header reads fine, so a job starts; the counting pass meets the damage before anything is written.
    response = upload(client, damaged.getvalue(), name="cut.xlsx")
    assert response.status_code == 302
    failed = ImportJob.for_org(org).get()
    assert failed.status == "failed" and "damaged" in failed.failure and Mark.for_org(org).count() == 0
    assert "damaged" in page_text(client.get(response.headers["Location"]))
    job = world.upload(org, HEADER + rows(2))
    assert client.get(f"/marks/imports/{job.id}?from_row=99999999999999999999").status_code == 200


def test_an_exported_list_uploads_again_unchanged(admin, world):
    client, org = admin
    world.mark(org, word="@HOME", number="1000001")
    world.mark(org, word="-MINUS", number="1000002", classes="9;42")
    exported = client.get("/marks/export.csv").data
    assert b"'@HOME" in exported
    job = world.upload(org, exported)
    assert (job.unchanged, job.updated, job.created, job.error_rows) == (2, 0, 0, 0)
    assert job.warning_list == ["The column “status” is not one the import reads; it was ignored.",
                                "The column “owner” is not one the import reads; it was ignored."]


def test_a_worker_failing_late_does_not_undo_a_job_another_worker_finished(app, world):
    """A worker taken for dead may find the file gone (the resuming worker finished and deleted it) and
    fail: the finished job stays done, with no failure and no audit event of one."""
    org = world.org("Microsoft")
    job = world.upload(org, HEADER + rows(2))
    assert job.status == "done"
    with app.app_context(), acting_as("test"):
        runner.fail(job, "The file is gone.")
    job = ImportJob.get_by_id(job.id)
    assert (job.status, job.failure) == ("done", "")
    assert not AuditEvent.for_org(org).where(AuditEvent.action == "mark_import.failed").exists()
