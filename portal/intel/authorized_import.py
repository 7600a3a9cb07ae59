"""A brand's list of authorized sellers from a CSV or XLSX file, through the import engine (portal.imports):
the same upload checks, background job, progress, dry run, per-row report and resume as marks and flags.

One row authorizes one seller on one marketplace (columns `marketplace`, `seller_id`, `note`); the natural
key is (marketplace, seller id). A row for a seller already on the list updates its note or leaves it as it
is; a new one is added. As everywhere in bulk updates, a blank note keeps the stored one and a "-" empties
it. A file never takes a seller off the list: that stays a deliberate act on the list's page.
"""
from portal import bulk
from portal.accounts.models import Marketplace
from portal.imports.pages import ImportPages
from portal.imports.registry import register
from portal.imports.rows import Checked, Problem
from portal.imports.runner import Importer, cannot_clear, clears_a_value, field_changes, split_cells
from portal.imports.tables import Columns, FileRefused
from portal.intel import screen
from portal.intel.models import AuthorizedSeller
from portal.timeutil import utcnow

AUTHORIZED_COLUMNS = Columns(
    names=("marketplace", "seller_id", "note"), required=("marketplace", "seller_id"),
    aliases={"marketplace": ("marketplace", "platform", "site", "market"),
             "seller_id": ("sellerid", "seller", "shopid", "storeid"),
             "note": ("note", "notes", "comment", "reason")})
COLUMN_HELP = {
    "marketplace": "The marketplace's slug in the alliance, for example taobao or aliexpress. Required.",
    "seller_id": "The seller's (or shop's) id on that marketplace, exactly as the marketplace shows it. Required.",
    "note": f"Why the seller is authorized (a distributor, a licensee, an own store). Up to {screen.MAX_NOTE} characters.",
}
AUTHORIZED_CONSEQUENCES = {
    "clears_value": ("clears a value", ("row", "rows"), "will empty a stored note", "emptied a stored note"),
}


class AuthorizedSellerImporter(Importer):
    kind = "authorized"
    columns = AUTHORIZED_COLUMNS
    key_columns = ("marketplace", "seller_id")
    required_columns = ("marketplace", "seller_id")  # never emptied
    audit_name = "authorized_import"
    batch_event = "intel.authorized_sellers.imported"
    consequence_words = AUTHORIZED_CONSEQUENCES
    pages = ImportPages("screening.authorized_imports", "screening.authorized_import",
                        "screening.authorized_import_status", "screening.apply_authorized_import",
                        "screening.authorized_import_errors", "screening.authorized_import_report",
                        "Authorized sellers", "authorized seller", "your list")

    @classmethod
    def check_org(cls, org):
        if org.is_platform:
            raise FileRefused("not_a_brand", "Only brands keep a list of authorized sellers.")

    def __init__(self, job):
        super().__init__(job)
        self.marketplaces = {m.slug: m.id for m in Marketplace.select(Marketplace.id, Marketplace.slug)}

    def clean(self, values):
        """The key (a marketplace of the alliance, a seller id) and the note, each checked as the list's
        page checks them (portal.intel.screen.authorized_problems)."""
        given, cleared = split_cells(values)
        slug = screen._text(given.get("marketplace")).lower()
        seller_id = screen._text(given.get("seller_id"))
        checked = Checked(fields={"marketplace": slug, "seller_id": seller_id, "cleared": cleared - {"note"}})
        if "note" in given:
            checked.fields["note"] = screen._text(given["note"]).replace("\r\n", "\n")
        elif "note" in cleared:
            checked.fields["note"] = ""
        errors = screen.authorized_problems(slug in self.marketplaces, slug, seller_id, checked.fields.get("note", ""))
        for column, message in errors.items():
            if column in cleared:
                continue  # said below: it cannot be emptied
            checked.problem(column, "required" if not given.get(column) else "invalid", message, values.get(column))
        checked.problems.extend(cannot_clear(column) for column in sorted(cleared & set(self.required_columns)))
        return checked

    def key(self, fields):
        return hash((fields["marketplace"], fields["seller_id"]))

    def duplicate(self, fields, first):
        return Problem("seller_id", "duplicate_row", f"Row {first} names the same seller; this row was skipped.",
                       f"{fields['marketplace']} {fields['seller_id']}")

    def existing(self, candidates):
        """{(marketplace id, seller id): (id, note)} of the batch's sellers already on the list."""
        by_marketplace = {}
        for _, fields in candidates:
            by_marketplace.setdefault(self.marketplaces[fields["marketplace"]], set()).add(fields["seller_id"])
        found = {}
        for marketplace_id, seller_ids in by_marketplace.items():
            for pk, external_id, note in bulk.select_in(
                    AuthorizedSeller, ("id", "external_id", "note"), {"org": self.org.id, "marketplace": marketplace_id},
                    "external_id", sorted(seller_ids)):
                found[(marketplace_id, external_id)] = (pk, note)
        return found

    def upsert(self, candidates, report):
        """Add the new sellers, change the notes that differ; tell the report each row's outcome."""
        existing, now = self.existing(candidates), utcnow()
        inserts, notes, created, updated = [], [], [], []
        for number, fields in candidates:
            marketplace_id = self.marketplaces[fields["marketplace"]]
            key = [fields["marketplace"], fields["seller_id"]]
            stored = existing.get((marketplace_id, fields["seller_id"]))
            if stored is None:
                note = fields.get("note", "")
                inserts.append((self.org.id, marketplace_id, fields["seller_id"], note, self.job.created_by_id, now))
                created.append([fields["marketplace"], fields["seller_id"], note])
                report.created(number, key)
                continue
            pk, note = stored
            if "note" not in fields or fields["note"] == note:
                report.unchanged(number, key)
                continue
            changes = field_changes({"note": note}, {"note": fields["note"]})
            report.updated(number, key, changes, ["clears_value"] if clears_a_value(changes) else [])
            notes.append((fields["note"], pk))
            updated.append({"id": pk, "before": {"note": note}, "after": {"note": fields["note"]}})
        if not self.job.dry_run:
            bulk.insert(AuthorizedSeller, ("org", "marketplace", "external_id", "note", "created_by", "created_at"),
                        inserts)
            bulk.update(AuthorizedSeller, ("note",), notes)
        return created, updated


register(AuthorizedSellerImporter)
