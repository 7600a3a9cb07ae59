"""The jobs of the import engine and what they keep: each uploaded file's job (counts, progress, where
its file is kept), the outcome of every row (compact, a batch per record), the field-by-field change of the
rows a person must check, and each problem. One set of tables for every kind of bulk upload; `kind` says
which importer reads the file."""
import json

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import Organization, User
from portal.packed import unpack_codes
from portal.tenancy import TenantModel
from portal.timeutil import utcnow

JOB_STATUSES = ("queued", "running", "done", "failed")


class ImportJob(TenantModel):
    """One uploaded file going through the import service: counts, progress and where its file is kept."""

    org = ForeignKeyField(Organization, backref="import_jobs", on_delete="RESTRICT")
    kind = CharField(max_length=16, default="marks")  # which importer reads the file (portal.imports.registry)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_by_label = CharField(max_length=254, default="")
    filename = CharField(max_length=255)
    file_format = CharField(max_length=8)  # csv | xlsx
    encoding = CharField(max_length=32, default="")
    file_size = IntegerField()
    file_sha256 = CharField(max_length=64)
    stored_path = CharField(max_length=64, default="")  # emptied when the file is deleted
    dry_run = BooleanField(default=False)
    status = CharField(max_length=16, default="queued")
    total_rows = IntegerField(null=True)  # known once the file has been counted
    last_row = IntegerField(default=0)  # the spreadsheet row the last committed batch ended on (resume point)
    created = IntegerField(default=0)
    updated = IntegerField(default=0)
    unchanged = IntegerField(default=0)
    error_rows = IntegerField(default=0)
    warnings = TextField(default="")  # file-level notes, one per line (unknown columns, extra sheets)
    consequences = TextField(default="")  # JSON {code: rows}: what the rows do beyond their own fields
    failure = TextField(default="")  # why a failed job stopped
    applied_from = ForeignKeyField("self", null=True, on_delete="SET NULL")  # the dry run this applies
    created_at = DateTimeField(default=utcnow)
    started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    heartbeat_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("org", "kind", "created_at"), False),)

    @property
    def is_finished(self):
        return self.status in ("done", "failed")

    @property
    def warning_list(self):
        return [line for line in self.warnings.splitlines() if line]

    @property
    def consequence_counts(self):
        return json.loads(self.consequences) if self.consequences else {}

    @property
    def changed_nothing(self):
        return self.status == "done" and not self.created and not self.updated

    @property
    def processed_rows(self):
        """Every non-blank row handled so far is exactly one of these four."""
        return self.created + self.updated + self.unchanged + self.error_rows

    @property
    def percent(self):
        if not self.total_rows:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


class ImportRowError(TenantModel):
    """One problem with one cell (or row) of an import, as the report lists it."""

    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    job = ForeignKeyField(ImportJob, backref="row_errors", on_delete="CASCADE")
    row = IntegerField()  # the spreadsheet's row number: the header is row 1
    column = CharField(max_length=64, default="")
    code = CharField(max_length=32)
    level = CharField(max_length=8, default="error")  # error: the row was skipped; warning: it was applied
    message = TextField()
    value = TextField(default="")

    class Meta:
        indexes = ((("job", "row"), False),)

    def as_dict(self):
        return {"row": self.row, "column": self.column, "code": self.code, "message": self.message,
                "value": self.value, "level": self.level}


class ImportOutcomes(TenantModel):
    """What happened to each spreadsheet row of one batch, one character per row from `first_row` on:
    c(reate), u(pdate), n (unchanged), e(rror), or "-" for a blank row that was skipped. Compact enough
    to keep for every row of a large file, dry runs included."""

    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    job = ForeignKeyField(ImportJob, backref="outcome_batches", on_delete="CASCADE")
    first_row = IntegerField()
    codes = TextField()
    keys = TextField(default="")  # JSON: each row's natural key as the report shows it (null for a blank row)

    class Meta:
        indexes = ((("job", "first_row"), True),)

    @property
    def key_list(self):
        return json.loads(self.keys) if self.keys else [None] * len(self.codes)


class ImportRowChange(TenantModel):
    """What one row changes, field by field, and its consequences, for the rows a person must be able to
    check before applying: every update, and a creation with a consequence (a mark created as expired)."""

    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    job = ForeignKeyField(ImportJob, backref="row_changes", on_delete="CASCADE")
    row = IntegerField()
    outcome = CharField(max_length=8)  # create | update
    changes = TextField(default="[]")  # JSON [[field, before, after]], values as the report shows them
    consequences = CharField(max_length=200, default="")  # packed codes: ";verified_to_pending;clears_value;"

    class Meta:
        indexes = ((("job", "row"), True),)

    @property
    def change_list(self):
        return json.loads(self.changes)

    @property
    def consequence_codes(self):
        return unpack_codes(self.consequences)
