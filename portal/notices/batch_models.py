"""Notice batches: one upload (a CSV/XLSX file, or the API's `listings` array) of up to 50,000 listings that
becomes many notices, through the import engine (portal.imports; the importer is portal.notices.batches).

- `NoticeBatch`: the batch's defaults (what a row may leave blank), its options (group by seller, confirm
  jurisdiction), the API's Idempotency-Key with the SHA-256 of the request it came with, and where filing
  stands. Its key is its import job's: a batch is the job, seen from the notices' side.
- `NoticeBatchRow`: each accepted listing, staged in its batch's transaction with its group (marketplace,
  reason, marks, explanation, test-buy reference, seller when grouping by seller) and, once planned, the
  planned notice it belongs to and what became of it.
- `PlannedNotice`: a notice the batch will file (or, in a dry run, would file): its group, its listing
  count, and once filed the notice, or why it was not filed. Filing one and recording it happen in one
  transaction, so a resumed batch never files a planned notice twice.
"""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import Marketplace, Organization
from portal.imports.models import ImportJob
from portal.notices.models import Notice
from portal.packed import unpack_codes
from portal.partnerships.models import Partnership
from portal.tenancy import TenantModel
from portal.timeutil import utcnow

# Where a batch stands, beside its job's status (queued, running, done, failed):
# "" checking rows; planned (a dry run: nothing more happens); filing; filed (every planned notice filed);
# partly_filed (some planned notices could not be filed, each says why); stopped (filing became impossible:
# the rest was not filed).
OUTCOMES = ("", "planned", "filing", "filed", "partly_filed", "stopped")
PLANNED_STATUSES = ("planned", "filed", "not_filed")


class NoticeBatch(TenantModel):
    job = ForeignKeyField(ImportJob, primary_key=True, backref="+", on_delete="CASCADE")
    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    # Defaults for the whole upload; a row's own cell wins.
    partnership = ForeignKeyField(Partnership, null=True, on_delete="RESTRICT")
    marketplace = CharField(max_length=64, default="")  # slug
    reason_code = CharField(max_length=32, default="")
    marks = TextField(default="")  # packed mark ids
    explanation = TextField(default="")
    test_buy_ref = CharField(max_length=200, default="")
    good_faith_statement = TextField()  # the statement the uploader attested, as it was shown to them
    confirm_jurisdiction = BooleanField(default=False)
    group_by_seller = BooleanField(default=False)
    source = CharField(max_length=8, default="file")  # file | json (the API's `listings` array)
    idempotency_key = CharField(max_length=255, null=True)
    request_sha256 = CharField(max_length=64, default="")  # what the key was first sent with
    outcome = CharField(max_length=16, default="")
    stop_reason = TextField(default="")
    planned_at = DateTimeField(null=True)
    notices_planned = IntegerField(default=0)
    notices_filed = IntegerField(default=0)
    notices_not_filed = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "idempotency_key"), True),)

    @property
    def mark_ids(self):
        return unpack_codes(self.marks, int)


class PlannedNotice(TenantModel):
    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    batch = ForeignKeyField(NoticeBatch, backref="planned_notices", on_delete="CASCADE")
    number = IntegerField()  # 1-based, in the order of each group's first row
    partnership = ForeignKeyField(Partnership, on_delete="RESTRICT")
    marketplace = ForeignKeyField(Marketplace, on_delete="RESTRICT")
    reason_code = CharField(max_length=32)
    marks = TextField()  # packed mark ids
    seller_id = CharField(max_length=200, null=True)  # the group's seller when grouping by seller
    explanation = TextField()
    test_buy_ref = CharField(max_length=200, default="")
    part = IntegerField(default=1)  # the group is split into notices of at most 300 listings: part of parts
    parts = IntegerField(default=1)
    listing_count = IntegerField()
    status = CharField(max_length=16, default="planned")
    notice = ForeignKeyField(Notice, null=True, on_delete="SET NULL")
    skipped = IntegerField(default=0)  # listings file_notice left out (under another notice by then)
    reason = TextField(default="")  # why it was not filed
    filed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("batch", "number"), True),)

    @property
    def mark_ids(self):
        return unpack_codes(self.marks, int)


class NoticeBatchRow(TenantModel):
    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    batch = ForeignKeyField(NoticeBatch, backref="rows", on_delete="CASCADE")
    row = IntegerField()  # the spreadsheet's row number (the header is row 1)
    url = TextField()
    url_key = CharField(max_length=255)
    seller_id = CharField(max_length=200, default="")
    title = CharField(max_length=500, default="")
    marketplace = ForeignKeyField(Marketplace, on_delete="RESTRICT")
    partnership = ForeignKeyField(Partnership, on_delete="RESTRICT")
    reason_code = CharField(max_length=32)
    marks = TextField()  # packed mark ids
    explanation = TextField(default="")  # the row's own; "" takes the batch's
    test_buy_ref = CharField(max_length=200, default="")  # the row's own; "" takes the batch's
    group_key = CharField(max_length=64)  # SHA-256 of the grouping fields
    planned = ForeignKeyField(PlannedNotice, null=True, backref="rows", on_delete="SET NULL")
    outcome = CharField(max_length=16, default="")  # "" | filed | skipped | not_filed
    note = TextField(default="")

    class Meta:
        indexes = ((("batch", "row"), True), (("batch", "group_key", "row"), False), (("planned", "row"), False))
