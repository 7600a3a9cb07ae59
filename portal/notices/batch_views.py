"""Pages of notice batches, on the notices blueprint: the upload page with the batch's defaults and the
recent batches, and the import engine's shared job pages (progress, row report, errors, dry run applied)
with the batch's plan and its notices (templates/imports/_notice_batch_job.html, through
`notice_batch_summary`). Who may: brands' analysts and admins upload and file, as for a notice; every member
of the brand reads a batch. The rules live in portal.notices.batches."""
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from portal.access import member
from portal.csvutil import csv_response
from portal.errors import ServiceError
from portal.forms import ConfirmForm, apply_service_errors
from portal.imports import pages as import_pages
from portal.imports import runner
from portal.imports.tables import FileRefused
from portal.notices import batches, rules, services
from portal.notices.batches import NoticeBatchImporter
from portal.notices.forms import NoticeBatchForm
from portal.notices.views import bp, filing_choices, mark_choices
from portal.partnerships.forms import as_choices
from portal.tenancy import current_org


def user():
    return current_user._get_current_object()


def org():
    return current_org._get_current_object()


def render_batches(form, status=200, refused=None):
    limits = dict(runner.limits(), max_rows=batches.max_rows())
    return render_template("notices/batches.html", form=form, jobs=import_pages.recent_jobs(org(), batches.KIND),
                           columns=batches.BATCH_COLUMNS, column_help=batches.COLUMN_HELP, refused=refused,
                           limits=limits, statement=services.GOOD_FAITH_STATEMENT, max_items=rules.MAX_ITEMS,
                           pages=NoticeBatchImporter.pages), status


@bp.route("/notices/batches", methods=["GET", "POST"], endpoint="batches")
@member("analyst", org_kind="brand")
def batches_page():
    """A batch of notices: the upload form with its defaults, and the recent batches."""
    form = NoticeBatchForm()
    form.where.choices = as_choices([("", "Each row names its marketplace")] + filing_choices(current_org))
    form.marks.choices = as_choices(mark_choices(current_org))
    if request.method == "GET" or not form.validate_on_submit():
        return render_batches(form, 422 if form.is_submitted() else 200)
    upload = form.file.data
    try:
        job, _ = batches.start_batch(org(), upload.stream, upload.filename, form.values(), dry_run=form.dry_run.data,
                                     user=user())
    except FileRefused as refused:
        form.file.errors = [refused.text]
        return render_batches(form, 422, refused)
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_batches(form, error.status)
    return redirect(url_for("notices.batch", job_id=job.id))


@bp.route("/notices/batches/<int:job_id>")
@member("viewer", org_kind="brand")
def batch(job_id):
    return import_pages.job_page(batches.get_batch_job(job_id, org()))


@bp.route("/notices/batches/<int:job_id>/status")
@member("viewer", org_kind="brand")
def batch_status(job_id):
    """The progress poll: the engine's row counts and the batch's notice counts."""
    job = batches.get_batch_job(job_id, org())
    batch = batches.NoticeBatch.get_by_id(job.id)
    response = jsonify({**runner.job_status(job), **batches.progress(job, batch), "outcome": batch.outcome})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/notices/batches/<int:job_id>/apply", methods=["POST"])
@member("analyst", org_kind="brand")
def apply_batch(job_id):
    """File the notices a finished dry run planned (the shared job page's button)."""
    job = batches.get_batch_job(job_id, org())
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        applied = batches.apply_dry_run(job, user=user())
    except FileRefused as refused:
        flash(refused.text, "error")
        return redirect(url_for("notices.batch", job_id=job.id))
    return redirect(url_for("notices.batch", job_id=applied.id))


@bp.route("/notices/batches/<int:job_id>/errors.csv")
@member("viewer", org_kind="brand")
def batch_errors(job_id):
    job = batches.get_batch_job(job_id, org())
    return import_pages.error_report(job, f"notice-batch-{job.id}-errors.csv")


@bp.route("/notices/batches/<int:job_id>/report.csv")
@member("viewer", org_kind="brand")
def batch_report(job_id):
    job = batches.get_batch_job(job_id, org())
    return import_pages.row_report(job, f"notice-batch-{job.id}-rows.csv")


@bp.route("/notices/batches/template.csv")
@member("viewer", org_kind="brand")
def batch_template():
    """The batch's columns and two example rows: one taking the batch's defaults, one giving its own."""
    names = list(batches.BATCH_COLUMNS.names)
    rows = [["https://item.taobao.com/item.htm?id=1234567890", "shop-123", "Replica handbag", "", "", "", "", ""],
            ["https://www.aliexpress.com/item/1005001234567890.html", "store-456", "1:1 watch", "aliexpress",
             "counterfeit", "EUIPO 018123456", "Sold as genuine at a tenth of the price; test buy confirmed.",
             "TB-2026-001"]]
    return csv_response("notice-batch-template.csv", names, rows)


@bp.app_template_global("notice_batch_summary")
def notice_batch_summary(job):
    """The batch beside the shared job page: its defaults, plan by group and planned notices."""
    return batches.summary(job)
