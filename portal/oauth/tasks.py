"""OAuth's background work: deleting dead credentials."""
from huey import crontab

from portal.oauth.services import purge_expired_credentials
from portal.worker import huey, in_app_context


@huey.periodic_task(crontab(minute="17", hour="3"))
@in_app_context
def purge_expired_oauth_credentials():
    """Daily: delete authorization codes and tokens past their lifetimes (they are dead, not evidence)."""
    return purge_expired_credentials()
