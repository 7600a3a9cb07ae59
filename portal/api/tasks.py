"""The API's background work: forgetting the answers kept for Idempotency-Keys once their 24 hours are over."""
from huey import crontab

from portal.api.idempotency import forget_expired
from portal.worker import huey, in_app_context


@huey.periodic_task(crontab(minute="23", hour="*"))
@in_app_context
def forget_expired_idempotency_keys():
    """Hourly: answers kept for Idempotency-Keys older than 24 hours are deleted (the keys may be used again)."""
    return forget_expired()
