"""The import engine's background work: running a job on the worker, resuming the jobs a dead worker left,
deleting old dry runs' files."""
import threading

from huey import crontab

from portal.config import env_int
from portal.imports import runner
from portal.worker import huey, in_app_context

_startup_once = threading.Lock()  # taken by the first worker thread, never released


@huey.task()
@in_app_context
def run_import_job(job_id):
    """A bulk upload of any kind; resumes after the last batch if run again."""
    job = runner.run_import(job_id)
    return job.status if job else None


@huey.on_startup()
def resume_imports_at_startup():
    """A consumer that starts (after a crash or a redeploy) looks for imports a dead worker left running:
    at once, and again once such an import's last heartbeat is old enough to count as stalled
    (MARKS_IMPORT_STALLED_SECONDS), rather than waiting for the periodic task. Huey calls this in every
    worker thread; the first one does it for the process."""
    if not _startup_once.acquire(blocking=False):
        return
    resume_stalled_imports()
    resume_stalled_imports.schedule(delay=env_int("MARKS_IMPORT_STALLED_SECONDS", 600) + 1)


@huey.periodic_task(crontab(minute="*/5"))
@in_app_context
def resume_stalled_imports():
    """Imports whose worker was killed or redeployed continue after their last committed batch."""
    ids = runner.stalled_job_ids()
    for job_id in ids:
        run_import_job(job_id)
    return ids


@huey.periodic_task(crontab(minute="41", hour="3"))
@in_app_context
def purge_old_import_files():
    """Daily: uploaded files of dry runs not applied within a day are deleted (their results stay)."""
    return runner.purge_old_import_files()
