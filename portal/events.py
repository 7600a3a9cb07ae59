"""Domain events (`sla.warning`, `sla.breached`, `notice.item.transitioned`, ...): the one call every
part of the portal makes to announce something happened to the orgs allowed to know.

Each event is written to the audit trail of every receiving org, in the transaction of the change, and
queued for that org's webhook endpoints subscribed to its kind (portal.webhooks.services.enqueue): an org
gets by webhook exactly the events emitted to it, nothing more. The worker sends them later.
"""
from portal import audit
from portal.webhooks import services as webhooks


def emit(kind, orgs, obj, payload):
    """Record event `kind` about `obj` for each org of `orgs` (duplicates collapse)."""
    seen = set()
    for org in orgs:
        org_id = getattr(org, "id", org)
        if org_id in seen:
            continue
        seen.add(org_id)
        audit.record(kind, org, obj, change=payload)
        webhooks.enqueue(kind, org, obj, payload)
