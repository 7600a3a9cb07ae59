"""Faults, made real where a test can make them: a worker SIGKILLed during an import, the database going
away under a running gunicorn and huey consumer, a disk with no room left during uploads. Each runs real
processes (tests/servers.py) on a scratch database of the suite's kind, never the session's."""
import errno
import hashlib
import io
import json
import re
import sqlite3
import time

import pytest
import requests
from peewee import OperationalError, SqliteDatabase

from portal import uploads
from portal.audit import verify_chain
from portal.db import db
from portal.imports import runner, service
from portal.imports import tasks as import_tasks
from portal.imports.models import ImportJob, ImportOutcomes
from portal.marks.models import Mark
from tests import servers
from tests.conftest import page_text
from tests.servers import (audit_verified, csrf_token, enqueue, limit_file_size, portal_env, query, restore_file_size,
                           seed, signed_in_session, token, wait_until_no_sessions)

processes, scratch = servers.processes, servers.scratch  # shared fixtures (a bare import would look unused)

HEADER = "word,office,registration_number,nice_classes,registered_on,expires_on,jurisdictions\n"
NO_ROOM = "The server has no room to store this file; nothing was kept."
DATABASE_DOWN = "The database is unavailable; try again shortly."
ADMIN = "admin@microsoft.example"
# The brand, its admin (who signs in) and an API client of it (which imports marks).
MICROSOFT = {"brands": ["microsoft"], "users": [[ADMIN, "microsoft", "admin"]],
             "clients": [["Integration", "microsoft", "marks:read marks:write"]]}


# Every wait here is for a condition (a row committed, a process gone, a log line); this limit only ends a
# real hang, and is generous so that a slow, busy machine never reaches it.
DEADLINE = 120


def wait_until(check, what, timeout=DEADLINE, every=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def run_in_steps(process, done, what, step=0.01, timeout=DEADLINE):
    """Let `process` run a short step at a time, stopped (SIGSTOP) whenever `done()` is asked, until it holds;
    returns with the process stopped. The process runs only while this test sleeps between two looks, so
    however fast it is, and however slow or busy this test's own process (a loaded machine, a garbage
    collection in a long suite), it is caught close to the point `done()` describes, never far past it."""
    deadline = time.monotonic() + timeout
    while True:
        process.pause()
        if done():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        process.resume()
        time.sleep(step)


def import_tasks_all_returned(log):
    """A consumer's log shows run_import_job tasks started, and every one of them returned."""
    started = set(re.findall(r"Executing portal\.imports\.tasks\.run_import_job: (\S+)", log))
    returned = set(re.findall(r"portal\.imports\.tasks\.run_import_job: (\S+) executed in", log))
    return bool(started) and started == returned


def api_headers(base, seeded):
    return {"Authorization": f"Bearer {token(base, seeded['clients']['Integration'], 'marks:read marks:write')}"}


# --- a worker killed during an import -------------------------------------------------------------------

def test_a_worker_killed_during_an_import_is_resumed_by_the_next_one(scratch, processes, tmp_path):
    """SIGKILL the consumer once a few batches are committed; a new consumer takes the stalled job over
    (after MARKS_IMPORT_STALLED_SECONDS without a heartbeat) and finishes it after its last committed
    batch: every row once, the right counts, no duplicate marks, outcomes for every row, the audit chain
    whole. The file's last row repeats row 2, so the duplicate check must remember rows from before the
    crash.

    Nothing here waits on time. The first consumer runs in steps, stopped while the job is read, and is
    killed where it stands once four batches are committed (in the middle of a batch or between two): far
    from the error row and the end of the file, however fast the worker or loaded the machine. Its
    database sessions are waited out before the job is read (PostgreSQL finishes a statement, or a COMMIT,
    that a killed client had sent). The stall limit is well above a batch's time on a busy machine, so the
    live worker is not taken for dead meanwhile (the next test covers that case)."""
    rows, batch = 8_000, 300
    lines = [f"MARK {n},USPTO,{4000000 + n},9,2015-01-01,2035-01-01,\n" for n in range(rows)]
    lines[6000] = "BAD,USPTO,NOT-A-NUMBER,9,,,\n"  # an error row, after the crash point
    lines.append(lines[0].replace("MARK 0,", "MARK ZERO,"))  # the same office and number as row 2
    big = tmp_path / "big.csv"
    big.write_text(HEADER + "".join(lines))
    url = scratch.make("kill")
    env = portal_env(url, tmp_path / "instance", MARKS_IMPORT_BATCH_ROWS=batch, MARKS_IMPORT_STALLED_SECONDS=5)
    job = seed(env, {"brands": ["microsoft"], "upload": ["microsoft", str(big), True]})["job"]

    def job_row(busy_timeout=30):
        return query(url, "SELECT status, last_row, created, error_rows, total_rows FROM import_job WHERE id = ?",
                     job, busy_timeout=busy_timeout)[0]

    def four_batches_committed():
        try:
            return job_row(busy_timeout=0.2)[1] >= 4 * batch
        except sqlite3.OperationalError:  # stopped inside SQLite, holding a lock a reader needs: run on
            return False

    first = processes.consumer(env, "worker-1", timeout=DEADLINE)
    run_in_steps(first, four_batches_committed, "four committed batches")
    first.kill()  # stopped where it stood; SIGKILL ends it all the same, and kill() waits until it is gone
    wait_until_no_sessions(url, DEADLINE)
    status, last_row, created, errors, total = job_row()
    assert status == "running" and 0 < last_row < rows and (created, errors) == (last_row - 1, 0), job_row()
    assert query(url, "SELECT COUNT(*) FROM mark")[0][0] == created  # nothing past the last commit

    second = processes.consumer(env, "worker-2", timeout=DEADLINE)
    wait_until(lambda: job_row()[0] != "running", "the resumed import to finish", every=0.2)
    # The job reads "done" once its last transaction commits; the task then deletes the file and returns,
    # and only then does huey log it. Wait until every import task the new consumer started has returned
    # (it finished the job: the first consumer is dead) before looking at the rest.
    second.wait_for(lambda: import_tasks_all_returned(second.logs()), "log that its import tasks returned",
                    DEADLINE)
    assert job_row() == ("done", rows + 2, rows - 1, 2, rows + 1)
    assert query(url, "SELECT COUNT(*), COUNT(DISTINCT registration_number) FROM mark") == [(rows - 1, rows - 1)]
    assert query(url, "SELECT word FROM mark WHERE registration_number = '4000000'") == [("MARK 0",)]
    assert query(url, "SELECT row, code FROM import_row_error WHERE job_id = ? ORDER BY row", job) == [
        (6002, "bad_number"), (rows + 2, "duplicate_row")]
    # Per-row outcomes: one per row, every row once, in batches that follow each other without a gap.
    batches = query(url, "SELECT first_row, codes FROM import_outcomes WHERE job_id = ? ORDER BY first_row", job)
    expected_start = 2
    for first_row, codes in batches:
        assert first_row == expected_start
        expected_start += len(codes)
    codes = "".join(codes for _, codes in batches)
    assert expected_start == rows + 3 and codes.count("c") == rows - 1 and codes.count("e") == 2
    # The audit events list every created mark once, and the chain is whole.
    events = query(url, "SELECT change FROM audit_event WHERE action = 'marks.imported'")
    assert sum(len(json.loads(change)["created"]) for (change,) in events) == rows - 1
    audit_verified(env)
    assert not list((tmp_path / "instance" / "uploads" / "imports").iterdir())  # the file went with the job


def test_a_worker_taken_for_dead_stops_at_its_next_batch(app, world, monkeypatch):
    """A worker slower than the stall limit is resumed elsewhere while it still runs; its next batch finds
    the job moved on and stops, so no row is applied or counted twice."""
    org = world.org("Microsoft")
    monkeypatch.setitem(app.config, "MARKS_IMPORT_BATCH_ROWS", 3)
    monkeypatch.setitem(app.config, "MARKS_IMPORT_INLINE_BYTES", 0)
    from portal.imports import tasks
    monkeypatch.setattr(tasks, "run_import_job", lambda job_id: None)  # queued, not run
    content = HEADER + "".join(f"M {n},USPTO,{5000000 + n},9,,,\n" for n in range(10))
    job = world.upload(org, content)
    importers = []
    original = runner.Importer.apply

    def apply(self, batch):
        importers.append(self)
        if self is importers[0] and importers.count(self) == 2:  # the first worker, at its second batch
            stale = ImportJob.get_by_id(job.id).heartbeat_at - runner.STALLED_AFTER * 2
            ImportJob.update(heartbeat_at=stale).execute()
            assert runner.run_import(job.id).status == "done"  # another worker resumes and finishes it
        return original(self, batch)
    monkeypatch.setattr(runner.Importer, "apply", apply)
    with app.app_context():
        finished = runner.run_import(job.id)
    assert (finished.status, finished.created, finished.processed_rows, finished.total_rows) == ("done", 10, 10, 10)
    assert Mark.for_org(org).count() == 10
    assert ImportOutcomes.select().where(ImportOutcomes.job == job.id).count() == 4
    assert verify_chain().ok


def test_the_database_failing_during_an_import_leaves_it_to_be_resumed(app, world, monkeypatch):
    org = world.org("Microsoft")
    monkeypatch.setitem(app.config, "MARKS_IMPORT_BATCH_ROWS", 2)
    original = runner.Importer.apply_batch
    calls = []

    def failing(self, batch):
        calls.append(batch)
        if len(calls) == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return original(self, batch)
    monkeypatch.setattr(runner.Importer, "apply_batch", failing)
    job = world.upload(org, HEADER + "".join(f"M {n},USPTO,{6000000 + n},9,,,\n" for n in range(5)))
    assert (job.status, job.created, job.last_row) == ("running", 2, 3)
    ImportJob.update(heartbeat_at=job.heartbeat_at - runner.STALLED_AFTER * 2).execute()
    with app.app_context():
        assert import_tasks.resume_stalled_imports.call_local() == [job.id]
    job = ImportJob.get_by_id(job.id)
    assert (job.status, job.created, job.processed_rows) == ("done", 5, 5)
    assert Mark.for_org(org).count() == 5


# --- the database goes away ----------------------------------------------------------------------------

@pytest.fixture
def database_gone(tmp_path):
    working = db.obj
    db.initialize(SqliteDatabase(str(tmp_path / "missing-dir" / "portal.db")))
    yield
    db.initialize(working)


def test_api_and_pages_answer_503_without_a_traceback_when_the_database_is_gone(client, database_gone):
    for path in ("/api/v1/marks", "/api/v1/notices", "/oauth/token"):
        method = client.post if path == "/oauth/token" else client.get
        answer = method(path, headers={"Authorization": "Bearer abc"})
        assert answer.status_code == 503, path
        assert answer.mimetype == "application/problem+json"
        assert answer.get_json() == {"type": "about:blank", "title": "Service Unavailable", "status": 503,
                                     "detail": DATABASE_DOWN}
    page = client.get("/marks", headers={"Accept": "text/html"})
    assert page.status_code == 503 and "cannot reach its database" in page_text(page)
    assert "Traceback" not in page_text(page) and "OperationalError" not in page_text(page)


def test_a_signed_in_page_answers_503_when_the_database_goes(admin, tmp_path, monkeypatch):
    """The 503 page is rendered as for a visitor: loading the signed-in user (or the navigation's
    memberships) from the database that failed would turn it into a 500."""
    client, org = admin
    from portal.marks import views

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")
    monkeypatch.setattr(views, "numbered_page", locked)  # fails after the user and org were loaded
    page = client.get("/marks")
    assert page.status_code == 503 and "cannot reach its database" in page_text(page)
    monkeypatch.undo()
    working = db.obj
    db.initialize(SqliteDatabase(str(tmp_path / "missing-dir" / "portal.db")))
    try:
        page = client.get("/marks")  # fails before the user is loaded
    finally:
        db.initialize(working)
    assert page.status_code == 503 and "cannot reach its database" in page_text(page)
    assert client.get("/marks").status_code == 200  # the session survived the outage


def test_a_running_portal_and_worker_survive_the_database_going_away(scratch, processes, tmp_path):
    """gunicorn and a huey consumer on a database that goes away (SQLite: its folder is moved away;
    PostgreSQL: connections refused and the open ones terminated) and comes back: 503s with a clear
    message and no traceback meanwhile (pages, API, /healthz), a task that cannot reach it is skipped with
    one log line and the consumer keeps running, and everything works again once it is back, without a
    restart (the same sign-in session, the same token)."""
    url = scratch.make("outage")
    env = portal_env(url, tmp_path / "instance")
    lost = tmp_path / "lost.csv"
    lost.write_text(HEADER + "KEPT,USPTO,7000001,9,,,\n")
    seeded = seed(env, dict(MICROSOFT, upload=["microsoft", str(lost), False]))
    web = processes.gunicorn(env, timeout=DEADLINE)
    base = web.url
    worker = processes.consumer(env, timeout=DEADLINE)
    worker.wait_for_log("resume_stalled_imports: ", DEADLINE)  # started, and its app is built
    session, headers = signed_in_session(base, ADMIN), api_headers(base, seeded)
    assert session.get(f"{base}/marks").status_code == 200
    assert requests.get(f"{base}/api/v1/marks", headers=headers).status_code == 200

    scratch.take_away(url)
    health = requests.get(f"{base}/healthz")
    assert (health.status_code, health.json()["detail"]) == (503, DATABASE_DOWN)
    page = session.get(f"{base}/marks")
    assert page.status_code == 503 and "cannot reach its database" in page.text and "Traceback" not in page.text
    answer = requests.get(f"{base}/api/v1/marks", headers=headers)
    assert answer.status_code == 503 and answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["detail"] == DATABASE_DOWN and "Traceback" not in answer.text
    enqueue(env, "portal.imports.tasks.run_import_job", seeded["job"])
    worker.wait_for_log("task run_import_job skipped: the database is unavailable", DEADLINE)
    assert "Traceback" not in worker.logs() and worker.alive() and web.alive()

    scratch.give_back(url)
    assert requests.get(f"{base}/healthz").status_code == 200
    assert session.get(f"{base}/marks").status_code == 200
    assert requests.get(f"{base}/api/v1/marks", headers=headers).status_code == 200
    enqueue(env, "portal.imports.tasks.run_import_job", seeded["job"])  # what resume_stalled_imports does for a queued job
    wait_until(lambda: query(url, "SELECT status FROM import_job WHERE id = ?", seeded["job"]) == [("done",)],
               "the import to run once the database is back")
    assert query(url, "SELECT word FROM mark WHERE registration_number = '7000001'") == [("KEPT",)]
    assert "Traceback" not in web.logs()


# --- no room left on the disk ---------------------------------------------------------------------------

class FullDisk(io.RawIOBase):
    """A file that takes `room` bytes and then fails like a full disk."""

    def __init__(self, real, room):
        self.real, self.room = real, room

    def writable(self):
        return True

    def write(self, data):
        if self.real.tell() + len(data) > self.room:
            self.real.write(bytes(data[:self.room - self.real.tell()]))
            self.real.flush()
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.real.write(data)

    def close(self):
        self.real.close()
        super().close()


def test_no_room_to_keep_an_upload_is_a_507_and_keeps_nothing(app, admin, monkeypatch):
    """The disk fills while an upload is being kept: the page shows the form again with the reason, the API
    answers 507 problem+json, the partial file is deleted and no job exists."""
    client, org = admin
    real_open = open

    def open_on_a_full_disk(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        return FullDisk(handle, 100_000) if "x" in mode else handle
    monkeypatch.setattr(uploads, "open", open_on_a_full_disk, raising=False)
    content = (HEADER + "".join(f"M {n},USPTO,{8000000 + n},9,,,\n" for n in range(20_000))).encode()

    def kept_files():  # other tests' dry runs may be kept there (for a day): compare, do not expect none
        with app.app_context():
            return set(uploads.folder(runner.IMPORT_AREA).iterdir())
    before = kept_files()
    page = client.post_form("/marks/imports", {"file": (io.BytesIO(content), "marks.csv")},
                            content_type="multipart/form-data")
    assert page.status_code == 507 and NO_ROOM in page_text(page) and 'name="file"' in page_text(page)
    assert kept_files() == before
    from tests.oauth_helpers import register
    oauth_client, secret = register(org, "marks:write")
    access = client.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "marks:write"},
                         auth=(oauth_client.client_id, secret)).get_json()["access_token"]
    answer = client.post("/api/v1/marks/imports", data={"file": (io.BytesIO(content), "marks.csv")},
                         headers={"Authorization": f"Bearer {access}"}, content_type="multipart/form-data")
    assert answer.status_code == 507 and answer.mimetype == "application/problem+json"
    assert answer.get_json()["title"] == "Insufficient Storage" and answer.get_json()["detail"].startswith(NO_ROOM)
    assert kept_files() == before
    assert ImportJob.select().count() == 0


def test_a_full_disk_during_uploads_loses_nothing_and_room_coming_back_lets_them_through(scratch, processes, tmp_path):
    """gunicorn whose files may not grow past 3 MB (RLIMIT_FSIZE: writes past it fail with EFBIG, as a full
    disk fails them with ENOSPC) receives a 4 MB mark list on the page and on the API and a 4 MB evidence
    file: each answer is a 507 saying nothing was kept, no partial file is left, what was committed before
    is intact and the audit chain whole. Once the limit is lifted (room is back) the same uploads succeed."""
    room, size = 3 * 1024 * 1024, 4 * 1024 * 1024
    url = scratch.make("full")
    instance = tmp_path / "instance"
    spool = tmp_path / "spool"
    spool.mkdir()
    env = portal_env(url, instance, TMPDIR=spool)
    seeded = seed(env, dict(MICROSOFT, platforms={"alibaba": [["Taobao", "CN"]]},
                            partnerships=[["microsoft", "alibaba"]], verified_marks={"microsoft": 1},
                            imported_marks={"microsoft": 20}, notices=[["microsoft", "alibaba", "Taobao"]]))
    if url.startswith("sqlite"):  # the database itself must still fit
        assert all(path.stat().st_size < room // 2 for path in (instance.parent / "full").iterdir())
    csv = (HEADER + "".join(f"BIG {n},USPTO,{9000000 + n},9,,,\n" for n in range(size // 30))).encode()[:size]
    csv = csv[:csv.rindex(b"\n") + 1]
    pdf = b"%PDF-1.7\n" + b"0" * size

    def counts():
        return [query(url, f"SELECT COUNT(*) FROM {table}")[0][0]
                for table in ("mark", "import_job", "evidence", "audit_event")]
    web = processes.gunicorn(env, preexec_fn=limit_file_size(room), timeout=DEADLINE)
    base = web.url
    session, headers = signed_in_session(base, ADMIN), api_headers(base, seeded)
    before = counts()

    # An upload refused part-way is answered before its body is read to the end, and the server then closes
    # that connection (gunicorn drains a little of the rest, then closes): a client that kept it for its
    # next request, as a requests.Session does, would lose that request ("Remote end closed connection
    # without response") whenever the close comes after it. So each upload has a connection of its own.
    once = {"Connection": "close"}

    def upload_page():
        return session.post(f"{base}/marks/imports", files={"file": ("big.csv", csv)}, allow_redirects=False,
                            data={"csrf_token": csrf_token(session, f"{base}/marks/imports")}, headers=once)

    def upload_api():
        return requests.post(f"{base}/api/v1/marks/imports", files={"file": ("big.csv", csv)},
                             headers={**headers, **once})

    def add_evidence():
        notice_url = f"{base}/notices/{seeded['notices']['microsoft/alibaba']}"
        return session.post(f"{notice_url}/evidence", files={"files": ("proof.pdf", pdf)}, allow_redirects=False,
                            data={"csrf_token": csrf_token(session, notice_url)}, headers=once)

    page = upload_page()
    assert page.status_code == 507 and NO_ROOM in page.text and "Traceback" not in page.text
    answer = upload_api()
    assert answer.status_code == 507 and answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["detail"].startswith(NO_ROOM) and "Traceback" not in answer.text
    evidence = add_evidence()
    assert evidence.status_code == 507 and NO_ROOM in evidence.text
    assert counts() == before
    leftovers = [path for folder in (instance / "uploads" / "imports", instance / "uploads" / "evidence", spool)
                 if folder.exists() for path in folder.iterdir()]
    assert leftovers == []
    assert session.get(f"{base}/marks").status_code == 200 and web.alive()
    audit_verified(env)

    restore_file_size(web)
    assert upload_page().status_code == 302
    accepted = upload_api()
    assert accepted.status_code == 202, accepted.text
    assert add_evidence().status_code == 302
    marks, jobs, evidence_files, events = counts()
    assert (marks, jobs, evidence_files) == (before[0], before[1] + 2, before[2] + 1) and events > before[3]
    digest = hashlib.sha256(csv).hexdigest()
    assert query(url, "SELECT file_sha256, file_size FROM import_job WHERE id = ?", accepted.json()["id"]) == [
        (digest, len(csv))]
    assert query(url, "SELECT sha256, size FROM evidence ORDER BY id DESC LIMIT 1") == [
        (hashlib.sha256(pdf).hexdigest(), len(pdf))]
