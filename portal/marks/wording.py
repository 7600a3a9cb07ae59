"""How the marks domain's audit events read in the trail (portal.trail)."""
from portal.trail import count, object_link, word

MARK = object_link("marks.detail", "mark_id")
JOB = object_link("marks.import_job", "job_id")

word("mark.created", "Mark created", "created the mark {word} ({office} {registration_number})", MARK)
word("mark.updated", "Mark changed",
     lambda c, e: "changed " + ", ".join(sorted(c.get("after", {}))) + f" of mark {e.object_id}", MARK)
word("mark.deleted", "Mark deleted", "deleted the mark {word} ({office} {registration_number})")
word("mark.verified", "Mark verified", lambda c, e: f"verified mark {e.object_id} for {c['platform']}", MARK)
word("mark.rejected", "Mark rejected",
     lambda c, e: f"rejected mark {e.object_id} for {c['platform']}" + (f": {c['reason']}" if c.get("reason") else ""),
     MARK)
word("mark.pending", "Mark back to review", lambda c, e: f"sent mark {e.object_id} back to review", MARK)
word("mark.expired", "Marks expired", lambda c, e: f"marked {count(c['marks'], 'mark')} as expired on {c['today']}")
word("mark_import.started", "Marks upload started",
     lambda c, e: ("started a dry run of " if c.get("dry_run") else "started uploading ") + f"{c.get('filename', 'a file')}",
     JOB)
word("mark_import.finished", "Marks upload finished",
     lambda c, e: ("checked" if c.get("dry_run") else "imported") + f" {count(c['rows'], 'row')}: "
     f"{c['created']:,} created, {c['updated']:,} updated, {c['unchanged']:,} unchanged, {c['errors']:,} with errors",
     JOB)
word("mark_import.failed", "Marks upload failed", "a marks upload failed: {failure}", JOB)
word("marks.imported", "Marks written by an upload",
     lambda c, e: f"wrote rows {c['rows'][0]:,}-{c['rows'][1]:,} of an upload: created "
     f"{count(c['created'], 'mark')}, updated {count(c['updated'], 'mark')}",
     lambda c, e: ("marks.import_job", {"job_id": int(c["job"])}))
