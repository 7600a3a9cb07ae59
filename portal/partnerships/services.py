"""Partnerships and their terms: proposing, negotiating, accepting, suspending and ending them, and the
one answer to "may this brand file on this marketplace now, and under which terms".

The flow (decided here, described in the README):
- a brand admin proposes a partnership to a platform with terms (version 1, `pending`);
- an admin of the other side accepts the pending version (it comes `in_force`; a proposed partnership
  becomes `active`), declines it (a declined proposal ends the partnership), or revises it: a revision is
  a new pending version that the first side must accept in turn. The same works on an active
  partnership: its terms in force stay until the revision is accepted;
- either side's admin suspends (no new notices; items already filed keep their clocks), resumes, or ends it;
- accepting new terms never moves a running clock: clocks copy their targets when they start.
"""
from datetime import date, datetime, time, timedelta

from peewee import fn

from portal import audit
from portal.accounts.models import Marketplace, Organization
from portal.db import db
from portal.errors import Conflict, NotFound, ValidationError
from portal.partnerships.models import Partnership, Terms
from portal.sla.calendar import WEEKDAYS, BusinessCalendar, parse_days
from portal.tenancy import lock_org, object_id
from portal.timeutil import is_valid_timezone, local_today, to_local, utcnow

LIVE_STATUSES = ("proposed", "active", "suspended")
MAX_TARGET_MINUTES = 60 * 24 * 90  # ninety days: anything longer is a typing mistake
MAX_NOTE = 2000
MAX_HOLIDAYS = 400
DEFAULT_TARGETS = {"ack_minutes": 24 * 60, "action_minutes": 72 * 60, "fast_ack_minutes": 4 * 60,
                   "fast_action_minutes": 24 * 60}


# --- reading -----------------------------------------------------------------------------------------

def partnerships_of(org):
    """The partnerships `org` is a side of: the one scope every page, API call and task reads through."""
    org_id = getattr(org, "id", org)
    return Partnership.select().where((Partnership.brand == org_id) | (Partnership.platform == org_id))


def with_sides(query):
    """Partnerships with their brand and platform read in the same query (no query per row)."""
    brand, platform = Organization.alias(), Organization.alias()
    return (query.select_extend(brand, platform)
            .join_from(Partnership, brand, on=(Partnership.brand == brand.id), attr="brand")
            .join_from(Partnership, platform, on=(Partnership.platform == platform.id), attr="platform"))


def current_terms(partnerships):
    """{partnership id: (terms in force or None, pending terms or None)} for many, in one query."""
    found = {p.id: [None, None] for p in partnerships}
    if found:
        for terms in Terms.select().where(Terms.partnership.in_(list(found))
                                          & Terms.state.in_(("in_force", "pending"))):
            found[terms.partnership_id][0 if terms.state == "in_force" else 1] = terms
    return {pk: tuple(pair) for pk, pair in found.items()}


def get_partnership(pk, org):
    found = partnerships_of(org).where(Partnership.id == object_id(pk)).first()
    if found is None:
        raise NotFound()
    return found


def terms_in_force(partnership):
    return Terms.get_or_none((Terms.partnership == partnership) & (Terms.state == "in_force"))


def pending_terms(partnership):
    return Terms.get_or_none((Terms.partnership == partnership) & (Terms.state == "pending"))


def terms_history(partnership):
    return list(Terms.select().where(Terms.partnership == partnership).order_by(Terms.version.desc()))


def active_partner_brand_ids(platform):
    """A subquery: ids of the brands with an active partnership with `platform`."""
    return (Partnership.select(Partnership.brand)
            .where((Partnership.platform == platform) & (Partnership.status == "active")))


def active_partner_brands(platform):
    return Organization.select().where(Organization.id.in_(active_partner_brand_ids(platform))).order_by(
        Organization.name)


def visible_marketplaces(org):
    """Marketplaces a platform runs, or those a brand may file on: of its active partners' platforms."""
    if org.is_platform:
        return Marketplace.for_org(org)
    partners = Partnership.select(Partnership.platform).where((Partnership.brand == org)
                                                               & (Partnership.status == "active"))
    return Marketplace.select().where(Marketplace.org.in_(partners))


def live_partnership(brand, platform):
    return Partnership.get_or_none((Partnership.brand == brand) & (Partnership.platform == platform)
                                   & Partnership.status.in_(LIVE_STATUSES))


def fileable_partnerships(brand):
    """Active partnerships of a brand with their terms in force, for the filing form."""
    found = []
    for partnership in (Partnership.select().where((Partnership.brand == brand) & (Partnership.status == "active"))
                        .order_by(Partnership.id)):
        terms = terms_in_force(partnership)
        if terms is not None:
            found.append((partnership, terms))
    return found


def filing_terms(partnership, marketplace, now=None):
    """The terms a notice on `marketplace` is filed under at `now`, or a ValidationError saying why not."""
    if partnership.status != "active":
        raise ValidationError({"partnership": f"The partnership with {partnership.platform.name} is "
                                              f"{partnership.status}: notices can be filed only under an "
                                              "active partnership."})
    terms = terms_in_force(partnership)
    today = to_local(now or utcnow(), terms.timezone).date()
    if today < terms.effective_from:
        # Accepted terms that start later: until then the version they replaced still governs.
        earlier = (Terms.select().where((Terms.partnership == partnership) & (Terms.state == "replaced")
                                        & (Terms.effective_from <= today)).order_by(Terms.version.desc()).first())
        if earlier is not None and not (earlier.effective_to and today > earlier.effective_to):
            terms = earlier
    if today < terms.effective_from or (terms.effective_to and today > terms.effective_to):
        raise ValidationError({"partnership": f"The partnership's terms are in effect from {terms.effective_from}"
                                              + (f" to {terms.effective_to}" if terms.effective_to else "")
                                              + f"; today is {today}."})
    if marketplace is None or marketplace.slug not in terms.marketplace_slugs:
        raise ValidationError({"marketplace": "Choose a marketplace the partnership covers: "
                                              + ", ".join(terms.marketplace_slugs) + "."})
    return terms


# --- checking terms ----------------------------------------------------------------------------------

def _minutes(errors, values, name, label):
    raw = values.get(name)
    try:
        minutes = int(raw)
    except (TypeError, ValueError):
        errors[name] = f"Give the {label} target in whole minutes."
        return None
    if not 1 <= minutes <= MAX_TARGET_MINUTES:
        errors[name] = f"The {label} target must be between 1 minute and {MAX_TARGET_MINUTES // 1440} days."
        return None
    return minutes


def _date(errors, values, name, required):
    raw = values.get(name)
    if raw in (None, ""):
        if required:
            errors[name] = "Give a date (YYYY-MM-DD)."
        return None
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError:
        errors[name] = f"{str(raw)[:40]!r} is not a date (YYYY-MM-DD)."
        return None


def _clock_time(errors, values, name, default):
    raw = values.get(name) or default
    if isinstance(raw, time):
        return raw.strftime("%H:%M")
    try:
        parsed = time.fromisoformat(str(raw).strip())
    except ValueError:
        errors[name] = "Give a time of day as HH:MM."
        return None
    if parsed.second or parsed.microsecond:
        errors[name] = "Give a time of day as HH:MM."
        return None
    return parsed.strftime("%H:%M")


def _holidays(errors, values):
    raw = values.get("holidays") or []
    if isinstance(raw, str):
        raw = raw.replace(",", "\n").split()
    found = set()
    for entry in raw:
        if isinstance(entry, date):
            found.add(entry)
            continue
        try:
            found.add(date.fromisoformat(str(entry).strip()))
        except ValueError:
            errors["holidays"] = f"{str(entry)[:40]!r} is not a date: give one YYYY-MM-DD date per line."
            return ""
    if len(found) > MAX_HOLIDAYS:
        errors["holidays"] = f"Give at most {MAX_HOLIDAYS} holidays."
        return ""
    return ";".join(d.isoformat() for d in sorted(found))


def _marketplaces(errors, values, platform):
    raw = values.get("marketplaces") or []
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    slugs = sorted({str(s).strip().lower() for s in raw if str(s).strip()})
    offered = {m.slug for m in Marketplace.for_org(platform)}
    unknown = [s for s in slugs if s not in offered]
    if not slugs:
        errors["marketplaces"] = "Choose at least one marketplace the partnership covers."
    elif unknown:
        errors["marketplaces"] = (f"{platform.name} runs no marketplace {', '.join(unknown)[:200]}; choose from "
                                  + (", ".join(sorted(offered)) or "none yet") + ".")
    return ";".join(slugs)


def clean_terms(values, platform):
    """Terms from a form, the API or the CLI: {field: value} for a Terms row, or ValidationError."""
    errors = {}
    cleaned = {"effective_from": _date(errors, values, "effective_from", required=True),
               "effective_to": _date(errors, values, "effective_to", required=False),
               "marketplaces": _marketplaces(errors, values, platform)}
    for name, label in (("ack_minutes", "acknowledge"), ("action_minutes", "action"),
                        ("fast_ack_minutes", "fast-lane acknowledge"), ("fast_action_minutes", "fast-lane action")):
        cleaned[name] = _minutes(errors, values, name, label)
    if cleaned["effective_from"] and cleaned["effective_to"] and cleaned["effective_to"] < cleaned["effective_from"]:
        errors["effective_to"] = "The end date must not be before the start date."
    for fast, normal in (("fast_ack_minutes", "ack_minutes"), ("fast_action_minutes", "action_minutes")):
        if cleaned[fast] and cleaned[normal] and cleaned[fast] > cleaned[normal]:
            errors[fast] = "A fast-lane target must not be longer than the normal one."
    cleaned["always_open"] = bool(values.get("always_open"))
    zone = str(values.get("timezone") or platform.timezone or "UTC").strip()
    if not is_valid_timezone(zone):
        errors["timezone"] = f"{zone[:64]!r} is not an IANA time zone (for example Asia/Shanghai)."
    cleaned["timezone"] = zone
    try:
        days = values.get("working_days") or "mon-fri"
        days = parse_days(days) if isinstance(days, str) else frozenset(int(d) for d in days)
        if not days or not days <= set(range(7)):
            raise ValueError
        cleaned["working_days"] = ";".join(str(d) for d in sorted(days))
    except (TypeError, ValueError):
        errors["working_days"] = "Give working days as mon-fri, or a list such as mon,tue,wed."
    cleaned["opens"] = _clock_time(errors, values, "opens", "09:00")
    cleaned["closes"] = _clock_time(errors, values, "closes", "17:00")
    if not cleaned["always_open"] and cleaned["opens"] and cleaned["closes"] and cleaned["opens"] >= cleaned["closes"]:
        errors["closes"] = "Working hours must close after they open, on the same day."
    cleaned["holidays"] = _holidays(errors, values)
    if not errors and not cleaned["always_open"]:
        _check_reachable(errors, cleaned)
    note = str(values.get("note") or "").strip()
    if len(note) > MAX_NOTE:
        errors["note"] = f"Use at most {MAX_NOTE} characters."
    cleaned["note"] = note
    if errors:
        raise ValidationError(errors)
    return cleaned


def _check_reachable(errors, cleaned):
    """A calendar whose working time cannot hold the longest target within ten years (one short day a
    week, holidays covering it) would make every filing fail: refuse it here, where it can be fixed."""
    calendar = BusinessCalendar(timezone=cleaned["timezone"],
                                working_days=frozenset(int(d) for d in cleaned["working_days"].split(";")),
                                opens=time.fromisoformat(cleaned["opens"]), closes=time.fromisoformat(cleaned["closes"]),
                                holidays=frozenset(date.fromisoformat(d) for d in cleaned["holidays"].split(";") if d))
    start = datetime.combine(cleaned["effective_from"], time())
    try:
        calendar.add(start, timedelta(minutes=max(cleaned["action_minutes"], cleaned["ack_minutes"])))
    except ValueError:
        errors["working_days"] = ("These working days, hours and holidays leave too little working time to meet "
                                  "the targets; add working time or shorten the targets.")


def default_terms(platform, today=None):
    """Terms a new proposal starts from: every marketplace, business hours in the platform's zone."""
    return dict(DEFAULT_TARGETS, effective_from=today or local_today(platform.timezone),
                marketplaces=[m.slug for m in Marketplace.for_org(platform).order_by(Marketplace.slug)],
                timezone=platform.timezone or "UTC", working_days="mon-fri", opens="09:00", closes="17:00")


def terms_form_values(terms):
    """A Terms row as the values clean_terms takes, to start a revision from."""
    values = terms.as_dict()
    values["working_days"] = ",".join(WEEKDAYS[d] for d in terms.day_numbers)
    values["effective_from"], values["effective_to"] = terms.effective_from, terms.effective_to
    values["note"] = ""
    return values


# --- the flow ----------------------------------------------------------------------------------------

def _record(action, partnership, change):
    for org in (partnership.brand, partnership.platform):  # both sides' trails show it
        audit.record(action, org, partnership, change=change)


def _lock(partnership):
    """Serialise changes to one partnership (PostgreSQL row lock; SQLite writers are serial already)."""
    from portal.db import is_postgresql
    if is_postgresql():
        db.execute_sql("SELECT id FROM partnership WHERE id = %s FOR NO KEY UPDATE", (partnership.id,))
    return Partnership.get_by_id(partnership.id)


def _new_version(partnership, org, user, cleaned):
    latest = Terms.select(fn.MAX(Terms.version)).where(Terms.partnership == partnership).scalar() or 0
    return Terms.create(partnership=partnership, version=latest + 1, state="pending", proposed_by_org=org,
                        proposed_by=user, **cleaned)


def propose(brand, platform, values, user=None):
    """A brand admin proposes a partnership to a platform, with terms for the platform to accept."""
    if brand.kind != "brand":
        raise ValidationError("Only a brand proposes a partnership.")
    if platform is None or platform.kind != "platform":
        raise ValidationError({"platform": "Choose a platform organization."})
    cleaned = clean_terms(values, platform)
    with db.atomic():
        lock_org(brand)  # two proposals at once: the second sees the first
        if live_partnership(brand, platform) is not None:
            raise Conflict(f"{brand.name} and {platform.name} already have a partnership (proposed, active or "
                           "suspended); revise its terms instead.")
        partnership = Partnership.create(brand=brand, platform=platform, status="proposed",
                                         status_changed_at=utcnow())
        terms = _new_version(partnership, brand, user, cleaned)
        _record("partnership.proposed", partnership, {"terms": terms.as_dict()})
    return partnership


def revise_terms(partnership, org, values, user=None):
    """Either side proposes new terms: a pending version the other side must accept."""
    cleaned = clean_terms(values, partnership.platform)
    with db.atomic():
        partnership = _lock(partnership)
        if partnership.status == "ended":
            raise Conflict("This partnership has ended; propose a new one.")
        superseded = pending_terms(partnership)
        if superseded is not None:
            Terms.update(state="superseded", decided_at=utcnow(), decided_by=user).where(
                Terms.id == superseded.id).execute()
        terms = _new_version(partnership, org, user, cleaned)
        _record("partnership.terms_proposed", partnership,
                {"version": terms.version, "by": org.slug, "terms": terms.as_dict(),
                 "replaces_pending": superseded.version if superseded else None})
    return terms


def _pending_for(partnership, org):
    pending = pending_terms(partnership)
    if pending is None:
        raise Conflict("There are no proposed terms waiting for a decision.")
    if pending.proposed_by_org_id == org.id:
        raise Conflict(f"These terms were proposed by {org.name}: {partnership.other_side(org).name} decides on them.")
    return pending


def accept_terms(partnership, org, user=None):
    """The other side accepts the pending terms: they come in force for notices filed from now on."""
    with db.atomic():
        partnership = _lock(partnership)
        if partnership.status == "ended":
            raise Conflict("This partnership has ended.")
        pending = _pending_for(partnership, org)
        previous = terms_in_force(partnership)
        now = utcnow()
        if previous is not None:
            Terms.update(state="replaced").where(Terms.id == previous.id).execute()
        Terms.update(state="in_force", decided_at=now, decided_by=user).where(Terms.id == pending.id).execute()
        status = "active" if partnership.status == "proposed" else partnership.status
        if status != partnership.status:
            Partnership.update(status=status, status_changed_at=now).where(Partnership.id == partnership.id).execute()
        _record("partnership.terms_accepted", partnership,
                {"version": pending.version, "by": org.slug, "status": [partnership.status, status],
                 "replaces": previous.version if previous else None})
    return Partnership.get_by_id(partnership.id)


def decline_terms(partnership, org, reason, user=None):
    """The other side declines the pending terms; declining a proposal ends the partnership."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why: the other side sees this reason."})
    if len(reason) > MAX_NOTE:
        raise ValidationError({"reason": f"Use at most {MAX_NOTE} characters."})
    with db.atomic():
        partnership = _lock(partnership)
        pending = _pending_for(partnership, org)
        Terms.update(state="declined", decided_at=utcnow(), decided_by=user, note=reason).where(
            Terms.id == pending.id).execute()
        before = partnership.status
        if before == "proposed":
            Partnership.update(status="ended", status_reason=reason, status_changed_at=utcnow()).where(
                Partnership.id == partnership.id).execute()
        _record("partnership.terms_declined", partnership,
                {"version": pending.version, "by": org.slug, "reason": reason,
                 "status": [before, "ended" if before == "proposed" else before]})
    return Partnership.get_by_id(partnership.id)


STATUS_MOVES = {"suspend": ("active", "suspended"), "resume": ("suspended", "active"),
                "end": (LIVE_STATUSES, "ended")}


def change_status(partnership, org, move, reason="", user=None):
    """Suspend, resume or end a partnership (either side's admin). Suspending and ending need a reason."""
    if move not in STATUS_MOVES:
        raise ValidationError({"move": "Choose suspend, resume or end."})
    reason = (reason or "").strip()
    if move != "resume" and not reason:
        raise ValidationError({"reason": "Say why: the other side sees this reason."})
    if len(reason) > MAX_NOTE:
        raise ValidationError({"reason": f"Use at most {MAX_NOTE} characters."})
    allowed, target = STATUS_MOVES[move]
    with db.atomic():
        partnership = _lock(partnership)
        if partnership.status not in allowed:
            raise Conflict(f"A {partnership.status} partnership cannot be {'ended' if move == 'end' else move + 'd'}.")
        if move == "resume" and terms_in_force(partnership) is None:
            raise Conflict("This partnership has no accepted terms yet.")
        if move == "resume" and partnership.status_changed_by_id not in (None, org.id):
            # A platform that suspended a brand for abusive notices is not overruled by that brand.
            raise Conflict(f"{partnership.other_side(org).name} suspended this partnership; only it can resume it.")
        Partnership.update(status=target, status_reason=reason, status_changed_at=utcnow(),
                           status_changed_by=org).where(Partnership.id == partnership.id).execute()
        pending = pending_terms(partnership)
        if target == "ended" and pending is not None:
            Terms.update(state="declined", decided_at=utcnow(), decided_by=user).where(Terms.id == pending.id).execute()
        _record(f"partnership.{target if move != 'resume' else 'resumed'}", partnership,
                {"status": [partnership.status, target], "reason": reason, "by": org.slug,
                 "declined_terms": pending.version if target == "ended" and pending is not None else None})
    return Partnership.get_by_id(partnership.id)


def create_partnership(brand, platform, values=None):
    """An active partnership with terms in force at once (the operator's tool: the CLI and demo data)."""
    if brand.kind != "brand" or platform.kind != "platform":
        raise ValidationError("A partnership joins a brand organization and a platform organization.")
    cleaned = clean_terms(dict(default_terms(platform), **(values or {})), platform)
    with db.atomic():
        lock_org(brand)
        if live_partnership(brand, platform) is not None:
            raise Conflict(f"{brand.name} and {platform.name} already have a partnership.")
        now = utcnow()
        partnership = Partnership.create(brand=brand, platform=platform, status="active",
                                         status_changed_at=now)
        terms = Terms.create(partnership=partnership, version=1, state="in_force", proposed_by_org=brand,
                             decided_at=now, **cleaned)
        _record("partnership.created", partnership, dict(partnership.as_dict(), terms=terms.as_dict()))
    return partnership
