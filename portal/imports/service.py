"""The import engine's starting side, one path for bulk uploads from the web pages, the API and the CLI.

`start_import` keeps the upload (size cap, SHA-256), checks the format, encoding and header at once, so a
file that cannot work is refused before a job exists, creates the `ImportJob` and runs it: inline for a
small file, on the worker otherwise (portal.imports.runner does the work). `apply_dry_run` imports the file
a finished dry run checked, as it is.
"""
from portal import audit, uploads
from portal.db import db
from portal.imports.models import ImportJob
from portal.imports.registry import importer_for
from portal.imports.runner import IMPORT_AREA, jobs_of, limits, run_import
from portal.imports.tables import FileRefused, open_table
from portal.imports import tasks


def start_import(org, stream, filename, kind, dry_run=False, user=None, run_inline=None):
    """Keep and check the uploaded file, create its job and run it (inline when small). Returns the job.

    Raises ValidationError / FileRefused for a file that cannot be imported at all; nothing is kept then.
    """
    importer = importer_for(kind)
    importer.check_org(org)
    limit = limits()
    stored = uploads.save_upload(stream, IMPORT_AREA, limit["max_bytes"], filename)
    try:
        table = open_table(stored.path(IMPORT_AREA), stored.original_name, limit["max_unpacked"], spec=importer.columns)
        with db.atomic():
            job = ImportJob.create(
                org=org, kind=kind, created_by=user, created_by_label=audit.current_actor()[1],
                filename=stored.original_name, file_format=table.file_format, encoding=table.encoding,
                file_size=stored.size, file_sha256=stored.sha256, stored_path=stored.name, dry_run=dry_run,
                warnings="\n".join(table.warnings))
            audit.record(f"{importer.audit_name}.started", org, job, change=job_summary(job))
    except BaseException:
        uploads.delete(IMPORT_AREA, stored.name)
        raise
    schedule(job, inline=stored.size <= limit["inline_bytes"] if run_inline is None else run_inline)
    return ImportJob.get_by_id(job.id)


def apply_dry_run(dry_run_job, user=None):
    """Import for real the file a finished dry run checked, without uploading it again."""
    if not dry_run_job.dry_run or dry_run_job.status != "done" or not dry_run_job.stored_path:
        raise FileRefused("not_applicable", "Only a finished dry run whose file is still kept can be applied; "
                                            "upload the file again.")
    with db.atomic():
        claimed = (ImportJob.update(stored_path="").where((ImportJob.id == dry_run_job.id)
                                                          & (ImportJob.stored_path == dry_run_job.stored_path))
                   .execute())
        if not claimed:
            raise FileRefused("not_applicable", "This dry run was applied already.")
        job = ImportJob.create(
            org=dry_run_job.org, kind=dry_run_job.kind, created_by=user, created_by_label=audit.current_actor()[1],
            filename=dry_run_job.filename, file_format=dry_run_job.file_format, encoding=dry_run_job.encoding,
            file_size=dry_run_job.file_size, file_sha256=dry_run_job.file_sha256,
            stored_path=dry_run_job.stored_path, warnings=dry_run_job.warnings, applied_from=dry_run_job)
        audit.record(f"{importer_for(job.kind).audit_name}.started", job.org, job, change=job_summary(job))
    schedule(job, inline=job.file_size <= limits()["inline_bytes"])
    return ImportJob.get_by_id(job.id)


def schedule(job, inline):
    if inline:
        run_import(job.id)
    else:
        tasks.run_import_job(job.id)


def job_summary(job):
    return {"job": job.id, "filename": job.filename, "sha256": job.file_sha256, "dry_run": job.dry_run,
            "format": job.file_format}


def previous_import_of_same_file(job):
    """The last earlier real import of the same bytes, to say "you imported this file before"."""
    return (jobs_of(job.org_id, job.kind)
            .where((ImportJob.file_sha256 == job.file_sha256) & (ImportJob.id < job.id)
                   & (ImportJob.dry_run == False) & (ImportJob.status == "done"))  # noqa: E712
            .order_by(ImportJob.id.desc()).first())
