"""The listing-level API (`notices:read` / `notices:write`): what a platform's own tooling pulls and pushes.

- `GET /notice-items`: the listings you may read (a platform: those sent to it; a brand: those it filed),
  nearest deadline first (those without a running clock last), in cursor pages, with filters.
- `POST /notice-items/transitions`: up to 300 moves in one call, each applied on its own (all-or-nothing
  per listing, as one move by hand), one result per move in the order sent. A move refused (another
  analyst decided first, a missing ground) does not stop the others. `Idempotency-Key` is honoured for 24
  hours (portal.api.idempotency): a repeated call answers the first call's results and moves nothing.
- `POST /notice-items/assignments`: a platform claims listings for one of its analysts, or releases them.

Every rule (which side may move a listing where, the grounds, the clocks) is the notices service's.
"""
from datetime import datetime, timedelta

from flask import abort
from marshmallow import Schema, fields, validate

from portal.accounts.models import Marketplace, Organization, User
from portal.api.idempotency import HEADER_PARAMETER, answered_once
from portal.api.auth import ApiBlueprint, current_token
from portal.api.pagination import MAX_LIMIT, DEFAULT_LIMIT
from portal.api.schemas import NO_NUL, UtcDateTime, page_schema
from portal.errors import Conflict, NotFound, ValidationError, field_error_list, problem_response
from portal.notices import grounds, rules, services
from portal.notices.api import DateOrDateTime, ItemSchema, item_bodies, now, utc_bound
from portal.notices.models import OPEN_STATES, STATES, NoticeItem, notice_reference
from portal.tenancy import MAX_ID, current_org

blp = ApiBlueprint("NoticeItems", __name__, url_prefix="/notice-items",
                   description="Listings (notice items) across notices: the work list, bulk moves and assignment")

MAX_MOVES = services.BULK_LIMIT
CURSOR_PATTERN = r"^(?:[0-9]{1,18}|x)-[0-9]{1,19}$"
EPOCH = datetime(1970, 1, 1)
LAST_MICROSECOND = (datetime.max - EPOCH) // timedelta(microseconds=1)
DATE_OR_DATE_TIME = {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}


class PartyRef(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class ListingSchema(ItemSchema):
    reference = fields.String(required=True, metadata={"description": "The notice's reference (N-000042)"})
    brand = fields.String(required=True, metadata={"description": "Slug of the brand that filed it"})
    platform = fields.String(required=True, metadata={"description": "Slug of the platform it was sent to"})
    marketplace = fields.String(required=True, metadata={"description": "Slug of the marketplace"})
    assignee = fields.Nested(PartyRef, required=True, allow_none=True, metadata={
        "description": "The platform's analyst who claimed it (shown to the platform only; null for a brand)"})
    assigned_at = UtcDateTime(required=True, allow_none=True)


ListingPage = page_schema(ListingSchema, "ListingPage")


class ListingArgs(Schema):
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": f"Listings per page, 1 to {MAX_LIMIT}"})
    cursor = fields.String(load_default=None, validate=validate.Regexp(
        CURSOR_PATTERN, error="This cursor is not valid; pass the next_cursor of a page as it was returned."),
        metadata={"description": "The `next_cursor` of the previous page (opaque)", "pattern": CURSOR_PATTERN})
    state = fields.String(validate=validate.OneOf(STATES), metadata={"description": "Only listings in this state"})
    open = fields.Boolean(metadata={"description": "true: only listings still waiting on someone ("
                                                   + ", ".join(OPEN_STATES) + "); false: only the others"})
    brand = fields.String(validate=[validate.Length(max=64), NO_NUL],
                          metadata={"description": "Only listings filed by this brand (its slug)"})
    platform = fields.String(validate=[validate.Length(max=64), NO_NUL],
                             metadata={"description": "Only listings sent to this platform (its slug)"})
    marketplace = fields.String(validate=[validate.Length(max=64), NO_NUL],
                                metadata={"description": "Only listings on this marketplace (its slug)"})
    due_before = DateOrDateTime(metadata={**DATE_OR_DATE_TIME, "description": (
        "Only listings with a running clock due before this moment: a date means its start in your "
        "organization's time zone, a date-time carries its offset")})
    updated_since = DateOrDateTime(metadata={**DATE_OR_DATE_TIME, "description": (
        "Only listings moved or (re)assigned at or after this moment (a date: its start in your zone)")})
    assigned = fields.String(validate=validate.Regexp(r"^(?:me|none|any|[0-9]{1,19})$", error=(
        "Give me, none, any or the id of a user.")), metadata={
        "pattern": r"^(?:me|none|any|[0-9]{1,19})$",
        "description": "Platforms: me (the token's user), none (unclaimed), any (claimed) or a user's id"})


class MoveSchema(Schema):
    item = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID),
                          metadata={"description": "Id of the listing (notice item)"})
    to = fields.String(required=True, validate=validate.OneOf(STATES), metadata={
        "description": "The state to move it to, as in POST /notices/{id}/items/{item}/transitions"})
    reason = fields.String(load_default="", validate=[validate.Length(max=rules.MAX_REASON), NO_NUL],
                           metadata={"description": "The statement of reasons (required to remove, reject, "
                                                    "request information and decide on a counter-notice)"})
    redress = fields.String(load_default="", validate=[validate.Length(max=rules.MAX_REASON), NO_NUL],
                            metadata={"description": "How to seek redress; a standard text when not given"})
    ground = fields.Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={
        "description": "Instead of `reason`: the id of one of your ground templates for this kind of move "
                       "(GET /notice-items/grounds); its text becomes the statement of reasons, its redress "
                       "text the redress unless `redress` is given"})


class MovesSchema(Schema):
    moves = fields.List(fields.Nested(MoveSchema), required=True, validate=validate.Length(
        min=1, max=MAX_MOVES, error=f"Send 1 to {MAX_MOVES} moves in one call."), metadata={
        "description": f"1 to {MAX_MOVES} moves, applied in this order; the same listing may appear twice "
                       "(acknowledge, then remove)"})


class FieldMessage(Schema):
    field = fields.String(required=True)
    message = fields.String(required=True)


class MoveResultSchema(Schema):
    item = fields.Integer(required=True)
    status = fields.Integer(required=True, metadata={
        "enum": [200, 404, 409, 422], "description": "200 moved; 404 no such listing of yours; 409 the move is "
                                                     "not open from its state; 422 a ground is missing"})
    message = fields.String(required=True, allow_none=True, metadata={"description": "Why it was refused"})
    errors = fields.List(fields.Nested(FieldMessage), required=True)
    listing = fields.Nested(ListingSchema, required=True, allow_none=True, metadata={
        "description": "The listing as it stands after the call (null when this move was refused)"})


class MovesResultSchema(Schema):
    results = fields.List(fields.Nested(MoveResultSchema), required=True, metadata={"description": "In the "
                                                                                                   "order sent"})
    moved = fields.Integer(required=True)
    refused = fields.Integer(required=True)


class AssignmentSchema(Schema):
    items = fields.List(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)), required=True,
                        validate=validate.Length(min=1, max=MAX_MOVES), metadata={
                            "description": f"Ids of 1 to {MAX_MOVES} listings of your queue"})
    assignee = fields.Raw(required=True, allow_none=True, metadata={
        "oneOf": [{"type": "integer", "minimum": 1, "maximum": MAX_ID}, {"type": "string", "enum": ["me"]}],
        "nullable": True, "description": "A user id of your analysts or admins, \"me\" (the token's user), or "
                                         "null to release the listings"})


class AssignedSchema(Schema):
    assigned = fields.Integer(required=True, metadata={"description": "Listings claimed or released"})
    assignee = fields.Nested(PartyRef, required=True, allow_none=True)


# --- building bodies ---------------------------------------------------------------------------------

def encode_cursor(listing):
    due = "x" if listing.due_at is None else str((listing.due_at - EPOCH) // timedelta(microseconds=1))
    return f"{due}-{listing.id}"


def decode_cursor(cursor):
    due, last_id = cursor.split("-")
    if due != "x":
        due = EPOCH + timedelta(microseconds=min(int(due), LAST_MICROSECOND))
    return (None if due == "x" else due), min(int(last_id), MAX_ID)


def listing_bodies(listings, org, at):
    """The listings as ListingSchema: each item's body with its notice's parties, read in three queries."""
    if not listings:
        return []
    orgs = {o.id: o.slug for o in Organization.select(Organization.id, Organization.slug).where(
        Organization.id.in_({i.brand_id for i in listings} | {i.platform_id for i in listings}))}
    markets = {m.id: m.slug for m in Marketplace.select(Marketplace.id, Marketplace.slug).where(
        Marketplace.id.in_({i.marketplace_id for i in listings}))}
    assignees = {}
    if org.is_platform:  # who works a listing is the platform's own business
        assignees = {u.id: {"id": u.id, "name": u.name or u.email} for u in User.select(
            User.id, User.name, User.email).where(User.id.in_({i.assignee_id for i in listings if i.assignee_id}))}
    bodies = item_bodies(None, listings, org, at)
    for listing, body in zip(listings, bodies):
        body.update(reference=notice_reference(listing.notice_id), brand=orgs[listing.brand_id],
                    platform=orgs[listing.platform_id], marketplace=markets[listing.marketplace_id],
                    assignee=assignees.get(listing.assignee_id), assigned_at=listing.assigned_at
                    if org.is_platform else None)
    return bodies


def partner_by_slug(slug, partners):
    slug = slug.strip().lower()
    return next((p for p in partners if p.slug == slug), 0)  # 0: no such partner, so nothing matches


def acting_user_or_refuse(field):
    user = current_token().acting_user
    if user is None:
        abort(problem_response(422, "Unprocessable Entity", "This token acts for no user (client credentials): "
                                                            "name the user by id.",
                               {field: ["\"me\" needs a token issued to a user."]}))
    return user


# --- views -------------------------------------------------------------------------------------------

@blp.route("", methods=["GET"])
@blp.requires("notices:read")
@blp.arguments(ListingArgs, location="query")
@blp.response(200, ListingPage)
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="A filter or the cursor is not valid")
def list_listings(args):
    """Listings you may read across notices, nearest deadline first (a platform's work list)"""
    org = current_org._get_current_object()
    states = [args["state"]] if args.get("state") else []
    if "open" in args:
        chosen = [s for s in (states or STATES) if (s in OPEN_STATES) == args["open"]]
        states = chosen or ["-"]  # a state that is not open and open at once: nothing
    brand = platform = marketplace = None
    if args.get("brand"):
        brand = partner_by_slug(args["brand"], services.partner_orgs(org))
    if args.get("platform"):
        platform = partner_by_slug(args["platform"], services.partner_orgs(org))
    if args.get("marketplace"):
        marketplace = partner_by_slug(args["marketplace"], services.partner_marketplaces(org))
    assigned = args.get("assigned")
    if assigned == "me":
        assigned = acting_user_or_refuse("assigned").id
    elif assigned not in (None, "none", "any"):
        assigned = min(int(assigned), MAX_ID)
    if assigned is not None and not org.is_platform:
        abort(problem_response(422, "Unprocessable Entity", "Only a platform assigns its listings.",
                               {"assigned": ["Brands see no assignment; leave this filter out."]}))
    query = services.search_items(org, states, brand=brand, platform=platform, marketplace=marketplace,
                                  due_before=utc_bound(args.get("due_before"), org.timezone, end=False),
                                  updated_since=utc_bound(args.get("updated_since"), org.timezone, end=False),
                                  assigned=assigned)
    after = decode_cursor(args["cursor"]) if args.get("cursor") else None
    rows = list(services.by_deadline(query, after).limit(args["limit"] + 1))
    more = len(rows) > args["limit"]
    rows = rows[:args["limit"]]
    return {"items": listing_bodies(rows, org, now()),
            "next_cursor": encode_cursor(rows[-1]) if more else None}


def one_move(org, move, user):
    """One move as (result, moved listing or None): applied on its own, or refused with the reason the page
    would show."""
    result = {"item": move["item"], "status": 200, "message": None, "errors": [], "listing": None}
    try:
        item = services.visible_item(org, move["item"])
        reason, redress = move["reason"], move["redress"]
        if move.get("ground") is not None:
            if reason.strip():
                raise ValidationError({"ground": "Give either a ground template or a reason, not both."})
            reason, template_redress = grounds.ground_for(org, move["ground"], move["to"],
                                                          services.partnership_id_of(item))
            redress = redress or template_redress
        item = services.transition(item, org, move["to"], reason, redress, user=user)
    except (NoticeItem.DoesNotExist, NotFound):
        return dict(result, status=404, message="No such listing of yours."), None
    except (Conflict, ValidationError) as refused:
        return dict(result, status=refused.status, message=refused.message,
                    errors=field_error_list(refused.errors)), None
    return result, item


def moves_body(org, moves, user):
    """Every move applied in order, then the moved listings' bodies read together (their history and clocks
    in a few queries for the whole call, not per move)."""
    outcomes = [one_move(org, move, user) for move in moves]
    moved = {}
    for _, item in outcomes:
        if item is not None:
            moved[item.id] = item
    fresh = {item.id: item for item in NoticeItem.select().where(NoticeItem.id.in_(list(moved)))} if moved else {}
    bodies = dict(zip(fresh, listing_bodies(list(fresh.values()), org, now())))
    results = [dict(result, listing=bodies[item.id]) if item is not None else result for result, item in outcomes]
    return {"results": results, "moved": sum(r["status"] == 200 for r in results),
            "refused": sum(r["status"] != 200 for r in results)}


@blp.route("/transitions", methods=["POST"])
@blp.requires("notices:write")
@blp.arguments(MovesSchema)
@blp.doc(parameters=[HEADER_PARAMETER])
@blp.response(200, MovesResultSchema, description="One result per move, in the order sent (a refused move "
                                                   "does not stop the others)")
@blp.alt_response(409, response="CONFLICT", description="The Idempotency-Key's first call is still running "
                                                        "(code idempotency_key_in_progress)")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="Not 1 to 300 moves, a malformed move, or "
                                                                    "an Idempotency-Key used for another request")
def move_listings(data):
    """Move up to 300 listings in one call, each as one move by hand (the statement of reasons included)"""
    org = current_org._get_current_object()
    user = current_token().acting_user

    def perform():
        return 200, MovesResultSchema().dump(moves_body(org, data["moves"], user))

    return answered_once(org, "notice_items.transitions", data, perform)


class GroundSchema(Schema):
    id = fields.Integer(required=True)
    move = fields.String(required=True, metadata={"enum": list(grounds.MOVES)})
    title = fields.String(required=True)
    text = fields.String(required=True, metadata={"description": "The statement of reasons (or the question)"})
    redress = fields.String(required=True, metadata={"description": "How to seek redress; empty: the standard text"})
    partnership = fields.Integer(required=True, allow_none=True,
                                 metadata={"description": "The partnership it is for; null: every partnership"})


class GroundsSchema(Schema):
    items = fields.List(fields.Nested(GroundSchema), required=True)


class GroundArgs(Schema):
    move = fields.String(validate=validate.OneOf(list(grounds.MOVES)),
                         metadata={"description": "Only the templates for this kind of move"})


@blp.route("/grounds", methods=["GET"])
@blp.requires("notices:read")
@blp.arguments(GroundArgs, location="query")
@blp.response(200, GroundsSchema)
def list_grounds(args):
    """Your ground templates (platforms), for `ground` in a move; a brand has none"""
    org = current_org._get_current_object()
    found = grounds.templates_of(org, args.get("move")) if org.is_platform else []
    return {"items": [template.as_dict() for template in found]}


@blp.route("/assignments", methods=["POST"])
@blp.requires("notices:write")
@blp.arguments(AssignmentSchema)
@blp.response(200, AssignedSchema)
@blp.alt_response(403, response="FORBIDDEN", description="Only platforms assign their listings")
@blp.alt_response(404, response="NOT_FOUND", description="A listing is not in your queue: nothing was assigned")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="The assignee is not an active analyst or "
                                                                    "admin of your organization")
def assign_listings(data):
    """Claim listings for one of your analysts ("me", a user id) or release them (null), all or none"""
    org = current_org._get_current_object()
    if not org.is_platform:
        abort(problem_response(403, "Forbidden", "Only a platform assigns its listings to its analysts."))
    wanted = data["assignee"]
    if wanted is not None and not (wanted == "me" or (isinstance(wanted, int) and not isinstance(wanted, bool)
                                                      and 1 <= wanted <= MAX_ID)):
        abort(problem_response(422, "Unprocessable Entity", "Name the assignee by user id, \"me\" or null.",
                               {"assignee": ["Give a user id, \"me\" or null."]}))
    if wanted == "me":
        wanted = acting_user_or_refuse("assignee").id
    assignee = services.assignable_user(org, wanted) if wanted is not None else None
    count = services.assign(org, data["items"], assignee, by=current_token().acting_user)
    return {"assigned": count, "assignee": {"id": assignee.id, "name": assignee.name or assignee.email}
            if assignee else None}
