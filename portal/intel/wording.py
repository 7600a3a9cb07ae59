"""How the intelligence domain's audit events read in the trail (portal.trail)."""
from portal.trail import count, object_link, word

FLAG = object_link("intel.flag", "flag_id")


def flag_ref_link(c, e):
    return ("intel.flag", {"flag_id": int(str(c["flag"]).split("-")[-1])}) if c.get("flag") else None


def seller_link(c, e):
    if isinstance(c.get("marketplace"), str) and c.get("seller"):
        return ("intel.seller", {"marketplace": c["marketplace"], "seller_id": c["seller"]})
    return None


word("intel.flag.created", "Seller flagged",
     "flagged seller {seller} on {marketplace} ({flag}, {tlp}, shared with: {distribution})", FLAG)
word("intel.flag.updated", "Flag changed",
     lambda c, e: f"changed {', '.join(sorted(c.get('after', {})))} of flag {c['flag']}", FLAG)
word("intel.flag.withdrawn", "Flag withdrawn",
     lambda c, e: f"withdrew flag {c['flag']}" + (f": {c['reason']}" if c.get("reason") else ""), flag_ref_link)
word("intel.flag.evidence_added", "Evidence added to a flag",
     lambda c, e: f"added {count(c['evidence'], 'evidence file')} to flag {c['flag']}", FLAG)
word("intel.flag.shared", "Flags shared with us",
     lambda c, e: f"{count(c['flags'], 'flagged seller')} shared with this organization"
     + (f" by {', '.join(sorted({f['from'] for f in c['flags']}))}" if c.get("flags") else ""),
     lambda c, e: flag_ref_link(c["flags"][0], e) if len(c.get("flags", [])) == 1 else None)
word("intel.sighting.added", "Sighting added", "added a sighting ({kind}) to flag {flag}", flag_ref_link)
word("intel.seller.repeat_infringer", "Repeat infringer",
     "seller {seller} on {marketplace} became a repeat infringer: {strikes} strikes", seller_link)
word("intel.strike.added", "Strike recorded", "recorded a strike against seller {seller} (notice {notice})")
word("intel.strike.voided", "Strike voided", "voided the strike against seller {seller} (notice {notice})")
word("intel.strike.restored", "Strike restored", "restored the strike against seller {seller} (notice {notice})")
word("intel.screening.run", "Listings screened",
     lambda c, e: f"screened {count(c['listings'], 'listing')}"
     + (f" from {c['filename']}" if c.get("filename") else "") + f": {count(c['hits'], 'hit')}",
     object_link("screening.detail", "screening_id"))
word("intel.screening.notice_filed", "Notice filed from a screening",
     lambda c, e: f"filed notice {c['notice']} from {count(c['hits'], 'screening hit')}",
     lambda c, e: ("notices.detail", {"notice_id": int(str(c["notice"]).split("-")[-1])}))
word("intel.authorized_seller.added", "Authorized seller added", "listed {seller_id} on {marketplace} as authorized")
word("intel.authorized_seller.removed", "Authorized seller removed",
     "removed {seller_id} on {marketplace} from the authorized sellers")
for kind, noun, endpoint in (("flag_import", "flags", "intel.flag_import"),
                             ("authorized_import", "authorized sellers", "screening.authorized_import")):
    job = object_link(endpoint, "job_id")
    word(f"{kind}.started", f"Upload of {noun} started",
         lambda c, e, noun=noun: ("started a dry run of " if c.get("dry_run") else "started uploading ")
         + f"{c.get('filename', 'a file')} ({noun})", job)
    word(f"{kind}.finished", f"Upload of {noun} finished",
         lambda c, e, noun=noun: ("checked" if c.get("dry_run") else "imported") + f" {count(c['rows'], 'row')} of "
         f"{noun}: {c['created']:,} created, {c['updated']:,} updated, {c['errors']:,} with errors", job)
    word(f"{kind}.failed", f"Upload of {noun} failed", "an upload failed: {failure}", job)
for action, noun in (("intel.flags.imported", "flag"), ("intel.authorized_sellers.imported", "authorized seller")):
    word(action, f"{noun.capitalize()}s written by an upload",
         lambda c, e, noun=noun: f"wrote rows {c['rows'][0]:,}-{c['rows'][1]:,} of an upload: created "
         f"{count(c['created'], noun)}, updated {count(c['updated'], noun)}")
