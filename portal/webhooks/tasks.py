"""Webhook delivery on the worker, and handing a request's new deliveries to it.

The queueing side lives here rather than in services.py: the tasks call the services, so the services
must not call the tasks (portal/ has no import cycles)."""
from flask import g
from huey import crontab

from portal.webhooks.services import deliver, due_deliveries
from portal.worker import huey, in_app_context


@huey.task()
@in_app_context
def deliver_webhook(delivery_id):
    """One attempt of a webhook delivery, if it is still due (queued after the request that created it)."""
    delivery = deliver(delivery_id)
    return delivery.status if delivery else None


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def deliver_due_webhooks():
    """Every minute: queue each webhook delivery that is due (new, or a retry whose backoff has passed).
    Each is a task of its own, so one slow endpoint holds up one worker, not every delivery."""
    due = due_deliveries()
    for delivery_id in due:
        deliver_webhook(delivery_id)
    return len(due)


def kick_worker(response):
    """after_request: hand this request's new deliveries (services remembers them in `g`) to the worker at
    once rather than at the next minute. Never in immediate mode (tests): that would deliver inside the
    request."""
    ids = g.pop("webhook_delivery_ids", None)
    if ids and not huey.immediate:
        for delivery_id in ids:
            deliver_webhook(delivery_id)
    return response
