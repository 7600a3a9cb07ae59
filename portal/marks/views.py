"""Pages of the marks registry: the list (search, filters, CSV export), a mark's page, the form, the
platforms' verification queue, and bulk upload with its jobs. Views stay thin: rules live in services,
the import in imports."""
import io

from flask import (Blueprint, abort, flash, redirect, render_template, request, send_file, url_for)
from flask_login import current_user

from portal.access import member
from portal.forms import ConfirmForm, apply_service_errors
from portal import uploads
from portal.csvutil import csv_response
from portal.errors import ServiceError
from portal.imports import pages as import_pages
from portal.imports import report as import_report
from portal.imports import runner
from portal.marks import services, workbook
from portal.marks.importer import MarkImporter
from portal.marks.forms import ImportForm, MarkForm, ReviewForm
from portal.marks.models import STATUSES, Mark
from portal.marks.offices import OFFICES
from portal.marks.rules import COLUMN_HELP, COLUMNS
from portal.paging import numbered_page
from portal.partnerships.services import active_partner_brands
from portal.tenancy import current_org

bp = Blueprint("marks", __name__, url_prefix="/marks")

PAGE_SIZE = 50


def user():
    return current_user._get_current_object()


# --- list, export --------------------------------------------------------------------------------------

class Filters:
    """The list's filters from the query string; anything malformed is ignored, never an error page."""

    def __init__(self, args, org):
        self.q = (args.get("q") or "").strip()[:200]
        self.office = (args.get("office") or "").strip().upper()[:16]
        self.nice_class = args.get("class", type=int)
        if self.nice_class is not None and not 1 <= self.nice_class <= 45:
            self.nice_class = None
        self.status = args.get("status") if args.get("status") in STATUSES else ""
        self.expiring = args.get("expiring") == "1"
        self.owners = list(active_partner_brands(org)) if org.is_platform else []
        owner_slug = args.get("owner") or ""
        self.owner = next((o for o in self.owners if o.slug == owner_slug), None)

    def query(self, org):
        return services.search(org, q=self.q, office=self.office, nice_class=self.nice_class, status=self.status,
                               expiring=self.expiring, owner=self.owner)

    def args(self):
        values = {"q": self.q, "office": self.office, "class": self.nice_class or "", "status": self.status,
                  "expiring": "1" if self.expiring else "", "owner": self.owner.slug if self.owner else ""}
        return {key: value for key, value in values.items() if value}


@bp.route("")
@member("viewer")
def index():
    filters = Filters(request.args, current_org)
    query = filters.query(current_org)
    if current_org.is_platform:  # the Brand column: each mark's org read in the same query, not one per row
        from portal.accounts.models import Organization
        query = query.join(Organization, on=Mark.org).select_extend(Organization)
    page = numbered_page(query.order_by(Mark.word, Mark.office, Mark.id), PAGE_SIZE)
    return render_template("marks/index.html", marks=page.rows, filters=filters, total=page.total, page=page.number,
                           pages=page.count,
                           offices=sorted(set(OFFICES) | set(services.offices_in_use(current_org))),
                           statuses=STATUSES, expiring_days=services.EXPIRING_DAYS)


@bp.route("/export.csv")
@member("viewer")
def export():
    """The filtered list in the template's columns (plus status), ready to edit and upload again."""
    filters = Filters(request.args, current_org)
    marks = filters.query(current_org).order_by(Mark.id)
    header = list(COLUMNS) + ["status", "owner"]

    owners = {owner.id: owner.slug for owner in (filters.owners if current_org.is_platform else [current_org])}

    def rows():
        for mark in marks.iterator():
            yield [mark.word, mark.office, mark.registration_number, ";".join(map(str, mark.classes)),
                   mark.registered_on or "", mark.expires_on or "", ";".join(mark.jurisdiction_list), mark.status,
                   owners.get(mark.org_id, "")]
    return csv_response(f"marks-{current_org.slug}.csv", header, rows())


@bp.route("/template.<any(csv, xlsx):fmt>")
@member("viewer")
def template(fmt):
    if fmt == "csv":
        return csv_response("marks-template.csv", list(COLUMNS), [])
    return send_file(io.BytesIO(workbook.xlsx_template()), as_attachment=True, download_name="marks-template.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# --- one mark ------------------------------------------------------------------------------------------

@bp.route("/<int:mark_id>")
@member("viewer")
def detail(mark_id):
    mark = services.get_visible_mark(mark_id, current_org)
    return render_template("marks/detail.html", mark=mark, review_form=ReviewForm(), confirm_form=ConfirmForm(),
                           office=OFFICES.get(mark.office))


def render_form(form, mark=None, status=200, warnings=()):
    return render_template("marks/form.html", form=form, mark=mark, offices=OFFICES.values(),
                           warnings=warnings), status


@bp.route("/new", methods=["GET", "POST"])
@member("analyst", org_kind="brand")
def create():
    form = MarkForm()
    if not form.validate_on_submit():
        return render_form(form, status=422 if form.is_submitted() else 200)
    try:
        mark, warnings = services.create_mark(current_org, form.values(), proof=form.proof.data or None)
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_form(form, status=error.status)
    flash_saved(f"The mark {mark.word} ({mark.office} {mark.registration_number}) was added.", warnings)
    return redirect(url_for("marks.detail", mark_id=mark.id))


@bp.route("/<int:mark_id>/edit", methods=["GET", "POST"])
@member("analyst", org_kind="brand")
def edit(mark_id):
    mark = Mark.get_for_org(mark_id, current_org)
    form = MarkForm(obj=None if request.method == "POST" else FormValues(mark))
    if not form.validate_on_submit():
        return render_form(form, mark, status=422 if form.is_submitted() else 200)
    try:
        warnings = services.update_mark(mark, form.values(), proof=form.proof.data or None)
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_form(form, mark, status=error.status)
    flash_saved("The mark was saved.", warnings)
    return redirect(url_for("marks.detail", mark_id=mark.id))


class FormValues:
    """A mark as the form shows it (lists joined with semicolons)."""

    def __init__(self, mark):
        self.word, self.office, self.registration_number = mark.word, mark.office, mark.registration_number
        self.nice_classes = ";".join(map(str, mark.classes))
        self.registered_on, self.expires_on = mark.registered_on, mark.expires_on
        self.jurisdictions = ";".join(mark.jurisdiction_list)
        self.proof = None


def flash_saved(message, warnings):
    flash(message, "success")
    for warning in warnings:
        flash(warning.message, "warning")


@bp.route("/<int:mark_id>/delete", methods=["POST"])
@member("analyst", org_kind="brand")
def delete(mark_id):
    mark = Mark.get_for_org(mark_id, current_org)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.delete_mark(mark)
    flash(f"The mark {mark.word} ({mark.office} {mark.registration_number}) was deleted.", "success")
    return redirect(url_for("marks.index"))


@bp.route("/<int:mark_id>/proof")
@member("viewer")
def proof(mark_id):
    mark = services.get_visible_mark(mark_id, current_org)
    path = services.proof_file(mark)
    return uploads.download(path, mark.proof_type, mark.proof_name or f"proof-{mark.id}")


# --- verification (platforms) --------------------------------------------------------------------------

@bp.route("/verification")
@member("viewer", org_kind="platform")
def verification():
    queue = services.verification_queue(current_org)
    return render_template("marks/verification.html", marks=list(queue.limit(PAGE_SIZE)), total=queue.count(),
                           review_form=ReviewForm())


@bp.route("/<int:mark_id>/<any(verify, reject):decision>", methods=["POST"])
@member("analyst", org_kind="platform")
def review(mark_id, decision):
    mark = services.get_visible_mark(mark_id, current_org)
    form = ReviewForm()
    if not form.validate_on_submit():
        flash("That request was not valid; nothing was changed.", "error")
        return redirect(url_for("marks.detail", mark_id=mark.id))
    try:
        mark = services.review_mark(mark, current_org, user(), decision, form.reason.data)
    except ServiceError as error:
        flash(error.message, "error")
        return render_template("marks/detail.html", mark=mark, review_form=form, confirm_form=ConfirmForm(),
                               office=OFFICES.get(mark.office)), error.status
    flash(f"{mark.word} ({mark.office} {mark.registration_number}) is now {mark.status}.", "success")
    back = request.form.get("back")
    return redirect(url_for("marks.verification") if back == "queue" else url_for("marks.detail", mark_id=mark.id))


# --- bulk upload ---------------------------------------------------------------------------------------

bp.app_template_filter("field_label")(import_report.field_label)  # "nice_classes" -> "Nice classes"


def render_imports(form=None, status=200, refused=None):
    return render_template("marks/imports.html", form=form or ImportForm(),
                           jobs=import_pages.recent_jobs(current_org, "marks"), columns=COLUMNS,
                           column_help=COLUMN_HELP, refused=refused, limits=runner.limits(),
                           update_rules=runner.UPDATE_RULES_HELP,
                           pages=MarkImporter.pages), status


import_pages.add_routes(bp, MarkImporter, "/imports", lambda: current_org, user, ImportForm, render_imports,
                        org_kind="brand", poll_path="progress", file_prefix="import")
