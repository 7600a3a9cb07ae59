"""Notification e-mail on the worker: the outbox every minute, the daily digests every 15 minutes, and a
request's new immediate e-mails handed over at once. The tasks call the services (never the reverse)."""
from flask import g
from huey import crontab

from portal.notifications.mailer import due_emails, send
from portal.notifications.services import make_digests
from portal.worker import huey, in_app_context


@huey.task()
@in_app_context
def send_email(email_id):
    """One attempt of an e-mail, if it is still due."""
    email = send(email_id)
    return email.status if email else None


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def send_due_emails():
    """Every minute: each due e-mail (new, or a retry whose backoff has passed) as a task of its own."""
    due = due_emails()
    for email_id in due:
        send_email(email_id)
    return len(due)


@huey.periodic_task(crontab(minute="*/15"))
@in_app_context
def make_daily_digests():
    """Every 15 minutes: the digests whose local hour has come (each once a day); sent by send_due_emails."""
    return len(make_digests())


def kick_worker(response):
    """after_request: queue this request's new e-mails now rather than at the next minute. Never in
    immediate mode (tests): that would send inside the request."""
    ids = g.pop("outbound_email_ids", None)
    if ids and not huey.immediate:
        for email_id in ids:
            send_email(email_id)
    return response
