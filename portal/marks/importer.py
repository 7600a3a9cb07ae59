"""Bulk upload of marks through the import engine (portal.imports): a brand's trademark list, upserted by
(org, office, registration number). A blank cell keeps the stored value and a "-" empties it
(portal.imports.runner.split_cells); every field the platform reviewed that changes sends a verified mark
back to pending (portal.marks.services.status_after_change), and the dry run says so per row.
"""
from collections import namedtuple

from portal import bulk
from portal.imports.pages import ImportPages
from portal.imports.registry import register
from portal.imports.rows import Problem
from portal.imports.runner import Importer, cannot_clear, clears_a_value, field_changes, split_cells
from portal.marks import rules
from portal.marks.models import PACKED_FIELDS, Mark
from portal.packed import unpack_codes
from portal.marks.rules import MARK_COLUMNS
from portal.marks.services import review_reset, status_after_change, stored_values
from portal.imports.tables import FileRefused
from portal.timeutil import utcnow

# A stored mark as the import compares a row with it (packed lists as stored).
StoredMark = namedtuple("StoredMark", ("id", "word", "office", "registration_number", "nice_classes", "registered_on",
                                       "expires_on", "jurisdictions", "status"))
UPDATE_FIELDS = ("word", "nice_classes", "registered_on", "expires_on", "jurisdictions")
INSERT_FIELDS = ("org", "word", "office", "registration_number", "nice_classes", "registered_on", "expires_on",
                 "jurisdictions", "status", "created_at", "updated_at")


CREATED_EXPIRED = ("created_expired",)
STATISTICS_GROWTH = 8  # see MarkImporter.before_batch

MARK_CONSEQUENCES = {
    # code: (the row's label, the summary's subject (one, many), what a dry run says, what an import said);
    # {them} reads "it" for one row, "them" for several.
    "verified_to_pending": ("verified → pending", ("verified mark", "verified marks"),
                            "will return to pending: notices cannot rely on {them} until a partner platform "
                            "verifies {them} again",
                            "returned to pending: notices cannot rely on {them} until a partner platform "
                            "verifies {them} again"),
    "rejected_to_pending": ("rejected → pending", ("rejected mark", "rejected marks"),
                            "will go back to pending for a new review", "went back to pending for a new review"),
    "expired_to_pending": ("expired → pending", ("expired mark", "expired marks"),
                           "will return to pending (no longer past an expiry date), to be verified again",
                           "returned to pending (no longer past an expiry date), to be verified again"),
    "becomes_expired": ("becomes expired", ("mark", "marks"),
                        "will become expired (the expiry date has passed): notices cannot rely on {them}",
                        "became expired (the expiry date has passed): notices cannot rely on {them}"),
    "created_expired": ("created as expired", ("new mark", "new marks"),
                        "will be created as expired (the expiry date has passed)",
                        "were created as expired (the expiry date has passed)"),
    "clears_value": ("clears a value", ("row", "rows"), "will empty a stored value", "emptied a stored value"),
}


def mark_consequences(changes):
    """What a mark's change leads to beyond its fields: a change of status, a value emptied."""
    codes = []
    status = next(((old, new) for name, old, new in changes if name == "status"), None)
    if status:
        codes.append("becomes_expired" if status[1] == "expired" else f"{status[0]}_to_{status[1]}")
    if clears_a_value(changes):
        codes.append("clears_value")
    return codes


class MarkImporter(Importer):
    """Marks, upserted by (org, office, registration number). The audit event of a batch lists each created
    mark as [office, number, word, classes, registered on, expires on, jurisdictions, status] and each
    update as {id, before, after}."""

    kind = "marks"
    columns = MARK_COLUMNS
    audit_name = "mark_import"
    batch_event = "marks.imported"
    pages = ImportPages("marks.imports_page", "marks.import_job", "marks.import_progress", "marks.apply_import",
                        "marks.import_errors", "marks.import_report", "Uploads", "mark", "the registry")
    key_columns = ("word", "office", "registration_number")
    required_columns = ("word", "office", "registration_number", "nice_classes")  # never emptied
    consequence_words = MARK_CONSEQUENCES

    @classmethod
    def check_org(cls, org):
        if org.is_platform:
            raise FileRefused("not_a_brand", "Only brand organizations import marks.")

    def clean(self, values):
        """The row's key (office and registration number), checked at once: it finds the stored mark. The
        other cells are checked once, with the stored mark they go over (`merged`, in `upsert`); a row whose
        key is wrong is refused here with every problem of its cells, so one upload shows them all."""
        given, cleared = split_cells(values)
        checked = rules.clean_mark_key(given)
        if not checked.ok:
            checked = rules.clean_mark(given, partial=True)
        checked.fields["cells"] = given
        checked.fields["cleared"] = []
        if cleared:
            not_clearable = cleared.intersection(self.required_columns)
            checked.problems = [p for p in checked.problems if p.column not in not_clearable]
            checked.problems.extend(cannot_clear(column) for column in sorted(not_clearable))
            checked.fields["cleared"] = sorted(cleared - not_clearable)
        return checked

    def key(self, fields):
        return hash((fields["office"], fields["registration_number"]))

    def duplicate(self, fields, first):
        return Problem("registration_number", "duplicate_row",
                             f"Row {first} has the same office and registration number; this row was skipped.",
                             f"{fields['office']} {fields['registration_number']}")

    def __init__(self, job):
        super().__init__(job)
        self.org_marks = None  # the org's marks when this run started, then counted on (before_batch)
        self.marks_at_analyze = 0

    def before_batch(self, batch):
        """Keep PostgreSQL's statistics of the mark table in step with a large import. The batch lookups
        (existing_marks) are planned from them, and they lag: an org that had few marks when they were last
        gathered looks nearly empty, so the planner reads each lookup through an index on the org alone and
        filters all the org's marks, once per office and batch, which grows with the square of the file
        (measured: 9 ms instead of 0.3 ms a lookup at 20,000 marks). A count a few times too low is harmless
        (the key's index still wins), so a job of several batches has them gathered (bulk.analyze, the org
        column only) once the org has a batch of marks and again each time its marks grew STATISTICS_GROWTH
        times: three times for 100,000 new marks, once for a file the org has already. SQLite keeps no such
        statistics: nothing to do."""
        if not bulk.gathers_statistics() or (self.job.total_rows or 0) <= self.batch_rows:
            return
        if self.org_marks is None:
            self.org_marks = Mark.for_org(self.org).count()
        if self.org_marks >= max(self.batch_rows, STATISTICS_GROWTH * self.marks_at_analyze):
            bulk.analyze(Mark, ("org",))
            self.marks_at_analyze = self.org_marks

    def existing_marks(self, rows):
        """{(office, number): StoredMark} for the batch's keys. One query per office, so each is a search of
        the (org, office, registration_number) index rather than a scan of all the org's marks; its SQL
        compiled once (portal.bulk), its rows read as tuples, not model instances."""
        numbers_by_office = {}
        for fields in rows:
            numbers_by_office.setdefault(fields["office"], set()).add(fields["registration_number"])
        found = {}
        for office, numbers in numbers_by_office.items():
            for row in bulk.select_in(Mark, StoredMark._fields, {"org": self.org.id, "office": office},
                                      "registration_number", sorted(numbers)):
                mark = StoredMark._make(row)
                found[(mark.office, mark.registration_number)] = mark
        return found

    def merged(self, mark, fields):
        """The mark the row describes: the stored one (if any) with the row's cells over it, checked whole
        (required columns of a new mark, dates in order, jurisdictions of the office)."""
        if mark is not None:
            values = current_values(mark)
            values.update(fields["cells"])  # the table's columns are the rule's (MARK_COLUMNS)
        elif fields["cleared"]:
            values = dict(fields["cells"])
        else:
            values = fields["cells"]  # a new mark: its cells as they are (clean_mark only reads them)
        if fields["cleared"]:
            values.update(dict.fromkeys(fields["cleared"]))
        checked = rules.clean_mark(values, key=(fields["office"], fields["registration_number"]))
        if mark is None:
            for problem in checked.problems:
                if problem.code in ("required", "designations_required"):
                    problem.message += " No mark of yours has this office and number, so this row adds one."
        return checked

    def upsert(self, candidates, report):
        """Insert new keys, update changed ones, and tell the report each row's outcome. Returns what was
        created and updated, for the audit event."""
        existing = self.existing_marks(fields for _, fields in candidates)
        now = utcnow()
        org_id, today, merged = self.org.id, self.today, self.merged
        inserts, created, updated, changes_by_fields = [], [], [], {}
        for number, fields in candidates:
            mark = existing.get((fields["office"], fields["registration_number"]))
            checked = merged(mark, fields)
            if checked.problems:
                report.refuse(number, checked.problems)
                continue
            stored = stored_values(checked.fields)
            word, office, registration_number = stored["word"], stored["office"], stored["registration_number"]
            key = [word, office, registration_number]
            if mark is None:
                status = status_after_change("pending", (), stored["expires_on"], today)
                inserts.append((org_id, word, office, registration_number, stored["nice_classes"],
                                stored["registered_on"], stored["expires_on"], stored["jurisdictions"], status,
                                now, now))
                created.append([office, registration_number, word, stored["nice_classes"],
                                iso(stored["registered_on"]), iso(stored["expires_on"]), stored["jurisdictions"],
                                status])
                report.created(number, key, CREATED_EXPIRED if status == "expired" else ())
                continue
            changed = {name: stored[name] for name in UPDATE_FIELDS if getattr(mark, name) != stored[name]}
            if not changed:
                report.unchanged(number, key)
                continue
            status = status_after_change(mark.status, changed, stored["expires_on"], self.today)
            if status != mark.status:
                changed["status"] = status
            before = {name: getattr(mark, name) for name in changed}
            updated.append({"id": mark.id, "before": before, "after": changed})
            changes = field_changes(before, changed, PACKED_FIELDS)
            report.updated(number, key, changes, mark_consequences(changes))
            values = {"updated_at": now, **changed, **review_reset(status, mark.status)}
            changes_by_fields.setdefault(tuple(values), []).append((*values.values(), mark.id))
        if not self.job.dry_run:
            bulk.insert(Mark, INSERT_FIELDS, inserts)
            if self.org_marks is not None:
                self.org_marks += len(inserts)
            for names, rows in changes_by_fields.items():  # one UPDATE statement for each set of fields
                bulk.update(Mark, names, rows)
        return created, updated


def iso(day):
    """A date as the audit event writes it, made here: a JSON default called for every date is slower."""
    return day.isoformat() if day else day


def current_values(mark):
    """A stored mark in the form clean_mark reads, so a row can be merged over it."""
    return {"word": mark.word, "office": mark.office, "registration_number": mark.registration_number,
            "nice_classes": unpack_codes(mark.nice_classes, int), "registered_on": mark.registered_on,
            "expires_on": mark.expires_on, "jurisdictions": unpack_codes(mark.jurisdictions)}


register(MarkImporter)
