"""Partnerships over the API (`notices:read`): both sides read the partnerships they are a side of, with
the terms in force, the terms waiting for a decision and the brand's good-faith score. Another org's
partnership is a 404 (`services.get_partnership`).
"""
from marshmallow import Schema, fields, validate

from portal.api.auth import ApiBlueprint
from portal.api.pagination import PageArgs, paginate
from portal.api.schemas import UtcDateTime, page_schema
from portal.notices import goodfaith
from portal.partnerships import services
from portal.partnerships.models import STATUSES, TERMS_STATES, Partnership
from portal.tenancy import current_org
from portal.timeutil import utcnow

blp = ApiBlueprint("Partnerships", __name__, url_prefix="/partnerships",
                   description="Partnerships (MOUs) between brands and platforms, their SLA terms and the "
                               "brand's good-faith score")


class OrgRefSchema(Schema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)


class TermsSchema(Schema):
    version = fields.Integer(required=True)
    state = fields.String(required=True, metadata={"enum": list(TERMS_STATES)})
    proposed_by = fields.String(required=True, metadata={"description": "Slug of the side that proposed them"})
    # Terms.as_dict() gives ISO dates as text already.
    effective_from = fields.String(required=True, metadata={"format": "date", "description": "Local date"})
    effective_to = fields.String(required=True, allow_none=True, metadata={"format": "date",
                                                                           "description": "Local date; null: "
                                                                                          "open-ended"})
    marketplaces = fields.List(fields.String(), required=True, metadata={"description": "Slugs of the "
                                                                                        "marketplaces covered"})
    ack_minutes = fields.Integer(required=True, metadata={"description": "Acknowledge target, business minutes"})
    action_minutes = fields.Integer(required=True, metadata={"description": "Action target, business minutes"})
    fast_ack_minutes = fields.Integer(required=True, metadata={"description": "Fast-lane acknowledge target"})
    fast_action_minutes = fields.Integer(required=True, metadata={"description": "Fast-lane action target"})
    always_open = fields.Boolean(required=True, metadata={"description": "24/7: working days and hours unused"})
    timezone = fields.String(required=True, metadata={"description": "IANA time zone of the business calendar"})
    working_days = fields.List(fields.Integer(validate=validate.Range(min=0, max=6)), required=True,
                               metadata={"description": "0 = Monday ... 6 = Sunday"})
    opens = fields.String(required=True, metadata={"example": "09:00"})
    closes = fields.String(required=True, metadata={"example": "17:00"})
    holidays = fields.List(fields.String(metadata={"format": "date"}), required=True,
                           metadata={"description": "Local dates"})
    note = fields.String(required=True, metadata={"description": "The proposer's note, or why they were declined"})


class GoodFaithSchema(Schema):
    window_days = fields.Integer(required=True, metadata={"description": "The rolling window counted"})
    decided = fields.Integer(required=True, metadata={"description": "Items removed or rejected in the window"})
    removed = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    removed_share = fields.Float(required=True, allow_none=True,
                                 metadata={"description": "removed / decided; null with nothing decided"})
    counter_notices_decided = fields.Integer(required=True)
    counter_notices_succeeded = fields.Integer(required=True, metadata={"description": "Ended in reinstatement"})
    counter_success_share = fields.Float(required=True)
    fast_lane = fields.Boolean(required=True, metadata={"description": "New notices get the fast-lane targets"})
    under_review = fields.Boolean(required=True, metadata={"description": "Persistently unfounded notices: "
                                                                         "listed for the platform's review"})
    min_decided = fields.Integer(required=True, metadata={"description": "Decided items needed before the "
                                                                        "score counts"})


class PartnershipSchema(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True, metadata={"example": "P-0007"})
    status = fields.String(required=True, metadata={"enum": list(STATUSES)})
    status_reason = fields.String(required=True, metadata={"description": "Why it was declined, suspended or "
                                                                         "ended"})
    status_changed_at = UtcDateTime(required=True, allow_none=True)
    created_at = UtcDateTime(required=True)
    brand = fields.Nested(OrgRefSchema, required=True)
    platform = fields.Nested(OrgRefSchema, required=True)
    terms_version = fields.Integer(required=True, metadata={"description": "The version in force; 0 while "
                                                                           "only proposed"})
    terms = fields.Nested(TermsSchema, required=True, allow_none=True, metadata={"description": "In force"})
    pending_terms = fields.Nested(TermsSchema, required=True, allow_none=True,
                                  metadata={"description": "Proposed, waiting for the other side's decision"})
    good_faith = fields.Nested(GoodFaithSchema, required=True,
                               metadata={"description": "The brand's score under this partnership"})


class PartnershipListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))


PartnershipPage = page_schema(PartnershipSchema, "PartnershipPage")


def bodies(partnerships, now):
    """The partnerships as the API shows them, their terms and scores read for all at once."""
    terms = services.current_terms(partnerships)
    return [body(partnership, *terms[partnership.id], score)
            for partnership, score in goodfaith.scores(partnerships, now)]


def body(partnership, in_force, pending, score):
    return {"id": partnership.id, "reference": partnership.reference, "status": partnership.status,
            "status_reason": partnership.status_reason, "status_changed_at": partnership.status_changed_at,
            "created_at": partnership.created_at, "brand": partnership.brand, "platform": partnership.platform,
            "terms_version": in_force.version if in_force else 0, "terms": in_force.as_dict() if in_force else None,
            "pending_terms": pending.as_dict() if pending else None,
            "good_faith": score.as_dict()}


@blp.route("", methods=["GET"])
@blp.requires("notices:read")
@blp.arguments(PartnershipListArgs, location="query")
@blp.response(200, PartnershipPage)
def list_partnerships(args):
    """The partnerships your organization is a side of, in id order"""
    query = services.partnerships_of(current_org)
    if args.get("status"):
        query = query.where(Partnership.status == args["status"])
    page = paginate(services.with_sides(query), Partnership, args)
    page["items"] = bodies(page["items"], utcnow())
    return page


@blp.route("/<int:partnership_id>", methods=["GET"])
@blp.requires("notices:read")
@blp.response(200, PartnershipSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_partnership(partnership_id):
    """One partnership: status, both sides, terms in force and pending, the good-faith score"""
    return bodies([services.get_partnership(partnership_id, current_org)], utcnow())[0]
