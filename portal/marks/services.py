"""Business rules of the marks registry: who sees which marks, creating, editing, deleting, verifying
and expiring them. Pages, the API, the CLI, the import service and tasks all call these functions.

Status rules (decided here, described in the README):
- a new mark is `pending`, or `expired` when its expiry date has already passed in the owner's time zone;
- a platform analyst of a partner platform verifies or rejects it (a rejection carries a reason);
- changing anything the platform reviewed (word, office, registration number, classes, dates,
  jurisdictions, the proof's content) sends a verified or rejected mark back to `pending`: the
  verification was of the old data. Each decision keeps what was reviewed (`last_review`), so the
  verification queue shows what changed since;
- the expiry task turns marks past their expiry date `expired`; renewing one (a later expiry date) makes it
  `pending` again, to be verified with the new date.
"""
import json
from datetime import timedelta

from peewee import Case, fn

from portal import audit, uploads
from portal.accounts.models import Organization
from portal.db import PreparedSelect, db
from portal.errors import Conflict, NotFound, ValidationError
from portal.marks import offices, rules
from portal.marks.models import REVIEWED_FIELDS, Mark, pack_codes
from portal.partnerships.services import active_partner_brand_ids
from portal.tenancy import lock_org, object_id
from portal.timeutil import local_today, utcnow

PROOF_AREA = "proofs"
EXPIRING_DAYS = 90
MAX_REASON = 2000

STORED_FIELDS = ("word", "office", "registration_number", "nice_classes", "registered_on", "expires_on",
                 "jurisdictions")


# --- visibility ---------------------------------------------------------------------------------------

def visible_marks(org):
    """Marks `org` may read: a brand its own; a platform those of the brands it has an active partnership
    with. The one predicate every list, detail page, export and API call uses."""
    if org.is_platform:
        return Mark.select().where(Mark.org.in_(active_partner_brand_ids(org)))
    return Mark.for_org(org)


def get_visible_mark(pk, org):
    """A mark `org` may read, or 404 (another brand's mark is indistinguishable from a missing one)."""
    mark = visible_marks(org).where(Mark.id == object_id(pk)).first()
    if mark is None:
        raise NotFound()
    return mark


def search(org, q="", office="", nice_class=None, status="", expiring=False, owner=None, today=None):
    """The filtered list behind the marks page, its CSV export and GET /api/v1/marks."""
    query = visible_marks(org)
    q = " ".join((q or "").split())
    if q:
        number = "".join(q.split()).upper()
        query = query.where(fn.LOWER(Mark.word).contains(q.lower()) | Mark.registration_number.contains(number))
    if office:
        query = query.where(Mark.office == office)
    if nice_class:
        query = query.where(Mark.nice_classes.contains(f";{int(nice_class)};"))
    if status:
        query = query.where(Mark.status == status)
    if expiring:
        today = today or local_today(org.timezone)
        query = query.where(expiring_condition(today, today + timedelta(days=EXPIRING_DAYS)))
    if owner is not None:
        query = query.where(Mark.org == owner)
    return query


def expiring_condition(today, until):
    """Marks expiring between `today` and `until` (both included) that have not expired yet."""
    return Mark.expires_on.between(today, until) & (Mark.status != "expired")


# The dashboard's figures in one grouped query, its SQL built once per process (per kind of org): the
# marks the org may see by status, each group with how many of them expire soon (`search(expiring=True)`).
SUMMARY = PreparedSelect(lambda kind, org_id, today, until: (
    visible_marks(Organization(id=org_id, kind=kind))
    .select(Mark.status, fn.COUNT(Mark.id), fn.SUM(Case(None, [(expiring_condition(today, until), 1)], 0)))
    .group_by(Mark.status).tuples()), arity=3, shaped=True)


def summary(org, today=None):
    """Counts for the dashboard: marks by status, and how many expire within 90 days."""
    today = today or local_today(org.timezone)
    counts = dict.fromkeys(("pending", "verified", "rejected", "expired"), 0)
    expiring = 0
    for status, count, soon in SUMMARY.rows(org.id, today, today + timedelta(days=EXPIRING_DAYS), shape=org.kind):
        counts[status] = count
        expiring += soon or 0
    return {"by_status": counts, "total": sum(counts.values()), "expiring": expiring}


def offices_in_use(org):
    return [row.office for row in visible_marks(org).select(Mark.office).distinct().order_by(Mark.office)]


# --- status -------------------------------------------------------------------------------------------

def stored_values(fields):
    """Checked fields in the form the Mark row stores them (classes and jurisdictions packed)."""
    values = {name: fields.get(name) for name in STORED_FIELDS}
    values["nice_classes"] = pack_codes(fields["nice_classes"])
    values["jurisdictions"] = pack_codes(fields.get("jurisdictions") or [])
    return values


def status_after_change(current, changed, expires_on, today):
    """The status a mark has after `changed` fields were saved (see the module's rules)."""
    if expires_on is not None and expires_on < today:
        return "expired"
    if current == "expired":
        return "pending"  # renewed, or its expiry date corrected: to be verified again
    if current in ("verified", "rejected") and any(name in REVIEWED_FIELDS for name in changed):
        return "pending"
    return current


def review_reset(status, previous):
    """The reviewer fields to clear when a change takes a reviewed mark back to pending."""
    if status == "pending" and previous != "pending":
        return {"reviewed_by": None, "reviewed_by_org": None, "reviewed_at": None, "status_reason": ""}
    return {}


# --- single marks -------------------------------------------------------------------------------------

def check(values):
    checked = rules.clean_mark(values)
    if not checked.ok:
        raise ValidationError(checked.as_errors())
    return checked


def key_taken(org, office, number, except_id=None):
    query = Mark.for_org(org).where((Mark.office == office) & (Mark.registration_number == number))
    if except_id is not None:
        query = query.where(Mark.id != except_id)
    return query.exists()


def duplicate_key_error(office, number):
    return Conflict({"registration_number": f"Your organization already has the {office} registration "
                                            f"{number}. Edit that mark instead."})


def create_mark(org, values, proof=None):
    """A new mark from raw values; returns (mark, warnings). `proof` is an uploaded file (or None)."""
    if org.is_platform:
        raise ValidationError("Only brand organizations register marks.")
    checked = check(values)
    stored = stored_values(checked.fields)
    saved_proof = save_proof(proof) if proof else None
    try:
        with db.atomic():
            lock_org(org)  # the org's mark writers take turns (see imports.Importer.apply)
            if key_taken(org, stored["office"], stored["registration_number"]):
                raise duplicate_key_error(stored["office"], stored["registration_number"])
            status = status_after_change("pending", (), stored["expires_on"], local_today(org.timezone))
            mark = Mark.create(org=org, status=status, **stored, **proof_fields(saved_proof))
            audit.record("mark.created", org, mark, change=change_of(mark))
    except BaseException:
        if saved_proof:
            uploads.delete(PROOF_AREA, saved_proof.name)
        raise
    return mark, checked.warnings


def update_mark(mark, values, proof=None):
    """Change a mark: `values` holds the fields to change (others keep their value). Returns warnings."""
    current = {name: getattr(mark, name) for name in STORED_FIELDS}
    current["nice_classes"] = mark.classes
    current["jurisdictions"] = mark.jurisdiction_list
    merged = dict(current, **values)
    new_office = offices.office_code(rules.as_text(values.get("office", mark.office)))
    given = sorted(part.upper() for part in rules.split_list(values.get("jurisdictions")))
    if new_office != mark.office and given in ([], sorted(offices.implied_jurisdictions(mark.office))):
        merged["jurisdictions"] = None  # a new office implies its own countries (the old ones were implied)
    checked = check(merged)
    stored = stored_values(checked.fields)
    saved_proof = save_proof(proof) if proof else None
    old_proof = mark.proof_path
    try:
        with db.atomic():
            lock_org(mark.org_id)
            mark = Mark.get_for_org(mark.id, mark.org_id)  # fresh, inside the transaction
            changed = {name: value for name, value in stored.items() if getattr(mark, name) != value}
            if saved_proof:
                changed.update(proof_fields(saved_proof))
                if saved_proof.sha256 == mark.proof_sha256:
                    del changed["proof_sha256"]  # the same certificate again: nothing new to review
            if not changed:
                return checked.warnings
            if ("office" in changed or "registration_number" in changed) and key_taken(
                    mark.org, stored["office"], stored["registration_number"], except_id=mark.id):
                raise duplicate_key_error(stored["office"], stored["registration_number"])
            before = change_of(mark)
            previous = mark.status
            status = status_after_change(previous, changed, stored["expires_on"], local_today(mark.org.timezone))
            for name, value in dict(changed, status=status, updated_at=utcnow(),
                                    **review_reset(status, previous)).items():
                setattr(mark, name, value)
            mark.save()
            after = change_of(mark)
            audit.record("mark.updated", mark.org, mark, change={
                "before": {k: before[k] for k in before if before[k] != after[k]},
                "after": {k: after[k] for k in after if before[k] != after[k]}})
    except BaseException:
        if saved_proof:
            uploads.delete(PROOF_AREA, saved_proof.name)
        raise
    if saved_proof and old_proof:
        uploads.delete(PROOF_AREA, old_proof)
    return checked.warnings


def delete_mark(mark):
    with db.atomic():
        lock_org(mark.org_id)
        mark = Mark.get_for_org(mark.id, mark.org_id)
        audit.record("mark.deleted", mark.org, mark, change=change_of(mark))
        mark.delete_instance()
    uploads.delete(PROOF_AREA, mark.proof_path)


def change_of(mark):
    """A mark as its audit events record it."""
    return {"word": mark.word, "office": mark.office, "registration_number": mark.registration_number,
            "nice_classes": mark.classes, "registered_on": mark.registered_on, "expires_on": mark.expires_on,
            "jurisdictions": mark.jurisdiction_list, "status": mark.status, "status_reason": mark.status_reason,
            "proof_sha256": mark.proof_sha256}


# --- proof files --------------------------------------------------------------------------------------

def proof_limit():
    from flask import current_app
    return current_app.config["MARK_PROOF_MAX_BYTES"]


def save_proof(upload):
    """Keep an uploaded registration certificate: PDF, PNG or JPEG by content, within the size cap."""
    stored = uploads.save_upload(upload.stream, PROOF_AREA, proof_limit(), upload.filename, field="proof")
    mimetype = uploads.content_type(stored.head)
    if stored.size == 0 or mimetype is None:
        uploads.delete(PROOF_AREA, stored.name)
        raise ValidationError({"proof": "Attach the registration certificate as a PDF, PNG or JPEG file "
                                        "(checked by its content, not its name)."})
    stored.mimetype = mimetype
    return stored


def proof_fields(stored):
    if stored is None:
        return {}
    return {"proof_name": stored.original_name, "proof_path": stored.name, "proof_sha256": stored.sha256,
            "proof_size": stored.size, "proof_type": stored.mimetype}


def proof_file(mark):
    if not mark.proof_path:
        raise NotFound()
    return uploads.folder(PROOF_AREA) / mark.proof_path


# --- verification -------------------------------------------------------------------------------------

def review_mark(mark, platform, user, decision, reason=""):
    """A partner platform's analyst verifies or rejects a mark; a rejection must say why."""
    reason = (reason or "").strip()
    if decision not in ("verify", "reject"):
        raise ValidationError({"decision": "Choose verify or reject."})
    if decision == "reject" and not reason:
        raise ValidationError({"reason": "Say why the mark is rejected: the brand sees this reason."})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"Use at most {MAX_REASON} characters."})
    with db.atomic():
        lock_org(mark.org_id)
        mark = get_visible_mark(mark.id, platform)  # still a partner's mark, read inside the transaction
        if mark.status == "expired":
            raise Conflict("This mark has expired; the brand must renew it before it can be verified.")
        status = "verified" if decision == "verify" else "rejected"
        before = mark.status
        now = utcnow()
        review = {"decision": status, "at": now.isoformat(), "by_org": platform.name,
                  "values": mark.reviewed_values()}
        Mark.update(status=status, status_reason=reason, reviewed_by=user, reviewed_by_org=platform,
                    reviewed_at=now, updated_at=now, last_review=json.dumps(review, sort_keys=True)).where(
            Mark.id == mark.id).execute()
        change = {"status": [before, status], "reason": reason, "platform": platform.slug}
        for org in (mark.org, platform):  # both sides' trails show the decision
            audit.record(f"mark.{status}", org, mark, change=change)
    return Mark.get_for_org(mark.id, mark.org_id)


def verification_queue(platform):
    """Pending marks of the platform's partner brands, oldest first: the analysts' work list."""
    return visible_marks(platform).where(Mark.status == "pending").order_by(Mark.created_at, Mark.id)


# --- expiry -------------------------------------------------------------------------------------------

def expire_marks(today_for=local_today):
    """Mark every mark past its expiry date (in its owner's time zone) `expired`; one audit event per
    org lists them. Returns how many changed. Run hourly, so every time zone's midnight is caught."""
    from portal.accounts.models import Organization

    changed = 0
    latest = utcnow().date() + timedelta(days=2)  # no time zone is further ahead than this
    owners = (Organization.select().where(Organization.id.in_(
        Mark.select(Mark.org).where((Mark.status != "expired") & (Mark.expires_on < latest)))))
    for org in owners:
        today = today_for(org.timezone)
        with db.atomic():
            due = list(Mark.for_org(org).where((Mark.status != "expired") & (Mark.expires_on < today))
                       .select(Mark.id, Mark.status))
            if not due:
                continue
            Mark.update(status="expired", updated_at=utcnow()).where(Mark.id.in_([m.id for m in due])).execute()
            audit.record("mark.expired", org, object_type="Mark", object_id="",
                         change={"today": today, "marks": [[m.id, m.status] for m in due]})
            changed += len(due)
    return changed
