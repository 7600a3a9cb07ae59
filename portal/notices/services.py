"""Business rules of takedown notices: who sees which notice, filing one, moving its items through their
states, the platform's queue and the brand's list. Pages, the API, the CLI, the demo and tasks call these.

Item states (decided here, described in the README):
    submitted -> acknowledged -> removed | rejected | info_requested
    info_requested -> acknowledged            (the brand answers)
    removed -> counter_noticed -> reinstated | upheld
    submitted | acknowledged | info_requested -> withdrawn   (the brand withdraws; clocks are cancelled)
The platform may remove, reject or ask for information on a `submitted` item directly: it is
acknowledged first (two transitions, both recorded), since deciding on a listing means it was seen.
It may also remove or reject an `info_requested` item (the brand never answered).
Removal, rejection and the decisions on counter-notices carry a statement of reasons: the ground
(`reason`, required) and how to seek redress (`redress`, a standard text when not given).
"""
from dataclasses import dataclass, field
from datetime import timedelta

from peewee import Case, fn

from portal import audit, bulk, uploads
from portal.accounts.models import Marketplace, Membership, Organization, User
from portal.db import PreparedSelect, db, get_by_id, is_postgresql, padded_ids
from portal.errors import Conflict, NotFound, ValidationError
from portal.events import emit
from portal.marks.models import Mark
from portal.marks.offices import covered_countries
from portal.notices import goodfaith, rules
from portal.notices.models import (ACTIVE_STATES, OPEN_STATES, REASONS, STATE_LABELS, STATES, Evidence, Notice,
                                   NoticeItem, NoticeMark, Transition, notice_reference)
from portal.intel import strikes
from portal.partnerships import services as partnerships
from portal.partnerships.models import Partnership, Terms
from portal.sla import clocks
from portal.tenancy import MAX_ID, lock_org, object_id
from portal.timeutil import to_local, utcnow

EVIDENCE_AREA = "evidence"
MAX_EVIDENCE_FILES = 10
MAX_TEST_BUY_REF = 200
BULK_LIMIT = 300
GOOD_FAITH_STATEMENT = (
    "I have a good-faith belief that the use of the marks in the listings above is not authorized by the "
    "rights owner, its agent or the law; the information in this notice is accurate; and I am authorized "
    "to act on behalf of the owner of the rights relied on.")

# A platform may also decide a listing while it waits for the brand: a request never answered must not
# keep the listing open for ever (its paused action clock then completes with the time it had left).
PLATFORM_MOVES = {("submitted", "acknowledged"), ("acknowledged", "removed"), ("acknowledged", "rejected"),
                  ("acknowledged", "info_requested"), ("info_requested", "removed"), ("info_requested", "rejected"),
                  ("removed", "counter_noticed"), ("counter_noticed", "reinstated"), ("counter_noticed", "upheld")}
BRAND_MOVES = {("info_requested", "acknowledged"), ("submitted", "withdrawn"), ("acknowledged", "withdrawn"),
               ("info_requested", "withdrawn")}
# What the `reason` of a move means; a move listed here needs one.
REASON_NEEDED = {
    "removed": "the ground for removing the listing",
    "rejected": "the ground for rejecting the notice on this listing",
    "info_requested": "what information the brand should give",
    "counter_noticed": "a summary of the seller's counter-notice",
    "reinstated": "the ground for accepting the counter-notice",
    "upheld": "the ground for keeping the listing down",
}
DEFAULT_REDRESS = {
    "removed": "The seller may file a counter-notice with the platform; the brand is told of it and the "
               "listing is reinstated if the counter-notice is accepted.",
    "rejected": "The brand may file a new notice with further evidence, or ask the platform to review this "
                "decision through the partnership's contacts.",
    "reinstated": "The brand may take the matter to court or file a new notice with new evidence.",
    "upheld": "The seller may seek redress through the platform's dispute process or the courts.",
}
VERBS = {"acknowledged": "acknowledged", "removed": "removed", "rejected": "rejected",
         "info_requested": "put on hold for information", "counter_noticed": "counter-noticed",
         "reinstated": "reinstated", "upheld": "upheld", "withdrawn": "withdrawn", "submitted": "submitted"}


class ListingsRefused(ValidationError):
    """Some listings of a notice are not usable; `problems` name each row, column and reason."""

    code = "invalid_listings"

    def __init__(self, problems, message=None):
        self.problems = list(problems)
        message = message or (f"{len(self.problems)} listing(s) cannot be filed: "
                              + "; ".join(f"row {p.row}: {p.message}" for p in self.problems[:5])
                              + ("; ..." if len(self.problems) > 5 else ""))
        super().__init__({"listings": [message]})


# --- visibility --------------------------------------------------------------------------------------

def visible_notices(org):
    """Notices `org` may read: a brand those it filed, a platform those sent to it. Every page, export and
    API call reads notices through this predicate."""
    if org.is_platform:
        return Notice.select().where(Notice.platform == org)
    return Notice.for_org(org)


def visible_items(org):
    column = NoticeItem.platform if org.is_platform else NoticeItem.brand
    return NoticeItem.select().where(column == org)


VISIBLE_ITEM = PreparedSelect(lambda kind, org_id, item_id: NoticeItem.select().where(
    ((NoticeItem.platform if kind == "platform" else NoticeItem.brand) == org_id) & (NoticeItem.id == item_id)),
    arity=2, shaped=True)


def visible_item(org, pk):
    """One listing `org` may see (its brand or its platform), or NoticeItem.DoesNotExist."""
    found = VISIBLE_ITEM.rows(org.id, object_id(pk), shape=org.kind)
    if not found:
        raise NoticeItem.DoesNotExist()
    return found[0]


def get_visible_notice(pk, org):
    notice = visible_notices(org).where(Notice.id == object_id(pk)).first()
    if notice is None:
        raise NotFound()
    return notice


def get_item(notice, item_id):
    item = NoticeItem.get_or_none((NoticeItem.id == object_id(item_id)) & (NoticeItem.notice == notice))
    if item is None:
        raise NotFound()
    return item


def get_evidence(notice, evidence_id):
    found = Evidence.get_or_none((Evidence.id == object_id(evidence_id)) & (Evidence.notice == notice))
    if found is None:
        raise NotFound()
    return found


# --- filing ------------------------------------------------------------------------------------------

@dataclass
class Filed:
    notice: Notice
    skipped: list = field(default_factory=list)  # listings already under notice: {row, url, notice, state}
    warnings: list = field(default_factory=list)


def evidence_limit():
    from flask import current_app
    return current_app.config["NOTICE_EVIDENCE_MAX_BYTES"]


def save_evidence(files, field="evidence"):
    """Keep uploaded evidence files (PDF, PNG or JPEG by content, within the size cap); all or none."""
    return uploads.save_documents(files, EVIDENCE_AREA, evidence_limit(), MAX_EVIDENCE_FILES, "a notice", field)


def attach_evidence(notice, files, user=None, now=None, field="evidence"):
    """Add evidence files to a filed notice (the brand's answer to an information request, say): kept
    like a filing's files and recorded for both sides in one transaction; nothing kept if anything fails."""
    now = now or utcnow()
    files = [f for f in files if f is not None and getattr(f, "filename", None)]
    if not files:
        raise ValidationError({field: "Choose a file to attach."})

    def check_room():
        already = Evidence.select().where(Evidence.notice == notice).count()
        if already + len(files) > MAX_EVIDENCE_FILES:
            raise ValidationError({field: f"A notice holds at most {MAX_EVIDENCE_FILES} evidence files; this one "
                                          f"has {already}."})

    check_room()  # before keeping any file
    stored = save_evidence(files, field)
    try:
        with db.atomic():
            lock_org(notice.org_id)  # two uploads at once: the second counts the first's files
            check_room()
            created = _record_evidence(notice, stored, user, now)
            emit("notice.evidence_added", (notice.org_id, notice.platform_id), notice, {
                "notice": notice.reference, "evidence": [{"id": e.id, "name": e.name, "sha256": e.sha256,
                                                          "size": e.size, "content_type": e.content_type}
                                                         for e in created]}, actor=notice.org_id)
    except BaseException:
        discard_evidence(stored)
        raise
    return created


def answer_information_request(item, brand, answer, files=(), user=None, field="files"):
    """The brand's answer to an information request, with evidence files if any: the move and the files are
    kept together or not at all (a refused answer keeps no file; a refused file moves nothing)."""
    files = [f for f in files or () if f is not None and getattr(f, "filename", None)]
    if not files:
        return transition(item, brand, "acknowledged", answer, user=user)
    notice = Notice.get_by_id(item.notice_id)

    def check_room():
        already = Evidence.select().where(Evidence.notice == notice).count()
        if already + len(files) > MAX_EVIDENCE_FILES:
            raise ValidationError({field: f"A notice holds at most {MAX_EVIDENCE_FILES} evidence files; this one "
                                          f"has {already}."})

    check_room()
    stored = save_evidence(files, field)
    try:
        with db.atomic():
            lock_org(notice.org_id)  # first, as attach_evidence takes it: then the listing, then the audit head
            check_room()
            moved = transition(item, brand, "acknowledged", answer, user=user)
            created = _record_evidence(notice, stored, user, moved.state_changed_at)
            emit("notice.evidence_added", (notice.org_id, notice.platform_id), notice, {
                "notice": notice.reference, "evidence": [{"id": e.id, "name": e.name, "sha256": e.sha256,
                                                          "size": e.size, "content_type": e.content_type}
                                                         for e in created]})
    except BaseException:
        discard_evidence(stored)
        raise
    return moved


def _record_evidence(notice, stored, user, now):
    return [Evidence.create(notice=notice, name=kept.original_name, path=kept.name, sha256=kept.sha256,
                            size=kept.size, content_type=kept.mimetype, uploaded_by=user, uploaded_at=now)
            for kept in stored]


def discard_evidence(stored):
    uploads.discard(EVIDENCE_AREA, stored)


def evidence_file(evidence):
    return uploads.folder(EVIDENCE_AREA) / evidence.path


def _check_marks(errors, brand, mark_ids, marketplace, today):
    """The brand's own verified, unexpired marks; those not covering the marketplace's country are
    returned separately (a warning the filer must confirm)."""
    try:
        ids = sorted({int(value) for value in mark_ids or []})
    except (TypeError, ValueError):
        errors["marks"] = "Choose the marks the notice relies on."
        return [], []
    if not ids:
        errors["marks"] = "Choose at least one of your marks that the listings infringe."
        return [], []
    if len(ids) > rules.MAX_MARKS:
        errors["marks"] = f"A notice relies on at most {rules.MAX_MARKS} registrations; choose those that matter."
        return [], []
    marks = list(Mark.for_org(brand).where(Mark.id.in_([i for i in ids if 1 <= i <= MAX_ID])))
    problems = []
    unknown = sorted(set(ids) - {m.id for m in marks})
    if unknown:
        problems.append(f"no mark of yours has the id {', '.join(map(str, unknown[:10]))}")
    for mark in marks:
        if mark.status == "expired" or (mark.expires_on and mark.expires_on < today):
            problems.append(f"{mark.word} ({mark.office} {mark.registration_number}) has expired")
        elif mark.status != "verified":
            problems.append(f"{mark.word} ({mark.office} {mark.registration_number}) is {mark.status}, "
                            "not verified by a partner platform")
    if problems:
        errors["marks"] = "A notice relies only on your verified, unexpired marks: " + "; ".join(problems) + "."
    uncovered = []
    if marketplace is not None and marketplace.country:
        uncovered = [m for m in marks if marketplace.country not in covered_countries(m.jurisdiction_list)]
    return marks, uncovered


def jurisdiction_warning(marketplace, uncovered):
    names = ", ".join(f"{m.word} ({m.office} {m.registration_number})" for m in uncovered)
    return (f"{marketplace.name} serves {marketplace.country}, which these marks do not cover: {names}. "
            "Rights registered elsewhere may not be enforceable there.")


def _clean_notice_fields(errors, values):
    reason_code = str(values.get("reason_code") or "").strip()
    if reason_code not in REASONS:
        errors["reason_code"] = "Choose a reason: " + ", ".join(REASONS) + "."
    explanation = str(values.get("explanation") or "").strip()
    if len(explanation) < rules.MIN_EXPLANATION:
        errors["explanation"] = ("Explain what is infringing and why (at least "
                                 f"{rules.MIN_EXPLANATION} characters)"
                                 + ("; a notice for another reason must say what it is." if reason_code == "other"
                                    else "."))
    elif len(explanation) > rules.MAX_EXPLANATION:
        errors["explanation"] = f"Use at most {rules.MAX_EXPLANATION} characters."
    test_buy_ref = str(values.get("test_buy_ref") or "").strip()
    if len(test_buy_ref) > MAX_TEST_BUY_REF:
        errors["test_buy_ref"] = f"Use at most {MAX_TEST_BUY_REF} characters."
    if not values.get("good_faith"):
        errors["good_faith"] = "Confirm the good-faith statement: a notice cannot be filed without it."
    return reason_code, explanation, test_buy_ref


def _partnership_and_marketplace(errors, brand, values):
    partnership = marketplace = None
    try:
        partnership = partnerships.get_partnership(values.get("partnership"), brand)
        if partnership.brand_id != brand.id:
            raise NotFound()
    except NotFound:
        errors["partnership"] = "Choose one of your partnerships."
        return None, None
    slug = str(values.get("marketplace") or "").strip().lower()
    marketplace = Marketplace.for_org(partnership.platform_id).where(Marketplace.slug == slug).first()
    if marketplace is None:
        errors["marketplace"] = f"Choose a marketplace of {partnership.platform.name}."
    return partnership, marketplace


def file_notice(brand, values, entries, evidence_files=(), user=None, now=None):
    """File a notice: checked as a whole, then saved with its items and their clocks in one transaction.

    `entries` are (row, {url, seller_id, title}) pairs (see portal.notices.rules). Listings already under
    an active notice of the brand are skipped and reported; if none is left, nothing is filed.
    """
    now = now or utcnow()
    errors = {}
    partnership, marketplace = _partnership_and_marketplace(errors, brand, values)
    reason_code, explanation, test_buy_ref = _clean_notice_fields(errors, values)
    marks, uncovered = _check_marks(errors, brand, values.get("marks"), marketplace,
                                    to_local(now, brand.timezone).date())
    warnings = []
    if uncovered and not errors.get("marks"):
        warning = jurisdiction_warning(marketplace, uncovered)
        if not values.get("confirm_jurisdiction"):
            errors["confirm_jurisdiction"] = warning + " Confirm to file anyway."
        warnings.append(warning)
    if partnership is not None and marketplace is not None:
        try:
            partnerships.filing_terms(partnership, marketplace, now=now)
        except ValidationError as refused:
            errors.update({k: v[0] for k, v in refused.errors.items()})
    listings = rules.clean_listings(entries)
    if not listings.rows and not listings.problems:
        errors["listings"] = "Give at least one listing URL."
    if errors:
        raise ValidationError(errors)
    if listings.problems:
        raise ListingsRefused(listings.problems)
    stored = save_evidence(evidence_files)
    try:
        with db.atomic():
            lock_org(brand)  # two filings of the same URL at once: the second sees the first's items
            terms = partnerships.filing_terms(Partnership.get_by_id(partnership.id), marketplace, now=now)
            skipped = already_filed(brand, listings.rows)
            skipped_keys = {s["url_key"] for s in skipped}
            rows = [row for row in listings.rows if row["url_key"] not in skipped_keys]
            if not rows:
                raise ValidationError({"listings": "Every listing is already under one of your notices: "
                                                   + "; ".join(f"{s['url']} ({s['notice']}, {s['state']})"
                                                               for s in skipped[:5])})
            fast_lane = goodfaith.score(partnership, now).fast_lane
            notice = Notice.create(org=brand, platform=partnership.platform_id, partnership=partnership,
                                   terms=terms, marketplace=marketplace, reason_code=reason_code,
                                   explanation=explanation, test_buy_ref=test_buy_ref,
                                   good_faith_statement=GOOD_FAITH_STATEMENT,
                                   jurisdiction_confirmed=bool(uncovered), fast_lane=fast_lane, filed_by=user,
                                   filed_at=now, item_count=len(rows))
            NoticeMark.insert_many([{"notice": notice.id, "mark": m.id} for m in marks]).execute()
            _record_evidence(notice, stored, user, now)
            _create_items(notice, rows, terms, fast_lane, user, brand, now)
            emit("notice.filed", (brand, partnership.platform_id), notice, {
                "notice": notice.reference, "platform": partnership.platform.slug, "marketplace": marketplace.slug,
                "reason_code": reason_code, "marks": [m.id for m in marks], "fast_lane": fast_lane,
                "terms_version": terms.version, "listings": [r["url"] for r in rows],
                "evidence": [k.sha256 for k in stored], "skipped": [s["url"] for s in skipped]}, actor=brand)
    except BaseException:
        discard_evidence(stored)
        raise
    return Filed(notice=Notice.get_by_id(notice.id), skipped=skipped, warnings=warnings)


def already_filed(brand, rows):
    """Of listing rows ({row, url, url_key}), those already under one of the brand's notices that is still
    in hand or was removed (ACTIVE_STATES), with that notice and state."""
    keys = [row["url_key"] for row in rows]
    found = {}
    for start in range(0, len(keys), 500):
        query = (NoticeItem.select(NoticeItem.url_key, NoticeItem.notice, NoticeItem.state)
                 .where((NoticeItem.brand == brand) & NoticeItem.url_key.in_(keys[start:start + 500])
                        & NoticeItem.state.in_(ACTIVE_STATES)))
        for item in query:
            found[item.url_key] = item
    return [{"row": row["row"], "url": row["url"], "url_key": row["url_key"],
             "notice": notice_reference(found[row["url_key"]].notice_id), "state": found[row["url_key"]].state}
            for row in rows if row["url_key"] in found]


ITEM_FIELDS = ("notice", "brand", "platform", "marketplace", "state", "state_changed_at", "position", "url", "url_key",
               "seller_id", "title", "due_at")
TRANSITION_FIELDS = ("item", "brand", "platform", "from_state", "to_state", "actor", "actor_org", "at")


def _create_items(notice, rows, terms, fast_lane, user, brand, now):
    """Items, their first transition and both clocks. Every item starts at the same moment under the same
    terms, so the deadlines are worked out once for the whole notice."""
    ack_minutes, action_minutes = terms.targets(fast_lane)
    calendar = terms.calendar()
    try:
        first_due = min(calendar.add(now, timedelta(minutes=ack_minutes)),
                        calendar.add(now, timedelta(minutes=action_minutes)))
    except ValueError as error:  # terms older than the check in clean_terms; never a 500
        raise ValidationError({"partnership": f"The partnership's calendar cannot be used: {error}."}) from None
    # Written with the driver's bulk path (portal.bulk): peewee's insert_many spent more time building the
    # SQL text of 300 rows than the database spent storing them (a batch of notices files thousands).
    bulk.insert(NoticeItem, ITEM_FIELDS, [
        (notice.id, notice.org_id, notice.platform_id, notice.marketplace_id, "submitted", now, position, row["url"],
         row["url_key"], row["seller_id"], row["title"], first_due) for position, row in enumerate(rows, start=1)])
    items = list(NoticeItem.select(NoticeItem.id, NoticeItem.brand, NoticeItem.platform)
                 .where(NoticeItem.notice == notice))
    actor = getattr(user, "id", user)
    bulk.insert(Transition, TRANSITION_FIELDS, [(item.id, item.brand_id, item.platform_id, "", "submitted", actor,
                                                 brand.id, now) for item in items])
    clocks.start_many(items, calendar, ack_minutes, action_minutes, now)


# --- transitions -------------------------------------------------------------------------------------

def side_of(item, org):
    org_id = getattr(org, "id", org)
    if org_id == item.platform_id:
        return "platform"
    if org_id == item.brand_id:
        return "brand"
    raise NotFound()


def allowed_moves(item, org):
    """The states `org` may move `item` to now (for the pages' buttons)."""
    side = side_of(item, org)
    moves = PLATFORM_MOVES if side == "platform" else BRAND_MOVES
    found = [to for (frm, to) in sorted(moves) if frm == item.state]
    if side == "platform" and item.state == "submitted":
        found += [to for (frm, to) in sorted(PLATFORM_MOVES) if frm == "acknowledged"]
    return [state for state in STATES if state in found]


def _steps(item, side, to):
    """The transitions that take `item` to `to`: one, or acknowledge-then-decide for the platform."""
    moves = PLATFORM_MOVES if side == "platform" else BRAND_MOVES
    if (item.state, to) in moves:
        return [(item.state, to)]
    if side == "platform" and item.state == "submitted" and ("acknowledged", to) in moves:
        return [("submitted", "acknowledged"), ("acknowledged", to)]
    if to not in STATES:
        raise ValidationError({"to": f"Unknown state {str(to)[:40]!r}; the states are: {', '.join(STATES)}."})
    other = BRAND_MOVES if side == "platform" else PLATFORM_MOVES
    if (item.state, to) in other or (to in {t for _, t in other} and to not in {t for _, t in moves}):
        who = "the brand" if side == "platform" else "the platform"
        raise Conflict(f"Only {who} moves a listing from {STATE_LABELS[item.state].lower()} to "
                       f"{STATE_LABELS[to].lower()}.")
    raise Conflict(f"A listing that is {STATE_LABELS[item.state].lower()} cannot be {VERBS[to]}.")


# PostgreSQL: the listing's row lock and its read in one statement (the lock `clocks.lock_item` takes).
LOCKED_ITEM = PreparedSelect(lambda item_id: NoticeItem.select().where(NoticeItem.id == item_id)
                             .for_update("FOR NO KEY UPDATE"))


def _lock_item(item_id):
    """The listing, locked for the transaction: the lock order every writer of items and clocks follows."""
    if is_postgresql():
        found = LOCKED_ITEM.rows(item_id)
        if not found:
            raise NoticeItem.DoesNotExist(f"NoticeItem {item_id} does not exist")
        return found[0]
    clocks.lock_item(item_id)  # SQLite: writers are serial already
    return get_by_id(NoticeItem, item_id)


def transition(item, org, to, reason="", redress="", user=None, now=None):
    """Move one item to state `to` for `org` (its platform or its brand): checked, applied with its
    clock effects, recorded (Transition row, audit and event in both orgs). Returns the item.

    `now` defaults to the moment the listing's lock is taken, not the moment of the call: a move that
    waited behind another one of the same listing happens after it, never "before its last change"."""
    backfill = now is not None
    to = str(to or "").strip()
    # Browsers send line breaks as CRLF but count them as one character against maxlength.
    reason = (reason or "").replace("\r\n", "\n").strip()
    redress = (redress or "").replace("\r\n", "\n").strip()
    for name, text in (("reason", reason), ("redress", redress)):
        if len(text) > rules.MAX_REASON:
            raise ValidationError({name: f"Use at most {rules.MAX_REASON} characters."})
    with db.atomic():
        item = _lock_item(item.id)  # then the seller (strikes), then the audit head: one order for all
        now = now if backfill else utcnow()
        side = side_of(item, org)
        if now < item.state_changed_at:  # a backfill (CLI, demo) must replay history in order
            raise Conflict("A listing's moves are recorded in time order: this one predates its last change.")
        steps = _steps(item, side, to)  # first: a move the other side makes is refused as such
        if to in REASON_NEEDED and not reason:
            raise ValidationError({"reason": f"Give {REASON_NEEDED[to]}: the other side sees it."})
        if side == "brand" and (item.state, to) == ("info_requested", "acknowledged") and not reason:
            raise ValidationError({"reason": "Give the information the platform asked for."})
        seller = None
        if any(step_to in strikes.STRIKE_MOVES for _, step_to in steps):
            seller = strikes.lock_seller_of(item)  # before the first audit write: see its lock order
        for frm, step_to in steps:
            final = step_to == to
            _apply(item, frm, step_to, reason if final else "", _redress(step_to, redress) if final else "",
                   user, org, now, seller)
        clocks.refresh_item(item)
    return get_by_id(NoticeItem, item.id)


def _redress(to, given):
    return given or DEFAULT_REDRESS.get(to, "")


def _apply(item, frm, to, reason, redress, user, org, now, seller=None):
    changes = {"state": to, "state_changed_at": now}
    if to in ("removed", "rejected"):
        changes.update(decision=to, decided_at=now)
    if to in ("reinstated", "upheld"):
        changes.update(counter_outcome=to, counter_decided_at=now)
    NoticeItem.update(**changes).where(NoticeItem.id == item.id).execute()
    _clock_effects(item, frm, to, now)
    Transition.create(item=item, brand=item.brand_id, platform=item.platform_id, from_state=frm, to_state=to,
                      reason=reason, redress=redress, actor=user, actor_org=org, at=now)
    item.state = to
    if to in strikes.STRIKE_MOVES:
        strikes.sync_strike(item, now, seller=seller)
    emit("notice.item.transitioned", (item.brand_id, item.platform_id), item, {
        "notice": notice_reference(item.notice_id), "item": item.id, "url": item.url, "from": frm, "to": to,
        "reason": reason, "redress": redress}, actor=org)


def _clock_effects(item, frm, to, now):
    if frm == "submitted" and to == "acknowledged":
        clocks.complete(item, "acknowledge", now)
    elif to == "info_requested":
        clocks.pause(item, "action", now)
    elif frm == "info_requested" and to == "acknowledged":
        clocks.resume(item, "action", now)
    elif to in ("removed", "rejected"):
        clocks.complete(item, "action", now)
    elif to == "withdrawn":
        clocks.cancel(item, now)


@dataclass
class BulkResult:
    done: list = field(default_factory=list)  # items moved
    refused: list = field(default_factory=list)  # (item, message)


def bulk_transition(org, item_ids, to, reason="", redress="", user=None, now=None):
    """The queue's bulk action: each item moved in its own transaction, so one refusal (someone else
    already decided it) does not stop the others. Items `org` cannot see count as refused."""
    ids = []
    for value in item_ids or []:
        try:
            ids.append(object_id(value))
        except NotFound:
            continue
    ids = sorted(set(ids))
    if not ids:
        raise ValidationError({"items": "Choose at least one listing."})
    if len(ids) > BULK_LIMIT:
        raise ValidationError({"items": f"Act on at most {BULK_LIMIT} listings at once."})
    if to in REASON_NEEDED and not (reason or "").strip():  # the same for every listing: said once, up front
        raise ValidationError({"reason": f"Give {REASON_NEEDED[to]}: the other side sees it."})
    result = BulkResult()
    found = {item.id: item for item in visible_items(org).where(NoticeItem.id.in_(ids))}
    for pk in ids:
        item = found.get(pk)
        if item is None:
            result.refused.append((pk, "No such listing in your queue."))
            continue
        try:
            result.done.append(transition(item, org, to, reason, redress, user, now))
        except (Conflict, ValidationError) as refused:
            result.refused.append((item, refused.message))
    return result


# --- assignment ----------------------------------------------------------------------------------------

ASSIGNING_ROLES = ("analyst", "admin")


def assignable_user(platform, user_id):
    """The platform's active analyst or admin with this id, or a ValidationError: a listing is only ever
    handed to someone of the platform who may move it."""
    try:
        pk = object_id(user_id)
    except NotFound:
        pk = None
    member = (Membership.select(Membership, User).join(User).where(
        (Membership.org == platform) & (Membership.user == pk) & (Membership.active == True)  # noqa: E712
        & (Membership.role.in_(ASSIGNING_ROLES)) & (User.active == True)).first())  # noqa: E712
    if member is None:
        raise ValidationError({"assignee": "Name an active analyst or admin of your organization."})
    return member.user


def assign(platform, item_ids, assignee, by=None, now=None):
    """Claim listings of the platform's queue for `assignee` (a user, see `assignable_user`), or release
    them (`assignee` None). One transaction and one audit event; listings the platform cannot see are
    refused as a whole (nothing assigned). Returns the number of listings assigned."""
    if not platform.is_platform:
        raise Conflict("Only the platform's analysts claim listings.")
    ids = sorted({object_id(value) for value in item_ids or []})
    if not ids:
        raise ValidationError({"items": "Choose at least one listing."})
    if len(ids) > BULK_LIMIT:
        raise ValidationError({"items": f"Assign at most {BULK_LIMIT} listings at once."})
    now = now or utcnow()
    with db.atomic():
        found = [pk for (pk,) in visible_items(platform).select(NoticeItem.id).where(NoticeItem.id.in_(ids)).tuples()]
        if len(found) != len(ids):
            raise NotFound()
        for pk in ids:  # in id order, one at a time: two hand-overs of the same listings never deadlock
            clocks.lock_item(pk)
        NoticeItem.update(assignee=assignee, assigned_at=now if assignee else None).where(
            NoticeItem.id.in_(ids)).execute()
        audit.record("notice_item.assigned" if assignee else "notice_item.released", platform, None, change={
            "items": ids, "assignee": assignee.id if assignee else None,
            "assignee_name": (assignee.name or assignee.email) if assignee else None, "by": by.id if by else None})
    return len(ids)


# --- listings (the listing-level API) --------------------------------------------------------------------

def search_items(org, states=(), brand=None, platform=None, marketplace=None, due_before=None,
                 updated_since=None, assigned=None):
    """Listings `org` may read, with the filters of GET /api/v1/notice-items, unordered (see
    `by_deadline`). `assigned`: "none", "any" or a user id. `updated_since`: moved or (re)assigned at or
    after that moment (naive UTC)."""
    query = visible_items(org)
    if states:
        query = query.where(NoticeItem.state.in_(list(states)))
    if brand is not None:
        query = query.where(NoticeItem.brand == brand)
    if platform is not None:
        query = query.where(NoticeItem.platform == platform)
    if marketplace is not None:
        query = query.where(NoticeItem.marketplace == marketplace)
    if due_before is not None:
        query = query.where(NoticeItem.due_at < due_before)
    if updated_since is not None:
        query = query.where((NoticeItem.state_changed_at >= updated_since)
                            | (NoticeItem.assigned_at >= updated_since))
    if assigned == "none":
        query = query.where(NoticeItem.assignee.is_null())
    elif assigned == "any":
        query = query.where(NoticeItem.assignee.is_null(False))
    elif assigned is not None:
        query = query.where(NoticeItem.assignee == assigned)
    return query


def partnership_id_of(item):
    return Notice.select(Notice.partnership).where(Notice.id == item.notice_id).scalar()


def by_deadline(query, after=None):
    """Listings nearest deadline first, those without a running clock last, ties by id: the queue's order,
    as keyset pages. `after`: (due_at or None, id) of the last listing of the previous page."""
    if after is not None:
        due, last_id = after
        if due is None:
            query = query.where(NoticeItem.due_at.is_null() & (NoticeItem.id > last_id))
        else:
            query = query.where((NoticeItem.due_at > due) | ((NoticeItem.due_at == due) & (NoticeItem.id > last_id))
                                | NoticeItem.due_at.is_null())
    return query.order_by(NoticeItem.due_at.is_null(), NoticeItem.due_at, NoticeItem.id)


# --- lists -------------------------------------------------------------------------------------------

QUEUE_DEFAULT_STATES = ("submitted", "acknowledged", "info_requested", "counter_noticed")


QUEUE_SORTS = {"deadline": "Deadline (nearest first)", "filed": "Filing time (oldest first)", "brand": "Brand"}


def queue(platform, states=QUEUE_DEFAULT_STATES, brand=None, marketplace=None, breached=None, reason_code="", q="",
          due_within=None, fast_lane=None, assigned=None, notice=None, sort="deadline", now=None):
    """The platform's work list: its items in `states`, nearest deadline first (or by filing time, or by
    brand); items without a running clock (waiting on the brand, counter-notices) after them, oldest first.
    `due_within`: a timedelta, listings whose running clock falls due within it (breached ones included);
    `fast_lane`: filed with the fast lane (or not); `assigned`: "none", "any" or a user id; `notice`: its id."""
    query = visible_items(platform).where(NoticeItem.state.in_(states or QUEUE_DEFAULT_STATES))
    if brand is not None:
        query = query.where(NoticeItem.brand == brand)
    if marketplace is not None:
        query = query.where(NoticeItem.marketplace == marketplace)
    if breached is not None:
        query = query.where(NoticeItem.breached == breached)
    if notice is not None:
        query = query.where(NoticeItem.notice == notice)
    if reason_code or fast_lane is not None:
        wanted = Notice.select(Notice.id).where(Notice.platform == platform)
        if reason_code:
            wanted = wanted.where(Notice.reason_code == reason_code)
        if fast_lane is not None:
            wanted = wanted.where(Notice.fast_lane == fast_lane)
        query = query.where(NoticeItem.notice.in_(wanted))
    if due_within is not None:
        query = query.where(NoticeItem.due_at <= (now or utcnow()) + due_within)
    if assigned == "none":
        query = query.where(NoticeItem.assignee.is_null())
    elif assigned == "any":
        query = query.where(NoticeItem.assignee.is_null(False))
    elif assigned is not None:
        query = query.where(NoticeItem.assignee == assigned)
    if q:
        query = query.where(NoticeItem.url.contains(q) | NoticeItem.seller_id.contains(q)
                            | NoticeItem.title.contains(q))
    by_deadline_order = (NoticeItem.due_at.asc(nulls="LAST"), NoticeItem.state_changed_at, NoticeItem.id)
    if sort == "filed":
        return query.order_by(NoticeItem.notice, NoticeItem.position)
    if sort == "brand":
        return (query.join(Organization, on=(NoticeItem.brand == Organization.id))
                .order_by(Organization.name, *by_deadline_order))
    return query.order_by(*by_deadline_order)


# "Waiting for you" (a brand): what the platform asked, counter-notices to answer, and rejections of the
# last two weeks to review (refile with better evidence, or let go).
WAITING_STATES = ("info_requested", "counter_noticed")
REJECTIONS_TO_REVIEW = timedelta(days=14)


def waiting_since(now=None):
    """From when a rejection still waits for the brand's review."""
    return (now or utcnow()) - REJECTIONS_TO_REVIEW


def waiting_for_brand(items, since):
    """The condition on NoticeItem: a listing that waits for its brand."""
    return (NoticeItem.state.in_(WAITING_STATES)
            | ((NoticeItem.state == "rejected") & (NoticeItem.decided_at >= since)))


def waiting_counts(brand, now=None):
    """{"info_requested": n, "counter_noticed": n, "rejected": n}: the brand's listings waiting for it."""
    rows = (visible_items(brand).select(NoticeItem.state, fn.COUNT(NoticeItem.id))
            .where(waiting_for_brand(NoticeItem, waiting_since(now))).group_by(NoticeItem.state).tuples())
    counts = {"info_requested": 0, "counter_noticed": 0, "rejected": 0}
    counts.update(dict(rows))
    return counts


def search_notices(org, state="", marketplace=None, breached=None, filed_from=None, filed_to=None,
                   waiting_since=None):
    """Notices `org` may read, newest first, with the filters of the notices page and GET /api/v1/notices.
    `state`: notices with at least one item in it; `breached`: with (or without) a breached item;
    `filed_from` / `filed_to`: naive UTC bounds, the end exclusive."""
    query = visible_notices(org)
    own_items = visible_items(org).select(NoticeItem.notice)  # scoped, so the subqueries read one org's items
    if state:
        query = query.where(Notice.id.in_(own_items.where(NoticeItem.state == state)))
    if marketplace is not None:
        query = query.where(Notice.marketplace == marketplace)
    if breached is not None:
        with_breach = Notice.id.in_(own_items.where(NoticeItem.breached == True))  # noqa: E712
        query = query.where(with_breach if breached else ~with_breach)
    if waiting_since is not None:
        query = query.where(Notice.id.in_(own_items.where(waiting_for_brand(NoticeItem, waiting_since))))
    if filed_from is not None:
        query = query.where(Notice.filed_at >= filed_from)
    if filed_to is not None:
        query = query.where(Notice.filed_at < filed_to)
    return query


def with_parties(notices):
    """Notices with their brand, platform, marketplace and terms read in the same query (no query per row)."""
    brand, platform = Organization.alias(), Organization.alias()
    return (notices.select_extend(brand, platform, Marketplace, Terms)
            .join_from(Notice, brand, on=(Notice.org == brand.id), attr="org")
            .join_from(Notice, platform, on=(Notice.platform == platform.id), attr="platform")
            .join_from(Notice, Marketplace, on=(Notice.marketplace == Marketplace.id), attr="marketplace")
            .join_from(Notice, Terms, on=(Notice.terms == Terms.id), attr="terms"))


# A page of listings names a few notices: read them with their parties through one compiled statement,
# shaped by the org's side and how many ids (padded to a power of two).
NOTICES_WITH_PARTIES = PreparedSelect(lambda shape, org_id, *ids: with_parties(
    visible_notices(Organization(id=org_id, kind=shape[0])).where(Notice.id.in_(list(ids)))),
    arity=lambda shape: 1 + shape[1], shaped=True)


def notices_with_parties(org, ids):
    """{notice id: Notice with its parties} of those of `ids` that `org` may see."""
    if not ids:
        return {}
    size, padded = padded_ids(sorted(ids))
    return {n.id: n for n in NOTICES_WITH_PARTIES.rows(org.id, *padded, shape=(org.kind, size))}


def state_counts(notices):
    """{notice id: {state: count}} for a page of notices, in one query."""
    ids = [n.id for n in notices]
    counts = {}
    if ids:
        rows = (NoticeItem.select(NoticeItem.notice, NoticeItem.state, fn.COUNT(NoticeItem.id))
                .where(NoticeItem.notice.in_(ids)).group_by(NoticeItem.notice, NoticeItem.state).tuples())
        for notice_id, state, count in rows:
            counts.setdefault(notice_id, {})[state] = count
    return counts


def breached_notices(notices):
    ids = [n.id for n in notices]
    if not ids:
        return set()
    return {row.notice_id for row in NoticeItem.select(NoticeItem.notice).where(
        NoticeItem.notice.in_(ids) & (NoticeItem.breached == True)).distinct()}  # noqa: E712


# What a listing waits on, said by the last move that put it there: the platform's question, its ground.
STANDING_GROUNDS = {"info_requested": "asks", "rejected": "rejected it", "counter_noticed": "recorded a counter-notice",
                    "removed": "removed it", "reinstated": "reinstated it", "upheld": "upheld the removal"}


def standing_grounds(items, history):
    """{item id: (org name, verb, text)}: the reason of the move that put each listing in its present state,
    for the listing's row (not only in its folded history)."""
    found = {}
    for item in items:
        steps = [t for t in history.get(item.id, []) if t.to_state == item.state and t.reason]
        if item.state in STANDING_GROUNDS and steps:
            last = steps[-1]
            found[item.id] = (last.actor_org.name, STANDING_GROUNDS[item.state], last.reason)
    return found


def items_of(notice):
    return list(NoticeItem.select().where(NoticeItem.notice == notice).order_by(NoticeItem.position))


def marks_of(notice):
    return list(Mark.select().join(NoticeMark, on=(NoticeMark.mark == Mark.id))
                .where(NoticeMark.notice == notice).order_by(Mark.word))


def history_of(items):
    ids = [i.id for i in items]
    found = {}
    if ids:
        for row in (Transition.select(Transition, Organization).join(Organization, on=(Transition.actor_org == Organization.id))
                    .where(Transition.item.in_(ids)).order_by(Transition.at, Transition.id)):
            found.setdefault(row.item_id, []).append(row)
    return found


# The dashboard's figures in one grouped query (SQL built once per process, per kind of org): the items the
# org may see by state, each state with its breached items and its unbreached ones due before a moment.
SUMMARY = PreparedSelect(lambda kind, org_id, due_before: (
    visible_items(Organization(id=org_id, kind=kind))
    .select(NoticeItem.state, fn.COUNT(NoticeItem.id),
            fn.SUM(Case(None, [(NoticeItem.breached == True, 1)], 0)),  # noqa: E712
            fn.SUM(Case(None, [((NoticeItem.due_at <= due_before) & (NoticeItem.breached == False), 1)], 0)))  # noqa: E712
    .group_by(NoticeItem.state).tuples()), arity=2, shaped=True)


def summary(org, now=None):
    """Figures for the dashboard: items by state, open and breached counts, due within a day."""
    now = now or utcnow()
    by_state, breached_open, due_soon = {}, 0, 0
    for state, count, breached, due in SUMMARY.rows(org.id, now + timedelta(hours=24), shape=org.kind):
        by_state[state] = count
        if state in OPEN_STATES:
            breached_open += breached or 0
            due_soon += due or 0
    return {"by_state": by_state, "open": sum(by_state.get(s, 0) for s in OPEN_STATES),
            "breached_open": breached_open, "due_soon": due_soon}


def partner_orgs(org):
    """The organizations `org` has partnerships with (a brand's platforms, a platform's brands), for filters."""
    mine, theirs = (Partnership.platform, Partnership.brand) if org.is_platform else (Partnership.brand,
                                                                                      Partnership.platform)
    return list(Organization.select().where(Organization.id.in_(
        Partnership.select(theirs).where(mine == org))).order_by(Organization.name))


def partner_marketplaces(org):
    """Marketplaces seen in `org`'s notices, for filters."""
    return list(Marketplace.select().where(Marketplace.id.in_(
        visible_notices(org).select(Notice.marketplace).distinct())).order_by(Marketplace.name))

