"""Domain events (`sla.warning`, `sla.breached`, `notice.item.transitioned`, ...): the one call every
part of the portal makes to announce something happened to the orgs allowed to know.

Each event is written to the audit trail of every receiving org, in the transaction of the change, and
queued for that org's webhook endpoints subscribed to its kind (portal.webhooks.services.enqueue): an org
gets by webhook exactly the events emitted to it, nothing more. The worker sends them later. The members
of each receiving org are told in their inbox (and by e-mail, as each chose: portal.notifications), except
those of `actor`, the org that made the change: a listing moved by a platform is told to the brand.
"""
from portal import audit
from portal.notifications import services as notifications
from portal.webhooks import services as webhooks


def emit(kind, orgs, obj, payload, actor=None):
    """Record event `kind` about `obj` for each org of `orgs` (duplicates collapse). `actor`: the org
    whose member or client made the change, if one did (its members are not notified of it)."""
    seen = set()
    actor_id = getattr(actor, "id", actor)
    for org in orgs:
        org_id = getattr(org, "id", org)
        if org_id in seen:
            continue
        seen.add(org_id)
        audit.record(kind, org, obj, change=payload)
        webhooks.enqueue(kind, org, obj, payload)
        if org_id != actor_id:
            notifications.notify(kind, org_id, obj, payload)
