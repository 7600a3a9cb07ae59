"""Pages of flagged-seller intelligence: the flags list and search, flagging a seller, a flag with its
sightings and evidence, updating and withdrawing it, the CSV export, bulk flagging, seller profiles.

Views stay thin: flags are read only through portal.intel.sharing (visible_flags, get_visible_flag) and
services.search_flags, sightings through sharing.visible_sightings (inside the services), and every rule
of flagging lives in portal.intel.services and rules. A flag the viewer may not see answers 404."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal import uploads
from portal.access import member
from portal.forms import apply_service_errors
from portal.csvutil import csv_response
from portal.errors import Conflict, Forbidden, ServiceError
from portal.intel import rules, services, sharing
from portal.intel.forms import (DISTRIBUTION_MEANINGS, IDENTIFIER_FIELDS, TLP_MEANINGS, EvidenceForm, FlagFields,
                                FlagForm, FlagImportForm, FlagValues, SightingForm, WithdrawForm)
from portal.intel.models import (CATEGORIES, CONFIDENCES, DISTRIBUTIONS, IDENTIFIER_KINDS, SIGHTING_KINDS,
                                 TLP_LABELS, Flag, FlagNotice)
from portal.imports import pages as import_pages
from portal.imports import runner
from portal.intel.imports import FlagImporter
from portal.notices.models import STATE_LABELS, notice_reference
from portal.paging import numbered_page
from portal.partnerships.forms import as_choices
from portal.tenancy import current_org

bp = Blueprint("intel", __name__, url_prefix="/intel")

PAGE_SIZE = 50
STATUSES = {"active": "Active", "withdrawn": "Withdrawn", "all": "Any status"}
OWNERS = {"mine": "Raised by us", "others": "Shared with us"}
EXPORT_HEADER = ["reference", "owner", "marketplace", "seller_id", "display_name", "shop_url", "category",
                 "confidence", "tlp", "distribution", "status", "identifiers", "sightings", "created_at",
                 "updated_at"]
COLUMN_HELP = {
    "marketplace": "Required. The marketplace's slug, such as taobao.",
    "seller_id": "Required. The seller's id on that marketplace. One row per seller: a seller you flag "
                 "already has its flag updated.",
    "category": "Required. " + ", ".join(CATEGORIES) + ".",
    "confidence": ", ".join(CONFIDENCES) + " (medium when empty).",
    "tlp": "Required. " + ", ".join(TLP_LABELS) + " (TLP:AMBER and amber both work).",
    "distribution": "Required. own, group (name the organizations in share_with) or alliance.",
    "share_with": "For a group: the organizations' slugs, separated by semicolons.",
    "show_group": "yes to let the organizations of a group see one another; no otherwise.",
    "display_name": "The shop's name as it shows it.",
    "shop_url": "The shop's address (http or https).",
    "email": IDENTIFIER_KINDS["email"] + "; identifiers link sellers that share them.",
    "domain": IDENTIFIER_KINDS["domain"] + " (a URL keeps only its host).",
    "payment": IDENTIFIER_KINDS["payment"] + ".",
    "phone": IDENTIFIER_KINDS["phone"] + ", with the country code.",
    "notes": "What you know and how.",
}


def user():
    return current_user._get_current_object()


def org():
    return current_org._get_current_object()


def can_write():
    from portal.tenancy import current_membership
    return current_membership.role in ("admin", "analyst")


def utc_iso(moment):
    return moment.isoformat(timespec="seconds") + "Z" if moment else ""


# --- the list, search and export ------------------------------------------------------------------------

class Filters:
    """The list's filters from the query string; anything malformed is ignored, never an error page."""

    def __init__(self, args):
        self.q = rules.text(args.get("q"))[:200]
        self.marketplaces = services.alliance_marketplaces()
        self.marketplace = next((m for m in self.marketplaces if m.slug == args.get("marketplace")), None)
        self.category = args.get("category") if args.get("category") in CATEGORIES else ""
        self.tlp = args.get("tlp") if args.get("tlp") in TLP_LABELS else ""
        self.status = args.get("status") if args.get("status") in STATUSES else "active"
        self.owner = args.get("owner") if args.get("owner") in OWNERS else ""

    def query(self, viewer, **overrides):
        """The visible flags these filters select; `overrides` drop one filter (for that filter's counts)."""
        chosen = {"q": self.q, "marketplace": self.marketplace, "category": self.category, "tlp": self.tlp,
                  "status": "" if self.status == "all" else self.status, "owner": self.owner}
        chosen.update(overrides)
        return services.search_flags(viewer, **chosen)

    def args(self, **overrides):
        values = {"q": self.q, "marketplace": self.marketplace.slug if self.marketplace else "",
                  "category": self.category, "tlp": self.tlp,
                  "status": "" if self.status == "active" else self.status, "owner": self.owner}
        values.update(overrides)
        return {key: value for key, value in values.items() if value}


@bp.route("/flags")
@member("viewer")
def flags():
    viewer = org()
    filters = Filters(request.args)
    query = filters.query(viewer)
    page = numbered_page(query.order_by(Flag.updated_at.desc(), Flag.id.desc()), PAGE_SIZE)
    # Each filter's figures come from the visible query with the other filters applied, so they say what
    # choosing a value would list; a hidden flag is in none of them.
    by_category = services.counts_by(filters.query(viewer, category=""), Flag.category)
    by_status = services.counts_by(filters.query(viewer, status=""), Flag.status)
    by_status["all"] = sum(by_status.values())
    return render_template("intel/flags.html", flags=services.with_sellers(page.rows), filters=filters,
                           total=page.total, page=page.number, pages=page.count, by_category=by_category,
                           by_status=by_status, categories=CATEGORIES, tlps=TLP_LABELS, statuses=STATUSES,
                           owners=OWNERS, confidences=CONFIDENCES, can_write=can_write())


@bp.route("/flags.csv")
@member("viewer")
def export():
    """Every visible flag the filters select (not one page), streamed, a batch of lookups per 500 flags."""
    viewer = org()
    query = Filters(request.args).query(viewer)

    def rows():  # a generator function, so the queries run while the response streams
        for batch in services.export_batches(query, viewer):
            for flag in batch:
                yield [flag.reference, flag.org.slug, flag.seller.marketplace.slug, flag.seller.external_id,
                       flag.display_name, flag.shop_url, flag.category, flag.confidence, flag.tlp,
                       flag.distribution, flag.status,
                       "; ".join(f"{kind}:{value}" for kind, value in flag.identifier_list), flag.sighting_count,
                       utc_iso(flag.created_at), utc_iso(flag.updated_at)]
    return csv_response(f"flags-{viewer.slug}.csv", EXPORT_HEADER, rows())


# --- flagging a seller ----------------------------------------------------------------------------------

def fill_choices(form, viewer, linked=()):
    if hasattr(form, "marketplace"):
        form.marketplace.choices = as_choices(
            [("", "Choose…")] + [(m.slug, f"{m.name} ({m.org.name})") for m in services.alliance_marketplaces()])
    form.share_with.choices = as_choices((o.slug, f"{o.name} ({o.kind})")
                                         for o in services.alliance_orgs(exclude=viewer.id))
    form.notices.choices = as_choices((n.id, f"{n.reference} · filed {n.filed_at:%Y-%m-%d}")
                                      for n in services.linkable_notices(viewer, keep=linked))


def form_context():
    return {"tlp_meanings": TLP_MEANINGS, "distribution_meanings": DISTRIBUTION_MEANINGS, "tlp_labels": TLP_LABELS,
            "distributions": DISTRIBUTIONS, "identifier_fields": IDENTIFIER_FIELDS,
            "contradictions": [(TLP_LABELS[tlp], DISTRIBUTIONS[dist], message)
                               for (tlp, dist), message in sharing.CONTRADICTIONS.items()]}


def render_new(form, status=200):
    return render_template("intel/flag_form.html", form=form, flag=None, **form_context()), status


@bp.route("/flags/new", methods=["GET", "POST"])
@member("analyst")
def new_flag():
    viewer = org()
    form = FlagForm()
    fill_choices(form, viewer)
    if request.method == "GET":
        form.marketplace.data = rules.text(request.args.get("marketplace")).lower()[:64]
        form.seller_id.data = rules.text(request.args.get("seller_id"))[:200]
        return render_new(form)
    if not form.validate_on_submit():
        return render_new(form, 422)
    try:
        flag = services.create_flag(viewer, form.values(), form.evidence.data or [], user())
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_new(form, error.status)
    flash(f"Flag {flag.reference} raised: {flag.tlp_label}, {flag.distribution_label.lower()}.", "success")
    return redirect(url_for("intel.flag", flag_id=flag.id))


# --- one flag -------------------------------------------------------------------------------------------

def render_flag(flag, status=200, sighting_form=None, withdraw_form=None, evidence_form=None):
    viewer = org()
    view = services.flag_view(flag, viewer)
    return render_template("intel/flag.html", view=view, flag=view.flag, tlp_meaning=TLP_MEANINGS.get(flag.tlp, ""),
                           distribution_meaning=DISTRIBUTION_MEANINGS.get(flag.distribution, ""),
                           identifier_kinds=IDENTIFIER_KINDS, sighting_kinds=SIGHTING_KINDS,
                           sighting_form=sighting_form or SightingForm(),
                           withdraw_form=withdraw_form or WithdrawForm(),
                           evidence_form=evidence_form or EvidenceForm(), can_write=can_write()), status


@bp.route("/flags/<int:flag_id>")
@member("viewer")
def flag(flag_id):
    return render_flag(sharing.get_visible_flag(flag_id, org()))


@bp.route("/flags/<int:flag_id>/edit", methods=["GET", "POST"])
@member("analyst")
def edit_flag(flag_id):
    viewer = org()
    flag = sharing.get_visible_flag(flag_id, viewer)  # 404 for a flag the viewer may not see
    try:
        services.require_owner(flag, viewer)  # Forbidden (403) for another org's flag
    except Conflict as error:
        flash(error.message, "error")
        return redirect(url_for("intel.flag", flag_id=flag.id))
    linked = [link.notice_id for link in FlagNotice.select().where(FlagNotice.flag == flag)]
    if request.method == "GET":
        shares = sharing.shared_with(flag, viewer)  # the owner's own group, all of it
        form = FlagFields(obj=FlagValues(flag, services.identifiers_of([flag])[flag.id],
                                         [o.slug for o in shares], linked))
    else:
        form = FlagFields()
    fill_choices(form, viewer, linked)
    view = services.with_sellers([flag])[0]

    def render(status=200):
        return render_template("intel/flag_form.html", form=form, flag=view, **form_context()), status

    if request.method == "GET":
        return render()
    if not form.validate_on_submit():
        return render(422)
    try:
        services.update_flag(flag, viewer, form.values(), user())
    except Forbidden:
        raise
    except ServiceError as error:
        apply_service_errors(form, error)
        return render(error.status)
    flash(f"Flag {flag.reference} saved.", "success")
    return redirect(url_for("intel.flag", flag_id=flag.id))


def act_on_flag(flag_id, form, slot, act, done, anchor=""):
    """The forms of a flag's page: checked, passed to the service, answered. A refusal about the flag's
    state (withdrawn meanwhile: a Conflict) is flashed on its page; one about the form re-renders the form
    (`slot` on the page) with its messages; a non-owner's attempt stays the service's 403."""
    viewer = org()
    flag = sharing.get_visible_flag(flag_id, viewer)
    if not form.validate_on_submit():
        return render_flag(flag, 422, **{slot: form})
    try:
        result = act(flag, viewer)
    except Forbidden:
        raise
    except Conflict as error:
        flash(error.message, "error")
        return redirect(url_for("intel.flag", flag_id=flag.id))
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_flag(flag, error.status, **{slot: form})
    flash(done(flag, result), "success")
    return redirect(url_for("intel.flag", flag_id=flag.id) + anchor)


@bp.route("/flags/<int:flag_id>/withdraw", methods=["POST"])
@member("analyst")
def withdraw_flag(flag_id):
    form = WithdrawForm()
    return act_on_flag(
        flag_id, form, "withdraw_form",
        lambda flag, viewer: services.withdraw_flag(flag, viewer, form.reason.data, user()),
        lambda flag, _: f"Flag {flag.reference} withdrawn; those who could read it still see it, marked withdrawn.")


@bp.route("/flags/<int:flag_id>/sightings", methods=["POST"])
@member("analyst")
def add_sighting(flag_id):
    form = SightingForm()
    return act_on_flag(
        flag_id, form, "sighting_form",
        lambda flag, viewer: services.add_sighting(flag, viewer, form.values(), user()),
        lambda flag, _: "Your sighting was added; the flag's owner is told.", anchor="#flag-sightings")


@bp.route("/flags/<int:flag_id>/evidence", methods=["POST"])
@member("analyst")
def add_evidence(flag_id):
    form = EvidenceForm()
    return act_on_flag(
        flag_id, form, "evidence_form",
        lambda flag, viewer: services.attach_flag_evidence(flag, viewer, form.evidence.data or [], user()),
        lambda flag, added: f"{len(added)} evidence file(s) attached; the flag's readers see their SHA-256.",
        anchor="#flag-evidence")


@bp.route("/flags/<int:flag_id>/evidence/<int:evidence_id>")
@member("viewer")
def evidence(flag_id, evidence_id):
    flag = sharing.get_visible_flag(flag_id, org())
    found = services.get_flag_evidence(flag, evidence_id)
    return uploads.download(services.evidence_path(found), found.content_type, found.name)


# --- bulk flagging --------------------------------------------------------------------------------------

def render_imports(form=None, status=200, refused=None):
    return render_template("intel/imports.html", form=form or FlagImportForm(),
                           jobs=import_pages.recent_jobs(org(), "flags"), columns=rules.FLAG_COLUMNS,
                           column_help=COLUMN_HELP, refused=refused, limits=runner.limits(),
                           update_rules=runner.UPDATE_RULES_HELP,
                           pages=FlagImporter.pages), status


import_pages.add_routes(bp, FlagImporter, "/flags/import", org, user, FlagImportForm, render_imports,
                        file_prefix="flag-import")


@bp.route("/flags/import-template.csv")
@member("viewer")
def flag_import_template():
    """The bulk-flag columns and one example row (a valid one, on a marketplace of the alliance)."""
    marketplaces = services.alliance_marketplaces()
    example = {"marketplace": marketplaces[0].slug if marketplaces else "taobao", "seller_id": "example-shop-123",
               "category": "suspected_counterfeit", "confidence": "high", "tlp": "green",
               "distribution": "alliance", "share_with": "", "show_group": "no", "display_name": "Example Shop",
               "shop_url": "https://shop.example.com/", "email": "sales@shop.example.com",
               "domain": "shop.example.com", "payment": "paypal.me/exampleshop", "phone": "+8613800138000",
               "notes": "Test buy 2026-01: fake packaging, wrong serial numbers."}
    names = list(rules.FLAG_COLUMNS.names)
    return csv_response("flags-template.csv", names, [[example.get(name, "") for name in names]])


# --- sellers --------------------------------------------------------------------------------------------

@bp.route("/sellers")
@member("viewer")
def find_seller():
    marketplaces = services.alliance_marketplaces()
    marketplace = rules.text(request.args.get("marketplace")).lower()[:64]
    seller_id = rules.text(request.args.get("seller_id"))[:200]
    if marketplace and seller_id:
        return redirect(url_for("intel.seller", marketplace=marketplace, seller_id=seller_id))
    return render_template("intel/find_seller.html", marketplaces=marketplaces, marketplace=marketplace,
                           seller_id=seller_id, asked=bool(request.args))


@bp.route("/sellers/<marketplace>/<seller_id:seller_id>", merge_slashes=False)
@member("viewer")
def seller(marketplace, seller_id):
    viewer = org()
    profile = services.seller_profile(viewer, marketplace, seller_id)  # NotFound (404) when nothing is visible
    readable = services.readable_notice_ids(viewer, [s.notice_id for s in profile.strikes or []])
    flag_refs = {f.id: f.reference for f in profile.flags}
    return render_template("intel/seller.html", profile=profile, readable_notices=readable, flag_refs=flag_refs,
                           notice_reference=notice_reference, state_labels=STATE_LABELS,
                           identifier_kinds=IDENTIFIER_KINDS, can_write=can_write(),
                           own_flag=next((f for f in profile.flags if f.org_id == viewer.id and f.status == "active"),
                                         None))
