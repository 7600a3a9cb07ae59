"""Flagged-seller intelligence over the API (`intel:read` / `intel:write`): flags, sightings, sellers.

Brands and platforms alike flag sellers, read what the alliance shares with them and add sightings. Every
flag, sighting and seller is read through `portal.intel.sharing` (`visible_flags`, `get_visible_flag`,
`visible_sightings`, `shared_with`) by way of the intel services: a flag the caller may not see is a 404 on
every endpoint, exactly like a missing one, and is absent from lists. The rules (validation, contradicting
labels, one active flag per seller, who may change what) live in `portal.intel.services` and
`portal.intel.rules`; this module only translates between HTTP and them.

Decided here:
- Bodies name organizations and marketplaces by slug. A flag's `seller.profile` is the path of the seller
  endpoint. `tlp` is the key (`amber+strict`), `tlp_label` what people read (`TLP:AMBER+STRICT`). Inputs
  take the exact keys the document lists (category, confidence, tlp, distribution, sighting kind); in a
  query string `+` must be sent as `%2B` (`tlp=amber%2Bstrict`).
- `shared_with` is what `sharing.shared_with` tells the caller: for the owner, or when the owner shows the
  group (`show_group`), every org of the group; for a member of a hidden group, only itself. It is null
  for a flag that is not group-shared. `show_group` is the owner's setting, shown to every reader.
- The list answers a lighter body than one flag (no `shared_with`, `sightings`, `evidence`, `notices`):
  the page is read in a fixed number of queries whatever its size. Read one flag for the rest.
- List filters: `status` is `active` unless asked (`withdrawn`, `all`); an unknown `status`, `owner`,
  `category` or `tlp` is a 422 listing the choices, and so is a `marketplace` slug that names no
  marketplace of the alliance (marketplaces are no secret: `POST /flags` names them the same way; the
  schema test lets this one read answer 422 to a well-formed slug). `seller_id` and `q` are searches: an
  unknown seller is an empty page, never an error (a 422 would tell whether someone, somewhere, flagged
  that seller).
- Identifiers are given and returned as a list of `{kind, value}`; values are stored normalised (lower
  case e-mails and domains, a domain given as a URL keeps its host), so they may read back changed.
- `POST /flags` answers 201 with the flag and its Location; 409 when your organization already has an
  active flag on that seller (update it instead); 422 with field errors for contradicting label and
  distribution (TLP:RED to the whole alliance, TLP:CLEAR kept to yourself, ...), an unknown marketplace or
  organization, a notice that is not yours.
- `PATCH` changes only the fields given (`share_with`, `identifiers` and `notices` replace the whole list).
  Only the owner changes its flag: another org that can see it gets a 403 problem (and adds a sighting
  instead), one that cannot gets a 404. A withdrawn flag no longer changes (409).
- `DELETE` withdraws the flag (with an optional `reason` query parameter) and answers 200 with the
  withdrawn flag: it is not erased. A withdrawn flag stays visible to its audience, marked `withdrawn` with
  the reason and time, so those who acted on it learn that its owner took it back. Withdrawing twice is 409.
- Sightings are for flags of other orgs: 409 on your own flag or a withdrawn one. They are answered (on
  flags and profiles) only as `visible_sightings` allows: members of a hidden group do not see each
  other's.
- Evidence (multipart `file`, PDF, PNG or JPEG by content, size capped, 10 per flag) is added by the owner
  only (403 for another reader, 409 once withdrawn); every reader sees its name, size and SHA-256.
- `GET /sellers/{marketplace}/{seller_id}` answers what the caller may know of a seller: its visible flags
  (the list body), sightings, the caller's own notice items against the seller's listings (the latest
  200), strikes (null unless the caller runs that marketplace or partners with its platform; a strike's
  `notice` is null when the caller cannot read that notice) and sellers linked through an identifier of
  visible active flags. 404 when there is nothing, so a seller known only from hidden flags reads like an
  unknown one. The seller id is the rest of the path as it comes, `/`, `.`, `-` and all (a converter of
  our own: werkzeug's `path` refuses a leading `/`, and merged slashes would change the id); only ids an
  HTTP client would rewrite (dot segments such as `.` or `a/../b`) may need `GET /flags?seller_id=`.
"""
from flask import abort, url_for
from marshmallow import Schema, ValidationError as SchemaError, fields, validate, validates_schema
from werkzeug.datastructures import FileStorage

from flask_smorest.fields import Upload
from portal.api.auth import ApiBlueprint, current_token
from portal.api.pagination import PageArgs, paginate
from portal.api.schemas import NO_NUL, UtcDateTime, page_schema
from portal.errors import NotFound, ValidationError, problem_response
from portal.intel import rules, services, sharing
from portal.intel.models import (CATEGORIES, CONFIDENCES, DISTRIBUTIONS, IDENTIFIER_KINDS, SIGHTING_KINDS,
                                 TLP_LABELS, Flag)
from portal.notices.models import STATES, notice_reference
from portal.notices.rules import MAX_SELLER_ID
from portal.tenancy import MAX_ID, current_org
from portal.text import CONTROL_CHARACTERS, MAX_URL

blp = ApiBlueprint("Intelligence", __name__, url_prefix="/intel",
                   description="Flagged sellers shared across the alliance under TLP labels, sightings, seller "
                               "profiles")


EVIDENCE_TYPES = ("application/pdf", "image/png", "image/jpeg")
LIST_STATUSES = {"active": "active", "withdrawn": "withdrawn", "all": ""}
OWNERS = ("mine", "others")
MAX_SLUG = 64


def _choices(choices):
    return "; ".join(f"{key}: {label}" for key, label in choices.items())


# --- output schemas ----------------------------------------------------------------------------------

class OwnerSchema(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)


class SellerRefSchema(Schema):
    marketplace = fields.String(required=True, metadata={"description": "Slug of the marketplace"})
    seller_id = fields.String(required=True, metadata={"description": "The seller's id on the marketplace"})
    profile = fields.String(required=True, metadata={"description": "Path of the seller's profile in this API"})


class IdentifierSchema(Schema):
    kind = fields.String(required=True, metadata={"enum": list(IDENTIFIER_KINDS)})
    value = fields.String(required=True, metadata={"description": "As stored (normalised)"})


class FlagEvidenceSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "The file's name as uploaded (display only)"})
    size = fields.Integer(required=True, metadata={"description": "Bytes"})
    sha256 = fields.String(required=True, metadata={"description": "SHA-256 of the file's bytes, hex"})
    content_type = fields.String(required=True, metadata={"enum": list(EVIDENCE_TYPES),
                                                          "description": "Told by the file's content"})
    uploaded_at = UtcDateTime(required=True)


class NoticeRefSchema(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True, metadata={"example": "N-000042"})


class SightingSchema(Schema):
    id = fields.Integer(required=True)
    flag = fields.Integer(required=True, metadata={"description": "Id of the flag it is about"})
    org = fields.String(required=True, metadata={"description": "Slug of the organization that reported it"})
    kind = fields.String(required=True, metadata={"enum": list(SIGHTING_KINDS)})
    note = fields.String(required=True)
    listing_url = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class FlagSummarySchema(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True, metadata={"example": "F-000012"})
    owner = fields.Nested(OwnerSchema, required=True, metadata={"description": "The flagging organization"})
    mine = fields.Boolean(required=True, metadata={"description": "Your organization raised it"})
    seller = fields.Nested(SellerRefSchema, required=True)
    category = fields.String(required=True, metadata={"enum": list(CATEGORIES)})
    confidence = fields.String(required=True, metadata={"enum": list(CONFIDENCES)})
    tlp = fields.String(required=True, metadata={"enum": list(TLP_LABELS)})
    tlp_label = fields.String(required=True, metadata={"enum": list(TLP_LABELS.values())})
    distribution = fields.String(required=True, metadata={"enum": list(DISTRIBUTIONS),
                                                          "description": _choices(DISTRIBUTIONS)})
    show_group = fields.Boolean(required=True, metadata={
        "description": "The owner lets the group's members see one another (and each other's sightings)"})
    display_name = fields.String(required=True)
    shop_url = fields.String(required=True)
    notes = fields.String(required=True)
    identifiers = fields.List(fields.Nested(IdentifierSchema), required=True)
    status = fields.String(required=True, metadata={"enum": ["active", "withdrawn"]})
    withdrawn_reason = fields.String(required=True)
    withdrawn_at = UtcDateTime(required=True, allow_none=True)
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)


class FlagSchema(FlagSummarySchema):
    shared_with = fields.List(fields.String(), required=True, allow_none=True, metadata={
        "description": "Slugs of the organizations a group flag is shared with, as far as you may know them "
                       "(a member of a hidden group sees only itself); null unless the distribution is group"})
    evidence = fields.List(fields.Nested(FlagEvidenceSchema), required=True)
    notices = fields.List(fields.Nested(NoticeRefSchema), required=True,
                          metadata={"description": "The owner's notices backing the flag that you may read"})
    sightings = fields.List(fields.Nested(SightingSchema), required=True,
                            metadata={"description": "The sightings you may read, newest first"})


class NoticeItemRefSchema(Schema):
    notice = fields.String(required=True, metadata={"description": "Reference of the notice", "example": "N-000042"})
    notice_id = fields.Integer(required=True)
    item_id = fields.Integer(required=True)
    url = fields.String(required=True)
    state = fields.String(required=True, metadata={"enum": list(STATES)})


class StrikeSchema(Schema):
    at = UtcDateTime(required=True, metadata={"description": "The notice's first removal of the seller's listings"})
    listings = fields.Integer(required=True, metadata={"description": "Standing removals under that notice"})
    voided_at = UtcDateTime(required=True, allow_none=True,
                            metadata={"description": "When its removals were all reinstated"})
    notice = fields.String(required=True, allow_none=True,
                           metadata={"description": "Reference of the notice; null when you cannot read it"})


class StrikesSchema(Schema):
    count_365_days = fields.Integer(required=True, metadata={"description": "Standing strikes in the last 365 days"})
    repeat_infringer_since = UtcDateTime(required=True, allow_none=True,
                                         metadata={"description": "When the fourth strike within 365 days landed"})
    strikes = fields.List(fields.Nested(StrikeSchema), required=True, metadata={"description": "Newest first"})


class LinkedSellerSchema(Schema):
    marketplace = fields.String(required=True)
    seller_id = fields.String(required=True)
    profile = fields.String(required=True)
    shared = fields.List(fields.Nested(IdentifierSchema), required=True,
                         metadata={"description": "The identifiers both sellers' flags name"})


class SellerProfileSchema(Schema):
    marketplace = fields.String(required=True)
    seller_id = fields.String(required=True)
    names = fields.List(fields.String(), required=True, metadata={"description": "Display names given by the "
                                                                                 "flags you may see"})
    flags = fields.List(fields.Nested(FlagSummarySchema), required=True)
    sightings = fields.List(fields.Nested(SightingSchema), required=True)
    notice_items = fields.List(fields.Nested(NoticeItemRefSchema), required=True, metadata={
        "description": "Listings of the seller in notices you may read (the latest 200)"})
    strikes = fields.Nested(StrikesSchema, required=True, allow_none=True, metadata={
        "description": "null unless you run this marketplace or partner with its platform"})
    linked = fields.List(fields.Nested(LinkedSellerSchema), required=True, metadata={
        "description": "Other sellers sharing an identifier with this one, through active flags you may see"})


FlagPage = page_schema(FlagSummarySchema, "FlagPage")


# --- input schemas -----------------------------------------------------------------------------------

class IdentifierInputSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(IDENTIFIER_KINDS)),
                         metadata={"description": _choices(IDENTIFIER_KINDS)})
    value = fields.String(required=True, validate=[validate.Length(min=1, max=rules.MAX_IDENTIFIER), NO_NUL],
                          metadata={"example": "sales@fake-shop.example"})


class FlagFieldsSchema(Schema):
    """What a flag says and whom it is shared with; `portal.intel.rules` checks the content."""

    category = fields.String(validate=validate.OneOf(list(CATEGORIES)), metadata={"description": _choices(CATEGORIES)})
    confidence = fields.String(validate=validate.OneOf(list(CONFIDENCES)),
                               metadata={"description": "medium when not given on creation"})
    tlp = fields.String(validate=validate.OneOf(list(TLP_LABELS)), metadata={
        "description": "The TLP 2.0 label, shown with the flag. Must agree with the distribution: clear is not "
                       "kept to your own organization; red and amber+strict do not go to the whole alliance"})
    distribution = fields.String(validate=validate.OneOf(list(DISTRIBUTIONS)),
                                 metadata={"description": _choices(DISTRIBUTIONS)})
    share_with = fields.List(fields.String(validate=[validate.Length(min=1, max=MAX_SLUG), NO_NUL]),
                             validate=validate.Length(max=rules.MAX_SHARES), metadata={
                                 "description": "Slugs of the organizations of the sharing group (distribution "
                                                "group only); replaces the group"})
    show_group = fields.Boolean(metadata={"description": "Let the group's members see one another"})
    display_name = fields.String(validate=[validate.Length(max=rules.MAX_NAME), NO_NUL],
                                 metadata={"description": "The shop's name as shown on the marketplace"})
    shop_url = fields.String(validate=[validate.Length(max=MAX_URL), NO_NUL])
    notes = fields.String(validate=[validate.Length(max=rules.MAX_NOTES), NO_NUL])
    identifiers = fields.List(fields.Nested(IdentifierInputSchema), validate=validate.Length(max=rules.MAX_IDENTIFIERS),
                              metadata={"description": "What else the seller is known by; replaces the list"})
    notices = fields.List(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)),
                          validate=validate.Length(max=services.MAX_LINKED_NOTICES),
                          metadata={"description": "Ids of your organization's notices backing the flag; "
                                                   "replaces the list"})


class FlagInputSchema(FlagFieldsSchema):
    marketplace = fields.String(required=True, validate=[validate.Length(min=1, max=MAX_SLUG), NO_NUL],
                                metadata={"description": "Slug of the marketplace", "example": "taobao"})
    seller_id = fields.String(required=True, validate=[validate.Length(min=1, max=MAX_SELLER_ID), NO_NUL],
                              metadata={"description": "The seller's id on the marketplace", "example": "shop-7"})
    category = fields.String(required=True, validate=validate.OneOf(list(CATEGORIES)),
                             metadata={"description": _choices(CATEGORIES)})
    tlp = fields.String(required=True, validate=validate.OneOf(list(TLP_LABELS)),
                        metadata={"description": FlagFieldsSchema._declared_fields["tlp"].metadata["description"]})
    distribution = fields.String(required=True, validate=validate.OneOf(list(DISTRIBUTIONS)),
                                 metadata={"description": _choices(DISTRIBUTIONS)})


class FlagPatchSchema(FlagFieldsSchema):
    """Only the fields given change."""

    @validates_schema
    def something_to_change(self, data, **kwargs):
        if not data:
            raise SchemaError("Give at least one field to change.", "_schema")


class FlagListArgs(PageArgs):
    q = fields.String(validate=[validate.Length(max=200), NO_NUL],
                      metadata={"description": "Part of a seller id, display name or identifier"})
    marketplace = fields.String(validate=[validate.Length(min=1, max=MAX_SLUG), NO_NUL],
                                metadata={"description": "Slug of a marketplace of the alliance (422 if none "
                                                         "has it)"})
    seller_id = fields.String(validate=[validate.Length(min=1, max=MAX_SELLER_ID), NO_NUL],
                              metadata={"description": "Exactly this seller id (on any marketplace unless "
                                                       "`marketplace` is given)"})
    category = fields.String(validate=validate.OneOf(list(CATEGORIES)))
    tlp = fields.String(validate=validate.OneOf(list(TLP_LABELS)),
                        metadata={"description": "Send + as %2B: amber%2Bstrict"})
    status = fields.String(load_default="active", validate=validate.OneOf(list(LIST_STATUSES)),
                           metadata={"description": "active (the default), withdrawn, or all"})
    owner = fields.String(validate=validate.OneOf(OWNERS),
                          metadata={"description": "mine: flags your organization raised; others: flags shared "
                                                   "with it"})


class WithdrawArgs(Schema):
    reason = fields.String(load_default="", validate=[validate.Length(max=rules.MAX_NOTES), NO_NUL],
                           metadata={"description": "Why the flag is withdrawn; its audience reads it"})


class SightingInputSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(SIGHTING_KINDS)),
                         metadata={"description": _choices(SIGHTING_KINDS)})
    note = fields.String(load_default="", validate=[validate.Length(max=rules.MAX_NOTES), NO_NUL])
    listing_url = fields.String(load_default="", validate=[validate.Length(max=MAX_URL), NO_NUL],
                                metadata={"description": "Where you saw the seller (http or https)"})


class FlagEvidenceUploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "A PDF, PNG or JPEG file (told by its content)"})


# --- building bodies ---------------------------------------------------------------------------------

def viewer():
    return current_org._get_current_object()


def acting_user():
    return current_token().acting_user


def profile_path(marketplace_slug, seller_id):
    return url_for("Intelligence.seller_profile", marketplace=marketplace_slug, seller_id=seller_id)


def seller_body(marketplace_slug, seller_id):
    return {"marketplace": marketplace_slug, "seller_id": seller_id,
            "profile": profile_path(marketplace_slug, seller_id)}


def summary_body(flag, org, identifiers):
    """A flag loaded by `services.with_sellers`, with its identifiers [(kind, value)]."""
    return {"id": flag.id, "reference": flag.reference, "owner": {"slug": flag.org.slug, "name": flag.org.name},
            "mine": flag.org_id == org.id,
            "seller": seller_body(flag.seller.marketplace.slug, flag.seller.external_id),
            "category": flag.category, "confidence": flag.confidence, "tlp": flag.tlp, "tlp_label": flag.tlp_label,
            "distribution": flag.distribution, "show_group": flag.show_group, "display_name": flag.display_name,
            "shop_url": flag.shop_url, "notes": flag.notes,
            "identifiers": [{"kind": kind, "value": value} for kind, value in identifiers],
            "status": flag.status, "withdrawn_reason": flag.withdrawn_reason, "withdrawn_at": flag.withdrawn_at,
            "created_at": flag.created_at, "updated_at": flag.updated_at}


def summary_bodies(flags, org):
    flags = services.with_sellers(flags)
    identifiers = services.identifiers_of(flags)
    return [summary_body(flag, org, identifiers[flag.id]) for flag in flags]


def sighting_body(sighting, org_slug):
    return {"id": sighting.id, "flag": sighting.flag_id, "org": org_slug, "kind": sighting.kind,
            "note": sighting.note, "listing_url": sighting.listing_url, "created_at": sighting.created_at}


def flag_body(flag, org):
    """One flag as `org` may see it (`services.flag_view`)."""
    view = services.flag_view(flag, org)
    body = summary_body(view.flag, org, view.identifiers)
    body.update({
        "shared_with": [o.slug for o in view.shared_with] if view.flag.distribution == "group" else None,
        "evidence": view.evidence,
        "notices": [{"id": n.id, "reference": n.reference} for n in view.notices],
        "sightings": [sighting_body(s, s.org.slug) for s in view.sightings],
    })
    return body


def strikes_body(profile, org):
    if profile.strikes is None:
        return None
    readable = services.readable_notice_ids(org, [strike.notice_id for strike in profile.strikes])
    return {"count_365_days": profile.recent_strikes, "repeat_infringer_since": profile.repeat_infringer_at,
            "strikes": [{"at": s.at, "listings": s.listings, "voided_at": s.voided_at,
                         "notice": notice_reference(s.notice_id) if s.notice_id in readable else None}
                        for s in profile.strikes]}


def profile_body(profile, org):
    return {
        "marketplace": profile.marketplace.slug, "seller_id": profile.external_id, "names": profile.names,
        "flags": [summary_body(flag, org, profile.identifiers.get(flag.id, [])) for flag in profile.flags],
        "sightings": [sighting_body(s, s.org.slug) for s in profile.sightings],
        "notice_items": [{"notice": notice_reference(item.notice_id), "notice_id": item.notice_id,
                          "item_id": item.id, "url": item.url, "state": item.state} for item in profile.items],
        "strikes": strikes_body(profile, org),
        "linked": [dict(seller_body(link.seller.marketplace.slug, link.seller.external_id),
                        shared=[{"kind": kind, "value": value} for kind, value in link.shared])
                   for link in profile.linked],
    }


def visible_flag(flag_id):
    return sharing.get_visible_flag(flag_id, viewer())


# --- flags -------------------------------------------------------------------------------------------

@blp.route("/flags", methods=["GET"])
@blp.requires("intel:read")
@blp.arguments(FlagListArgs, location="query")
@blp.response(200, FlagPage)
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="An unknown filter value (the message "
                                                                    "lists the choices) or marketplace")
def list_flags(args):
    """Flags you may see (your own and those shared with you), filtered, in id order"""
    org = viewer()
    marketplace = None
    if args.get("marketplace"):
        marketplace = services.find_marketplace(args["marketplace"])
    query = services.search_flags(org, q=args.get("q", ""), marketplace=marketplace,
                                  category=args.get("category", ""), tlp=args.get("tlp", ""),
                                  status=LIST_STATUSES[args["status"]], owner=args.get("owner", ""),
                                  seller_id=args.get("seller_id", ""))
    page = paginate(query, Flag, args)
    page["items"] = summary_bodies(page["items"], org)
    return page


@blp.route("/flags", methods=["POST"])
@blp.requires("intel:write")
@blp.arguments(FlagInputSchema)
@blp.response(201, FlagSchema, description="Flagged: the flag, as its readers see it (Location: its URL)")
@blp.alt_response(409, response="CONFLICT", description="Your organization already has an active flag on "
                                                        "this seller: update it")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="Field errors: a label contradicting the "
                                                                    "distribution, an unknown marketplace or "
                                                                    "organization, a notice not yours")
def create_flag(data):
    """Flag a seller, with a TLP label and a distribution (own organization, a named group, the alliance)"""
    org = viewer()
    flag = services.create_flag(org, data, user=acting_user())
    return flag_body(flag, org), 201, {"Location": url_for("Intelligence.get_flag", flag_id=flag.id)}


@blp.route("/flags/<int:flag_id>", methods=["GET"])
@blp.requires("intel:read")
@blp.response(200, FlagSchema)
@blp.alt_response(404, response="NOT_FOUND", description="No flag you may see has this id")
def get_flag(flag_id):
    """One flag: its group as far as you may know it, evidence, backing notices you may read, sightings"""
    return flag_body(visible_flag(flag_id), viewer())


@blp.route("/flags/<int:flag_id>", methods=["PATCH"])
@blp.requires("intel:write")
@blp.arguments(FlagPatchSchema)
@blp.response(200, FlagSchema)
@blp.alt_response(404, response="NOT_FOUND", description="No flag you may see has this id")
@blp.alt_response(409, response="CONFLICT", description="The flag was withdrawn")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def update_flag(data, flag_id):
    """Change some fields of one of your flags (narrowing its distribution takes it from those left out)

    Only the fields given change; `share_with`, `identifiers` and `notices` replace their lists. Only the
    flag's owner changes it: another organization that can see the flag is answered 403 (it adds a
    sighting instead). A withdrawn flag no longer changes (409).
    """
    org = viewer()
    flag = services.update_flag(visible_flag(flag_id), org, data, user=acting_user())
    return flag_body(flag, org)


@blp.route("/flags/<int:flag_id>", methods=["DELETE"])
@blp.requires("intel:write")
@blp.arguments(WithdrawArgs, location="query")
@blp.response(200, FlagSchema, description="The withdrawn flag: it stays visible to its audience, marked "
                                           "withdrawn with the reason")
@blp.alt_response(404, response="NOT_FOUND", description="No flag you may see has this id")
@blp.alt_response(409, response="CONFLICT", description="Withdrawn already")
def withdraw_flag(args, flag_id):
    """Withdraw one of your flags (optional `reason`); it is kept, marked withdrawn, for its audience

    The flag is not erased: everyone who could read it still does, with `status: withdrawn`, the reason and
    the time. Another organization that can see the flag is answered 403; withdrawing twice is 409.
    """
    org = viewer()
    flag = services.withdraw_flag(visible_flag(flag_id), org, args["reason"], user=acting_user())
    return flag_body(flag, org)


@blp.route("/flags/<int:flag_id>/sightings", methods=["POST"])
@blp.requires("intel:write")
@blp.arguments(SightingInputSchema)
@blp.response(201, SightingSchema)
@blp.alt_response(404, response="NOT_FOUND", description="No flag you may see has this id")
@blp.alt_response(409, response="CONFLICT", description="The flag is your own, or was withdrawn")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def add_sighting(data, flag_id):
    """Add your sighting to another organization's flag: seen again, a false positive, or expired"""
    org = viewer()
    sighting = services.add_sighting(visible_flag(flag_id), org, data, user=acting_user())
    return sighting_body(sighting, org.slug)


@blp.route("/flags/<int:flag_id>/evidence", methods=["POST"])
@blp.requires("intel:write")
@blp.arguments(FlagEvidenceUploadSchema, location="multipart")
@blp.response(201, FlagEvidenceSchema)
@blp.alt_response(404, response="NOT_FOUND", description="No flag you may see has this id")
@blp.alt_response(409, response="CONFLICT", description="The flag was withdrawn")
@blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="Not a PDF, PNG or JPEG, too large, or too "
                                                                    "many files")
def add_evidence(data, flag_id):
    """Add an evidence file to one of your flags (multipart `file`: PDF, PNG or JPEG, size capped)

    Only the flag's owner adds evidence (403 for another organization that can see the flag, 409 once it
    is withdrawn); every reader of the flag sees its name, size and SHA-256.
    """
    org = viewer()
    flag = visible_flag(flag_id)
    upload = data["file"]
    if not isinstance(upload, FileStorage):
        abort(problem_response(422, "Unprocessable Entity", "Send the evidence as a file part named file.",
                               {"file": ["Send the evidence as a file part (multipart/form-data)."]}))
    if not upload.filename:
        upload.filename = "evidence"
    try:
        return services.attach_flag_evidence(flag, org, [upload], user=acting_user())[0]
    except ValidationError as refused:  # the service names the form's field; here the part is `file`
        raise ValidationError({"file" if name == "evidence" else name: messages
                               for name, messages in refused.errors.items()}) from None


# --- sellers -----------------------------------------------------------------------------------------

@blp.route("/sellers/<marketplace>/<seller_id:seller_id>", methods=["GET"], merge_slashes=False, parameters=[
    {"in": "path", "name": "marketplace", "description": "Slug of the marketplace",
     "schema": {"type": "string", "minLength": 1, "maxLength": MAX_SLUG, "pattern": "^[A-Za-z0-9-]+$"}},
    {"in": "path", "name": "seller_id", "description": "The seller's id on the marketplace, as given (it may "
                                                       "contain /, which need not be encoded)",
     "schema": {"type": "string", "minLength": 1, "maxLength": MAX_SELLER_ID,
                "pattern": r"^[^\x00-\x08\x0b-\x1f\x7f]+$"}}])
@blp.requires("intel:read")
@blp.response(200, SellerProfileSchema)
@blp.alt_response(404, response="NOT_FOUND", description="Nothing of this seller is yours to see")
def seller_profile(marketplace, seller_id):
    """What you may know about a seller: flags, sightings, your notices' listings, strikes, linked sellers"""
    if (len(marketplace) > MAX_SLUG or len(seller_id) > MAX_SELLER_ID
            or CONTROL_CHARACTERS.search(marketplace + seller_id)):
        raise NotFound()  # no seller can have it: answered without a lookup
    org = viewer()
    return profile_body(services.seller_profile(org, marketplace, seller_id), org)
