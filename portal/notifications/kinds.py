"""The kinds of notification a member can choose about, their defaults, and how a domain event becomes one:
its kind, its minimal title and the page it links to.

A title is written for the receiving org and says no more than the event's recipients may know; titles of
intelligence events never name a seller or repeat a note (the link leads to the flag, behind the sharing
predicate). `data` keeps only the ids the sending-time re-check needs (portal.intel.sharing.still_sees).
"""
from dataclasses import dataclass, field

from portal.accounts.models import Organization
from portal.notices.models import notice_reference


@dataclass(frozen=True)
class Kind:
    label: str
    default: str  # off | inbox | immediate | digest
    sides: tuple = ("brand", "platform")  # the kinds of org that receive it


KINDS = {
    "notice.info_requested": Kind("A platform asked for information on a listing", "immediate", ("brand",)),
    "notice.counter_noticed": Kind("A seller's counter-notice was received on a listing", "immediate", ("brand",)),
    "notice.rejected": Kind("A platform rejected a listing", "inbox", ("brand",)),
    "notice.item.transitioned": Kind("Any other move of a listing (acknowledged, removed, answered, ...)",
                                     "off"),
    "notice.filed": Kind("A brand filed a notice with you", "inbox", ("platform",)),
    "notice.evidence_added": Kind("A brand added evidence to a notice", "inbox", ("platform",)),
    "sla.warning": Kind("An SLA deadline is about to pass (75% of the target used)", "immediate"),
    "sla.breached": Kind("An SLA deadline passed", "digest"),
    "report.weekly.ready": Kind("The weekly report is ready", "digest"),
    "intel.flag.shared": Kind("Flagged sellers were shared with your organization", "digest"),
    "intel.flag.withdrawn": Kind("A flag shared with you was withdrawn", "inbox"),
    "intel.sighting.added": Kind("Another organization added a sighting to your flag", "inbox"),
    "intel.seller.repeat_infringer": Kind("A seller became a repeat infringer", "inbox"),
    "import.finished_with_errors": Kind("Your bulk upload finished with errors or failed", "immediate"),
}
MODE_LABELS = {"off": "Off", "inbox": "Inbox only", "immediate": "Inbox and an e-mail at once",
               "digest": "Inbox and the daily digest e-mail"}
# The kinds whose e-mail is sent only while the recipient may still see what they name.
INTELLIGENCE = {"intel.flag.shared", "intel.flag.withdrawn", "intel.sighting.added", "intel.seller.repeat_infringer"}


def kinds_for(org_kind):
    return {name: kind for name, kind in KINDS.items() if org_kind in kind.sides}


@dataclass
class Told:
    kind: str
    title: str
    link_endpoint: str
    link_args: dict
    data: dict = field(default_factory=dict)


TRANSITION_KINDS = {"info_requested": "notice.info_requested", "counter_noticed": "notice.counter_noticed",
                    "rejected": "notice.rejected"}
MOVE_WORDS = {"acknowledged": "acknowledged", "removed": "removed", "rejected": "rejected",
              "info_requested": "put on hold for information", "counter_noticed": "counter-noticed",
              "reinstated": "reinstated", "upheld": "upheld (removal stands)", "withdrawn": "withdrawn"}


def _name(org_id):
    return Organization.select(Organization.name).where(Organization.id == org_id).scalar() or "An organization"


def describe(event, obj, payload):
    """The notification event `event` about `obj` makes (a Told), or None when it makes none."""
    payload = payload or {}
    if event == "notice.item.transitioned":
        kind = TRANSITION_KINDS.get(payload.get("to"), "notice.item.transitioned")
        notice = payload.get("notice", "")
        if kind == "notice.info_requested":
            title = f"{_name(obj.platform_id)} asked for information on listing {obj.id} of notice {notice}"
        elif kind == "notice.counter_noticed":
            title = f"A counter-notice was received on listing {obj.id} of notice {notice}"
        else:
            title = (f"Listing {obj.id} of notice {notice} was "
                     f"{MOVE_WORDS.get(payload.get('to'), payload.get('to', 'moved'))}")
        return Told(kind, title, "notices.detail", {"notice_id": obj.notice_id},
                    {"notice_id": obj.notice_id, "item_id": obj.id})
    if event in ("notice.filed", "notice.evidence_added"):
        notice = payload.get("notice", "")
        if event == "notice.filed":
            count = len(payload.get("listings", []))
            title = f"{_name(obj.org_id)} filed notice {notice} ({count} listing{'s' if count != 1 else ''})"
        else:
            count = len(payload.get("evidence", []))
            title = f"{_name(obj.org_id)} added {count} evidence file{'s' if count != 1 else ''} to notice {notice}"
        return Told(event, title, "notices.detail", {"notice_id": obj.id}, {"notice_id": obj.id})
    if event in ("sla.warning", "sla.breached"):
        metric = payload.get("metric", "")
        what = "is about to pass" if event == "sla.warning" else "passed"
        title = f"The {metric} deadline of listing {obj.id} (notice {notice_reference(obj.notice_id)}) {what}"
        return Told(event, title, "notices.detail", {"notice_id": obj.notice_id},
                    {"notice_id": obj.notice_id, "item_id": obj.id})
    if event == "report.weekly.ready":
        week = payload.get("week", "")
        return Told(event, f"The weekly report of {week} is ready", "reports.weekly", {"week": week}, {"week": week})
    if event == "intel.flag.shared":
        ids = [entry["id"] for entry in payload.get("flags", []) if entry.get("id")]
        count = len(ids)
        title = f"{count} flagged seller{'s were' if count != 1 else ' was'} shared with your organization"
        if count == 1:
            return Told(event, title, "intel.flag", {"flag_id": ids[0]}, {"flags": ids})
        return Told(event, title, "intel.flags", {}, {"flags": ids})
    if event == "intel.flag.withdrawn":
        return Told(event, f"Flag {obj.reference} shared with you was withdrawn", "intel.flag", {"flag_id": obj.id},
                    {"flags": [obj.id]})
    if event == "intel.sighting.added":
        return Told(event, f"A sighting was added to your flag {payload.get('flag', '')}", "intel.flag",
                    {"flag_id": obj.flag_id}, {"flags": [obj.flag_id]})
    if event == "intel.seller.repeat_infringer":
        return Told(event, f"A seller on {payload.get('marketplace', '')} became a repeat infringer "
                           f"({payload.get('strikes', '')} strikes)",
                    "intel.seller", {"marketplace": payload.get("marketplace"), "seller_id": payload.get("seller")},
                    {"marketplace_id": obj.marketplace_id})
    return None

