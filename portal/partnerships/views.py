"""Pages of partnerships: the list (with the good-faith figures and, for platforms, the brands listed
for review), proposing one, a partnership's page with its terms and their history, and the decisions.
Views stay thin: the flow and its rules live in portal.partnerships.services."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.access import member
from portal.forms import apply_service_errors
from portal.accounts.models import Marketplace, Organization
from portal.errors import ServiceError
from portal.notices import goodfaith
from portal.partnerships import services
from portal.partnerships.forms import ProposeForm, ReasonForm, TermsForm, as_choices
from portal.partnerships.models import Partnership
from portal.tenancy import current_org

bp = Blueprint("partnerships", __name__, url_prefix="/partnerships")


def user():
    return current_user._get_current_object()


@bp.route("")
@member("viewer")
def index():
    partnerships = list(services.with_sides(services.partnerships_of(current_org))
                        .order_by(Partnership.status, Partnership.id))
    scored = goodfaith.scores(partnerships)
    terms = services.current_terms(partnerships)
    return render_template("partnerships/index.html", scored=scored,
                           review=[(p, s) for p, s in scored if s.under_review and p.platform_id == current_org.id],
                           terms={pk: pair[0] for pk, pair in terms.items()},
                           pending={pk: pair[1] for pk, pair in terms.items()})


def marketplace_choices(platform_id):
    return [(m.slug, f"{m.name} ({m.country or 'no country'})")
            for m in Marketplace.for_org(platform_id).order_by(Marketplace.name)]


@bp.route("/new", methods=["GET", "POST"])
@member("admin", org_kind="brand")
def propose():
    platforms = list(Organization.select().where(Organization.kind == "platform").order_by(Organization.name))
    form = ProposeForm()
    form.platform.choices = as_choices((p.id, p.name) for p in platforms)
    wanted = form.platform.data if request.method == "POST" else request.args.get("platform")
    default = platforms[0] if platforms and request.method == "GET" else None  # a POST names its platform
    chosen = next((p for p in platforms if str(p.id) == wanted), default)
    if chosen is not None:
        form.marketplaces.choices = as_choices(marketplace_choices(chosen.id))
    if request.method == "GET" and chosen is not None:
        form.platform.data = str(chosen.id)
        form.fill(services.default_terms(chosen))
    if not form.validate_on_submit():
        return render_template("partnerships/propose.html", form=form), 422 if form.is_submitted() else 200
    try:
        partnership = services.propose(current_org, chosen, form.values(), user())
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_template("partnerships/propose.html", form=form), error.status
    flash(f"Partnership proposed to {chosen.name}; its admins decide on the terms.", "success")
    return redirect(url_for("partnerships.detail", partnership_id=partnership.id))


@bp.route("/<int:partnership_id>")
@member("viewer")
def detail(partnership_id):
    partnership = services.get_partnership(partnership_id, current_org)
    return render_template("partnerships/detail.html", partnership=partnership,
                           terms=services.terms_in_force(partnership), pending=services.pending_terms(partnership),
                           history=services.terms_history(partnership), score=goodfaith.score(partnership),
                           reason_form=ReasonForm(), marketplaces={m.slug: m for m in Marketplace.for_org(
                               partnership.platform_id)})


@bp.route("/<int:partnership_id>/terms", methods=["GET", "POST"])
@member("admin")
def revise(partnership_id):
    partnership = services.get_partnership(partnership_id, current_org)
    form = TermsForm()
    form.marketplaces.choices = as_choices(marketplace_choices(partnership.platform_id))
    if request.method == "GET":
        start = services.pending_terms(partnership) or services.terms_in_force(partnership)
        if start is not None:
            form.fill(services.terms_form_values(start))
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("partnerships/revise.html", form=form, partnership=partnership), status
    try:
        terms = services.revise_terms(partnership, current_org, form.values(), user())
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_template("partnerships/revise.html", form=form, partnership=partnership), error.status
    flash(f"Terms version {terms.version} proposed; {partnership.other_side(current_org).name} decides on them. "
          "The terms in force stay until then.", "success")
    return redirect(url_for("partnerships.detail", partnership_id=partnership.id))


@bp.route("/<int:partnership_id>/<any(accept, decline, suspend, resume, end):move>", methods=["POST"])
@member("admin")
def decide(partnership_id, move):
    partnership = services.get_partnership(partnership_id, current_org)
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if move == "accept":
            services.accept_terms(partnership, current_org, user())
            flash("The terms are accepted and in force for notices filed from now on.", "success")
        elif move == "decline":
            services.decline_terms(partnership, current_org, form.reason.data, user())
            flash("The proposed terms were declined.", "success")
        else:
            services.change_status(partnership, current_org, move, form.reason.data, user())
            flash(f"The partnership is now {services.get_partnership(partnership.id, current_org).status}.", "success")
    except ServiceError as error:
        flash(error.message, "error")
    return redirect(url_for("partnerships.detail", partnership_id=partnership.id))
