"""Marks (trademark registrations) and the bulk import jobs that load them."""
import json

from peewee import (BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField,
                    TextField)

from portal.accounts.models import Organization, User
from portal.tenancy import TenantModel
from portal.timeutil import utcnow

STATUSES = ("pending", "verified", "rejected", "expired")
# The fields a platform verifies (the proof by its content): changing one of them needs a new verification.
REVIEWED_FIELDS = ("word", "office", "registration_number", "nice_classes", "registered_on", "expires_on",
                   "jurisdictions", "proof_sha256")
PACKED_FIELDS = ("nice_classes", "jurisdictions")
JOB_STATUSES = ("queued", "running", "done", "failed")


def pack_codes(values):
    """[9, 25] -> ";9;25;": delimited on both sides so one class or country is found with LIKE '%;9;%'."""
    return ";" + ";".join(str(v) for v in values) + ";" if values else ""


def unpack_codes(text, convert=str):
    return [convert(part) for part in (text or "").split(";") if part]


class Mark(TenantModel):
    """One registration of a brand's mark at one office. Natural key: (org, office, registration number)."""

    org = ForeignKeyField(Organization, backref="marks", on_delete="RESTRICT")
    word = CharField(max_length=200)
    office = CharField(max_length=16)
    registration_number = CharField(max_length=32)
    nice_classes = CharField(max_length=200)  # packed: ";9;25;42;"
    registered_on = DateField(null=True)
    expires_on = DateField(null=True)
    jurisdictions = TextField(default="")  # packed ISO 3166 alpha-2 codes (and EU): ";CN;US;"
    status = CharField(max_length=16, default="pending")
    status_reason = TextField(default="")  # why a platform rejected it
    reviewed_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    reviewed_by_org = ForeignKeyField(Organization, null=True, on_delete="SET NULL")
    reviewed_at = DateTimeField(null=True)
    proof_name = CharField(max_length=200, default="")  # the name it was uploaded with, for display only
    proof_path = CharField(max_length=64, default="")  # a generated name under instance/uploads/proofs
    proof_sha256 = CharField(max_length=64, default="")
    proof_size = IntegerField(default=0)
    proof_type = CharField(max_length=64, default="")
    # What the platform looked at in its last decision (verify or reject): the reviewed fields as they were
    # then, with the decision, so the verification queue shows what changed since (JSON; "" before any).
    last_review = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("org", "office", "registration_number"), True),
            (("org", "status"), False),
            (("status", "expires_on"), False),
        )

    @property
    def classes(self):
        return unpack_codes(self.nice_classes, int)

    @property
    def jurisdiction_list(self):
        return unpack_codes(self.jurisdictions)

    @property
    def is_known_office(self):
        from portal.marks.offices import is_known_office
        return is_known_office(self.office)

    @property
    def reviewer_slug(self):
        return self.reviewed_by_org.slug if self.reviewed_by_org_id else None

    @property
    def proof_digest(self):
        return self.proof_sha256 or None

    @property
    def last_review_data(self):
        return json.loads(self.last_review) if self.last_review else None

    def reviewed_values(self):
        """The reviewed fields as a review keeps them: text (dates in ISO, lists packed), None for nothing."""
        return {name: None if getattr(self, name) in (None, "") else str(getattr(self, name))
                for name in REVIEWED_FIELDS}

    @property
    def changes_since_review(self):
        """[[field, at the last review, now]] for a mark reviewed before: what the platform has not seen."""
        review = self.last_review_data
        if not review:
            return []
        now, then = self.reviewed_values(), review["values"]
        return [[name, *(";".join(unpack_codes(v)) if name in PACKED_FIELDS else (v or "")
                         for v in (then.get(name), now[name]))]
                for name in REVIEWED_FIELDS if then.get(name) != now[name]]

    def as_dict(self):
        return {
            "id": self.id, "owner": self.org.slug, "word": self.word, "office": self.office,
            "registration_number": self.registration_number, "nice_classes": self.classes,
            "registered_on": self.registered_on, "expires_on": self.expires_on,
            "jurisdictions": self.jurisdiction_list, "status": self.status, "status_reason": self.status_reason,
            "proof_sha256": self.proof_sha256 or None,
        }


class ImportJob(TenantModel):
    """One uploaded file going through the import service: counts, progress and where its file is kept."""

    org = ForeignKeyField(Organization, backref="import_jobs", on_delete="RESTRICT")
    kind = CharField(max_length=16, default="marks")  # marks | flags: which importer reads the file
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
