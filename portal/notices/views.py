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
from portal.errors import ServiceError
from portal.marks.models import Mark
from portal.imports.tables import FileRefused, open_table
from portal.notices import rules, services
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
BULK_MOVES = ("acknowledged", "removed")


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

    def query(self, org):
        tz = org.timezone
        return services.search_notices(
            org, state=self.state, marketplace=self.marketplace, breached=self.breached,
            filed_from=local_day_start(self.filed_from, tz) if self.filed_from else None,
            filed_to=local_day_start(self.filed_to + timedelta(days=1), tz) if self.filed_to else None)

    def prepared(self, org):
        """(shape, values) of this list for LIST_COUNT and LIST_PAGE: which filters are set, and their values."""
        tz = org.timezone
        bounds = (local_day_start(self.filed_from, tz) if self.filed_from else None,
                  local_day_start(self.filed_to + timedelta(days=1), tz) if self.filed_to else None)
        values = [self.state or None, self.marketplace.id if self.marketplace else None, *bounds]
        shape = (org.kind, *(value is not None for value in values), self.breached)
        return shape, [value for value in values if value is not None]

    def args(self):
        values = {"state": self.state, "marketplace": self.marketplace.slug if self.marketplace else "",
                  "breached": {True: "1", False: "0"}.get(self.breached, ""),
                  "from": self.filed_from.isoformat() if self.filed_from else "",
                  "to": self.filed_to.isoformat() if self.filed_to else ""}
        return {key: value for key, value in values.items() if value}


def _listed(shape, org_id, *values):
    """The notices list as `Filters.query` builds it (services.search_notices, with_parties), from a stand-in
    org whose id is a placeholder and placeholders for the filters that are set."""
    kind, has_state, has_marketplace, has_from, has_to, breached = shape
    given = iter(values)
    query = services.search_notices(
        Organization(id=org_id, kind=kind), state=next(given) if has_state else "",
        marketplace=next(given) if has_marketplace else None, breached=breached,
        filed_from=next(given) if has_from else None, filed_to=next(given) if has_to else None)
    return services.with_parties(query), given


def _filters_set(shape):
    return 1 + sum(shape[1:5])


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
    notice = services.get_visible_notice(notice_id, current_org)
    items = services.items_of(notice)
    can_act = current_user_can_act()
    return render_template("notices/detail.html", notice=notice, items=items, marks=services.marks_of(notice),
                           evidence=list(notice.evidence), readings=clocks.readings(items),
                           history=services.history_of(items), form=TransitionForm(), evidence_form=EvidenceForm(),
                           moves={item.id: services.allowed_moves(item, current_org) if can_act else []
                                  for item in items},
                           labels=STATE_LABELS, reasons_needed=services.REASON_NEEDED, now=utcnow())


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
    try:
        moved = services.transition(item, current_org, to, form.reason.data, form.redress.data, user())
        flash(f"Listing {moved.position} is now {moved.state_label.lower()}.", "success")
    except ServiceError as error:
        flash(f"Listing {item.position}: {error.message}", "error")
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
    def __init__(self, args, platform):
        # Every brand with notices here, not only today's partners: a suspended partner's items still wait.
        self.brands = list(Organization.select().where(Organization.id.in_(
            services.visible_notices(platform).select(Notice.org).distinct())).order_by(Organization.name))
        self.brand = next((b for b in self.brands if b.slug == args.get("brand")), None)
        self.marketplaces = list(Marketplace.for_org(platform).order_by(Marketplace.name))
        self.marketplace = next((m for m in self.marketplaces if m.slug == args.get("marketplace")), None)
        self.state = args.get("state") if args.get("state") in OPEN_STATES else ""
        self.breached = {"1": True, "0": False}.get(args.get("breached"))
        self.reason = args.get("reason") if args.get("reason") in REASONS else ""
        self.q = (args.get("q") or "").strip()[:200]

    def query(self, platform):
        return services.queue(platform, states=(self.state,) if self.state else services.QUEUE_DEFAULT_STATES,
                              brand=self.brand, marketplace=self.marketplace, breached=self.breached,
                              reason_code=self.reason, q=self.q)

    def args(self):
        values = {"brand": self.brand.slug if self.brand else "", "marketplace": self.marketplace.slug
                  if self.marketplace else "", "state": self.state,
                  "breached": {True: "1", False: "0"}.get(self.breached, ""), "reason": self.reason, "q": self.q}
        return {key: value for key, value in values.items() if value}


@bp.route("/queue")
@member("viewer", org_kind="platform")
def queue():
    filters = QueueFilters(request.args, current_org)
    page = numbered_page(filters.query(current_org), PAGE_SIZE)
    rows = page.rows
    shown = services.visible_notices(current_org).where(Notice.id.in_({i.notice_id for i in rows}))
    notices = {n.id: n for n in services.with_parties(shown)} if rows else {}
    return render_template("notices/queue.html", items=rows, notices=notices, readings=clocks.readings(rows),
                           filters=filters, total=page.total, page=page.number, pages=page.count, labels=STATE_LABELS,
                           open_states=OPEN_STATES, reasons=REASONS, form=TransitionForm(), bulk_moves=BULK_MOVES,
                           can_act=current_user_can_act(), now=utcnow())


@bp.route("/queue/bulk", methods=["POST"])
@member("analyst", org_kind="platform")
def bulk():
    form = TransitionForm()
    if not form.validate_on_submit():
        abort(400)
    to = request.form.get("to", "")
    if to not in BULK_MOVES:
        flash("Choose acknowledge or remove for the selected listings.", "error")
        return redirect(url_for("notices.queue"))
    try:
        reason, redress = (form.reason.data, form.redress.data) if to == "removed" else ("", "")
        result = services.bulk_transition(current_org, request.form.getlist("item"), to, reason, redress, user())
    except ServiceError as error:
        flash(error.message, "error")
        return redirect(url_for("notices.queue"))
    if result.done:
        flash(f"{len(result.done)} listing(s) {services.VERBS[to]}.", "success")
    if result.refused:
        first = "; ".join(f"{str(getattr(item, 'url', item))[:100]}: {message}" for item, message in result.refused[:3])
        more = f" and {len(result.refused) - 3} more" if len(result.refused) > 3 else ""
        flash(f"{len(result.refused)} listing(s) not changed: {first}{more}.", "error")
    return redirect(url_for("notices.queue", **{k: v for k, v in request.args.items() if k != "page"}))
