"""Marks over the API: the registry (`marks:read` / `marks:write`) and bulk imports through the same import
service as the upload page.

Brands read and write their own marks; platforms read those of the brands they partner with (the same
`visible_marks` predicate as the pages). Another org's mark or import job is a 404.
"""
from flask import abort, url_for
from marshmallow import Schema, ValidationError as SchemaError, fields, validate, validates_schema
from werkzeug.datastructures import FileStorage

from flask_smorest.fields import Upload
from portal.accounts.models import Organization
from portal.api.auth import ApiBlueprint, current_token
from portal.api.pagination import PageArgs, decode_cursor, encode_cursor, paginate
from portal.api.schemas import NO_NUL, UtcDateTime, page_schema
from portal.errors import problem_response
from portal.imports import report as import_report
from portal.imports import runner, service
from portal.marks import services
from portal.imports.models import ImportJob, ImportRowError
from portal.marks.models import STATUSES, Mark
from portal.imports.tables import FileRefused
from portal.tenancy import current_org

blp = ApiBlueprint("Marks", __name__, url_prefix="/marks",
                   description="Trademark registrations and their bulk import")


class MarkSchema(Schema):
    id = fields.Integer(required=True)
    owner = fields.String(attribute="org.slug", required=True, metadata={"description": "Slug of the brand"})
    word = fields.String(required=True)
    office = fields.String(required=True, metadata={"example": "EUIPO"})
    registration_number = fields.String(required=True, metadata={"description": "Normalised for the office",
                                                                 "example": "018123456"})
    nice_classes = fields.List(fields.Integer(), attribute="classes", required=True)
    registered_on = fields.Date(required=True, allow_none=True)
    expires_on = fields.Date(required=True, allow_none=True)
    jurisdictions = fields.List(fields.String(), attribute="jurisdiction_list", required=True,
                                metadata={"description": "ISO 3166 alpha-2 codes; EU for the European Union"})
    status = fields.String(required=True, metadata={"enum": list(STATUSES)})
    status_reason = fields.String(required=True, metadata={"description": "A platform's reason for rejecting"})
    known_office = fields.Boolean(attribute="is_known_office", required=True,
                                  metadata={"description": "False: the office is not one the portal knows, so "
                                                           "the number's format was not checked"})
    reviewed_by = fields.String(attribute="reviewer_slug", required=True, allow_none=True,
                                metadata={"description": "Slug of the platform that verified or rejected it"})
    reviewed_at = UtcDateTime(required=True, allow_none=True)
    proof_sha256 = fields.String(attribute="proof_digest", required=True, allow_none=True)
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)


class WarningSchema(Schema):
    field = fields.String(attribute="column", required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)


class SavedMarkSchema(MarkSchema):
    warnings = fields.List(fields.Nested(WarningSchema), required=True,
                           metadata={"description": "Accepted, but worth a look (an unknown office)"})


class MarkFieldsSchema(Schema):
    """A mark's writable fields; the rules (portal.marks.rules) check their content."""

    word = fields.String(validate=validate.Length(min=1, max=400), metadata={"example": "LOUIS VUITTON"})
    office = fields.String(validate=validate.Length(min=1, max=64), metadata={"example": "EUIPO"})
    registration_number = fields.String(validate=validate.Length(min=1, max=64), metadata={"example": "018123456"})
    nice_classes = fields.List(fields.Integer(validate=validate.Range(min=1, max=45)),
                               validate=validate.Length(min=1, max=45), metadata={"example": [18, 25]})
    registered_on = fields.Date(allow_none=True)
    expires_on = fields.Date(allow_none=True)
    jurisdictions = fields.List(fields.String(validate=validate.Length(max=8)), validate=validate.Length(max=300),
                                metadata={"description": "Required for WIPO (the designations); otherwise "
                                                         "implied by the office"})


class MarkPatchSchema(MarkFieldsSchema):
    """Only the fields given change."""

    @validates_schema
    def something_to_change(self, data, **kwargs):
        if not data:
            raise SchemaError("Give at least one field to change.", "_schema")


class MarkInputSchema(MarkFieldsSchema):
    word = fields.String(required=True, validate=validate.Length(min=1, max=400),
                         metadata={"example": "LOUIS VUITTON"})
    office = fields.String(required=True, validate=validate.Length(min=1, max=64), metadata={"example": "EUIPO"})
    registration_number = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                        metadata={"example": "018123456"})
    nice_classes = fields.List(fields.Integer(validate=validate.Range(min=1, max=45)), required=True,
                               validate=validate.Length(min=1, max=45), metadata={"example": [18, 25]})


class MarkListArgs(PageArgs):
    q = fields.String(validate=[validate.Length(max=200), NO_NUL], metadata={"description": "Part of the word or number"})
    office = fields.String(validate=[validate.Length(max=16), NO_NUL])
    nice_class = fields.Integer(validate=validate.Range(min=1, max=45))
    status = fields.String(validate=validate.OneOf(STATUSES))
    expiring = fields.Boolean(metadata={"description": f"Only marks expiring within {services.EXPIRING_DAYS} days"})
    owner = fields.String(validate=[validate.Length(max=64), NO_NUL],
                          metadata={"description": "Platforms: only this partner brand's marks (its slug)"})


MarkPage = page_schema(MarkSchema, "MarkPage")


class ImportJobSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": ["queued", "running", "done", "failed"]})
    dry_run = fields.Boolean(required=True)
    filename = fields.String(required=True)
    format = fields.String(required=True, metadata={"enum": ["csv", "xlsx"]})
    encoding = fields.String(required=True, allow_none=True)
    sha256 = fields.String(required=True)
    total_rows = fields.Integer(required=True, allow_none=True, metadata={"description": "null until counted"})
    processed_rows = fields.Integer(required=True)
    percent = fields.Integer(required=True)
    created = fields.Integer(required=True, metadata={"description": "Marks created (a dry run: would create)"})
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    errors = fields.Integer(required=True, metadata={"description": "Rows skipped for errors; see /errors"})
    warnings = fields.List(fields.String(), required=True)
    failure = fields.String(required=True, allow_none=True)
    changed_nothing = fields.Boolean(required=True)
    applied_from = fields.Integer(required=True, allow_none=True,
                                  metadata={"description": "The dry run this import applied"})
    consequences = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True, metadata={
        "description": "Rows by consequence (verified_to_pending, rejected_to_pending, expired_to_pending, "
                       "becomes_expired, created_expired, clears_value): what the rows do beyond their fields"})
    summary = fields.List(fields.String(), required=True, metadata={
        "description": "The consequences as sentences, e.g. \"3 verified marks will return to pending: ...\""})
    created_at = UtcDateTime(required=True)
    finished_at = UtcDateTime(required=True, allow_none=True)
    errors_url = fields.String(required=True)
    rows_url = fields.String(required=True)


class ImportUploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "The trademark list, .csv or .xlsx"})
    dry_run = fields.Boolean(load_default=False, metadata={"description": "Only report what would happen"})


class RowErrorSchema(Schema):
    row = fields.Integer(required=True, metadata={"description": "Spreadsheet row; the header is row 1"})
    column = fields.String(required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)
    value = fields.String(required=True)
    level = fields.String(required=True, metadata={"enum": ["error", "warning"]})


class MarkKeySchema(Schema):
    word = fields.String(required=True)
    office = fields.String(required=True)
    registration_number = fields.String(required=True)


class FieldChangeSchema(Schema):
    field = fields.String(required=True)
    before = fields.String(required=True, metadata={"description": "As stored; \"\" for nothing"})
    after = fields.String(required=True, metadata={"description": "As the row leaves it; \"\" for nothing"})


class ConsequenceSchema(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True, metadata={"description": "For people: \"verified → pending\""})


class ImportRowSchema(Schema):
    row = fields.Integer(required=True, metadata={"description": "Spreadsheet row; the header is row 1"})
    key = fields.Nested(MarkKeySchema, required=True, metadata={"description": "The mark's natural key"})
    outcome = fields.String(required=True, metadata={"enum": ["create", "update", "unchanged", "error"]})
    changes = fields.List(fields.Nested(FieldChangeSchema), required=True)
    consequences = fields.List(fields.Nested(ConsequenceSchema), required=True)
    problems = fields.List(fields.Nested(RowErrorSchema), required=True)


class ImportRowArgs(PageArgs):
    show = fields.String(load_default="all", validate=validate.OneOf(import_report.SHOWS), metadata={
        "description": "all rows, or only errors, updates, or rows with consequences"})


ImportJobPage = page_schema(ImportJobSchema, "ImportJobPage")
RowErrorPage = page_schema(RowErrorSchema, "RowErrorPage")
ImportRowPage = page_schema(ImportRowSchema, "ImportRowPage")


# --- marks --------------------------------------------------------------------------------------------

@blp.route("", methods=["GET"])
@blp.requires("marks:read")
@blp.arguments(MarkListArgs, location="query")
@blp.response(200, MarkPage)
def list_marks(args):
    """Marks you may read, filtered as on the marks page, in id order"""
    owner = None
    if args.get("owner"):
        owner = Organization.get_or_none(Organization.slug == args["owner"]) or 0  # 0: matches nothing
    query = services.search(current_org, q=args.get("q", ""), office=(args.get("office") or "").upper(),
                            nice_class=args.get("nice_class"), status=args.get("status", ""),
                            expiring=args.get("expiring", False), owner=owner)
    # Each mark's owner (its slug is in the body) comes in the same query, not one query per mark.
    query = query.join_from(Mark, Organization, on=(Mark.org == Organization.id)).select_extend(Organization)
    return paginate(query, Mark, args)


@blp.route("", methods=["POST"])
@blp.requires("marks:write")
@blp.arguments(MarkInputSchema)
@blp.response(201, SavedMarkSchema)
@blp.alt_response(409, response="CONFLICT", description="Your org already has this office and number")
def create_mark(data):
    """Register a mark (pending until a partner platform verifies it)"""
    mark, warnings = services.create_mark(current_org, data)
    mark.warnings = warnings
    return mark


@blp.route("/<int:mark_id>", methods=["GET"])
@blp.requires("marks:read")
@blp.response(200, MarkSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_mark(mark_id):
    """One mark"""
    return services.get_visible_mark(mark_id, current_org)


@blp.route("/<int:mark_id>", methods=["PATCH"])
@blp.requires("marks:write")
@blp.arguments(MarkPatchSchema)
@blp.response(200, SavedMarkSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def update_mark(data, mark_id):
    """Change some fields of one of your marks (a verified mark goes back to pending)"""
    mark = Mark.get_for_org(mark_id, current_org)
    warnings = services.update_mark(mark, data)
    mark = Mark.get_for_org(mark_id, current_org)
    mark.warnings = warnings
    return mark


@blp.route("/<int:mark_id>", methods=["DELETE"])
@blp.requires("marks:write")
@blp.response(204)
@blp.alt_response(404, response="NOT_FOUND")
def delete_mark(mark_id):
    """Delete one of your marks"""
    services.delete_mark(Mark.get_for_org(mark_id, current_org))


# --- imports ------------------------------------------------------------------------------------------

def job_body(job):
    body = runner.job_status(job)
    body["summary"] = import_report.consequence_summary(job)
    body["errors_url"] = url_for("Marks.import_errors_api", import_id=job.id)
    body["rows_url"] = url_for("Marks.import_rows_api", import_id=job.id)
    return body


def accepted(job):
    return job_body(job), 202, {"Location": url_for("Marks.get_import", import_id=job.id)}


def refuse_file(refused):
    abort(problem_response(422, "Unprocessable Entity", refused.text, {"file": [refused.text]},
                           code=refused.code, problems=[
                               {"row": row, "column": column, "code": code, "message": message, "value": value}
                               for row, column, code, message, value in refused.problems]))


@blp.route("/imports", methods=["POST"])
@blp.requires("marks:write")
@blp.arguments(ImportUploadSchema, location="multipart")
@blp.response(202, ImportJobSchema, description="Accepted: follow the job (Location) until it is done")
def start_import(data):
    """Upload a trademark list (multipart `file`, optional `dry_run=true`); answers with the job"""
    upload = data["file"]
    if not isinstance(upload, FileStorage):
        abort(problem_response(422, "Unprocessable Entity", "Send the list as a file part named file.",
                               {"file": ["Send the list as a file part (multipart/form-data)."]}))
    token = current_token()
    try:
        job = service.start_import(current_org, upload.stream, upload.filename or "upload", "marks",
                                   dry_run=data["dry_run"], user=token.acting_user)
    except FileRefused as refused:
        refuse_file(refused)
    return accepted(job)


@blp.route("/imports", methods=["GET"])
@blp.requires("marks:read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, ImportJobPage)
def list_imports(args):
    """Your organization's import jobs, in id order"""
    page = paginate(runner.jobs_of(current_org, "marks"), ImportJob, args)
    page["items"] = [job_body(job) for job in page["items"]]
    return page


@blp.route("/imports/<int:import_id>", methods=["GET"])
@blp.requires("marks:read")
@blp.response(200, ImportJobSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_import(import_id):
    """One import job: status, progress and counts"""
    return job_body(runner.get_job(import_id, current_org, "marks"))


@blp.route("/imports/<int:import_id>/errors", methods=["GET"])
@blp.requires("marks:read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, RowErrorPage)
@blp.alt_response(404, response="NOT_FOUND")
def import_errors_api(args, import_id):
    """The error report of an import job: {row, column, code, message, value, level}, by row"""
    job = runner.get_job(import_id, current_org, "marks")
    return paginate(runner.row_errors(job), ImportRowError, args)  # paginate orders by id


@blp.route("/imports/<int:import_id>/rows", methods=["GET"])
@blp.requires("marks:read")
@blp.arguments(ImportRowArgs, location="query")
@blp.response(200, ImportRowPage)
@blp.alt_response(404, response="NOT_FOUND")
def import_rows_api(args, import_id):
    """The row report of an import job (a dry run's: what each row would do): each row's key, outcome,
    field-by-field change, consequences and problems, in row order; `show` filters it"""
    job = runner.get_job(import_id, current_org, "marks")
    # Past the job's last row there is nothing (and a cursor may be as large as MAX_ID).
    after = min(decode_cursor(args["cursor"]), job.last_row) if args.get("cursor") else 1
    rows = import_report.rows_page(job, args["show"], after, args["limit"] + 1)
    more = len(rows) > args["limit"]
    rows = rows[:args["limit"]]
    return {"items": [import_report.row_as_dict("marks", row) for row in rows], "next_cursor": encode_cursor(rows[-1].row) if more else None}


@blp.route("/imports/<int:import_id>/apply", methods=["POST"])
@blp.requires("marks:write")
@blp.response(202, ImportJobSchema, description="Accepted: the new import job")
@blp.alt_response(404, response="NOT_FOUND")
def apply_import(import_id):
    """Import for real the file a finished dry run checked, without sending it again"""
    job = runner.get_job(import_id, current_org, "marks")
    try:
        applied = service.apply_dry_run(job, user=current_token().acting_user)
    except FileRefused as refused:
        refuse_file(refused)
    return accepted(applied)
