"""Listing screening over the API (`intel:write` to screen, `intel:read` to read one back): a batch of
listings in, the hits out, with notice drafts an integrator completes and POSTs to /api/v1/notices.

Brands only (a platform is answered 403). Every rule lives in portal.intel.screen; row problems come back
like a notice's: 422 with `code: invalid_listings` and `problems: [{row, column, code, message, value}]`,
`row` being the listing's position in `listings` from 1.
"""
from flask import abort, url_for
from marshmallow import Schema, fields, validate

from portal.api.auth import ApiBlueprint, current_token
from portal.api.schemas import NO_NUL, UtcDateTime
from portal.errors import problem_response
from portal.intel import screen
from portal.tenancy import current_org
from portal.text import MAX_URL

blp = ApiBlueprint("Screening", __name__, url_prefix="/intel/screenings",
                   description="Screen a batch of marketplace listings against the brand's marks")


# --- input ---------------------------------------------------------------------------------------------

class ListingToScreenSchema(Schema):
    # Lengths are checked by the service, so every problem of a batch is reported by row in one answer;
    # the limits are documented here.
    title = fields.String(required=True, validate=NO_NUL, metadata={
        "maxLength": screen.MAX_TITLE, "description": "The listing's title, as the marketplace shows it",
        "example": "L o u i s  V u i t t o n Neverfull replica 1:1"})
    url = fields.String(required=True, validate=NO_NUL, metadata={
        "maxLength": MAX_URL, "description": "The listing's full address (http or https)",
        "example": "https://item.taobao.com/item.htm?id=1234567890"})
    price = fields.String(allow_none=True, validate=NO_NUL, metadata={
        "maxLength": screen.MAX_PRICE, "description": "Free text, as shown (e.g. \"¥ 199\")"})
    seller_id = fields.String(allow_none=True, validate=NO_NUL, metadata={
        "maxLength": screen.MAX_SELLER_ID, "description": "The seller's id on the marketplace"})
    marketplace = fields.String(allow_none=True, validate=NO_NUL, metadata={
        "maxLength": 64, "description": "Slug of the listing's marketplace; the batch's `marketplace` when absent"})


class ScreeningInputSchema(Schema):
    marketplace = fields.String(allow_none=True, validate=NO_NUL, metadata={
        "maxLength": 64, "description": "Slug of the marketplace of listings that do not name one",
        "example": "taobao"})
    listings = fields.List(fields.Nested(ListingToScreenSchema), required=True, validate=validate.Length(
        min=1, max=screen.MAX_LISTINGS, error=f"A screening takes 1 to {screen.MAX_LISTINGS:,} listings; split "
                                              "longer lists into several batches."),
        metadata={"description": f"1 to {screen.MAX_LISTINGS:,} listings"})


# --- output --------------------------------------------------------------------------------------------

class HitSchema(Schema):
    id = fields.Integer(required=True)
    row = fields.Integer(required=True, metadata={"description": "Position of the listing in the batch, from 1"})
    marketplace = fields.String(required=True, metadata={"description": "Slug of the marketplace"})
    url = fields.String(required=True)
    title = fields.String(required=True)
    price = fields.String(required=True)
    seller_id = fields.String(required=True)
    score = fields.Float(required=True, metadata={"minimum": 0, "maximum": 1, "description": (
        "0.6 for a mark, +0.15 written in disguise, +0.1 per counterfeit indicator (up to +0.3), +0.1 when "
        "the seller has an active flag shared with you; at most 1")})
    words = fields.List(fields.String(), required=True, metadata={"description": "Your marks found, as registered"})
    mark_ids = fields.List(fields.Integer(), required=True,
                           metadata={"description": "Every registration of those words (ids of your marks)"})
    indicators = fields.List(fields.String(), required=True,
                             metadata={"description": "Counterfeit indicators in the title"})
    disguised = fields.Boolean(required=True, metadata={"description": "A mark was found only once a disguise "
                                                                      "(spacing, look-alike letters...) was undone"})
    flagged = fields.Boolean(required=True, metadata={"description": "The seller had an active flag shared with "
                                                                    "you when screened"})
    reason = fields.String(required=True)
    notice = fields.Integer(required=True, allow_none=True,
                            metadata={"description": "Id of the notice filed for this listing, if any"})


class DraftListingSchema(Schema):
    url = fields.String(required=True)
    seller_id = fields.String(required=True)
    title = fields.String(required=True)


class NoticeDraftSchema(Schema):
    partnership = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Your only active partnership covering the marketplace; null when none or several do"})
    marketplace = fields.String(required=True)
    reason_code = fields.String(required=True, metadata={"enum": ["counterfeit"]})
    explanation = fields.String(required=True, metadata={"description": "Built from the hits' findings"})
    marks = fields.List(fields.Integer(), required=True,
                        metadata={"description": "Your verified, unexpired marks the listings name"})
    listings = fields.List(fields.Nested(DraftListingSchema), required=True)


class ScreeningSchema(Schema):
    id = fields.Integer(required=True)
    listings = fields.Integer(required=True, metadata={"description": "Listings screened"})
    hit_count = fields.Integer(required=True)
    authorized_skipped = fields.Integer(required=True, metadata={
        "description": "Listings naming your marks left out: their sellers are on your authorized list"})
    created_at = UtcDateTime(required=True)
    hits = fields.List(fields.Nested(HitSchema), required=True, metadata={"description": "Best first"})
    notice_draft = fields.Nested(NoticeDraftSchema, required=True, allow_none=True, metadata={
        "description": "The first of `notice_drafts` (null when there is none): complete it with `partnership` "
                       "when null, `good_faith: true` and your own explanation if you like, and POST it to "
                       "/api/v1/notices"})
    notice_drafts = fields.List(fields.Nested(NoticeDraftSchema), required=True, metadata={
        "description": "One draft per marketplace (and per 300 listings) of the unfiled hits that name a "
                       "verified, unexpired mark of yours; hits whose marks are not verified are left out"})


def hit_body(hit):
    return {"id": hit.id, "row": hit.row, "marketplace": hit.marketplace.slug, "url": hit.url, "title": hit.title,
            "price": hit.price, "seller_id": hit.seller_id, "score": hit.score, "words": screen.words_of(hit),
            "mark_ids": screen.mark_ids_of(hit), "indicators": screen.indicators_of(hit),
            "disguised": hit.disguised, "flagged": hit.flagged, "reason": hit.reason, "notice": hit.notice_id}


def draft_body(draft):
    return {"partnership": draft.partnership.id if draft.partnership else None,
            "marketplace": draft.marketplace.slug, "reason_code": draft.reason_code,
            "explanation": draft.explanation, "marks": draft.marks,
            "listings": [{"url": hit.url, "seller_id": hit.seller_id, "title": hit.title} for hit in draft.hits]}


def screening_body(screening, org):
    drafts = [draft_body(draft) for draft in screen.notice_drafts(org, screening)]
    return {"id": screening.id, "listings": screening.listings, "hit_count": screening.hit_count,
            "authorized_skipped": screening.authorized_skipped, "created_at": screening.created_at,
            "hits": [hit_body(hit) for hit in screen.hits_of(screening)],
            "notice_draft": drafts[0] if drafts else None, "notice_drafts": drafts}


# --- views ---------------------------------------------------------------------------------------------

@blp.route("", methods=["POST"])
@blp.requires("intel:write")
@blp.arguments(ScreeningInputSchema)
@blp.response(201, ScreeningSchema, description="Screened: the hits, best first, and notice drafts")
@blp.alt_response(403, response="FORBIDDEN", description="The token lacks the scope intel:write, or your "
                                                         "organization is a platform (brands screen listings)")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY",
                  description="Nothing screened: invalid listings as `problems` [{row, column, code, message, "
                              "value}] with code invalid_listings (row: position in `listings` from 1)")
def create_screening(data):
    """Screen a batch of listings against your marks (brands): the hits, with their scores and reasons"""
    org = current_org._get_current_object()
    if org.is_platform:
        abort(problem_response(403, "Forbidden", "Only brands screen listings; a platform has no marks to look for."))
    entries = [(row, listing) for row, listing in enumerate(data["listings"], start=1)]
    try:
        screening = screen.screen_listings(org, entries, default_marketplace=data.get("marketplace"), source="api",
                                           user=current_token().acting_user)
    except screen.ScreeningRefused as refused:
        abort(problem_response(422, "Unprocessable Entity", refused.message, refused.errors, code=refused.code,
                               problems=[problem.as_dict() for problem in refused.problems]))
    return screening_body(screening, org), 201, {
        "Location": url_for("Screening.get_screening", screening_id=screening.id)}


@blp.route("/<int:screening_id>", methods=["GET"])
@blp.requires("intel:read")
@blp.response(200, ScreeningSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_screening(screening_id):
    """One screening of yours with its hits (which of them were filed since) and fresh notice drafts"""
    return screening_body(screen.get_screening(screening_id, current_org), current_org)
