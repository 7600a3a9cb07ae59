"""How the notices domain's audit events read in the trail (portal.trail)."""
from portal.notices.models import REASONS, STATE_LABELS
from portal.trail import count, word

VERBS = {"acknowledged": "acknowledged", "removed": "removed", "rejected": "rejected",
         "info_requested": "asked for information on", "counter_noticed": "recorded a counter-notice on",
         "reinstated": "reinstated", "upheld": "upheld the removal of", "withdrawn": "withdrew"}


def notice_id(reference):
    return int(str(reference).split("-")[-1])


def to_notice(key="notice"):
    return lambda c, e: ("notices.detail", {"notice_id": notice_id(c[key])}) if c.get(key) else None


def filed(c, e):
    reason = REASONS.get(c.get("reason_code"), c.get("reason_code", ""))
    return (f"filed notice {c['notice']} to {c['platform']} on {c['marketplace']}: {count(c['listings'], 'listing')}, "
            f"{reason.lower()}" + (" (fast lane)" if c.get("fast_lane") else ""))


def moved(c, e):
    verb = VERBS.get(c["to"], f"moved to {STATE_LABELS.get(c['to'], c['to']).lower()}")
    reason = f": {c['reason']}" if c.get("reason") else ""
    return f"{verb} listing {c['item']} of notice {c['notice']}{reason}"


word("notice.filed", "Notice filed", filed, to_notice())
word("notice.evidence_added", "Evidence added to a notice",
     lambda c, e: f"added {count(c['evidence'], 'evidence file')} to notice {c['notice']}", to_notice())
word("notice.item.transitioned", "Listing moved", moved, to_notice())
word("notice_item.assigned", "Listings claimed",
     lambda c, e: f"assigned {count(c['items'], 'listing')} to {c['assignee_name']}")
word("notice_item.released", "Listings released", lambda c, e: f"released {count(c['items'], 'listing')}")

BATCH = lambda c, e: ("notices.batch", {"job_id": int(c["job"])})  # noqa: E731
word("notice_batch.started", "Notice batch started",
     lambda c, e: ("started a dry run of" if c.get("dry_run") else "started") + " a notice batch"
     + (f" of {c['rows']:,} listings" if isinstance(c.get("rows"), int) else "")
     + (f" from {c['filename']}" if c.get("filename") else ""), BATCH)
word("notice_batch.planned", "Notice batch planned",
     lambda c, e: f"planned {count(c['notices'], 'notice')} for {count(c['listings'], 'listing')}", BATCH)
word("notice_batch.filed", "Notice batch filed",
     lambda c, e: f"filed a notice batch: {count(c['filed'], 'notice')} filed, {c['not_filed']:,} not filed", BATCH)
word("notice_batch.stopped", "Notice batch stopped",
     lambda c, e: f"a notice batch stopped at notice {c['at_notice']}: {c['reason']}", BATCH)

word("ground_template.created", "Ground template added", "added the {move} template \u201c{title}\u201d",
     lambda c, e: ("notices.grounds", {}))
word("ground_template.updated", "Ground template changed",
     lambda c, e: f"changed {', '.join(sorted(c.get('after', {})))} of ground template {e.object_id}",
     lambda c, e: ("notices.grounds", {}))
word("ground_template.deleted", "Ground template deleted", "deleted the {move} template \u201c{title}\u201d")
