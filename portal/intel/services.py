"""Business rules of flagged-seller intelligence: raising, changing and withdrawing flags, sightings, the
search and the seller profile. Pages, the API, the CSV import, the CLI and the demo call these; what a
viewer may see always comes from portal.intel.sharing.

Decided here (and in the README):
- an org has at most one active flag per seller: flagging again means updating it;
- only the flagging org changes or withdraws its flag; the others add sightings;
- the owner does not add sightings to its own flag, and nobody adds them to a withdrawn one;
- a flag links only notices its own org filed.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from peewee import fn

from portal import audit, uploads
from portal.accounts.models import Marketplace, Organization
from portal.db import PreparedSelect, db
from portal.errors import Conflict, Forbidden, NotFound, ValidationError
from portal.events import emit
from portal.intel import rules, sharing, strikes
from portal.intel.models import (Flag, FlagEvidence, FlagIdentifier, FlagNotice, FlagReceipt, FlagShare,
                                 Seller, Sighting, Strike)
from portal.notices.models import Notice, NoticeItem
from portal.notices.services import evidence_limit, visible_items, visible_notices
from portal.tenancy import lock_org, object_id
from portal.textcheck import text_problem
from portal.timeutil import utcnow

EVIDENCE_AREA = "flag-evidence"
MAX_EVIDENCE_FILES = 10
MAX_LINKED_NOTICES = 50
UPDATABLE = ("category", "confidence", "tlp", "distribution", "show_group", "display_name", "shop_url", "notes")


# --- reading -----------------------------------------------------------------------------------------

def get_flag_evidence(flag, evidence_id):
    found = FlagEvidence.get_or_none((FlagEvidence.id == object_id(evidence_id)) & (FlagEvidence.flag == flag))
    if found is None:
        raise NotFound()
    return found


def evidence_path(evidence):
    return uploads.folder(EVIDENCE_AREA) / evidence.path


def search_flags(org, q="", marketplace=None, category="", tlp="", status="active", owner="", seller_id=""):
    """Flags `org` may see, filtered. `owner`: "mine", "others" or "" (both); `status`: "active",
    "withdrawn" or "" (both); `q` finds a seller id, display name or identifier; `seller_id` is a
    seller's exact id on its marketplace."""
    query = sharing.visible_flags(org)
    if status:
        query = query.where(Flag.status == status)
    if owner == "mine":
        query = query.where(Flag.org == org)
    elif owner == "others":
        query = query.where(Flag.org != org)
    if category:
        query = query.where(Flag.category == category)
    if tlp:
        query = query.where(Flag.tlp == tlp)
    seller_id = rules.text(seller_id)
    if marketplace is not None or seller_id or q:
        query = query.join(Seller)
    if marketplace is not None:
        query = query.where(Seller.marketplace == marketplace)
    if seller_id:
        query = query.where(Seller.external_id == seller_id)
    q = rules.text(q)[:200]
    if q:
        by_identifier = FlagIdentifier.select(FlagIdentifier.flag).where(FlagIdentifier.value.contains(q.lower()))
        query = query.where(fn.LOWER(Seller.external_id).contains(q.lower())
                            | fn.LOWER(Flag.display_name).contains(q.lower()) | Flag.id.in_(by_identifier))
    return query


def counts_by(query, column):
    """{value: count} of a flag query grouped by one of its columns (for filters' figures)."""
    grouped = query.select(column, fn.COUNT(Flag.id)).group_by(column).order_by()
    return {value: count for value, count in grouped.tuples()}


def with_sellers(flags):
    """Flags with their seller, marketplace and owner, in three queries whatever their number (lists, exports)."""
    flags = list(flags)
    sellers = {s.id: s for s in Seller.select().where(Seller.id.in_({f.seller_id for f in flags}))} if flags else {}
    marketplaces = {m.id: m for m in Marketplace.select().where(
        Marketplace.id.in_({s.marketplace_id for s in sellers.values()}))} if sellers else {}
    orgs = {o.id: o for o in Organization.select().where(Organization.id.in_({f.org_id for f in flags}))} if flags else {}
    for flag in flags:
        seller = sellers[flag.seller_id]
        seller.marketplace = marketplaces[seller.marketplace_id]
        flag.seller = seller
        flag.org = orgs[flag.org_id]
    return flags


def identifiers_of(flags):
    """{flag id: [(kind, value)]} for many flags in one query."""
    found = {flag.id: [] for flag in flags}
    if found:
        for identifier in (FlagIdentifier.select().where(FlagIdentifier.flag.in_(list(found)))
                           .order_by(FlagIdentifier.kind, FlagIdentifier.value)):
            found[identifier.flag_id].append((identifier.kind, identifier.value))
    return found


def linked_notices(flag, org):
    """The notices a flag links that `org` may read (the owner reads them all)."""
    return list(visible_notices(org).join(FlagNotice, on=(FlagNotice.notice == Notice.id))
                .where(FlagNotice.flag == flag).order_by(Notice.id))


def sightings_of(flag, org):
    return list(sharing.visible_sightings(org).where(Sighting.flag == flag).order_by(Sighting.created_at.desc()))


@dataclass
class FlagView:
    """A flag as one viewer may see it."""

    flag: Flag
    mine: bool
    identifiers: list
    shared_with: list  # the orgs of a group flag the viewer may know of
    sightings: list
    evidence: list
    notices: list


def flag_view(flag, org):
    flag = with_sellers([flag])[0]
    return FlagView(flag=flag, mine=flag.org_id == org.id, identifiers=identifiers_of([flag])[flag.id],
                    shared_with=sharing.shared_with(flag, org), sightings=_with_orgs(sightings_of(flag, org)),
                    evidence=list(FlagEvidence.select().where(FlagEvidence.flag == flag).order_by(FlagEvidence.id)),
                    notices=linked_notices(flag, org))


def _with_orgs(sightings):
    orgs = {o.id: o for o in Organization.select().where(Organization.id.in_({s.org_id for s in sightings}))} \
        if sightings else {}
    for sighting in sightings:
        sighting.org = orgs[sighting.org_id]
    return sightings


# --- writing -----------------------------------------------------------------------------------------

def find_marketplace(slug, field_name="marketplace"):
    marketplace = Marketplace.get_or_none(Marketplace.slug == rules.text(slug).lower()) if slug else None
    if marketplace is None:
        raise ValidationError({field_name: f"No marketplace {rules.text(slug)[:64]!r} in the alliance."})
    return marketplace


def _group_orgs(slugs, owner):
    if not slugs:
        return []
    found = {o.slug: o for o in Organization.select().where(Organization.slug.in_(slugs))}
    unknown = [slug for slug in slugs if slug not in found]
    if unknown:
        raise ValidationError({"share_with": "No organization " + ", ".join(repr(s[:64]) for s in unknown[:5])
                                             + " in the alliance."})
    return [found[slug].id for slug in slugs if found[slug].id != owner.id]


def _own_notices(org, notice_ids):
    ids = []
    for value in notice_ids or ():
        try:
            ids.append(object_id(value))
        except NotFound:
            raise ValidationError({"notices": f"No notice {str(value)[:20]!r} of yours."})
    ids = sorted(set(ids))
    if len(ids) > MAX_LINKED_NOTICES:
        raise ValidationError({"notices": f"Link at most {MAX_LINKED_NOTICES} notices."})
    found = {n.id for n in Notice.for_org(org).where(Notice.id.in_(ids))} if ids else set()
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError({"notices": f"No notice {missing[0]} of yours: a flag links notices your "
                                          "organization filed."})
    return ids


def _raise(errors):
    if errors:
        raise ValidationError(errors)


def create_flag(org, values, evidence_files=(), user=None, now=None):
    """Flag a seller for `org`. `values`: marketplace (slug), seller_id, category, confidence, tlp,
    distribution, share_with (org slugs), show_group, display_name, shop_url, notes, identifiers,
    notices (ids of org's notices). Evidence files are kept like a notice's."""
    now = now or utcnow()
    fields, errors = rules.clean_flag(values)
    _raise(errors)
    marketplace = find_marketplace(fields["marketplace"])
    shares = sharing.check_sharing(fields["tlp"], fields["distribution"], _group_orgs(fields["share_with"], org),
                                   org.id)
    notice_ids = _own_notices(org, values.get("notices"))
    stored = uploads.save_documents(evidence_files, EVIDENCE_AREA, evidence_limit(), MAX_EVIDENCE_FILES, "a flag")
    try:
        with db.atomic():
            lock_org(org)  # one active flag per seller and org, also under two requests at once
            flag = _insert_flag(org, marketplace, fields, shares, notice_ids, user, now)
            _record_evidence(flag, stored, user, now)
            audit.record("intel.flag.created", org, flag, change=_snapshot(flag))
            announce([flag], now=now)
    except BaseException:
        uploads.discard(EVIDENCE_AREA, stored)
        raise
    return flag


def active_flag_of(org, seller):
    return Flag.for_org(org).where((Flag.seller == seller) & (Flag.status == "active")).first()


def _insert_flag(org, marketplace, fields, shares, notice_ids, user, now):
    seller = strikes.seller_for(marketplace.id, fields["seller_id"])
    existing = active_flag_of(org, seller)
    if existing is not None:
        raise Conflict({"seller_id": f"Your organization already flags this seller ({existing.reference}); "
                                     "update that flag instead."})
    flag = Flag.create(org=org, seller=seller, created_by=user, created_at=now, updated_at=now,
                       **{name: fields[name] for name in UPDATABLE})
    _replace_children(flag, shares, fields["identifiers"], notice_ids)
    return flag


def _replace_children(flag, shares=None, identifiers=None, notice_ids=None):
    if shares is not None:
        FlagShare.delete().where(FlagShare.flag == flag).execute()
        if shares:
            FlagShare.insert_many([{"flag": flag.id, "org": org_id} for org_id in shares]).execute()
    if identifiers is not None:
        FlagIdentifier.delete().where(FlagIdentifier.flag == flag).execute()
        if identifiers:
            FlagIdentifier.insert_many([{"flag": flag.id, "kind": kind, "value": value}
                                        for kind, value in identifiers]).execute()
    if notice_ids is not None:
        FlagNotice.delete().where(FlagNotice.flag == flag).execute()
        if notice_ids:
            FlagNotice.insert_many([{"flag": flag.id, "notice": notice_id} for notice_id in notice_ids]).execute()


def _record_evidence(flag, stored, user, now):
    return [FlagEvidence.create(flag=flag, name=kept.original_name, path=kept.name, sha256=kept.sha256,
                                size=kept.size, content_type=kept.mimetype, uploaded_by=user, uploaded_at=now)
            for kept in stored]


def _snapshot(flag):
    """The flag's content, for audit events: fields, group, identifiers and linked notices."""
    return {
        "flag": flag.reference, "seller": flag.seller.external_id, "marketplace": flag.seller.marketplace.slug,
        **{name: getattr(flag, name) for name in UPDATABLE}, "status": flag.status,
        "share_with": sorted(o.slug for o in Organization.select().join(FlagShare, on=(FlagShare.org == Organization.id))
                             .where(FlagShare.flag == flag)),
        "identifiers": sorted(f"{i.kind}:{i.value}" for i in FlagIdentifier.select().where(FlagIdentifier.flag == flag)),
        "notices": sorted(n.notice_id for n in FlagNotice.select().where(FlagNotice.flag == flag)),
    }


def announce(flags, previous_audience=None, now=None):
    """Tell each org that may now see some of `flags` (and could not before) what it received: one
    `intel.flag.shared` event per org, listing only its flags, without the group of a hidden group; and
    keep a receipt of each (the weekly reports count flags shared and received by them)."""
    received = {}
    now_seen = sharing.audiences([flag.id for flag in flags])
    for flag in flags:
        already = (previous_audience or {}).get(flag.id, set())
        for org_id in sorted(now_seen[flag.id]):
            if org_id != flag.org_id and org_id not in already:
                received.setdefault(org_id, []).append(flag)
    if not received:
        return
    FlagReceipt.insert_many([{"org": org_id, "flag": flag.id, "at": now or utcnow()}
                             for org_id, shared in received.items() for flag in shared]).execute()
    owners = {o.id: o.slug for o in Organization.select().where(Organization.id.in_({f.org_id for f in flags}))}
    sellers = {s.id: s for s in Seller.select(Seller, Marketplace).join(Marketplace)
               .where(Seller.id.in_({f.seller_id for f in flags}))}
    for org_id, shared in received.items():
        emit("intel.flag.shared", [org_id], shared[0] if len(shared) == 1 else None, {
            "flags": [{"flag": f.reference, "id": f.id, "from": owners[f.org_id],
                       "seller": sellers[f.seller_id].external_id, "marketplace": sellers[f.seller_id].marketplace.slug,
                       "category": f.category, "tlp": f.tlp_label, "distribution": f.distribution} for f in shared]})


def _owned(flag, org):
    if flag.org_id != org.id:
        raise Forbidden(f"Only {Organization.get_by_id(flag.org_id).name} changes its flag; add a sighting "
                        "to say what you know.")
    if flag.status != "active":
        raise Conflict("This flag was withdrawn; it cannot change any more. Flag the seller again if needed.")


def update_flag(flag, org, values, user=None, now=None):
    """Change what the owner says about the seller and whom it shares it with. Only fields present in
    `values` change; `share_with` replaces the group, `identifiers` and `notices` replace theirs."""
    now = now or utcnow()
    _owned(flag, org)
    fields, errors = rules.clean_flag(values, partial=True)
    _raise(errors)
    notice_ids = _own_notices(org, values.get("notices")) if "notices" in values else None
    with db.atomic():
        lock_org(org)
        flag = Flag.get_by_id(flag.id)
        _owned(flag, org)
        before = _snapshot(flag)
        tlp, distribution = fields.get("tlp", flag.tlp), fields.get("distribution", flag.distribution)
        if "share_with" in fields:
            named = _group_orgs(fields["share_with"], org)
        elif distribution == "group":
            named = [s.org_id for s in FlagShare.select().where(FlagShare.flag == flag)]
        else:
            named = []
        shares = sharing.check_sharing(tlp, distribution, named, org.id)
        previous = sharing.audiences([flag.id])
        changes = {name: fields[name] for name in UPDATABLE if name in fields}
        Flag.update(updated_at=now, **changes).where(Flag.id == flag.id).execute()
        _replace_children(flag, shares=shares, identifiers=fields.get("identifiers"), notice_ids=notice_ids)
        flag = Flag.get_by_id(flag.id)
        after = _snapshot(flag)
        if after != before:
            audit.record("intel.flag.updated", org, flag, change={
                "flag": flag.reference, "before": {k: v for k, v in before.items() if after[k] != v},
                "after": {k: v for k, v in after.items() if before[k] != v}})
            announce([flag], previous, now=now)
    return flag


def withdraw_flag(flag, org, reason="", user=None, now=None):
    """The owner withdraws its flag: it stays visible to its audience, marked withdrawn with the reason."""
    now = now or utcnow()
    reason = rules.text(reason)
    if len(reason) > rules.MAX_NOTES:
        raise ValidationError({"reason": f"A reason has at most {rules.MAX_NOTES} characters."})
    _owned(flag, org)
    with db.atomic():
        claimed = (Flag.update(status="withdrawn", withdrawn_reason=reason, withdrawn_at=now, updated_at=now)
                   .where((Flag.id == flag.id) & (Flag.status == "active")).execute())
        if not claimed:
            raise Conflict("This flag was withdrawn already.")
        flag = Flag.get_by_id(flag.id)
        emit("intel.flag.withdrawn", [o.id for o in sharing.audience(flag)], flag,
             {"flag": flag.reference, "reason": reason}, actor=flag.org_id)
    return flag


def add_sighting(flag, org, values, user=None, now=None):
    """Another org's word on a flag it can see (the caller found the flag through the predicate)."""
    now = now or utcnow()
    fields, errors = rules.clean_sighting(values)
    _raise(errors)
    if flag.org_id == org.id:
        raise Conflict("This is your organization's flag: update it rather than adding a sighting.")
    with db.atomic():
        flag = Flag.get_by_id(flag.id)
        if flag.status != "active":
            raise Conflict("This flag was withdrawn by its owner; sightings can no longer be added.")
        sighting = Sighting.create(org=org, flag=flag, created_by=user, created_at=now, **fields)
        # Its author and the flag's owner hear of it; the rest of the audience reads it on the flag when
        # they may know one another (portal.intel.sharing.visible_sightings).
        emit("intel.sighting.added", [org.id, flag.org_id], sighting, {
            "flag": flag.reference, "kind": sighting.kind, "note": sighting.note,
            "listing_url": sighting.listing_url, "by": org.slug}, actor=org)
    return sighting


def attach_flag_evidence(flag, org, files, user=None, now=None):
    now = now or utcnow()
    _owned(flag, org)
    files = [f for f in files if f is not None and getattr(f, "filename", None)]
    if not files:
        raise ValidationError({"evidence": "Choose a file to attach."})
    stored = uploads.save_documents(files, EVIDENCE_AREA, evidence_limit(), MAX_EVIDENCE_FILES, "a flag")
    try:
        with db.atomic():
            lock_org(org)
            already = FlagEvidence.select().where(FlagEvidence.flag == flag).count()
            if already + len(stored) > MAX_EVIDENCE_FILES:
                raise ValidationError({"evidence": f"A flag holds at most {MAX_EVIDENCE_FILES} evidence files; "
                                                   f"this one has {already}."})
            if Flag.get_by_id(flag.id).status != "active":  # withdrawn while the files came in
                raise Conflict("This flag was withdrawn; it cannot change any more.")
            created = _record_evidence(flag, stored, user, now)
            audit.record("intel.flag.evidence_added", org, flag, change={
                "flag": flag.reference, "evidence": [{"name": e.name, "sha256": e.sha256, "size": e.size}
                                                     for e in created]})
    except BaseException:
        uploads.discard(EVIDENCE_AREA, stored)
        raise
    return created


# --- sellers -----------------------------------------------------------------------------------------

@dataclass
class Linked:
    seller: Seller
    shared: list  # [(kind, value)] the identifiers both sellers' flags name


@dataclass
class Profile:
    """What one viewer may know about a seller."""

    marketplace: Marketplace
    external_id: str
    seller: Seller = None
    flags: list = field(default_factory=list)
    identifiers: dict = field(default_factory=dict)  # flag id -> [(kind, value)]
    sightings: list = field(default_factory=list)
    items: list = field(default_factory=list)  # notice items against the seller's listings
    strikes: list = None  # None: the viewer may not see strikes on this marketplace
    recent_strikes: int = 0
    repeat_infringer_at: object = None
    linked: list = field(default_factory=list)

    @property
    def names(self):
        return sorted({f.display_name for f in self.flags if f.display_name})


def _visible_marketplace(org, marketplace_slug, external_id):
    """The seller's marketplace when `org` may see anything of the seller (a listing in one of its notices,
    a flag it may see, or strikes on a marketplace whose strikes it sees); None otherwise.

    One statement, the same SQL whatever the answer, decides before any other work: an unknown
    marketplace, an unknown seller and a seller known only through flags hidden from `org` all cost this
    statement alone, so neither the 404 nor its timing says which one it was."""
    chosen = Marketplace.alias("chosen")  # not "t1": the strikes' subquery reads marketplaces too
    seller_is = (Seller.marketplace == chosen.id) & (Seller.external_id == external_id)
    listed = visible_items(org).select(NoticeItem.id).where(
        (NoticeItem.marketplace == chosen.id) & (NoticeItem.seller_id == external_id))
    flagged = sharing.visible_flags(org).select(Flag.id).join(Seller).where(seller_is)
    struck = (Strike.select(Strike.id).join(Seller)
              .where(seller_is & chosen.id.in_(sharing.strike_marketplaces(org))))
    sees_something = fn.EXISTS(listed) | fn.EXISTS(flagged) | fn.EXISTS(struck)
    return chosen.select().where((chosen.slug == marketplace_slug) & sees_something).first()


def seller_profile(org, marketplace_slug, external_id, now=None):
    """The profile of a seller as `org` may see it; NotFound when it may see nothing of it, so a seller
    known only through others' hidden flags looks exactly like one nobody knows (see _visible_marketplace)."""
    now = now or utcnow()
    slug, external_id = rules.text(marketplace_slug).lower(), rules.text(external_id)
    # Text no seller can have (none, NUL, a lone surrogate) is not looked up: PostgreSQL would refuse it.
    sendable = external_id and not text_problem(slug + external_id)
    marketplace = _visible_marketplace(org, slug, external_id) if sendable else None
    if marketplace is None:
        raise NotFound()
    seller = strikes.find_seller(marketplace.id, external_id)
    profile = Profile(marketplace=marketplace, external_id=external_id, seller=seller)
    profile.items = list(visible_items(org).where((NoticeItem.marketplace == marketplace)
                                                  & (NoticeItem.seller_id == external_id))
                         .order_by(NoticeItem.id.desc()).limit(200))
    if seller is not None:
        profile.flags = with_sellers(sharing.visible_flags(org).where(Flag.seller == seller)
                                      .order_by(Flag.status, Flag.created_at.desc()))
        profile.identifiers = identifiers_of(profile.flags)
        profile.sightings = _with_orgs(list(sharing.visible_sightings(org).where(Flag.seller == seller)
                                            .order_by(Sighting.created_at.desc())))
        if sharing.sees_strikes(org, marketplace.id):
            profile.strikes = strikes.strikes_of(seller)
            profile.recent_strikes = strikes.recent_strike_count(profile.strikes, now)
            profile.repeat_infringer_at = seller.repeat_infringer_at
        profile.linked = linked_sellers(org, seller)
    return profile


def linked_sellers(org, seller):
    """Other sellers sharing an identifier (e-mail, storefront domain, payment handle, phone) with this
    one, both sides read from active flags `org` may see: a link never rests on a hidden flag."""
    mine = (FlagIdentifier.select(FlagIdentifier.kind, FlagIdentifier.value).join(Flag)
            .where((Flag.seller == seller) & (Flag.status == "active") & sharing.visible_to(org)).distinct())
    pairs = {(kind, value) for kind, value in mine.tuples()}
    if not pairs:
        return []
    other = FlagIdentifier.alias()
    query = (Flag.select(Flag.seller, other.kind, other.value)
             .join(other, on=(other.flag == Flag.id))
             .where((Flag.seller != seller) & (Flag.status == "active") & sharing.visible_to(org)
                    & other.value.in_(sorted({value for _, value in pairs})))
             .distinct())
    shared_by_seller = {}
    for seller_id, kind, value in query.tuples():
        if (kind, value) in pairs:
            shared_by_seller.setdefault(seller_id, set()).add((kind, value))
    sellers = {s.id: s for s in Seller.select(Seller, Marketplace).join(Marketplace)
               .where(Seller.id.in_(list(shared_by_seller)))} if shared_by_seller else {}
    return sorted((Linked(sellers[sid], sorted(shared)) for sid, shared in shared_by_seller.items()),
                  key=lambda linked: (linked.seller.marketplace.slug, linked.seller.external_id))


# --- the dashboard -----------------------------------------------------------------------------------

def _summary_query(org, week_ago):
    """The dashboard's four counts as one row of scalar subqueries, each through the sharing predicate."""
    visible = sharing.visible_flags(org).where(Flag.status == "active")
    return Organization.select(
        visible.where(Flag.org == org.id).select(fn.COUNT(Flag.id)),
        visible.where(Flag.org != org.id).select(fn.COUNT(Flag.id)),
        sharing.visible_sightings(org).where((Flag.org == org.id) & (Sighting.created_at >= week_ago))
        .select(fn.COUNT(Sighting.id)),
        Seller.select(fn.COUNT(Seller.id)).where(Seller.repeat_infringer_at.is_null(False)
                                                  & Seller.marketplace.in_(sharing.strike_marketplaces(org))),
    ).where(Organization.id == org.id).tuples()


# One query, its SQL built once per process (per kind of org: strikes are seen by side).
SUMMARY = PreparedSelect(lambda kind, org_id, week_ago: _summary_query(Organization(id=org_id, kind=kind), week_ago),
                         arity=2, shaped=True)


def summary(org, now=None):
    """Figures for the dashboard: active flags the org raised and received, sightings on its flags this
    week, repeat infringers on its marketplaces (or its partners')."""
    now = now or utcnow()
    row = SUMMARY.first(org.id, now - timedelta(days=7), shape=org.kind) or (0, 0, 0, 0)
    return dict(zip(("mine", "received", "sightings_week", "repeat_infringers"), row))


# --- what the pages offer ----------------------------------------------------------------------------

def alliance_marketplaces():
    """Every marketplace of the alliance with its platform, by name: a flag may name a seller on any."""
    return list(Marketplace.select(Marketplace, Organization).join(Organization)
                .order_by(Marketplace.name, Marketplace.slug))


def alliance_orgs(exclude=None):
    """The orgs a flag may be shared with: every member org but `exclude` (the owner), by name."""
    query = Organization.select().order_by(Organization.name, Organization.slug)
    if exclude is not None:
        query = query.where(Organization.id != exclude)
    return list(query)


def require_owner(flag, org):
    """Refuse unless `org` may change `flag` now: Forbidden (another org's flag), Conflict (withdrawn).
    For pages that show an edit form before anything is sent."""
    _owned(flag, org)
    return flag


def linkable_notices(org, keep=(), limit=50):
    """The notices of `org` a flag may link, newest first: its `limit` newest and those in `keep` (the
    ones a flag links already, however old). Platforms file no notices: none."""
    found = {n.id: n for n in Notice.for_org(org).order_by(Notice.id.desc()).limit(limit)}
    keep = [i for i in keep if i not in found]
    if keep:
        found.update({n.id: n for n in Notice.for_org(org).where(Notice.id.in_(keep))})
    return sorted(found.values(), key=lambda n: n.id, reverse=True)


def sighting_counts(org, flag_ids):
    """{flag id: number of its sightings `org` may read} for many flags in one query."""
    flag_ids = list(flag_ids)
    if not flag_ids:
        return {}
    return dict(sharing.visible_sightings(org).select(Sighting.flag, fn.COUNT(Sighting.id))
                .where(Sighting.flag.in_(flag_ids)).group_by(Sighting.flag).order_by().tuples())


def export_batches(query, org, size=500):
    """The flags of `query` (a visible, filtered flag query) in id order, `size` at a time, each with its
    seller, owner, `identifier_list` and `sighting_count` (the sightings `org` may read): five queries
    per batch whatever the number of flags, and memory for one batch only."""
    last = 0
    while True:
        batch = with_sellers(query.where(Flag.id > last).order_by(Flag.id).limit(size))
        if not batch:
            return
        identifiers = identifiers_of(batch)
        counts = sighting_counts(org, [flag.id for flag in batch])
        for flag in batch:
            flag.identifier_list = identifiers[flag.id]
            flag.sighting_count = counts.get(flag.id, 0)
        yield batch
        last = batch[-1].id


def readable_notice_ids(org, notice_ids):
    """Those of `notice_ids` that `org` may read (a strike names a notice; only its readers get a link)."""
    notice_ids = list(set(notice_ids))
    if not notice_ids:
        return set()
    return {n.id for n in visible_notices(org).select(Notice.id).where(Notice.id.in_(notice_ids))}
