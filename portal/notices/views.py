"""Pages of takedown notices: the list (both sides), filing one, a notice with its items, clocks and
history, the per-item decisions, evidence downloads, and the platform's queue with bulk actions.
Views stay thin: rules live in portal.notices.services, clocks in portal.sla.clocks."""
import tempfile
from datetime import date, datetime, time, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from peewee import fn

from portal.access import member
from portal.forms import apply_service_errors
from portal.accounts.models import Marketplace, Organization
from portal import uploads
from portal.csvutil import csv_response
from portal.db import PreparedSelect
from portal.errors import NotFound, ServiceError, ValidationError
from portal.marks.models import Mark
from portal.imports.tables import FileRefused, open_table
from portal.notices import grounds, queue_page, rules, services
from portal.notices.forms import EvidenceForm, NoticeForm, TransitionForm
from portal.notices.models import (OPEN_STATES, REASONS, STATE_LABELS, STATES, Notice, NoticeItem,
                                   notice_reference)
from portal.paging import numbered_page, page_of
from portal.partnerships.forms import as_choices
from portal.partnerships.services import fileable_partnerships
from portal.sla import clocks
from portal.tenancy import current_org
from portal.timeutil import utcnow

bp = Blueprint("notices", __name__)

PAGE_SIZE = 50


def user():
    return current_user._get_current_object()


def local_day_start(day, tz_name):
    """Midnight of a local date, in naive UTC (filters are in the org's time zone)."""
    from zoneinfo import ZoneInfo
    aware = datetime.combine(day, time()).replace(tzinfo=ZoneInfo(tz_name))
    return aware.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def parse_day(text):
    """A filter date, or None for anything malformed or too far out to mean something (year 1 or 9999
    would overflow once moved to UTC)."""
    try:
        day = date.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return day if 1800 <= day.year <= 2200 else None


# --- the list -------------------------------------------------------------------------------------------

class Filters:
    """The notices list's filters; anything malformed is ignored, never an error page."""

    def __init__(self, args, org):
        self.state = args.get("state") if args.get("state") in STATES else ""
        self.marketplaces = services.partner_marketplaces(org)
        self.marketplace = next((m for m in self.marketplaces if m.slug == args.get("marketplace")), None)
        self.breached = {"1": True, "0": False}.get(args.get("breached"))
        self.filed_from, self.filed_to = parse_day(args.get("from")), parse_day(args.get("to"))
        self.waiting = args.get("waiting") == "1" and not org.is_platform

    def query(self, org):
        tz = org.timezone
        return services.search_notices(
            org, state=self.state, marketplace=self.marketplace, breached=self.breached,
            filed_from=local_day_start(self.filed_from, tz) if self.filed_from else None,
            filed_to=local_day_start(self.filed_to + timedelta(days=1), tz) if self.filed_to else None,
            waiting_since=services.waiting_since() if self.waiting else None)

    def prepared(self, org):
        """(shape, values) of this list for LIST_COUNT and LIST_PAGE: which filters are set, and their values."""
        tz = org.timezone
        bounds = (local_day_start(self.filed_from, tz) if self.filed_from else None,
                  local_day_start(self.filed_to + timedelta(days=1), tz) if self.filed_to else None)
        values = [self.state or None, self.marketplace.id if self.marketplace else None, *bounds,
                  services.waiting_since() if self.waiting else None]
        shape = (org.kind, *(value is not None for value in values), self.breached)
        return shape, [value for value in values if value is not None]

    def args(self):
        values = {"state": self.state, "marketplace": self.marketplace.slug if self.marketplace else "",
                  "breached": {True: "1", False: "0"}.get(self.breached, ""),
                  "from": self.filed_from.isoformat() if self.filed_from else "",
                  "to": self.filed_to.isoformat() if self.filed_to else "", "waiting": "1" if self.waiting else ""}
        return {key: value for key, value in values.items() if value}


def _listed(shape, org_id, *values):
    """The notices list as `Filters.query` builds it (services.search_notices, with_parties), from a stand-in
    org whose id is a placeholder and placeholders for the filters that are set."""
    kind, has_state, has_marketplace, has_from, has_to, has_waiting, breached = shape
    given = iter(values)
    query = services.search_notices(
        Organization(id=org_id, kind=kind), state=next(given) if has_state else "",
        marketplace=next(given) if has_marketplace else None, breached=breached,
        filed_from=next(given) if has_from else None, filed_to=next(given) if has_to else None,
        waiting_since=next(given) if has_waiting else None)
    return services.with_parties(query), given


def _filters_set(shape):
    return 1 + sum(shape[1:6])


# The list's count and its page, each with its SQL built once per process and per set of filters in use.
LIST_COUNT = PreparedSelect(lambda shape, *values: _listed(shape, *values)[0].select(fn.COUNT(Notice.id)).tuples(),
                            arity=_filters_set, shaped=True)


def _list_page(shape, *values):
    query, given = _listed(shape, *values[:_filters_set(shape)])
    limit, offset = values[_filters_set(shape):]
    return query.order_by(Notice.filed_at.desc(), Notice.id.desc()).limit(limit).offset(offset)


LIST_PAGE = PreparedSelect(_list_page, arity=lambda shape: _filters_set(shape) + 2, shaped=True)


@bp.route("/notices")
@member("viewer")
def index():
    filters = Filters(request.args, current_org)
    shape, values = filters.prepared(current_org)
    page = page_of(LIST_COUNT.scalar(current_org.id, *values, shape=shape),
                   lambda limit, offset: LIST_PAGE.rows(current_org.id, *values, limit, offset, shape=shape), PAGE_SIZE)
    rows = page.rows
    return render_template("notices/index.html", notices=rows, filters=filters, total=page.total, page=page.number,
                           pages=page.count, counts=services.state_counts(rows), breached=services.breached_notices(rows),
                           states=STATES, labels=STATE_LABELS, can_file=bool(fileable_partnerships(current_org))
                           if not current_org.is_platform else False)


@bp.route("/notices/items.csv")
@member("viewer")
def export_items():
    """Every listing of the filtered notices with its state and clocks' deadlines, for a spreadsheet."""
    filters = Filters(request.args, current_org)
    notices = filters.query(current_org)
    header = ["notice", "position", "url", "seller_id", "title", "state", "state_changed_at", "due_at", "breached",
              "brand", "platform", "marketplace"]

    def rows():
        # The parties of each notice once (one query), then its listings streamed in order.
        parties = {n.id: [n.org.slug, n.platform.slug, n.marketplace.slug] for n in services.with_parties(notices)}
        items = (services.visible_items(current_org).where(NoticeItem.notice.in_(notices.select(Notice.id)))
                 .order_by(NoticeItem.notice, NoticeItem.position))
        for item in items.iterator():
            yield [notice_reference(item.notice_id), item.position, item.url, item.seller_id, item.title, item.state,
                   item.state_changed_at.isoformat(timespec="seconds") + "Z",
                   item.due_at.isoformat(timespec="seconds") + "Z" if item.due_at else "",
                   "yes" if item.breached else "no", *parties[item.notice_id]]
    return csv_response(f"notice-items-{current_org.slug}.csv", header, rows())


@bp.route("/notices/listings-template.csv")
@member("viewer")
def listings_template():
    return csv_response("listings-template.csv", list(rules.LISTING_COLUMNS.names), [])


# --- filing ---------------------------------------------------------------------------------------------

def filing_choices(brand):
    """("partnership id:marketplace slug", label) for every marketplace the brand may file on now."""
    choices = []
    for partnership, terms in fileable_partnerships(brand):
        markets = {m.slug: m for m in Marketplace.for_org(partnership.platform_id)}
        for slug in terms.marketplace_slugs:
            if slug in markets:
                choices.append((f"{partnership.id}:{slug}", f"{partnership.platform.name} · {markets[slug].name}"))
    return choices


def mark_choices(brand):
    marks = Mark.for_org(brand).where(Mark.status == "verified").order_by(Mark.word, Mark.office)
    return [(str(m.id), f"{m.word} · {m.office} {m.registration_number} · {', '.join(m.jurisdiction_list) or '—'}")
            for m in marks]


def listing_entries(form):
    """The listings from the uploaded file if there is one, else from the box."""
    upload = form.listings_file.data
    if upload is None or not getattr(upload, "filename", ""):
        return rules.listings_from_text(form.listings.data)
    with tempfile.NamedTemporaryFile(prefix="listings-") as handle:
        # A notice's listings file is small (300 rows); a copy capped at 5 MB is enough to read it.
        data = upload.stream.read(5 * 1024 * 1024 + 1)
        if len(data) > 5 * 1024 * 1024:
            raise FileRefused("too_large", "A listings file for one notice is at most 5 MB (300 rows).")
        handle.write(data)
        handle.flush()
        table = open_table(handle.name, upload.filename, 50 * 1024 * 1024, spec=rules.LISTING_COLUMNS)
        return rules.listings_from_table(table)


def render_filing(form, status=200, problems=(), warning=None):
    return render_template("notices/new.html", form=form, problems=problems, warning=warning,
                           statement=services.GOOD_FAITH_STATEMENT, max_items=rules.MAX_ITEMS), status


@bp.route("/notices/new", methods=["GET", "POST"])
@member("analyst", org_kind="brand")
def new():
    form = NoticeForm()
    form.where.choices = as_choices(filing_choices(current_org))
    form.marks.choices = as_choices(mark_choices(current_org))
    if not form.where.choices and request.method == "GET":
        flash("There is no active partnership to file under yet: a brand admin proposes one to a platform.", "warning")
    if not form.validate_on_submit():
        return render_filing(form, 422 if form.is_submitted() else 200)
    try:
        entries = listing_entries(form)
        filed = services.file_notice(current_org, form.values(), entries, form.evidence.data or [], user())
    except services.ListingsRefused as refused:
        form.listings.errors = list(form.listings.errors) + [refused.message]
        return render_filing(form, refused.status, problems=refused.problems)
    except FileRefused as refused:
        form.listings_file.errors = list(form.listings_file.errors) + [refused.text]
        return render_filing(form, refused.status)
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_filing(form, error.status, warning=error.errors.get("confirm_jurisdiction"))
    notice = filed.notice
    flash(f"Notice {notice.reference} filed with {notice.item_count} listing(s) to {notice.platform.name}.", "success")
    if filed.skipped:  # one message, however many: the session cookie holds only so much
        shown = "; ".join(f"{s['url'][:100]} ({s['notice']}, {s['state']})" for s in filed.skipped[:3])
        more = f" and {len(filed.skipped) - 3} more" if len(filed.skipped) > 3 else ""
        flash(f"{len(filed.skipped)} listing(s) not filed again, already under your notices: {shown}{more}.",
              "warning")
    for warning in filed.warnings:
        flash(warning, "warning")
    return redirect(url_for("notices.detail", notice_id=notice.id))


# --- one notice -----------------------------------------------------------------------------------------

@bp.route("/notices/<int:notice_id>")
@member("viewer")
def detail(notice_id):
    return render_detail(services.get_visible_notice(notice_id, current_org))


def render_detail(notice, status=200, refused=None):
    """The notice page; `refused`: (item id, error, the values sent) of a move refused, shown beside it."""
    items = services.items_of(notice)
    can_act = current_user_can_act()
    history = services.history_of(items)
    return render_template("notices/detail.html", notice=notice, items=items, marks=services.marks_of(notice),
                           evidence=list(notice.evidence), readings=clocks.readings(items),
                           history=history, asked=services.standing_grounds(items, history),
                           form=TransitionForm(), evidence_form=EvidenceForm(),
                           moves={item.id: services.allowed_moves(item, current_org) if can_act else []
                                  for item in items},
                           refused=refused, labels=STATE_LABELS, reasons_needed=services.REASON_NEEDED,
                           now=utcnow()), status


def current_user_can_act():
    from portal.tenancy import current_membership
    return current_membership.role in ("admin", "analyst")


@bp.route("/notices/<int:notice_id>/items/<int:item_id>/transition", methods=["POST"])
@member("analyst")
def transition(notice_id, item_id):
    notice = services.get_visible_notice(notice_id, current_org)
    item = services.get_item(notice, item_id)
    form = TransitionForm()
    if not form.validate_on_submit():
        abort(400)
    to = request.form.get("to", "")
    values = {"to": to, "reason": form.reason.data or "", "redress": form.redress.data or ""}
    try:
        if not to:
            raise ValidationError({"to": "Choose what to do with this listing."})
        if not current_org.is_platform and item.state == "info_requested" and to == "acknowledged":
            moved = services.answer_information_request(item, current_org._get_current_object(), values["reason"],
                                                        request.files.getlist("files"), user())
        else:
            moved = services.transition(item, current_org, to, values["reason"], values["redress"], user())
    except ServiceError as error:
        # The page again, the listing's choice and text kept, the reason beside it: nothing was changed.
        return render_detail(notice, error.status, refused=(item.id, error.message, values))
    flash(f"Listing {moved.position} is now {moved.state_label.lower()}.", "success")
    return redirect(request.form.get("back") == "queue" and url_for("notices.queue")
                    or url_for("notices.detail", notice_id=notice.id) + f"#item-{item.id}")


@bp.route("/notices/<int:notice_id>/evidence", methods=["POST"])
@member("analyst", org_kind="brand")
def add_evidence(notice_id):
    """More evidence for a filed notice (often the answer to an information request)."""
    notice = Notice.get_for_org(notice_id, current_org)
    form = EvidenceForm()
    if not form.validate_on_submit():
        flash("Choose a file to attach.", "error")
        return redirect(url_for("notices.detail", notice_id=notice.id))
    try:
        added = services.attach_evidence(notice, form.files.data or [], user())
        flash(f"{len(added)} evidence file(s) attached; both sides see their SHA-256.", "success")
    except ServiceError as error:
        flash(error.message, "error")
    return redirect(url_for("notices.detail", notice_id=notice.id))


@bp.route("/notices/<int:notice_id>/evidence/<int:evidence_id>")
@member("viewer")
def evidence(notice_id, evidence_id):
    notice = services.get_visible_notice(notice_id, current_org)
    found = services.get_evidence(notice, evidence_id)
    return uploads.download(services.evidence_file(found), found.content_type, found.name)


# --- the platform's queue -------------------------------------------------------------------------------

class QueueFilters:
    """The queue's filters, sort and page size from the query string; anything malformed is ignored."""

    PAGE_SIZES = (50, 100, 300)

    def __init__(self, args, platform, user=None):
        # Every brand with notices here, not only today's partners: a suspended partner's items still wait.
        self.brands = list(Organization.select().where(Organization.id.in_(
            services.visible_notices(platform).select(Notice.org).distinct())).order_by(Organization.name))
        self.brand = next((b for b in self.brands if b.slug == args.get("brand")), None)
        self.marketplaces = list(Marketplace.for_org(platform).order_by(Marketplace.name))
        self.marketplace = next((m for m in self.marketplaces if m.slug == args.get("marketplace")), None)
        self.state = args.get("state") if args.get("state") in OPEN_STATES else ""
        self.breached = {"1": True, "0": False}.get(args.get("breached"))
        self.fast_lane = {"1": True, "0": False}.get(args.get("fast_lane"))
        self.reason = args.get("reason") if args.get("reason") in REASONS else ""
        self.q = (args.get("q") or "").strip()[:200]
        due = (args.get("due_within") or "").strip()
        self.due_within = int(due) if due.isdigit() and 0 < int(due) <= 24 * 365 else None  # hours
        self.assigned = args.get("assigned") if args.get("assigned") in ("mine", "none", "any") else ""
        self.user = user
        self.sort = args.get("sort") if args.get("sort") in services.QUEUE_SORTS else "deadline"
        notice = (args.get("notice") or "").strip().upper().removeprefix("N-")
        self.notice = int(notice) if notice.isdigit() and 0 < int(notice) < 10 ** 12 else None
        size = args.get("per_page", "")
        self.per_page = int(size) if size.isdigit() and int(size) in self.PAGE_SIZES else self.PAGE_SIZES[0]

    def query(self, platform):
        assigned = {"mine": getattr(self.user, "id", 0), "none": "none", "any": "any"}.get(self.assigned)
        return services.queue(platform, states=(self.state,) if self.state else services.QUEUE_DEFAULT_STATES,
                              brand=self.brand, marketplace=self.marketplace, breached=self.breached,
                              reason_code=self.reason, q=self.q, fast_lane=self.fast_lane, notice=self.notice,
                              due_within=timedelta(hours=self.due_within) if self.due_within else None,
                              assigned=assigned, sort=self.sort)

    def args(self):
        values = {"brand": self.brand.slug if self.brand else "", "marketplace": self.marketplace.slug
                  if self.marketplace else "", "state": self.state,
                  "breached": {True: "1", False: "0"}.get(self.breached, ""),
                  "fast_lane": {True: "1", False: "0"}.get(self.fast_lane, ""), "reason": self.reason, "q": self.q,
                  "due_within": self.due_within or "", "assigned": self.assigned,
                  "sort": "" if self.sort == "deadline" else self.sort,
                  "notice": notice_reference(self.notice) if self.notice else "",
                  "per_page": "" if self.per_page == self.PAGE_SIZES[0] else self.per_page}
        return {key: value for key, value in values.items() if value}


# The queue's bulk bar: each move with the words its ground field takes (None: no ground asked).
QUEUE_MOVES = {"acknowledged": ("Acknowledge", None), "removed": ("Remove", "Ground for removal"),
               "rejected": ("Reject", "Ground for rejection"),
               "info_requested": ("Request information", "Question to the brand")}
ASSIGN_ACTIONS = {"claim": "Claim for me", "release": "Release"}


def render_queue(filters, status=200, bulk_error=None, bulk_values=None):
    page = numbered_page(filters.query(current_org), filters.per_page)
    rows = page.rows
    templates = grounds.templates_of(current_org)
    return render_template("notices/queue.html", items=rows, facts=queue_page.facts_for(current_org, rows),
                           next_due=clocks.nearest_due(clocks.readings(rows)), filters=filters, total=page.total, page=page.number,
                           pages=page.count, labels=STATE_LABELS, open_states=OPEN_STATES, reasons=REASONS,
                           sorts=services.QUEUE_SORTS, form=TransitionForm(), moves=QUEUE_MOVES,
                           assign_actions=ASSIGN_ACTIONS, templates=templates, can_act=current_user_can_act(),
                           bulk_limit=services.BULK_LIMIT, bulk_error=bulk_error, bulk=bulk_values or {},
                           now=utcnow()), status


@bp.route("/queue")
@member("viewer", org_kind="platform")
def queue():
    return render_queue(QueueFilters(request.args, current_org, user()))


def chosen_items(filters):
    """The listings a bulk action is for: those ticked, or with "every matching listing" the first 300 the
    filters find (in the queue's order), so a whole notice or a filtered set is one action."""
    if request.form.get("scope") == "matching":
        return [pk for (pk,) in filters.query(current_org).select(NoticeItem.id).limit(services.BULK_LIMIT)
                .tuples()]
    return request.form.getlist("item")


@bp.route("/queue/bulk", methods=["POST"])
@member("analyst", org_kind="platform")
def bulk():
    form = TransitionForm()
    filters = QueueFilters(request.args, current_org, user())
    if not form.validate_on_submit():
        abort(400)
    action = request.form.get("to", "")
    values = {"to": action, "ground": request.form.get("ground", ""), "reason": form.reason.data or "",
              "redress": form.redress.data or "", "scope": request.form.get("scope", ""),
              "items": request.form.getlist("item")}
    items = chosen_items(filters)
    try:
        if action in ASSIGN_ACTIONS:
            count = services.assign(current_org, items, user() if action == "claim" else None, by=user())
            flash(f"{count} listing(s) {'claimed for you' if action == 'claim' else 'released'}.", "success")
            return redirect(url_for("notices.queue", **filters.args()))
        if action not in QUEUE_MOVES:
            raise ValidationError({"to": "Choose what to do with the selected listings."})
        reason, redress = values["reason"], values["redress"]
        if values["ground"]:
            if reason.strip():
                raise ValidationError({"reason": "Choose a template or type a ground, not both."})
            template = grounds.get_template(current_org, values["ground"])
            if template.move != action:
                raise ValidationError({"ground": f"This template is a {template.move_label.lower()}; choose one for "
                                              f"{QUEUE_MOVES[action][0].lower()}."})
            reason, redress = template.text, redress or template.redress
        result = services.bulk_transition(current_org, items, action, reason, redress, user())
    except ServiceError as error:
        return render_queue(filters, status=error.status, bulk_error=error,
                            bulk_values=values)
    except NotFound:
        return render_queue(filters, status=404, bulk_error=ValidationError(
            {"items": "A selected listing is no longer in your queue; nothing was changed."}), bulk_values=values)
    if result.done:
        flash(f"{len(result.done)} listing(s) {services.VERBS[action]}.", "success")
    if result.refused:
        first = "; ".join(f"{str(getattr(item, 'url', item))[:100]}: {message}" for item, message in result.refused[:3])
        more = f" and {len(result.refused) - 3} more" if len(result.refused) > 3 else ""
        flash(f"{len(result.refused)} listing(s) not changed: {first}{more}.", "error")
    return redirect(url_for("notices.queue", **filters.args()))
