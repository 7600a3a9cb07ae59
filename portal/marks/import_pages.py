"""The pages every kind of bulk upload shares (marks, flags): a job's page with its progress, report and
per-row outcomes, and the status its progress bar polls. Each kind names its routes and words once."""
from dataclasses import dataclass

from flask import jsonify, render_template, request

from portal.accounts.forms import ConfirmForm
from portal.marks import imports
from portal.marks.models import ImportJob

ERRORS_SHOWN = 200
OUTCOME_ROWS = 100


@dataclass(frozen=True)
class ImportPages:
    list: str  # endpoint of the upload page and recent jobs
    job: str  # endpoint of a job's page
    poll: str  # endpoint of a job's status (JSON)
    apply: str  # endpoint applying a dry run
    errors: str  # endpoint of the error report CSV
    back: str  # link text back to the upload page
    noun: str  # what a row becomes: "mark", "flag"
    matches: str  # what an unchanged file matches: "the registry"


PAGES = {
    "marks": ImportPages("marks.imports_page", "marks.import_job", "marks.import_progress", "marks.apply_import",
                         "marks.import_errors", "Uploads", "mark", "the registry"),
    "flags": ImportPages("intel.flag_imports", "intel.flag_import", "intel.flag_import_status",
                         "intel.apply_flag_import", "intel.flag_import_errors", "Bulk flagging", "flag", "your flags"),
}


def job_page(job):
    """A job's page: counts, progress, the first errors and a page of per-row outcomes."""
    from_row = min(max(request.args.get("from_row", 2, type=int) or 2, 2), job.last_row + 2)
    errors = imports.row_errors(job)
    return render_template(
        "imports/job.html", job=job, pages=PAGES[job.kind], errors=list(errors.limit(ERRORS_SHOWN)),
        errors_shown=ERRORS_SHOWN, error_count=errors.count(),
        outcomes=imports.row_outcomes(job, from_row, OUTCOME_ROWS), from_row=from_row, page_rows=OUTCOME_ROWS,
        confirm_form=ConfirmForm(), same_file=imports.previous_import_of_same_file(job),
        applied_as=imports.jobs_of(job.org_id, job.kind).where(ImportJob.applied_from == job).first())


def job_status(job):
    """Polled by the job page (portal.js) to move the progress bar without reloading."""
    response = jsonify(imports.job_status(job))
    response.headers["Cache-Control"] = "no-store"
    return response
