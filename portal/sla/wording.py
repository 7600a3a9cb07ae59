"""How the SLA clocks' audit events read in the trail (portal.trail)."""
from datetime import datetime

from portal.tenancy import current_org
from portal.timeutil import format_local
from portal.trail import word

METRICS = {"acknowledge": "acknowledgement", "action": "action"}


def notice_link(c, e):
    return ("notices.detail", {"notice_id": int(c["notice"])}) if c.get("notice") else None


def deadline(c):
    """The stored UTC deadline in the reading organization's zone, with the zone's name."""
    moment = datetime.fromisoformat(c["deadline"].rstrip("Z"))
    return format_local(moment, (current_org.timezone if current_org else None) or "UTC")


word("sla.warning", "SLA warning",
     lambda c, e: f"75% of the {METRICS.get(c['metric'], c['metric'])} target used on listing {c['item']} "
     f"(deadline {deadline(c)})", notice_link)
word("sla.breached", "SLA breached",
     lambda c, e: f"the {METRICS.get(c['metric'], c['metric'])} deadline of listing {c['item']} passed "
     f"({deadline(c)})", notice_link)
