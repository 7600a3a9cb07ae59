"""The marks' background work: expiring marks at each org's midnight."""
from huey import crontab

from portal.marks.services import expire_marks as expire
from portal.worker import huey, in_app_context


@huey.periodic_task(crontab(minute="5"))
@in_app_context
def expire_marks():
    """Hourly, so each org's midnight is caught in its own time zone: marks past their expiry date expire."""
    return expire()
