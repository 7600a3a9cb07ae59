"""Background work on huey: `huey_consumer portal.tasks.huey` runs it beside the web server.

Storage is SQLite in the instance folder by default and Redis when REDIS_URL is set (several web and
worker machines). Tests set HUEY_IMMEDIATE=1 so tasks run inline. Every task runs inside an app context,
with its own database connection, and audits as "worker".
"""
import contextlib
import functools
import logging
import os
import threading

from flask import has_app_context
from huey import RedisHuey, SqliteHuey, crontab

from portal.config import env_bool, env_int, instance_path

log = logging.getLogger(__name__)


def make_huey():
    immediate = env_bool("HUEY_IMMEDIATE", False)
    if os.environ.get("REDIS_URL"):
        return RedisHuey("alliance-portal", url=os.environ["REDIS_URL"], immediate=immediate)
    folder = instance_path()
    folder.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("alliance-portal", filename=str(folder / "huey.db"), immediate=immediate)


huey = make_huey()
_worker_app = None
_worker_app_lock = threading.Lock()


def worker_app():
    """The worker's app, created once. The consumer's threads start tasks at the same moment (the periodic
    ones at each minute): without the lock two of them build an app at once, and create_app, binding the
    module-level API object, fails in one of them, losing that task (an import then waits for the resume)."""
    global _worker_app
    if _worker_app is None:
        with _worker_app_lock:
            if _worker_app is None:
                from portal import create_app
                _worker_app = create_app()
    return _worker_app


@contextlib.contextmanager
def app_context():
    """The app context a task runs in: the caller's (immediate mode, CLI) or the worker's own app."""
    if has_app_context():
        yield
        return
    app = worker_app()
    from portal import audit
    from portal.db import db
    with app.app_context(), audit.acting_as("worker"), db.connection_context():
        yield


def in_app_context(func):
    """Run the task in an app context. On the worker, a database that cannot be reached costs the task one
    line in the log, not a traceback: the consumer goes on, periodic tasks run again at their next time,
    an import is resumed after its last committed batch and a webhook delivery stays due."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():  # immediate mode (tests), the CLI: the caller sees every exception
            return func(*args, **kwargs)
        from peewee import InterfaceError, OperationalError
        from playhouse.pool import MaxConnectionsExceeded
        try:
            with app_context():
                return func(*args, **kwargs)
        except (OperationalError, InterfaceError, MaxConnectionsExceeded) as error:
            log.error("task %s skipped: the database is unavailable (%s: %s)", func.__name__,
                      type(error).__name__, str(error).strip())
            return None
    return wrapper


_startup_once = threading.Lock()  # taken by the first worker thread, never released


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


@huey.periodic_task(crontab(minute="*/10"))
@in_app_context
def end_expired_sessions():
    """Close login sessions past their idle or absolute limit, so the sessions table says who is signed in."""
    from portal.accounts.sessions import end_expired_sessions as end_expired
    return end_expired()


@huey.periodic_task(crontab(minute="17", hour="3"))
@in_app_context
def purge_expired_oauth_credentials():
    """Daily: delete authorization codes and tokens past their lifetimes (they are dead, not evidence)."""
    from portal.oauth.services import purge_expired_credentials
    return purge_expired_credentials()


@huey.task()
@in_app_context
def run_mark_import(job_id):
    """A bulk upload of marks (portal.marks.imports); resumes after the last batch if run again."""
    from portal.marks.imports import run_import
    job = run_import(job_id)
    return job.status if job else None


@huey.periodic_task(crontab(minute="5"))
@in_app_context
def expire_marks():
    """Hourly, so each org's midnight is caught in its own time zone: marks past their expiry date expire."""
    from portal.marks.services import expire_marks as expire
    return expire()


@huey.periodic_task(crontab(minute="*/5"))
@in_app_context
def resume_stalled_imports():
    """Imports whose worker was killed or redeployed continue after their last committed batch."""
    from portal.marks.imports import resume_stalled_imports as resume
    return resume()


@huey.periodic_task(crontab(minute="41", hour="3"))
@in_app_context
def purge_old_import_files():
    """Daily: uploaded files of dry runs not applied within a day are deleted (their results stay)."""
    from portal.marks.imports import purge_old_import_files as purge
    return purge()


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def check_sla_clocks():
    """Every minute: emit sla.warning (75% of a target used) and sla.breached (deadline passed), once each."""
    from portal.sla.clocks import check_clocks
    warnings, breaches = check_clocks()
    return {"warnings": warnings, "breaches": breaches}


@huey.task()
@in_app_context
def deliver_webhook(delivery_id):
    """One attempt of a webhook delivery, if it is still due (queued after the request that created it)."""
    from portal.webhooks.services import deliver
    delivery = deliver(delivery_id)
    return delivery.status if delivery else None


@huey.periodic_task(crontab(minute="*/15"))
@in_app_context
def snapshot_weekly_reports():
    """Every 15 minutes: snapshot each org's week once it has ended in the org's zone (zones end their
    weeks at different hours), which also announces report.weekly.ready."""
    from portal.reports.services import snapshot_closed_weeks
    return snapshot_closed_weeks()


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def deliver_due_webhooks():
    """Every minute: queue each webhook delivery that is due (new, or a retry whose backoff has passed).
    Each is a task of its own, so one slow endpoint holds up one worker, not every delivery."""
    from portal.webhooks.services import due_deliveries
    due = due_deliveries()
    for delivery_id in due:
        deliver_webhook(delivery_id)
    return len(due)
