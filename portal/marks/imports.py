"""The import service: one path for bulk uploads from the web page, the API and the CLI.

1. `start_import` keeps the upload (size cap, SHA-256), checks the format, encoding and header at once,
   so a file that cannot work is refused before a job exists, and creates the `ImportJob`.
2. `run_import` (inline for small files, on the huey worker otherwise) counts the rows first: a file over
   the row limit, or one that stops parsing half-way, fails before anything is written. Then it streams
   the rows in batches; each batch is one transaction that upserts the valid rows by the natural key
   (org, office, registration number), records errors and per-row outcomes, one audit event listing
   every mark it created or changed, and the job's progress. Memory stays flat: only the current batch
   and one small integer per row (for duplicate detection) are held.
3. A dry run does all of that except writing marks; it keeps its file so it can be applied as it is.

A job whose worker died (no batch committed for MARKS_IMPORT_STALLED_SECONDS) is picked up again by
`resume_stalled_imports` and continues after its last committed batch, with the same counts. Each batch
first checks that the job is still where this worker left it, so a worker wrongly thought dead (a batch
slower than the stall limit) stops at its next batch instead of applying rows a second time.
"""
import json
import logging
from datetime import timedelta

from flask import current_app, has_app_context
from peewee import IntegrityError, InterfaceError, OperationalError, fn

from portal import audit, uploads
from portal.db import db
from portal.marks import rules
from portal.marks.models import (PACKED_FIELDS, ImportJob, ImportOutcomes, ImportRowChange, ImportRowError, Mark,
                                 pack_codes, unpack_codes)
from portal.marks.services import review_reset, status_after_change, stored_values
from portal.errors import NotFound
from portal.marks.spreadsheets import MARK_COLUMNS, FileRefused, InertText, open_table
from portal.tenancy import lock_org, object_id
from portal.timeutil import local_today, utcnow

log = logging.getLogger(__name__)

IMPORT_AREA = "imports"
STALLED_AFTER = timedelta(minutes=10)  # the default of MARKS_IMPORT_STALLED_SECONDS
UPDATE_FIELDS = ("word", "nice_classes", "registered_on", "expires_on", "jurisdictions")
INSERT_FIELDS = ("org", "word", "office", "registration_number", "nice_classes", "registered_on", "expires_on",
                 "jurisdictions", "status", "created_at", "updated_at")


def limits():
    config = current_app.config
    return {"max_bytes": config["MARKS_IMPORT_MAX_BYTES"], "max_rows": config["MARKS_IMPORT_MAX_ROWS"],
            "batch_rows": config["MARKS_IMPORT_BATCH_ROWS"], "inline_bytes": config["MARKS_IMPORT_INLINE_BYTES"],
            "max_unpacked": config["MARKS_IMPORT_MAX_UNPACKED_BYTES"]}


def stalled_after():
    """How long a running job may go without a heartbeat (a committed batch) before it counts as dead."""
    seconds = current_app.config.get("MARKS_IMPORT_STALLED_SECONDS") if has_app_context() else None
    return timedelta(seconds=seconds) if seconds else STALLED_AFTER


class JobTakenOver(Exception):
    """Another worker resumed this job (it took this one for dead); this one stops without writing."""


def stored_path(job):
    return uploads.folder(IMPORT_AREA) / job.stored_path


def importer_for(kind):
    """The Importer of a kind of bulk upload: marks here, flags in portal.intel.imports."""
    if kind == "flags":
        from portal.intel.imports import FlagImporter
        return FlagImporter
    if kind == "marks":
        return MarkImporter
    raise ValueError(f"no importer for {kind!r}")


def jobs_of(org, kind):
    """An org's import jobs of one kind (the marks page lists mark imports, the intel page flag imports)."""
    return ImportJob.for_org(org).where(ImportJob.kind == kind)


def get_job(pk, org, kind):
    job = jobs_of(org, kind).where(ImportJob.id == object_id(pk)).first()
    if job is None:
        raise NotFound()
    return job


# --- starting -----------------------------------------------------------------------------------------

def start_import(org, stream, filename, dry_run=False, user=None, run_inline=None, kind="marks"):
    """Keep and check the uploaded file, create its job and run it (inline when small). Returns the job.

    Raises ValidationError / FileRefused for a file that cannot be imported at all; nothing is kept then.
    """
    importer = importer_for(kind)
    importer.check_org(org)
    limit = limits()
    stored = uploads.save_upload(stream, IMPORT_AREA, limit["max_bytes"], filename)
    try:
        table = open_table(stored.path(IMPORT_AREA), stored.original_name, limit["max_unpacked"], importer.columns)
        with db.atomic():
            job = ImportJob.create(
                org=org, kind=kind, created_by=user, created_by_label=audit.current_actor()[1],
                filename=stored.original_name, file_format=table.file_format, encoding=table.encoding,
                file_size=stored.size, file_sha256=stored.sha256, stored_path=stored.name, dry_run=dry_run,
                warnings="\n".join(table.warnings))
            audit.record(f"{importer.audit_name}.started", org, job, change=job_summary(job))
    except BaseException:
        uploads.delete(IMPORT_AREA, stored.name)
        raise
    schedule(job, inline=stored.size <= limit["inline_bytes"] if run_inline is None else run_inline)
    return ImportJob.get_by_id(job.id)


def apply_dry_run(dry_run_job, user=None):
    """Import for real the file a finished dry run checked, without uploading it again."""
    if not dry_run_job.dry_run or dry_run_job.status != "done" or not dry_run_job.stored_path:
        raise FileRefused("not_applicable", "Only a finished dry run whose file is still kept can be applied; "
                                            "upload the file again.")
    with db.atomic():
        claimed = (ImportJob.update(stored_path="").where((ImportJob.id == dry_run_job.id)
                                                          & (ImportJob.stored_path == dry_run_job.stored_path))
                   .execute())
        if not claimed:
            raise FileRefused("not_applicable", "This dry run was applied already.")
        job = ImportJob.create(
            org=dry_run_job.org, kind=dry_run_job.kind, created_by=user, created_by_label=audit.current_actor()[1],
            filename=dry_run_job.filename, file_format=dry_run_job.file_format, encoding=dry_run_job.encoding,
            file_size=dry_run_job.file_size, file_sha256=dry_run_job.file_sha256,
            stored_path=dry_run_job.stored_path, warnings=dry_run_job.warnings, applied_from=dry_run_job)
        audit.record(f"{importer_for(job.kind).audit_name}.started", job.org, job, change=job_summary(job))
    schedule(job, inline=job.file_size <= limits()["inline_bytes"])
    return ImportJob.get_by_id(job.id)


def schedule(job, inline):
    if inline:
        run_import(job.id)
    else:
        from portal.tasks import run_mark_import
        run_mark_import(job.id)


def job_summary(job):
    return {"job": job.id, "filename": job.filename, "sha256": job.file_sha256, "dry_run": job.dry_run,
            "format": job.file_format}


def previous_import_of_same_file(job):
    """The last earlier real import of the same bytes, to say "you imported this file before"."""
    return (jobs_of(job.org_id, job.kind)
            .where((ImportJob.file_sha256 == job.file_sha256) & (ImportJob.id < job.id)
                   & (ImportJob.dry_run == False) & (ImportJob.status == "done"))  # noqa: E712
            .order_by(ImportJob.id.desc()).first())


# --- running ------------------------------------------------------------------------------------------

def claim(job_id):
    """Take the job for this worker: a queued job, or a running one whose worker stopped beating."""
    now = utcnow()
    claimed = (ImportJob.update(status="running", heartbeat_at=now,
                                started_at=fn.COALESCE(ImportJob.started_at, now))
               .where((ImportJob.id == job_id) & (
                   (ImportJob.status == "queued")
                   | ((ImportJob.status == "running") & (ImportJob.heartbeat_at < now - stalled_after()))))
               .execute())
    return ImportJob.get_by_id(job_id) if claimed else None


def run_import(job_id):
    """Run (or resume) one job to the end. Never raises for a bad file: the job says what went wrong."""
    job = claim(job_id)
    if job is None:
        return None
    try:
        importer_for(job.kind)(job).run()
    except FileRefused as refused:
        fail(job, refused.text, refused.problems)
    except JobTakenOver:
        log.warning("import job %s was resumed by another worker; this one stops", job_id)
    except (OperationalError, InterfaceError):
        # The database went away or stayed locked: the job stays `running` and resume_stalled_imports
        # continues it after its last committed batch once the database is back.
        log.exception("import job %s interrupted by the database; it will resume", job_id)
    except Exception:
        log.exception("import job %s failed", job_id)
        last_row = ImportJob.get_by_id(job_id).last_row
        fail(job, "The import stopped because of an error on our side. "
                  + (f"Rows up to row {last_row} were applied. " if last_row else "Nothing was applied. ")
                  + "Upload the file again to finish: rows already applied will show as unchanged.")
    return ImportJob.get_by_id(job_id)


def fail(job, message, problems=()):
    """End a running job as failed. Only a job still running: a worker wrongly taken for dead may fail
    (its file gone) after the worker that resumed the job finished it, and must not undo that."""
    with db.atomic():
        failed = (ImportJob.update(status="failed", failure=message, finished_at=utcnow(), stored_path="")
                  .where((ImportJob.id == job.id) & (ImportJob.status == "running")).execute())
        if not failed:
            return
        if problems:
            ImportRowError.insert_many([
                {"org": job.org_id, "job": job.id, "row": row, "column": column, "code": code, "message": text,
                 "value": rules.reported_value(value)} for row, column, code, text, value in problems]).execute()
        audit.record(f"{importer_for(job.kind).audit_name}.failed", job.org, job,
                     change={"job": job.id, "failure": message})
    uploads.delete(IMPORT_AREA, job.stored_path)


def finish(job):
    job = ImportJob.get_by_id(job.id)
    keep_file = job.dry_run
    with db.atomic():
        finished = (ImportJob.update(status="done", finished_at=utcnow(), **({} if keep_file else {"stored_path": ""}))
                    .where((ImportJob.id == job.id) & (ImportJob.status == "running")).execute())
        if not finished:
            return  # another worker that resumed the job finished it first
        audit.record(f"{importer_for(job.kind).audit_name}.finished", job.org, job, change={
            "job": job.id, "dry_run": job.dry_run, "rows": job.total_rows, "created": job.created,
            "updated": job.updated, "unchanged": job.unchanged, "errors": job.error_rows})
    if not keep_file:
        uploads.delete(IMPORT_AREA, job.stored_path)


CLEAR_MARKER = "-"
# What spreadsheet programs make of a typed "-" (autocorrect's dashes, the minus sign, full-width forms):
# each is taken as the marker too, so a value is emptied as the person meant, never set to "–".
CLEAR_MARKERS = {"-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe63", "\uff0d"}
UPDATE_RULES_HELP = ("A blank cell keeps what is stored. To empty a stored value, put a single - (hyphen) in "
                     "its cell. The dry run shows every change, field by field, and what it leads to, before "
                     "anything is written.")


def split_cells(values):
    """A row's cells as ({column: value} of the cells that say something, {columns to empty}): a blank cell
    says nothing (the stored value stays), a cell holding only a hyphen (or a dash) asks to empty the value.
    A "-" that our CSV download wrote as "'-" (an InertText) is the text "-", not the marker."""
    given, cleared = {}, set()
    for column, value in values.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, str) and not isinstance(value, InertText) and value.strip() in CLEAR_MARKERS:
            cleared.add(column)
        else:
            given[column] = value
    return given, cleared


def cannot_clear(column):
    return rules.Problem(column, "cannot_clear", f"The {column.replace('_', ' ')} cannot be emptied. Leave the "
                                                 "cell blank (an existing one keeps its value) or give a value.",
                         CLEAR_MARKER)


class BatchReport:
    """What became of each row of one batch: its outcome code, its natural key, its problems, and for the
    rows that change something the field-by-field change ([field, before, after]) and its consequences.
    Saved in the batch's transaction, so the report always matches what was (or would be) written."""

    def __init__(self, job):
        self.job = job
        self.codes, self.keys, self.errors, self.changes = [], [], [], []
        self.consequences = {}
        self.position = {}

    def blank(self):
        self.codes.append("-")
        self.keys.append(None)

    def add(self, number, key):
        self.position[number] = len(self.codes)
        self.codes.append("?")
        self.keys.append(key)

    def _set(self, number, code, key):
        self.codes[self.position[number]] = code
        if key is not None:
            self.keys[self.position[number]] = key

    def problems(self, number, problems, level="error"):
        self.errors.extend(error_row(self.job, number, problem, level) for problem in problems)

    def refuse(self, number, problems, key=None):
        self.problems(number, problems)
        self._set(number, "e", key)

    def unchanged(self, number, key=None):
        self._set(number, "n", key)

    def created(self, number, key=None, consequences=()):
        self._set(number, "c", key)
        if consequences:
            self._change(number, "create", [], consequences)

    def updated(self, number, key, changes, consequences=()):
        self._set(number, "u", key)
        self._change(number, "update", changes, consequences)

    def _change(self, number, outcome, changes, consequences):
        self.changes.append({"org": self.job.org_id, "job": self.job.id, "row": number, "outcome": outcome,
                             "changes": json.dumps(changes, default=str), "consequences": pack_codes(consequences)})
        for code in consequences:
            self.consequences[code] = self.consequences.get(code, 0) + 1

    def count(self, code):
        return self.codes.count(code)

    def code(self, number):
        return self.codes[self.position[number]]


class Importer:
    """Streams one job's rows through validation and the upsert, a batch per transaction.

    A kind of bulk upload says what its rows are: `columns` (the table's spec), `key_columns` (the natural
    key as the report shows it), `clean(values)` (a rules.Checked of the cells the row gives; a blank cell
    keeps the stored value, see split_cells), `key(fields)` (a hash of the natural key, for "duplicate of
    row N"), `duplicate(fields, first)` (the Problem of a repeated key), `upsert(candidates, report)` (writes
    the rows and tells the report each row's outcome, change and consequences), `consequence_words` and the
    audit names. The job machinery (counting, batches, resuming, reports) is this class."""

    columns = MARK_COLUMNS
    key_columns = ()
    audit_name = "mark_import"  # mark_import.started / .finished / .failed
    batch_event = "marks.imported"
    consequence_words = {}

    @classmethod
    def check_org(cls, org):
        """Refuse (FileRefused) an org that may not upload this kind of file."""

    def __init__(self, job):
        self.job = job
        self.org = job.org
        self.today = local_today(self.org.timezone)
        self.batch_rows = limits()["batch_rows"]
        # Key hash -> first row with that key, for "duplicate of row N". A 64-bit hash, not the key itself,
        # keeps memory small on a million rows; two different keys sharing a hash are vanishingly unlikely.
        self.first_row_of = {}

    def run(self):
        table = open_table(stored_path(self.job), self.job.filename, limits()["max_unpacked"], self.columns)
        if self.job.total_rows is None:
            self.count_rows(table)
        committed = self.committed_outcomes() if self.job.last_row else None
        batch = []
        for number, values in table.rows():
            if number <= self.job.last_row:
                self.remember(number, values, next(committed))  # resuming: these rows were committed before
                continue
            batch.append((number, values))
            if len(batch) >= self.batch_rows:
                self.apply(batch)
                batch = []
        if batch:
            self.apply(batch)
        finish(self.job)

    def committed_outcomes(self):
        """The outcome code of every row committed so far, in row order (one batch in memory at a time):
        rows follow each other without gaps, blank ones included, from a batch's first row on."""
        batches = (ImportOutcomes.select(ImportOutcomes.codes).where(ImportOutcomes.job == self.job)
                   .order_by(ImportOutcomes.first_row))
        for batch in batches.iterator():
            yield from batch.codes

    def count_rows(self, table):
        """Read the whole file once before writing: the row limit is checked, and a file that breaks
        half-way is refused with nothing imported."""
        total = sum(1 for _, values in table.rows() if values is not None)
        max_rows = limits()["max_rows"]
        if total > max_rows:
            raise FileRefused("too_many_rows", f"The file has {total:,} rows; the limit is {max_rows:,} rows "
                                               "per file. Split it into smaller files. Nothing was imported.")
        ImportJob.update(total_rows=total, heartbeat_at=utcnow()).where(ImportJob.id == self.job.id).execute()
        self.job.total_rows = total

    def remember(self, number, values, code):
        """A committed row's key, for "duplicate of row N", as the run that committed it claimed it: only a
        row that was not refused holds its key."""
        if values is None or code in ("e", "-"):
            return
        checked = self.clean(values)
        if checked.ok:
            self.first_row_of.setdefault(self.key(checked.fields), number)

    def apply(self, batch):
        for attempt in range(3):
            try:
                with db.atomic():
                    # Every writer of this org's marks takes the org's lock first (a row lock on PostgreSQL;
                    # SQLite's write lock already serialises), so two imports of one org, or an import and
                    # an edit on the web, take turns instead of deadlocking or overwriting each other.
                    lock_org(self.org)
                    self.hold()
                    return self.apply_batch(batch)
            except IntegrityError:
                # A key inserted since we looked (only a writer that skipped the lock could do that).
                # Look again: those rows are now updates.
                if attempt == 2:
                    raise
                log.info("import %s: batch from row %s raced another writer; retrying", self.job.id, batch[0][0])

    def hold(self):
        """Check, in the batch's transaction, that the job is still running and still at the row this worker
        committed last, and beat its heart. Otherwise another worker resumed it: raise JobTakenOver, so this
        batch is rolled back rather than applied twice. (The update locks the job's row on PostgreSQL; on
        SQLite the transaction already holds the write lock.)"""
        held = (ImportJob.update(heartbeat_at=utcnow())
                .where((ImportJob.id == self.job.id) & (ImportJob.status == "running")
                       & (ImportJob.last_row == self.job.last_row)).execute())
        if not held:
            raise JobTakenOver(self.job.id)

    def apply_batch(self, batch):
        report, pending, claimed = BatchReport(self.job), [], {}
        for number, values in batch:
            if values is None:
                report.blank()
                continue
            report.add(number, self.raw_key(values))
            checked = self.clean(values)
            report.problems(number, checked.warnings, level="warning")
            if not checked.ok:
                report.refuse(number, checked.problems)
                continue
            pending.append((number, checked.fields, self.key(checked.fields)))
        created, updated = [], []
        # A key belongs to the first row that is not refused: the rows repeating a key wait for a later round
        # and run only if the row before them was refused (a corrected row below a wrong one).
        while pending:
            round_rows, later = {}, []
            for number, fields, digest in pending:
                if digest in self.first_row_of or digest in claimed or digest in round_rows:
                    later.append((number, fields, digest))
                else:
                    round_rows[digest] = (number, fields)
            new, changed = self.upsert(list(round_rows.values()), report)
            created.extend(new)
            updated.extend(changed)
            claimed.update({digest: number for digest, (number, _) in round_rows.items() if report.code(number) != "e"})
            pending = []
            for number, fields, digest in later:
                first = self.first_row_of.get(digest, claimed.get(digest))
                if first is None:
                    pending.append((number, fields, digest))
                else:
                    report.refuse(number, [self.duplicate(fields, first)])
        assert "?" not in report.codes, "every candidate row gets an outcome"
        self.save(batch, report)
        if (created or updated) and not self.job.dry_run:
            audit.record(self.batch_event, self.org, self.job, change={
                "job": self.job.id, "dry_run": self.job.dry_run, "rows": [batch[0][0], batch[-1][0]],
                "created": created, "updated": updated})
        self.job.last_row = batch[-1][0]
        self.first_row_of.update(claimed)

    def save(self, batch, report):
        """The batch's report and the job's counts, in the batch's transaction."""
        if report.errors:
            ImportRowError.insert_many(report.errors).execute()
        if report.changes:
            ImportRowChange.insert_many(report.changes).execute()
        ImportOutcomes.create(org=self.org, job=self.job, first_row=batch[0][0], codes="".join(report.codes),
                              keys=json.dumps(report.keys, ensure_ascii=False))
        consequences = dict(self.job.consequence_counts)
        for code, count in report.consequences.items():
            consequences[code] = consequences.get(code, 0) + count
        self.job.consequences = json.dumps(consequences, sort_keys=True) if consequences else ""
        ImportJob.update(
            created=ImportJob.created + report.count("c"), updated=ImportJob.updated + report.count("u"),
            unchanged=ImportJob.unchanged + report.count("n"), error_rows=ImportJob.error_rows + report.count("e"),
            consequences=self.job.consequences, last_row=batch[-1][0], heartbeat_at=utcnow(),
        ).where(ImportJob.id == self.job.id).execute()

    def raw_key(self, values):
        """The row's natural key as the file has it, for the report of a row refused before it is matched."""
        return [rules.reported_value(rules.as_text(values.get(column))) for column in self.key_columns]


def shown(value, packed=False):
    """A stored value as the row report shows it: dates in ISO, lists (and packed lists) as "9;25", yes or
    no, nothing as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return ";".join(unpack_codes(value)) if packed else str(value)


def field_changes(before, after):
    """[[field, before, after]] of the fields that differ, values as the report shows them."""
    changes = []
    for name in after:
        old, new = shown(before[name], name in PACKED_FIELDS), shown(after[name], name in PACKED_FIELDS)
        if old != new:
            changes.append([name, old, new])
    return changes


def clears_a_value(changes):
    return any(old != "" and new == "" for _, old, new in changes)


MARK_CONSEQUENCES = {
    # code: (the row's label, the summary's subject (one, many), what a dry run says, what an import said);
    # {them} reads "it" for one row, "them" for several.
    "verified_to_pending": ("verified → pending", ("verified mark", "verified marks"),
                            "will return to pending: notices cannot rely on {them} until a partner platform "
                            "verifies {them} again",
                            "returned to pending: notices cannot rely on {them} until a partner platform "
                            "verifies {them} again"),
    "rejected_to_pending": ("rejected → pending", ("rejected mark", "rejected marks"),
                            "will go back to pending for a new review", "went back to pending for a new review"),
    "expired_to_pending": ("expired → pending", ("expired mark", "expired marks"),
                           "will return to pending (no longer past an expiry date), to be verified again",
                           "returned to pending (no longer past an expiry date), to be verified again"),
    "becomes_expired": ("becomes expired", ("mark", "marks"),
                        "will become expired (the expiry date has passed): notices cannot rely on {them}",
                        "became expired (the expiry date has passed): notices cannot rely on {them}"),
    "created_expired": ("created as expired", ("new mark", "new marks"),
                        "will be created as expired (the expiry date has passed)",
                        "were created as expired (the expiry date has passed)"),
    "clears_value": ("clears a value", ("row", "rows"), "will empty a stored value", "emptied a stored value"),
}


def mark_consequences(changes):
    """What a mark's change leads to beyond its fields: a change of status, a value emptied."""
    codes = []
    status = next(((old, new) for name, old, new in changes if name == "status"), None)
    if status:
        codes.append("becomes_expired" if status[1] == "expired" else f"{status[0]}_to_{status[1]}")
    if clears_a_value(changes):
        codes.append("clears_value")
    return codes


class MarkImporter(Importer):
    """Marks, upserted by (org, office, registration number). The audit event of a batch lists each created
    mark as [office, number, word, classes, registered on, expires on, jurisdictions, status] and each
    update as {id, before, after}."""

    key_columns = ("word", "office", "registration_number")
    required_columns = ("word", "office", "registration_number", "nice_classes")  # never emptied
    consequence_words = MARK_CONSEQUENCES

    @classmethod
    def check_org(cls, org):
        if org.is_platform:
            raise FileRefused("not_a_brand", "Only brand organizations import marks.")

    def clean(self, values):
        """The cells the row gives, each checked on its own (the key always); what they make together is
        checked once the row is merged with the stored mark (`upsert`)."""
        given, cleared = split_cells(values)
        not_clearable = cleared & set(self.required_columns)
        checked = rules.clean_mark(given, partial=True)
        checked.problems = [p for p in checked.problems if p.column not in not_clearable]
        checked.problems.extend(cannot_clear(column) for column in sorted(not_clearable))
        checked.fields["cleared"] = sorted(cleared - not_clearable)
        return checked

    def key(self, fields):
        return hash((fields["office"], fields["registration_number"]))

    def duplicate(self, fields, first):
        return rules.Problem("registration_number", "duplicate_row",
                             f"Row {first} has the same office and registration number; this row was skipped.",
                             f"{fields['office']} {fields['registration_number']}")

    def existing_marks(self, rows):
        """{(office, number): Mark} for the batch's keys. One query per office, so each is a search of
        the (org, office, registration_number) index rather than a scan of all the org's marks."""
        numbers_by_office = {}
        for fields in rows:
            numbers_by_office.setdefault(fields["office"], set()).add(fields["registration_number"])
        found = {}
        for office, numbers in numbers_by_office.items():
            query = Mark.for_org(self.org).where((Mark.office == office)
                                                 & Mark.registration_number.in_(sorted(numbers)))
            found.update(((m.office, m.registration_number), m) for m in query)
        return found

    def merged(self, mark, fields):
        """The mark the row describes: the stored one (if any) with the row's cells over it, checked whole
        (required columns of a new mark, dates in order, jurisdictions of the office)."""
        values = current_values(mark) if mark else {}
        values.update({name: value for name, value in fields.items() if name in rules.COLUMNS})
        values.update(dict.fromkeys(fields["cleared"]))
        checked = rules.clean_mark(values)
        if mark is None:
            for problem in checked.problems:
                if problem.code in ("required", "designations_required"):
                    problem.message += " No mark of yours has this office and number, so this row adds one."
        return checked

    def upsert(self, candidates, report):
        """Insert new keys, update changed ones, and tell the report each row's outcome. Returns what was
        created and updated, for the audit event."""
        existing = self.existing_marks(fields for _, fields in candidates)
        now = utcnow()
        inserts, created, updated = [], [], []
        for number, fields in candidates:
            mark = existing.get((fields["office"], fields["registration_number"]))
            checked = self.merged(mark, fields)
            if not checked.ok:
                report.refuse(number, checked.problems)
                continue
            stored = stored_values(checked.fields)
            key = [stored["word"], stored["office"], stored["registration_number"]]
            if mark is None:
                status = status_after_change("pending", (), stored["expires_on"], self.today)
                inserts.append((self.org.id, stored["word"], stored["office"], stored["registration_number"],
                                stored["nice_classes"], stored["registered_on"], stored["expires_on"],
                                stored["jurisdictions"], status, now, now))
                created.append([stored["office"], stored["registration_number"], stored["word"],
                                stored["nice_classes"], stored["registered_on"], stored["expires_on"],
                                stored["jurisdictions"], status])
                report.created(number, key, ["created_expired"] if status == "expired" else ())
                continue
            changed = {name: stored[name] for name in UPDATE_FIELDS if getattr(mark, name) != stored[name]}
            if not changed:
                report.unchanged(number, key)
                continue
            status = status_after_change(mark.status, changed, stored["expires_on"], self.today)
            if status != mark.status:
                changed["status"] = status
            before = {name: getattr(mark, name) for name in changed}
            updated.append({"id": mark.id, "before": before, "after": changed})
            changes = field_changes(before, changed)
            report.updated(number, key, changes, mark_consequences(changes))
            if not self.job.dry_run:
                Mark.update(updated_at=now, **changed, **review_reset(status, mark.status)).where(
                    Mark.id == mark.id).execute()
        if inserts and not self.job.dry_run:
            fields = [getattr(Mark, name) for name in INSERT_FIELDS]
            Mark.insert_many(inserts, fields=fields).execute()
        return created, updated


def current_values(mark):
    """A stored mark in the form clean_mark reads, so a row can be merged over it."""
    return {"word": mark.word, "office": mark.office, "registration_number": mark.registration_number,
            "nice_classes": mark.classes, "registered_on": mark.registered_on, "expires_on": mark.expires_on,
            "jurisdictions": mark.jurisdiction_list}


def error_row(job, number, problem, level="error"):
    return {"org": job.org_id, "job": job.id, "row": number, "column": problem.column, "code": problem.code,
            "message": problem.message, "value": problem.value, "level": level}


# --- reading results ----------------------------------------------------------------------------------

def row_errors(job):
    """The job's report, in row order."""
    return (ImportRowError.for_org(job.org_id).where(ImportRowError.job == job)
            .order_by(ImportRowError.row, ImportRowError.id))


def resume_stalled_imports():
    """Queue again the jobs whose worker stopped (killed, redeployed): each continues after its last batch."""
    from portal.tasks import run_mark_import
    cutoff = utcnow() - stalled_after()
    stalled = ImportJob.select(ImportJob.id).where(
        ((ImportJob.status == "running") & (ImportJob.heartbeat_at < cutoff))
        | ((ImportJob.status == "queued") & (ImportJob.created_at < cutoff)))
    ids = [job.id for job in stalled]
    for job_id in ids:
        run_mark_import(job_id)
    return ids


def purge_old_import_files(older_than=timedelta(days=1)):
    """Dry runs keep their file so they can be applied; after a day the file goes (the results stay)."""
    cutoff = utcnow() - older_than
    old = list(ImportJob.select().where((ImportJob.stored_path != "") & (ImportJob.finished_at < cutoff)))
    purged = 0
    for job in old:
        # Only if nobody took the file meanwhile (applying a dry run hands its file to the new job).
        if ImportJob.update(stored_path="").where((ImportJob.id == job.id)
                                                  & (ImportJob.stored_path == job.stored_path)).execute():
            uploads.delete(IMPORT_AREA, job.stored_path)
            purged += 1
    return purged


def job_status(job):
    """A job as the progress poll and the API show it."""
    return {
        "id": job.id, "status": job.status, "dry_run": job.dry_run, "filename": job.filename,
        "format": job.file_format, "encoding": job.encoding or None, "sha256": job.file_sha256,
        "total_rows": job.total_rows, "processed_rows": job.processed_rows, "percent": job.percent,
        "created": job.created, "updated": job.updated, "unchanged": job.unchanged, "errors": job.error_rows,
        "warnings": job.warning_list, "failure": job.failure or None, "changed_nothing": job.changed_nothing,
        "consequences": job.consequence_counts,
        "created_at": job.created_at, "finished_at": job.finished_at,
        "applied_from": job.applied_from_id,
    }
