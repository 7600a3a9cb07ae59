"""How the reports' audit events read in the trail (portal.trail)."""
from portal.trail import word

word("report.weekly.ready", "Weekly report closed", "closed the weekly report of {week}",
     lambda c, e: ("reports.weekly", {"week": c["week"]}))
