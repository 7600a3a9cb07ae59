"""Takedown notices over the API (`notices:read` / `notices:write`): filing, evidence, the list with its
filters, one notice with its items, their statements of reasons and SLA clocks, and moving items.

A brand reads the notices it filed, a platform those sent to it (`services.visible_notices`, the same
predicate as the pages); another org's notice or item is a 404. Every rule (what makes a notice valid,
which side may move an item where, the clocks) lives in the services this module calls.
"""
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import abort, url_for
from marshmallow import Schema, fields, validate
from werkzeug.datastructures import FileStorage

from flask_smorest.fields import Upload
from portal.api.auth import ApiBlueprint, current_token
from portal.api.pagination import PageArgs, paginate
from portal.api.schemas import NO_NUL, UtcDateTime, page_schema
from portal.errors import problem_response
from portal.marks.models import STATUSES as MARK_STATUSES
from portal.notices import rules, services
from portal.notices.models import REASONS, STATES, Evidence, Notice
from portal.sla.models import METRICS, STAGES
from portal.sla.clocks import readings
from portal.tenancy import MAX_ID, current_org
from portal.text import MAX_URL
from portal.timeutil import utcnow

blp = ApiBlueprint("Notices", __name__, url_prefix="/notices",
                   description="Takedown notices, their listings (items), statements of reasons and SLA clocks")

EVIDENCE_TYPES = ("application/pdf", "image/png", "image/jpeg")
MAX_NOTICE_MARKS = rules.MAX_MARKS


# --- output schemas ----------------------------------------------------------------------------------

class NoticeMarkSchema(Schema):
    id = fields.Integer(required=True)
    word = fields.String(required=True)
    office = fields.String(required=True)
    registration_number = fields.String(required=True)
    jurisdictions = fields.List(fields.String(), required=True,
                                metadata={"description": "ISO 3166 alpha-2 codes; EU for the European Union"})
    status = fields.String(required=True, metadata={"enum": list(MARK_STATUSES)})
    expires_on = fields.Date(required=True, allow_none=True)


class EvidenceSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "The file's name as uploaded (display only)"})
    sha256 = fields.String(required=True, metadata={"description": "SHA-256 of the file's bytes, hex"})
    size = fields.Integer(required=True, metadata={"description": "Bytes"})
    content_type = fields.String(required=True, metadata={"enum": list(EVIDENCE_TYPES),
                                                          "description": "Told by the file's content"})
    uploaded_at = UtcDateTime(required=True)


class TransitionSchema(Schema):
    from_state = fields.String(required=True, allow_none=True, data_key="from",
                               metadata={"enum": list(STATES) + [None],
                                         "description": "null for the filing itself"})
    to_state = fields.String(required=True, data_key="to", metadata={"enum": list(STATES)})
    reason = fields.String(required=True, metadata={"description": "The ground of the move (the statement of "
                                                                   "reasons), or the information given"})
    redress = fields.String(required=True, metadata={"description": "How to seek redress against the decision"})
    at = UtcDateTime(required=True)
    by = fields.String(required=True, metadata={"description": "Slug of the organization that made the move"})


class ClockSchema(Schema):
    stage = fields.String(required=True, metadata={"enum": list(STAGES)})
    breached = fields.Boolean(required=True, metadata={"description": "Stays true once late, even when completed"})
    target_minutes = fields.Integer(required=True, metadata={"description": "Business minutes, as snapshotted "
                                                                           "when the clock started"})
    started_at = UtcDateTime(required=True)
    deadline = UtcDateTime(required=True, metadata={"description": "While paused: where it would fall if the "
                                                                  "clock resumed now"})
    remaining_seconds = fields.Integer(required=True, metadata={"description": "Time left as `basis` counts it "
                                                                              "(business hours or calendar "
                                                                              "time); negative once late"})
    remaining_hours = fields.Float(required=True, metadata={"description": "remaining_seconds in hours, to two "
                                                                          "decimals"})
    target_hours = fields.Float(required=True, metadata={"description": "target_minutes in hours"})
    basis = fields.String(required=True, metadata={"enum": ["business_hours", "calendar_time"], "description": (
        "What the clock counts: the business hours of the partnership's calendar, or every hour (24/7)")})
    timezone = fields.String(required=True, metadata={"description": "The calendar's IANA time zone"})
    elapsed_percent = fields.Integer(required=True, metadata={"description": "Share of the target used"})
    stopped_at = UtcDateTime(required=True, allow_none=True, metadata={"description": "When completed or "
                                                                                      "cancelled"})


class ClocksSchema(Schema):
    acknowledge = fields.Nested(ClockSchema, required=True, metadata={"description": "Never pauses"})
    action = fields.Nested(ClockSchema, required=True,
                           metadata={"description": "Pauses while the platform waits for the brand (info_requested)"})


class ItemSchema(Schema):
    id = fields.Integer(required=True)
    notice = fields.Integer(required=True, metadata={"description": "Id of the notice"})
    position = fields.Integer(required=True, metadata={"description": "1-based order within the notice"})
    url = fields.String(required=True)
    seller_id = fields.String(required=True)
    title = fields.String(required=True)
    state = fields.String(required=True, metadata={"enum": list(STATES)})
    state_changed_at = UtcDateTime(required=True)
    breached = fields.Boolean(required=True, metadata={"description": "A clock of this item breached"})
    due_at = UtcDateTime(required=True, allow_none=True,
                         metadata={"description": "Nearest deadline of a running clock"})
    decision = fields.String(required=True, allow_none=True, metadata={"enum": ["removed", "rejected", None]})
    decided_at = UtcDateTime(required=True, allow_none=True)
    counter_outcome = fields.String(required=True, allow_none=True,
                                    metadata={"enum": ["reinstated", "upheld", None]})
    counter_decided_at = UtcDateTime(required=True, allow_none=True)
    allowed_moves = fields.List(fields.String(metadata={"enum": list(STATES)}), required=True,
                                metadata={"description": "The states your organization may move it to now"})
    transitions = fields.List(fields.Nested(TransitionSchema), required=True,
                              metadata={"description": "Its history, oldest first"})
    clocks = fields.Nested(ClocksSchema, required=True)


class NoticeSummarySchema(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True, metadata={"example": "N-000042"})
    brand = fields.String(required=True, metadata={"description": "Slug of the brand that filed it"})
    platform = fields.String(required=True, metadata={"description": "Slug of the platform it was sent to"})
    partnership = fields.Integer(required=True, metadata={"description": "Id of the partnership"})
    marketplace = fields.String(required=True, metadata={"description": "Slug of the marketplace"})
    reason_code = fields.String(required=True, metadata={"enum": list(REASONS)})
    terms_version = fields.Integer(required=True, metadata={"description": "The partnership's terms in force "
                                                                          "when it was filed"})
    fast_lane = fields.Boolean(required=True, metadata={"description": "Filed with the good-faith fast lane "
                                                                      "(shorter SLA targets)"})
    filed_at = UtcDateTime(required=True)
    item_count = fields.Integer(required=True)
    states = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                         metadata={"description": "Number of items in each state"})
    breached = fields.Boolean(required=True, metadata={"description": "An item's clock breached"})


class NoticeSchema(NoticeSummarySchema):
    explanation = fields.String(required=True)
    test_buy_ref = fields.String(required=True)
    good_faith_statement = fields.String(required=True, metadata={"description": "The text the filer attested"})
    jurisdiction_confirmed = fields.Boolean(required=True,
                                            metadata={"description": "Filed although its marks do not cover the "
                                                                     "marketplace's country"})
    marks = fields.List(fields.Nested(NoticeMarkSchema), required=True)
    evidence = fields.List(fields.Nested(EvidenceSchema), required=True)
    items = fields.List(fields.Nested(ItemSchema), required=True, metadata={"description": "By position"})


class SkippedSchema(Schema):
    row = fields.Integer(required=True, metadata={"description": "Position in `listings`, from 1"})
    url = fields.String(required=True)
    notice = fields.String(required=True, metadata={"description": "Reference of the notice it is already under"})
    state = fields.String(required=True, metadata={"enum": list(STATES)})


class FiledNoticeSchema(NoticeSchema):
    skipped = fields.List(fields.Nested(SkippedSchema), required=True,
                          metadata={"description": "Listings left out: already under an active notice of yours"})
    warnings = fields.List(fields.String(), required=True,
                           metadata={"description": "Filed, but worth a look (marks not covering the country)"})


NoticePage = page_schema(NoticeSummarySchema, "NoticePage")


# --- input schemas -----------------------------------------------------------------------------------

class ListingInputSchema(Schema):
    url = fields.String(required=True, validate=[validate.Length(min=1, max=MAX_URL), NO_NUL],
                        metadata={"description": "The listing's full address (http or https)",
                                  "example": "https://item.taobao.com/item.htm?id=1234567890"})
    seller_id = fields.String(allow_none=True, validate=[validate.Length(max=rules.MAX_SELLER_ID), NO_NUL])
    title = fields.String(allow_none=True, validate=[validate.Length(max=rules.MAX_TITLE), NO_NUL])


class NoticeInputSchema(Schema):
    partnership = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID),
                                 metadata={"description": "Id of your active partnership with the platform"})
    marketplace = fields.String(required=True, validate=[validate.Length(min=1, max=64), NO_NUL],
                                metadata={"description": "Slug of a marketplace the partnership covers",
                                          "example": "taobao"})
    reason_code = fields.String(required=True, validate=validate.OneOf(list(REASONS)),
                                metadata={"description": "; ".join(f"{k}: {v}" for k, v in REASONS.items())})
    explanation = fields.String(required=True, validate=[
        validate.Length(min=rules.MIN_EXPLANATION, max=rules.MAX_EXPLANATION), NO_NUL],
        metadata={"description": "What is infringing and why (substantiated)"})
    marks = fields.List(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)), required=True,
                        validate=validate.Length(min=1, max=MAX_NOTICE_MARKS),
                        metadata={"description": "Ids of your verified, unexpired marks the listings infringe"})
    listings = fields.List(fields.Nested(ListingInputSchema), required=True, validate=validate.Length(
        min=1, max=rules.MAX_ITEMS, error=f"A notice carries 1 to {rules.MAX_ITEMS} listings; split longer lists "
                                          "into several notices."),
        metadata={"description": f"1 to {rules.MAX_ITEMS} listings; problems are reported by `row`, the "
                                 "listing's position from 1"})
    test_buy_ref = fields.String(validate=[validate.Length(max=services.MAX_TEST_BUY_REF), NO_NUL],
                                 metadata={"description": "Your reference of a test purchase, if any"})
    good_faith = fields.Boolean(required=True, validate=validate.Equal(
        True, error="Confirm the good-faith statement: a notice cannot be filed without it."),
        metadata={"description": "Must be true: you attest the statement: " + services.GOOD_FAITH_STATEMENT})
    confirm_jurisdiction = fields.Boolean(load_default=False, metadata={
        "description": "File even though a mark does not cover the marketplace's country (the 422 says so)"})


DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
DATE_TIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII)


class DateOrDateTime(fields.Field):
    """A date (YYYY-MM-DD, a day in your organization's time zone) or an RFC 3339 date-time with its offset."""

    default_error_messages = {"invalid": "Give a date (2026-03-01) or a date-time with its offset "
                                         "(2026-03-01T09:00:00Z)."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value or "")
        try:
            if DATE_PATTERN.match(text):
                return date.fromisoformat(text)
            if DATE_TIME_PATTERN.match(text):
                return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
        except ValueError:
            pass
        raise self.make_error("invalid")


class NoticeListArgs(PageArgs):
    state = fields.String(validate=validate.OneOf(STATES),
                          metadata={"description": "Only notices with at least one item in this state"})
    marketplace = fields.String(validate=[validate.Length(max=64), NO_NUL],
                                metadata={"description": "Only notices on this marketplace (its slug)"})
    breached = fields.Boolean(metadata={"description": "true: notices with a breached item; false: without"})
    filed_from = DateOrDateTime(metadata={
        "type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}],
        "description": "Filed at or after: a date (from its start in your organization's time zone) or a "
                       "date-time with its offset"})
    filed_to = DateOrDateTime(metadata={
        "type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}],
        "description": "Filed before: a date includes that whole day (in your organization's time zone); a "
                       "date-time is an exclusive bound"})


class TransitionInputSchema(Schema):
    to = fields.String(required=True, validate=validate.OneOf(STATES), metadata={
        "description": "The state to move the item to. Platform: acknowledged, removed, rejected, "
                       "info_requested (a submitted item is acknowledged first), counter_noticed, reinstated, "
                       "upheld. Brand: acknowledged (answering an info request), withdrawn."})
    reason = fields.String(load_default="", validate=[validate.Length(max=rules.MAX_REASON), NO_NUL], metadata={
        "description": "The statement of reasons: required to remove, reject, request information, record a "
                       "counter-notice and decide on it; the brand's answer to an info request"})
    redress = fields.String(load_default="", validate=[validate.Length(max=rules.MAX_REASON), NO_NUL], metadata={
        "description": "How to seek redress; a standard text for the decision when not given"})


class EvidenceUploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "A PDF, PNG or JPEG file (told by its content)"})


# --- building bodies ---------------------------------------------------------------------------------

def _clock(reading):
    return {"stage": reading.stage, "breached": reading.breached,
            "target_minutes": int(reading.target.total_seconds() // 60), "started_at": reading.started_at,
            "deadline": reading.deadline, "remaining_seconds": reading.remaining_seconds,
            "remaining_hours": reading.remaining_hours, "target_hours": round(reading.target.total_seconds() / 3600, 2),
            "basis": reading.basis, "timezone": reading.timezone,
            "elapsed_percent": reading.elapsed_percent, "stopped_at": reading.stopped_at}


def item_bodies(notice, items, org, now):
    history = services.history_of(items)
    clocks = readings(items, now)
    return [{"id": item.id, "notice": item.notice_id, "position": item.position, "url": item.url,
             "seller_id": item.seller_id, "title": item.title, "state": item.state,
             "state_changed_at": item.state_changed_at, "breached": item.breached, "due_at": item.due_at,
             "decision": item.decision or None, "decided_at": item.decided_at,
             "counter_outcome": item.counter_outcome or None, "counter_decided_at": item.counter_decided_at,
             "allowed_moves": services.allowed_moves(item, org),
             "transitions": [{"from_state": t.from_state or None, "to_state": t.to_state, "reason": t.reason,
                              "redress": t.redress, "at": t.at, "by": t.actor_org.slug}
                             for t in history.get(item.id, [])],
             "clocks": {metric: _clock(clocks[item.id][metric]) for metric in METRICS}}
            for item in items]


def summary_bodies(notices):
    counts = services.state_counts(notices)
    breached = services.breached_notices(notices)
    return [{"id": n.id, "reference": n.reference, "brand": n.org.slug, "platform": n.platform.slug,
             "partnership": n.partnership_id, "marketplace": n.marketplace.slug, "reason_code": n.reason_code,
             "terms_version": n.terms.version, "fast_lane": n.fast_lane, "filed_at": n.filed_at,
             "item_count": n.item_count, "states": counts.get(n.id, {}), "breached": n.id in breached}
            for n in notices]


def notice_body(notice, org, now):
    body = summary_bodies([notice])[0]
    body.update({"explanation": notice.explanation, "test_buy_ref": notice.test_buy_ref,
                 "good_faith_statement": notice.good_faith_statement,
                 "jurisdiction_confirmed": notice.jurisdiction_confirmed,
                 "marks": [{"id": m.id, "word": m.word, "office": m.office,
                            "registration_number": m.registration_number, "jurisdictions": m.jurisdiction_list,
                            "status": m.status, "expires_on": m.expires_on} for m in services.marks_of(notice)],
                 "evidence": list(notice.evidence.order_by(Evidence.id)),
                 "items": item_bodies(notice, services.items_of(notice), org, now)})
    return body


def utc_bound(value, tz_name, end):
    """A filter value as a naive UTC bound; a date is a day in the org's zone (`end`: up to its end)."""
    if value is None:
        return None
    try:
        if isinstance(value, datetime):
            return value.astimezone(timezone.utc).replace(tzinfo=None)
        day = value + timedelta(days=1) if end else value
        return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz_name or "UTC")).astimezone(
            timezone.utc).replace(tzinfo=None)
    except OverflowError:  # beyond year 1 or 9999 once in UTC
        low = value.year <= 1
        if end:
            return datetime.min if low else None
        return None if low else datetime.max


def now():
    return utcnow()


# --- views -------------------------------------------------------------------------------------------

def refuse_listings(refused):
    abort(problem_response(422, "Unprocessable Entity", refused.message, refused.errors, code=refused.code,
                           problems=[problem.as_dict() for problem in refused.problems]))


@blp.route("", methods=["POST"])
@blp.requires("notices:write")
@blp.arguments(NoticeInputSchema)
@blp.response(201, FiledNoticeSchema, description="Filed: the notice, with the listings skipped as already "
                                                   "under notice and any warnings")
@blp.alt_response(403, response="FORBIDDEN", description="The token lacks the scope notices:write, or your "
                                                         "organization is a platform (brands file notices)")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY",
                  description="Not filed: field `errors`; invalid listings as `problems` "
                              "[{row, column, code, message, value}] with code invalid_listings")
def file_notice(data):
    """File a takedown notice for 1 to 300 listings under one of your partnerships (brands)"""
    if current_org.is_platform:
        abort(problem_response(403, "Forbidden", "Only brands file notices; a platform answers them."))
    entries = [(row, listing) for row, listing in enumerate(data.pop("listings"), start=1)]
    at = now()
    try:
        filed = services.file_notice(current_org._get_current_object(), data, entries,
                                     user=current_token().acting_user, now=at)
    except services.ListingsRefused as refused:
        refuse_listings(refused)
    body = notice_body(filed.notice, current_org, at)
    body["skipped"] = filed.skipped
    body["warnings"] = filed.warnings
    return body, 201, {"Location": url_for("Notices.get_notice", notice_id=filed.notice.id)}


@blp.route("", methods=["GET"])
@blp.requires("notices:read")
@blp.arguments(NoticeListArgs, location="query")
@blp.response(200, NoticePage)
def list_notices(args):
    """Notices you may read (a brand: those it filed; a platform: those sent to it), in id order"""
    marketplace = None
    if args.get("marketplace"):
        slug = args["marketplace"].strip().lower()
        marketplace = next((m for m in services.partner_marketplaces(current_org) if m.slug == slug), 0)
    tz_name = current_org.timezone
    query = services.search_notices(current_org, state=args.get("state", ""), marketplace=marketplace,
                                    breached=args.get("breached"),
                                    filed_from=utc_bound(args.get("filed_from"), tz_name, end=False),
                                    filed_to=utc_bound(args.get("filed_to"), tz_name, end=True))
    page = paginate(services.with_parties(query), Notice, args)
    page["items"] = summary_bodies(page["items"])
    return page


@blp.route("/<int:notice_id>", methods=["GET"])
@blp.requires("notices:read")
@blp.response(200, NoticeSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_notice(notice_id):
    """One notice: its marks, evidence, terms version and items, each with its history and clocks"""
    return notice_body(services.get_visible_notice(notice_id, current_org), current_org, now())


@blp.route("/<int:notice_id>/evidence", methods=["POST"])
@blp.requires("notices:write")
@blp.arguments(EvidenceUploadSchema, location="multipart")
@blp.response(201, EvidenceSchema)
@blp.alt_response(404, response="NOT_FOUND", description="No notice of yours has this id (only the brand that "
                                                         "filed a notice adds evidence)")
@blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="Not a PDF, PNG or JPEG, too large, or "
                                                                    "too many files")
def add_evidence(data, notice_id):
    """Add an evidence file to a notice you filed (multipart `file`: PDF, PNG or JPEG, size capped)"""
    notice = Notice.get_for_org(notice_id, current_org)
    upload = data["file"]
    if not isinstance(upload, FileStorage):
        abort(problem_response(422, "Unprocessable Entity", "Send the evidence as a file part named file.",
                               {"file": ["Send the evidence as a file part (multipart/form-data)."]}))
    if not upload.filename:
        upload.filename = "evidence"
    return services.attach_evidence(notice, [upload], current_token().acting_user, now(), field="file")[0]


@blp.route("/<int:notice_id>/items/<int:item_id>/transitions", methods=["POST"])
@blp.requires("notices:write")
@blp.arguments(TransitionInputSchema)
@blp.response(200, ItemSchema, description="The item after the move, as in the notice")
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="This move is not open to your side from the item's "
                                                        "state (the detail says why)")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="A reason is missing or too long")
def transition_item(data, notice_id, item_id):
    """Move one item (listing) of a notice to another state, with the statement of reasons"""
    notice = services.get_visible_notice(notice_id, current_org)
    item = services.get_item(notice, item_id)
    # No `now` passed: the move is timed when the listing's lock is taken (a move waiting behind another
    # one of the same listing must not be refused as predating it).
    item = services.transition(item, current_org._get_current_object(), data["to"], data["reason"],
                               data["redress"], user=current_token().acting_user)
    return item_bodies(notice, [item], current_org, now())[0]
