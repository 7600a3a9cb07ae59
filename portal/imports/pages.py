"""The pages every kind of bulk upload shares (marks, flags, authorized sellers, notice batches): the upload
form and recent jobs, a job's page with its progress, report and per-row outcomes, and the status its
progress bar polls. Each importer names its routes and words once (`Importer.pages`)."""
from dataclasses import dataclass

from flask import abort, flash, jsonify, redirect, render_template, request, url_for

from portal.forms import ConfirmForm, apply_service_errors
from portal.csvutil import csv_response
from portal.errors import ServiceError
from portal.imports import report as import_report
from portal.imports import runner, service
from portal.imports.models import ImportJob
from portal.imports.registry import importer_for
from portal.imports.tables import FileRefused

ERRORS_SHOWN = 200
OUTCOME_ROWS = 100


@dataclass(frozen=True)
class ImportPages:
    list: str  # endpoint of the upload page and recent jobs
    job: str  # endpoint of a job's page
    poll: str  # endpoint of a job's status (JSON)
    apply: str  # endpoint applying a dry run
    errors: str  # endpoint of the error report CSV
    report: str  # endpoint of the row report CSV (outcomes, changes, consequences)
    back: str  # link text back to the upload page
    noun: str  # what a row becomes: "mark", "flag"
    matches: str  # what an unchanged file matches: "the registry"


def job_page(job):
    """A job's page: counts, progress, what the rows will do (consequences), the first errors and a page of
    the row report, filtered to errors, updates or rows with consequences."""
    show = request.args.get("show", "all")
    show = show if show in import_report.SHOWS else "all"
    after_row = min(max(request.args.get("after_row", 1, type=int) or 1, 1), max(job.last_row, 1))
    errors = runner.row_errors(job)
    return render_template(
        "imports/job.html", job=job, pages=importer_for(job.kind).pages, errors=list(errors.limit(ERRORS_SHOWN)),
        errors_shown=ERRORS_SHOWN, error_count=errors.count(),
        rows=import_report.rows_page(job, show, after_row, OUTCOME_ROWS) if job.is_finished else [],
        show=show, shows=import_report.SHOWS, shown_counts=import_report.shown_counts(job), after_row=after_row,
        page_rows=OUTCOME_ROWS, key_columns=importer_for(job.kind).key_columns,
        consequence_label=lambda code: import_report.consequence_label(job.kind, code),
        summary=import_report.consequence_summary(job), differs_from_dry_run=import_report.differs_from_dry_run(job),
        confirm_form=ConfirmForm(), same_file=service.previous_import_of_same_file(job),
        applied_as=runner.jobs_of(job.org_id, job.kind).where(ImportJob.applied_from == job).first())


def job_status(job):
    """Polled by the job page (portal.js) to move the progress bar without reloading."""
    response = jsonify(runner.job_status(job))
    response.headers["Cache-Control"] = "no-store"
    return response


def recent_jobs(org, kind, count=20):
    return list(runner.jobs_of(org, kind).order_by(ImportJob.id.desc()).limit(count))


def upload(org, kind, form, render, user=None):
    """The upload form of any kind: a GET shows it; a POST starts the job and opens its page, or shows the
    form again (`render(form, status, refused)`) saying why the file was refused, with nothing kept."""
    if request.method == "GET":
        return render(form)
    if not form.validate_on_submit():
        return render(form, status=422)
    file = form.file.data
    try:
        job = service.start_import(org, file.stream, file.filename, kind, dry_run=form.dry_run.data, user=user)
    except FileRefused as refused:
        form.file.errors = [refused.text]
        return render(form, status=422, refused=refused)
    except ServiceError as error:
        apply_service_errors(form, error)
        return render(form, status=error.status)
    return redirect(url_for(importer_for(kind).pages.job, job_id=job.id))


def error_report(job, filename):
    """The job's row errors as CSV (cells made inert), streamed: the query runs while the response goes."""
    def rows():
        for error in runner.row_errors(job).iterator():
            yield [error.row, error.column, error.code, error.message, error.value, error.level]
    return csv_response(filename, ["row", "column", "code", "message", "value", "level"], rows())


def row_report(job, filename):
    """The row report as CSV (row, key, outcome, changes, consequences, problems), `?show=` filtered like
    the page, streamed."""
    show = request.args.get("show", "all")
    if show not in import_report.SHOWS:
        abort(404)
    rows = (import_report.csv_row(job.kind, row) for row in import_report.all_rows(job, show))
    return csv_response(filename, import_report.csv_header(job.kind), rows)


def apply(job, user=None):
    """Import for real the file a finished dry run checked; the new job's page (or the dry run's, saying why not)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        applied = service.apply_dry_run(job, user=user)
    except FileRefused as refused:
        flash(refused.text, "error")
        return redirect(url_for(importer_for(job.kind).pages.job, job_id=job.id))
    return redirect(url_for(importer_for(job.kind).pages.job, job_id=applied.id))


def add_routes(bp, importer, base, org, user, form_class, render, org_kind=None, poll_path="status",
               file_prefix="import"):
    """The upload page and a job's pages of one kind of bulk upload, on its domain's blueprint under `base`,
    with the endpoint names its `Importer.pages` gives: the upload page and recent jobs, a job's page, the
    status its progress bar polls (`poll_path`), the errors and row report CSVs, and apply. Members read
    (a viewer's POST is refused by @member); analysts and admins upload and apply. `org()` and `user()` give
    the request's organization and person; `render(form, status, refused)` draws the upload page."""
    from portal.access import member  # plumbing, like this module's other imports

    pages, kind = importer.pages, importer.kind
    reader, writer = member("viewer", org_kind=org_kind), member("analyst", org_kind=org_kind)

    def job(job_id):
        return runner.get_job(job_id, org(), kind)

    views = [
        ("", pages.list, reader, lambda: upload(org(), kind, form_class(), render, user()), ["GET", "POST"]),
        ("/<int:job_id>", pages.job, reader, lambda job_id: job_page(job(job_id)), ["GET"]),
        (f"/<int:job_id>/{poll_path}", pages.poll, reader, lambda job_id: job_status(job(job_id)), ["GET"]),
        ("/<int:job_id>/errors.csv", pages.errors, reader,
         lambda job_id: error_report(job(job_id), f"{file_prefix}-{job_id}-errors.csv"), ["GET"]),
        ("/<int:job_id>/report.csv", pages.report, reader,
         lambda job_id: row_report(job(job_id), f"{file_prefix}-{job_id}-rows.csv"), ["GET"]),
        ("/<int:job_id>/apply", pages.apply, writer, lambda job_id: apply(job(job_id), user()), ["POST"]),
    ]
    for path, endpoint, rule, view, methods in views:
        bp.add_url_rule(base + path, endpoint.split(".", 1)[1], rule(view), methods=methods)
