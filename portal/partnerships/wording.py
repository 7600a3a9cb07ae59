"""How the partnerships domain's audit events read in the trail (portal.trail)."""
from portal.trail import object_link, word

PARTNERSHIP = object_link("partnerships.detail", "partnership_id")

word("partnership.created", "Partnership created", "created the partnership of {brand} with {platform}", PARTNERSHIP)
word("partnership.proposed", "Partnership proposed", "proposed a partnership", PARTNERSHIP)
word("partnership.terms_proposed", "Terms proposed", "{by} proposed terms version {version}", PARTNERSHIP)
word("partnership.terms_accepted", "Terms accepted", "{by} accepted terms version {version}", PARTNERSHIP)
word("partnership.terms_declined", "Terms declined", "{by} declined terms version {version}", PARTNERSHIP)
for status, verb in (("suspended", "suspended"), ("ended", "ended"), ("resumed", "resumed"), ("active", "resumed")):
    word(f"partnership.{status}", f"Partnership {verb}",
         lambda c, e, verb=verb: f"{c['by']} {verb} the partnership" + (f": {c['reason']}" if c.get("reason") else ""),
         PARTNERSHIP)
