"""The accounts' background work: closing sessions past their limits."""
from huey import crontab

from portal.accounts.sessions import end_expired_sessions as end_expired
from portal.worker import huey, in_app_context


@huey.periodic_task(crontab(minute="*/10"))
@in_app_context
def end_expired_sessions():
    """Close login sessions past their idle or absolute limit, so the sessions table says who is signed in."""
    return end_expired()
