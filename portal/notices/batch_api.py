"""Notice batches over the API (`notices:write` / `notices:read`): up to 50,000 listings in one call, filed as
notices of at most 300 listings through the same service as the batch page (portal.notices.batches).

- `POST /notices/batches` takes either a multipart upload (`file`, CSV or XLSX, with the defaults as form
  fields) or JSON with a `listings` array (each listing: url, seller_id, title, and optionally its own
  marketplace, reason_code, marks, explanation, test_buy_ref). It answers 202 with the batch; follow it
  (Location) until `status` is done or failed. `dry_run: true` plans and reports, files nothing; apply it
  with `POST /notices/batches/{id}/apply`.
- `Idempotency-Key` (optional header, 1-255 visible ASCII characters, per organization): the same key with
  the same request answers the batch it made the first time (202, `Idempotent-Replayed: true`), never a
  second batch; the same key with another request is a 422 problem with code `idempotency_key_reused`.
  "The same request" is the same fields and the same listings (the file's bytes, or the listings as
  sent); keys are kept with their batch and never expire.
- Marks are ids (JSON numbers) or, as text, registration numbers of your marks ("018123456",
  "EUIPO 018123456" when offices share a number) or "#id".
- A batch's `id` is its import job's. Another organization's batch is a 404 on every endpoint. Row problems
  are paged at `/errors` (and the full row report at `/rows`), by spreadsheet row (the header is row 1; for
  a JSON batch `listing` gives the position in `listings`, from 1).
"""
from flask import abort, request, url_for
from marshmallow import Schema, fields, validate

from flask_smorest.fields import Upload
from portal.api.auth import ApiBlueprint, current_token
from portal.api.pagination import PageArgs, decode_cursor, encode_cursor, paginate
from portal.api.schemas import NO_NUL, UtcDateTime, page_schema
from portal.errors import ValidationError, problem_response
from portal.imports import report as import_report
from portal.imports import runner
from portal.imports.models import ImportJob, ImportRowError
from portal.imports.tables import FileRefused
from portal.notices import batches, rules, services
from portal.notices.batch_models import OUTCOMES, PLANNED_STATUSES, NoticeBatch, PlannedNotice
from portal.notices.models import REASONS
from portal.tenancy import MAX_ID, current_org
from portal.text import MAX_URL

blp = ApiBlueprint("NoticeBatches", __name__, url_prefix="/notices/batches",
                   description="Batches of up to 50,000 listings filed as notices of at most 300")

MAX_MARK_REFERENCE = 100


class MarkReference(fields.Field):
    """A mark: its id (a number), or as text its registration number ("EUIPO 018123456") or "#id"."""

    default_error_messages = {"invalid": "Name a mark by its id (a number) or by its registration number (text)."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            if not 1 <= value <= MAX_ID:
                raise self.make_error("invalid")
            return value
        if isinstance(value, str) and 0 < len(value.strip()) <= MAX_MARK_REFERENCE and "\x00" not in value:
            return value
        raise self.make_error("invalid")


MARK_REFERENCE = {"oneOf": [{"type": "integer", "minimum": 1, "maximum": MAX_ID},
                            {"type": "string", "minLength": 1, "maxLength": MAX_MARK_REFERENCE}],
                  "description": "A mark id, or a registration number of one of your marks (\"EUIPO 018123456\"), "
                                 "or \"#id\""}


def text(max_length, description, **more):
    return fields.String(validate=[validate.Length(max=max_length), NO_NUL], metadata={"description": description},
                         **more)


class DefaultsFields(Schema):
    """The batch's defaults (a listing's own field wins) and options."""

    partnership = fields.Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={
        "description": "Id of your partnership with the platform; optional when rows or `marketplace` name "
                       "marketplaces (each one's platform gives the partnership)"})
    marketplace = text(64, "Slug of the marketplace for listings that name none")
    reason_code = text(32, "For listings that give none: " + ", ".join(REASONS))
    explanation = text(rules.MAX_EXPLANATION, "What is infringing and why, for listings that give none")
    test_buy_ref = text(services.MAX_TEST_BUY_REF, "Your test-buy reference, for listings that give none")
    good_faith = fields.Boolean(required=True, validate=validate.Equal(
        True, error="Confirm the good-faith statement: no notice is filed without it."),
        metadata={"description": "Must be true: you attest, for every notice of the batch: "
                                 + services.GOOD_FAITH_STATEMENT})
    confirm_jurisdiction = fields.Boolean(load_default=False, metadata={
        "description": "File listings whose marks do not cover the marketplace's country (a row problem otherwise)"})
    group_by_seller = fields.Boolean(load_default=False, metadata={
        "description": "Group listings by seller id too: one seller's listings in notices of their own"})
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "Plan and report only; nothing is filed (apply it later)"})


class BatchListingSchema(Schema):
    url = fields.String(required=True, validate=[validate.Length(min=1, max=MAX_URL), NO_NUL],
                        metadata={"example": "https://item.taobao.com/item.htm?id=1234567890"})
    seller_id = fields.String(allow_none=True, validate=[validate.Length(max=rules.MAX_SELLER_ID), NO_NUL])
    title = fields.String(allow_none=True, validate=[validate.Length(max=rules.MAX_TITLE), NO_NUL])
    marketplace = fields.String(allow_none=True, validate=[validate.Length(max=64), NO_NUL],
                                metadata={"description": "Its marketplace's slug; the batch's when absent"})
    reason_code = fields.String(allow_none=True, validate=[validate.Length(max=32), NO_NUL],
                                metadata={"description": "The batch's when absent"})
    marks = fields.List(MarkReference(metadata=MARK_REFERENCE), allow_none=True,
                        validate=validate.Length(max=rules.MAX_MARKS),
                        metadata={"description": "The batch's when absent"})
    explanation = fields.String(allow_none=True, validate=[validate.Length(max=rules.MAX_EXPLANATION), NO_NUL],
                                metadata={"description": "The batch's when absent; listings with their own go "
                                                         "into notices of their own"})
    test_buy_ref = fields.String(allow_none=True, validate=[validate.Length(max=services.MAX_TEST_BUY_REF), NO_NUL])


class BatchJsonSchema(DefaultsFields):
    marks = fields.List(MarkReference(metadata=MARK_REFERENCE), validate=validate.Length(max=rules.MAX_MARKS),
                        metadata={"description": "The marks of listings that name none"})
    listings = fields.List(fields.Nested(BatchListingSchema), required=True, validate=validate.Length(
        min=1, max=batches.MAX_ROWS, error=f"A batch holds 1 to {batches.MAX_ROWS:,} listings; split it."),
        metadata={"description": f"1 to {batches.MAX_ROWS:,} listings"})


class BatchUploadSchema(DefaultsFields):
    file = Upload(required=True, metadata={"description": "The listings, .csv or .xlsx: columns "
                                                          + ", ".join(batches.BATCH_COLUMNS.names)})
    marks = fields.List(fields.String(validate=[validate.Length(min=1, max=MAX_MARK_REFERENCE), NO_NUL]),
                        validate=validate.Length(max=rules.MAX_MARKS), metadata={
                            "description": "The marks of listings that name none (the field repeated): "
                                           "registration numbers, or \"#id\""})


class DefaultsSchema(Schema):
    partnership = fields.Integer(required=True, allow_none=True)
    marketplace = fields.String(required=True, allow_none=True)
    reason_code = fields.String(required=True, allow_none=True)
    marks = fields.List(fields.Integer(), required=True, metadata={"description": "Mark ids"})
    explanation = fields.String(required=True, allow_none=True)
    test_buy_ref = fields.String(required=True, allow_none=True)
    confirm_jurisdiction = fields.Boolean(required=True)
    group_by_seller = fields.Boolean(required=True)


class ProgressSchema(Schema):
    total_rows = fields.Integer(required=True, allow_none=True)
    processed_rows = fields.Integer(required=True)
    percent = fields.Integer(required=True, metadata={"description": "Of the rows checked"})
    listings_accepted = fields.Integer(required=True)
    rows_with_errors = fields.Integer(required=True)
    notices_planned = fields.Integer(required=True)
    notices_filed = fields.Integer(required=True)
    notices_not_filed = fields.Integer(required=True)


class PlannedNoticeSchema(Schema):
    number = fields.Integer(required=True, metadata={"description": "1-based, in the order of each group's "
                                                                    "first row"})
    marketplace = fields.String(required=True)
    partnership = fields.Integer(required=True)
    reason_code = fields.String(required=True, metadata={"enum": list(REASONS)})
    marks = fields.List(fields.Integer(), required=True)
    seller_id = fields.String(required=True, allow_none=True, metadata={"description": "The group's seller "
                                                                                      "(group_by_seller)"})
    explanation = fields.String(required=True)
    test_buy_ref = fields.String(required=True)
    part = fields.Integer(required=True)
    parts = fields.Integer(required=True, metadata={"description": "Notices of this group (300 listings each, "
                                                                   "the last the rest)"})
    listings = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(PLANNED_STATUSES)})
    notice = fields.Integer(required=True, allow_none=True, metadata={"description": "Id of the notice filed"})
    reference = fields.String(required=True, allow_none=True)
    skipped = fields.Integer(required=True, metadata={"description": "Listings left out at filing: under "
                                                                     "another notice of yours by then"})
    reason = fields.String(required=True, allow_none=True, metadata={"description": "Why it was not filed"})


class BatchSummarySchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": ["queued", "running", "done", "failed"]})
    outcome = fields.String(required=True, allow_none=True, metadata={
        "enum": [o for o in OUTCOMES if o] + [None],
        "description": "null while rows are checked; planned (a dry run), filing, filed, partly_filed (some "
                       "notices could not be filed, each says why), stopped (filing became impossible)"})
    stop_reason = fields.String(required=True, allow_none=True)
    dry_run = fields.Boolean(required=True)
    source = fields.String(required=True, metadata={"enum": ["file", "json"]})
    filename = fields.String(required=True)
    sha256 = fields.String(required=True)
    idempotency_key = fields.String(required=True, allow_none=True)
    defaults = fields.Nested(DefaultsSchema, required=True)
    progress = fields.Nested(ProgressSchema, required=True)
    warnings = fields.List(fields.String(), required=True)
    failure = fields.String(required=True, allow_none=True, metadata={
        "description": "Why the job stopped; for a stopped batch, which notices were filed and which not"})
    applied_from = fields.Integer(required=True, allow_none=True, metadata={"description": "The dry run it files"})
    created_at = UtcDateTime(required=True)
    finished_at = UtcDateTime(required=True, allow_none=True)
    errors_url = fields.String(required=True)
    rows_url = fields.String(required=True)
    planned_url = fields.String(required=True)


class BatchSchema(BatchSummarySchema):
    planned_notices = fields.List(fields.Nested(PlannedNoticeSchema), required=True, metadata={
        "description": "The first 1,000 planned notices (all of them at planned_url)"})
    planned_notices_complete = fields.Boolean(required=True)
    notices = fields.List(fields.Integer(), required=True, metadata={"description": "Ids of the notices filed"})


class BatchRowErrorSchema(Schema):
    row = fields.Integer(required=True, metadata={"description": "Spreadsheet row; the header is row 1"})
    listing = fields.Integer(required=True, allow_none=True, metadata={
        "description": "JSON batches: the position in `listings`, from 1"})
    column = fields.String(required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)
    value = fields.String(required=True)
    level = fields.String(required=True, metadata={"enum": ["error", "warning"]})


class RowKeySchema(Schema):
    url = fields.String(required=True)
    marketplace = fields.String(required=True)
    seller_id = fields.String(required=True)


class BatchRowSchema(Schema):
    row = fields.Integer(required=True)
    listing = fields.Integer(required=True, allow_none=True)
    key = fields.Nested(RowKeySchema, required=True)
    outcome = fields.String(required=True, metadata={"enum": ["create", "error"],
                                                     "description": "create: accepted into the plan"})
    problems = fields.List(fields.Dict(), required=True)


class RowArgs(PageArgs):
    show = fields.String(load_default="all", validate=validate.OneOf(("all", "errors")))


BatchPage = page_schema(BatchSummarySchema, "NoticeBatchPage")
PlannedPage = page_schema(PlannedNoticeSchema, "PlannedNoticePage")
BatchRowErrorPage = page_schema(BatchRowErrorSchema, "NoticeBatchRowErrorPage")
BatchRowPage = page_schema(BatchRowSchema, "NoticeBatchRowPage")
PLANNED_SHOWN = 1000


# --- bodies --------------------------------------------------------------------------------------------

def summary_body(job, batch):
    status = runner.job_status(job)
    return {"id": job.id, "status": job.status, "outcome": batch.outcome or None,
            "stop_reason": batch.stop_reason or None, "dry_run": job.dry_run, "source": batch.source,
            "filename": job.filename, "sha256": job.file_sha256, "idempotency_key": batch.idempotency_key,
            "defaults": {"partnership": batch.partnership_id, "marketplace": batch.marketplace or None,
                         "reason_code": batch.reason_code or None, "marks": batch.mark_ids,
                         "explanation": batch.explanation or None, "test_buy_ref": batch.test_buy_ref or None,
                         "confirm_jurisdiction": batch.confirm_jurisdiction, "group_by_seller": batch.group_by_seller},
            "progress": batches.progress(job, batch), "warnings": status["warnings"], "failure": status["failure"],
            "applied_from": job.applied_from_id, "created_at": job.created_at, "finished_at": job.finished_at,
            "errors_url": url_for("NoticeBatches.batch_errors", batch_id=job.id),
            "rows_url": url_for("NoticeBatches.batch_rows", batch_id=job.id),
            "planned_url": url_for("NoticeBatches.planned_notices", batch_id=job.id)}


def batch_body(job):
    batch = NoticeBatch.get_by_id(job.id)
    body = summary_body(job, batch)
    shown = list(batches.planned_notices(batch).limit(PLANNED_SHOWN + 1))
    body["planned_notices"] = batches.planned_bodies(shown[:PLANNED_SHOWN])
    body["planned_notices_complete"] = len(shown) <= PLANNED_SHOWN
    body["notices"] = [notice_id for (notice_id,) in batches.planned_notices(batch).select(PlannedNotice.notice)
                       .where(PlannedNotice.status == "filed").tuples()]
    return body


def listing_of(batch, row):
    return row - 1 if batch.source == "json" else None


def accepted(job, replayed=False):
    headers = {"Location": url_for("NoticeBatches.get_batch", batch_id=job.id)}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return batch_body(job), 202, headers


def refuse_file(refused):
    abort(problem_response(422, "Unprocessable Entity", refused.text, {"file": [refused.text]},
                           code=refused.code, problems=[
                               {"row": row, "column": column, "code": code, "message": message, "value": value}
                               for row, column, code, message, value in refused.problems]))


def idempotency_key():
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not batches.IDEMPOTENCY_KEY.match(key):
        abort(problem_response(422, "Unprocessable Entity", "The Idempotency-Key header must be 1 to 255 visible "
                                                            "ASCII characters; nothing was done.",
                               {"Idempotency-Key": ["Use 1 to 255 visible ASCII characters (a UUID, say)."]}))
    return key


# --- views ---------------------------------------------------------------------------------------------

@blp.route("", methods=["POST"])
@blp.requires("notices:write")
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": BatchJsonSchema},
                                                    "multipart/form-data": {"schema": BatchUploadSchema}}},
         parameters=[{"in": "header", "name": "Idempotency-Key", "required": False, "schema": {
             "type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
             "description": "Per organization: the same key with the same request answers the same batch"}])
@blp.response(202, BatchSchema, description="Accepted (or, with an Idempotency-Key already used for this very "
                                            "request, the batch it made: header Idempotent-Replayed: true)")
@blp.alt_response(403, response="FORBIDDEN", description="The token lacks notices:write, or your organization "
                                                         "is a platform (brands file notices)")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE", description="Neither JSON nor multipart/form-data")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="Nothing was kept: invalid fields, a file "
                  "that cannot be read or has over 50,000 rows (`code`, `problems`), or an Idempotency-Key used "
                  "for another request (code idempotency_key_reused)")
def start_batch():
    """File a batch of up to 50,000 listings (multipart `file`, or JSON `listings`); answers with the batch"""
    if current_org.is_platform:
        abort(problem_response(403, "Forbidden", "Only brands file notices; a platform answers them."))
    key = idempotency_key()
    parser = blp.ARGUMENTS_PARSER
    user, org = current_token().acting_user, current_org._get_current_object()
    try:
        if request.mimetype == "multipart/form-data":
            data = parser.parse(BatchUploadSchema(), request, location="multipart")
            upload = data.pop("file")
            dry_run = data.pop("dry_run")
            if not hasattr(upload, "stream"):
                abort(problem_response(422, "Unprocessable Entity", "Send the listings as a file part named file.",
                                       {"file": ["Send the listings as a file part (multipart/form-data)."]}))
            fields_sent = dict(data, dry_run=dry_run, filename=upload.filename or "")
            job, replayed = batches.start_batch(org, upload.stream, upload.filename or "listings", data,
                                                dry_run=dry_run, user=user, idempotency_key=key,
                                                request_fields=fields_sent)
        elif request.is_json:
            data = parser.parse(BatchJsonSchema(), request, location="json")
            listings = data.pop("listings")
            dry_run = data.pop("dry_run")
            job, replayed = batches.start_listings_batch(org, listings, data, dry_run=dry_run, user=user,
                                                         idempotency_key=key,
                                                         request_fields=dict(data, dry_run=dry_run))
        else:
            abort(problem_response(415, "Unsupported Media Type", "Send JSON (application/json) with a `listings` "
                                                                  "array, or a multipart/form-data upload."))
    except batches.IdempotencyKeyReused as reused:
        abort(problem_response(422, "Unprocessable Entity", reused.message.split(": ", 1)[-1], reused.errors,
                               code=reused.code))
    except FileRefused as refused:
        refuse_file(refused)
    except ValidationError as refused:
        abort(problem_response(422, "Unprocessable Entity", "The batch's fields are not usable; nothing was kept.",
                               refused.errors))
    return accepted(job, replayed)


@blp.route("", methods=["GET"])
@blp.requires("notices:read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, BatchPage)
def list_batches(args):
    """Your organization's batches, in id order"""
    page = paginate(batches.batches_of(current_org), ImportJob, args)
    jobs = page["items"]
    found = {b.job_id: b for b in NoticeBatch.for_org(current_org).where(NoticeBatch.job.in_([j.id for j in jobs]))}
    page["items"] = [summary_body(job, found[job.id]) for job in jobs if job.id in found]
    return page


@blp.route("/<int:batch_id>", methods=["GET"])
@blp.requires("notices:read")
@blp.response(200, BatchSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_batch(batch_id):
    """One batch: status, progress, defaults, its planned notices and the notices filed"""
    return batch_body(batches.get_batch_job(batch_id, current_org))


@blp.route("/<int:batch_id>/planned", methods=["GET"])
@blp.requires("notices:read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, PlannedPage)
@blp.alt_response(404, response="NOT_FOUND")
def planned_notices(args, batch_id):
    """Every planned notice of a batch, by number (the cursor is the last number seen)"""
    job = batches.get_batch_job(batch_id, current_org)
    query = batches.planned_notices(NoticeBatch.get_by_id(job.id))
    if args.get("cursor"):
        query = query.where(PlannedNotice.number > decode_cursor(args["cursor"]))
    rows = list(query.limit(args["limit"] + 1))
    more = len(rows) > args["limit"]
    rows = rows[:args["limit"]]
    return {"items": batches.planned_bodies(rows), "next_cursor": encode_cursor(rows[-1].number) if more else None}


@blp.route("/<int:batch_id>/errors", methods=["GET"])
@blp.requires("notices:read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, BatchRowErrorPage)
@blp.alt_response(404, response="NOT_FOUND")
def batch_errors(args, batch_id):
    """The rows' problems: {row, listing, column, code, message, value, level}, in id order"""
    job = batches.get_batch_job(batch_id, current_org)
    batch = NoticeBatch.get_by_id(job.id)
    page = paginate(runner.row_errors(job), ImportRowError, args)
    page["items"] = [dict(e.as_dict(), listing=listing_of(batch, e.row)) for e in page["items"]]
    return page


@blp.route("/<int:batch_id>/rows", methods=["GET"])
@blp.requires("notices:read")
@blp.arguments(RowArgs, location="query")
@blp.response(200, BatchRowPage)
@blp.alt_response(404, response="NOT_FOUND")
def batch_rows(args, batch_id):
    """The row report: each row's key, whether it was accepted into the plan, and its problems, in row order"""
    job = batches.get_batch_job(batch_id, current_org)
    batch = NoticeBatch.get_by_id(job.id)
    after = min(decode_cursor(args["cursor"]), job.last_row) if args.get("cursor") else 1
    rows = import_report.rows_page(job, args["show"], after, args["limit"] + 1)
    more = len(rows) > args["limit"]
    rows = rows[:args["limit"]]
    items = []
    for row in rows:
        body = import_report.row_as_dict(batches.KIND, row)
        items.append({"row": body["row"], "listing": listing_of(batch, row.row), "key": body["key"],
                      "outcome": body["outcome"], "problems": body["problems"]})
    return {"items": items, "next_cursor": encode_cursor(rows[-1].row) if more else None}


@blp.route("/<int:batch_id>/apply", methods=["POST"])
@blp.requires("notices:write")
@blp.response(202, BatchSchema, description="Accepted: the new batch, filing what the dry run planned")
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="Not a finished dry run, or applied already")
def apply_batch(batch_id):
    """File for real what a finished dry run planned, without sending the listings again"""
    job = batches.get_batch_job(batch_id, current_org)
    try:
        applied = batches.apply_dry_run(job, user=current_token().acting_user)
    except FileRefused as refused:
        refuse_file(refused)
    return accepted(applied)
