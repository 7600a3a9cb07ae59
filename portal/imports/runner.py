"""The import engine's running side: one job streamed through its importer to the end, on the worker or
inline (portal.imports.service starts jobs; portal.imports.tasks queues them).

`run_import` claims the job, reads its file (portal.imports.tables) and counts the rows first: a file over
the row limit, or one that stops parsing half-way, fails before anything is written. Then it streams the
rows in batches; each batch is one transaction that upserts the valid rows by the natural key, records
errors and per-row outcomes (portal.imports.models), one audit event listing every row it created or
changed, and the job's progress. Memory stays flat: only the current batch and one small integer per row
(for duplicate detection) are held. A dry run does all of that except writing; it keeps its file so it
can be applied as it is.

A job whose worker died (no batch committed for MARKS_IMPORT_STALLED_SECONDS) is queued again
(portal.imports.tasks.resume_stalled_imports) and continues after its last committed batch, with the same
counts. Each batch first checks that the job is still where this worker left it, so a worker wrongly
thought dead (a batch slower than the stall limit) stops at its next batch instead of applying rows a
second time.

Each kind of bulk upload is an `Importer` subclass in its domain (portal.marks.importer, ...), registered
by kind (portal.imports.registry): its columns, its row rule, its key and its write. Everything else is here.
"""
import json
import logging
from datetime import timedelta

from flask import current_app, has_app_context
from peewee import IntegrityError, InterfaceError, OperationalError, fn

from portal import audit, bulk, uploads
from portal.db import db
from portal.errors import NotFound
from portal.imports.models import ImportJob, ImportOutcomes, ImportRowChange, ImportRowError
from portal.imports.registry import importer_for, job_ended
from portal.imports.rows import Problem, as_text, reported_value
from portal.imports.seen import SeenKeys
from portal.imports.tables import FileRefused, InertText, open_table
from portal.packed import pack_codes, unpack_codes
from portal.tenancy import lock_org, object_id
from portal.timeutil import local_today, utcnow

log = logging.getLogger(__name__)

IMPORT_AREA = "imports"
STALLED_AFTER = timedelta(minutes=10)  # the default of MARKS_IMPORT_STALLED_SECONDS
ERROR_FIELDS = ("org", "job", "row", "column", "code", "message", "value", "level")
CHANGE_FIELDS = ("org", "job", "row", "outcome", "changes", "consequences")


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


def jobs_of(org, kind):
    """An org's import jobs of one kind (the marks page lists mark imports, the intel page flag imports)."""
    return ImportJob.for_org(org).where(ImportJob.kind == kind)


def get_job(pk, org, kind):
    job = jobs_of(org, kind).where(ImportJob.id == object_id(pk)).first()
    if job is None:
        raise NotFound()
    return job


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
                 "value": reported_value(value)} for row, column, code, text, value in problems]).execute()
        audit.record(f"{importer_for(job.kind).audit_name}.failed", job.org, job,
                     change={"job": job.id, "failure": message})
        job_ended(ImportJob.get_by_id(job.id))
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
        job_ended(ImportJob.get_by_id(job.id))
    if not keep_file:
        uploads.delete(IMPORT_AREA, job.stored_path)


CLEAR_MARKER = "-"
# What spreadsheet programs make of a typed "-" (autocorrect's dashes, the minus sign, full-width forms):
# each is taken as the marker too, so a value is emptied as the person meant, never set to "–". Each is one
# character (split_cells relies on it).
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
        if value is None:
            continue
        if isinstance(value, str):
            text = value.strip()
            if not text:
                continue
            if len(text) == 1 and text in CLEAR_MARKERS and not isinstance(value, InertText):
                cleared.add(column)
                continue
        given[column] = value
    return given, cleared


def cannot_clear(column):
    return Problem(column, "cannot_clear", f"The {column.replace('_', ' ')} cannot be emptied. Leave the "
                                                 "cell blank (an existing one keeps its value) or give a value.",
                         CLEAR_MARKER)


class BatchReport:
    """What became of each row of one batch: its outcome code, its natural key, its problems, and for the
    rows that change something the field-by-field change ([field, before, after]) and its consequences.
    Saved in the batch's transaction, so the report always matches what was (or would be) written.
    Problems and changes are kept as the rows their tables get (ERROR_FIELDS, CHANGE_FIELDS)."""

    def __init__(self, job):
        self.job = job
        self.codes, self.keys, self.errors, self.changes = [], [], [], []
        self.values = []  # each row's cells, for the key of a row refused before it was matched
        self.consequences = {}
        self.position = {}

    def blank(self):
        self.codes.append("-")
        self.keys.append(None)
        self.values.append(None)

    def add(self, number, values):
        """A row to report on; until its outcome gives its key, its key is the file's cells (`raw_keys`)."""
        self.position[number] = len(self.codes)
        self.codes.append("?")
        self.keys.append(None)
        self.values.append(values)

    def _set(self, number, code, key):
        position = self.position[number]
        self.codes[position] = code
        if key is not None:
            self.keys[position] = key

    def raw_keys(self, raw_key):
        """Give the rows whose outcome named no key (refused before they were matched) their key as the file
        has it: only those pay for reading it."""
        keys = self.keys
        for position, values in enumerate(self.values):
            if keys[position] is None and values is not None:
                keys[position] = raw_key(values)
        self.values = []

    def problems(self, number, problems, level="error"):
        org, job = self.job.org_id, self.job.id
        self.errors.extend((org, job, number, problem.column, problem.code, problem.message, problem.value, level)
                           for problem in problems)

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
        self.changes.append((self.job.org_id, self.job.id, number, outcome,
                             json.dumps(changes, default=str) if changes else "[]", pack_codes(consequences)))
        for code in consequences:
            self.consequences[code] = self.consequences.get(code, 0) + 1

    def count(self, code):
        return self.codes.count(code)

    def code(self, number):
        return self.codes[self.position[number]]


class Importer:
    """Streams one job's rows through validation and the upsert, a batch per transaction.

    A kind of bulk upload says what its rows are: `columns` (the table's spec), `key_columns` (the natural
    key as the report shows it), `clean(values)` (a portal.imports.rows.Checked of the cells the row gives; a blank cell
    keeps the stored value, see split_cells), `key(fields)` (a hash of the natural key, for "duplicate of
    row N"), `duplicate(fields, first)` (the Problem of a repeated key), `upsert(candidates, report)` (writes
    the rows and tells the report each row's outcome, change and consequences), `consequence_words` and the
    audit names. The job machinery (counting, batches, resuming, reports) is this class."""

    kind = ""  # ImportJob.kind of this importer's jobs
    columns = None  # a portal.imports.tables.Columns
    key_columns = ()
    audit_name = ""  # <audit_name>.started / .finished / .failed
    batch_event = ""  # the audit event of each batch that wrote something
    consequence_words = {}
    pages = None  # the importer's routes and words (portal.imports.pages.ImportPages)

    @classmethod
    def check_org(cls, org):
        """Refuse (FileRefused) an org that may not upload this kind of file."""

    def __init__(self, job):
        self.job = job
        self.org = job.org
        self.today = local_today(self.org.timezone)
        self.batch_rows = limits()["batch_rows"]
        # Key hash -> first row with that key, for "duplicate of row N" (compact: portal.imports.seen).
        self.seen = SeenKeys()

    def run(self):
        try:
            self.run_rows()
        finally:
            self.seen.close()

    def run_rows(self):
        table = open_table(stored_path(self.job), self.job.filename, limits()["max_unpacked"], spec=self.columns)
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
        self.complete()
        finish(self.job)

    def complete(self):
        """After the last batch, before the job is done: the work that needs every row (a notice batch files
        its notices here). It may run again when a job is resumed, so it must carry on where it stopped."""

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
        total = table.count_rows()
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
            self.seen.add({self.key(checked.fields): number})

    def before_batch(self, batch):
        """Called before each batch's transaction: work that must not run inside it (see MarkImporter)."""

    def apply(self, batch):
        self.before_batch(batch)
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
            report.add(number, values)
            checked = self.clean(values)
            if checked.warnings:
                report.problems(number, checked.warnings, level="warning")
            if checked.problems:
                report.refuse(number, checked.problems)
                continue
            pending.append((number, checked.fields, self.key(checked.fields)))
        created, updated = [], []
        earlier = self.seen.first_rows(digest for _, _, digest in pending)  # keys of earlier batches
        # A key belongs to the first row that is not refused: the rows repeating a key wait for a later round
        # and run only if the row before them was refused (a corrected row below a wrong one).
        while pending:
            round_rows, later = {}, []
            for number, fields, digest in pending:
                if digest in earlier or digest in claimed or digest in round_rows:
                    later.append((number, fields, digest))
                else:
                    round_rows[digest] = (number, fields)
            new, changed = self.upsert(list(round_rows.values()), report)
            created.extend(new)
            updated.extend(changed)
            claimed.update({digest: number for digest, (number, _) in round_rows.items() if report.code(number) != "e"})
            pending = []
            for number, fields, digest in later:
                first = earlier.get(digest, claimed.get(digest))
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
        self.seen.add(claimed)

    def save(self, batch, report):
        """The batch's report and the job's counts, in the batch's transaction."""
        report.raw_keys(self.raw_key)
        bulk.insert(ImportRowError, ERROR_FIELDS, report.errors)
        bulk.insert(ImportRowChange, CHANGE_FIELDS, report.changes)
        bulk.insert(ImportOutcomes, ("org", "job", "first_row", "codes", "keys"),
                    [(self.org.id, self.job.id, batch[0][0], "".join(report.codes),
                      json.dumps(report.keys, ensure_ascii=False))])
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
        return [reported_value(as_text(values.get(column))) for column in self.key_columns]


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


def field_changes(before, after, packed=()):
    """[[field, before, after]] of the fields that differ, values as the report shows them (the `packed`
    fields are stored packed, portal.packed)."""
    changes = []
    for name in after:
        old, new = shown(before[name], name in packed), shown(after[name], name in packed)
        if old != new:
            changes.append([name, old, new])
    return changes


def clears_a_value(changes):
    return any(old != "" and new == "" for _, old, new in changes)


# --- reading results ----------------------------------------------------------------------------------

def row_errors(job):
    """The job's report, in row order."""
    return (ImportRowError.for_org(job.org_id).where(ImportRowError.job == job)
            .order_by(ImportRowError.row, ImportRowError.id))


def stalled_job_ids():
    """The jobs whose worker stopped (killed, redeployed): running without a heartbeat, or never started."""
    cutoff = utcnow() - stalled_after()
    stalled = ImportJob.select(ImportJob.id).where(
        ((ImportJob.status == "running") & (ImportJob.heartbeat_at < cutoff))
        | ((ImportJob.status == "queued") & (ImportJob.created_at < cutoff)))
    return [job.id for job in stalled]


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
