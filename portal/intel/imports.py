"""Bulk flagging from a CSV or XLSX file, through the import engine (portal.imports): the same
upload checks, background job, progress, dry run, per-row report and resume as mark imports.

One row flags one seller (columns in rules.FLAG_COLUMNS). The natural key is (marketplace, seller id):
a row for a seller the org already flags (active) updates that flag, or leaves it unchanged; a row for a
seller it does not flag creates a flag. As for marks, a blank cell (or a column the file does not have)
keeps what the flag says, and a cell holding only "-" empties it: the notes, the display name, the shop
URL, the group (`share_with`), one kind of identifier (an identifier column replaces that kind's values).
The label, category, distribution, confidence and show_group cannot be emptied. The sharing rules (label, distribution and group
must agree) are checked on the flag as the row leaves it. Evidence files and linked notices are added on
the flag's page or over the API, not from the file.
"""
from portal.accounts.models import Marketplace, Organization
from portal.errors import ValidationError
from portal.intel import rules, sharing
from portal.intel.models import Flag, FlagIdentifier, FlagShare, Seller
from portal.intel.services import UPDATABLE, _insert_flag, _replace_children, announce
from portal.imports.pages import ImportPages
from portal.imports.registry import register
from portal.imports.rows import Checked, Problem
from portal.imports.runner import Importer, cannot_clear, clears_a_value, field_changes, split_cells
from portal.imports.service import start_import
from portal.timeutil import utcnow

IDENTIFIER_COLUMNS = ("email", "domain", "payment", "phone")
# What an emptied cell leaves (the same as a new flag without that cell). The confidence and show_group
# cannot be emptied: a default in their place would read as a judgement nobody made.
EMPTY = {"display_name": "", "shop_url": "", "notes": ""}
FLAG_CONSEQUENCES = {
    "changes_sharing": ("changes who can see it", ("flag", "flags"),
                        "will change who can see {them} (label, distribution, group or its visibility)",
                        "changed who can see {them} (label, distribution, group or its visibility)"),
    "clears_value": ("clears a value", ("row", "rows"), "will empty a stored value", "emptied a stored value"),
}
SHARING_FIELDS = ("tlp", "distribution", "share_with", "show_group")  # show_group shows the group's members


class FlagImporter(Importer):
    kind = "flags"
    columns = rules.FLAG_COLUMNS
    key_columns = ("marketplace", "seller_id")
    required_columns = ("marketplace", "seller_id", "category", "tlp", "distribution", "confidence",
                        "show_group")  # never emptied
    audit_name = "flag_import"
    batch_event = "intel.flags.imported"
    consequence_words = FLAG_CONSEQUENCES
    pages = ImportPages("intel.flag_imports", "intel.flag_import", "intel.flag_import_status",
                        "intel.apply_flag_import", "intel.flag_import_errors", "intel.flag_import_report",
                        "Bulk flagging", "flag", "your flags")

    def __init__(self, job):
        super().__init__(job)
        self.marketplaces = {m.slug: m.id for m in Marketplace.select(Marketplace.id, Marketplace.slug)}
        self.orgs = {o.slug: o.id for o in Organization.select(Organization.id, Organization.slug)}
        self.slugs = {org_id: slug for slug, org_id in self.orgs.items()}

    def clean(self, values):
        """The cells the row gives, each checked on its own; the sharing rules wait for the flag the row
        leaves (`upsert`), since a blank cell keeps the stored label, distribution or group."""
        given, cleared = split_cells(values)
        not_clearable = cleared & set(self.required_columns)
        cleared -= not_clearable
        errors = {}
        key = rules.clean_seller_key(given, errors)
        partial = {name: given[name] for name in (*UPDATABLE, "share_with") if name in given}
        kinds = {kind for kind in IDENTIFIER_COLUMNS if kind in given}
        if kinds:
            partial["identifiers"] = {kind: given[kind] for kind in kinds}
        fields, field_errors = rules.clean_flag(partial, partial=True)
        errors.update(field_errors)
        if "marketplace" not in errors and key["marketplace"] not in self.marketplaces:
            errors["marketplace"] = f"No marketplace {key['marketplace'][:64]!r} in the alliance."
        unknown = [slug for slug in fields.get("share_with", ()) if slug not in self.orgs]
        if unknown and "share_with" not in errors:
            errors["share_with"] = "No organization " + ", ".join(repr(s[:64]) for s in unknown[:5]) + " in the alliance."
        checked = Checked(fields={**key, "set": fields, "cleared": cleared, "identifier_kinds": kinds,
                                  "cells": given})
        for column, message in errors.items():
            if column not in not_clearable:
                column = column if column in self.columns.names else "identifiers"
                checked.problem(column, "invalid", message, values.get(column) if column != "identifiers" else "")
        checked.problems.extend(cannot_clear(column) for column in sorted(not_clearable))
        return checked

    def key(self, fields):
        return hash((fields["marketplace"], fields["seller_id"]))

    def duplicate(self, fields, first):
        return Problem("seller_id", "duplicate_row",
                       f"Row {first} flags the same seller; this row was skipped.",
                       f"{fields['marketplace']} {fields['seller_id']}")

    def content_after(self, flag, fields):
        """The flag's content once the row is applied: the stored content (or a new flag's defaults) with
        the row's cells over it. Raises ValidationError when label, distribution and group disagree."""
        given, cleared = fields["set"], fields["cleared"]
        after = dict(flag.content) if flag else {**EMPTY, "confidence": "medium", "show_group": False,
                                                 "shares": [], "identifiers": []}
        for name in UPDATABLE:
            if name in given:
                after[name] = given[name]
            elif name in cleared:
                after[name] = EMPTY[name]
        if "share_with" in given:
            named = [self.orgs[slug] for slug in given["share_with"]]
        elif flag and "share_with" not in cleared and after["distribution"] == "group":
            named = flag.content["shares"]  # the group stays while the flag is shared with a group
        else:
            named = []
        after["shares"] = sorted(sharing.check_sharing(after["tlp"], after["distribution"], named, self.org.id))
        replaced = fields["identifier_kinds"] | (cleared & set(IDENTIFIER_COLUMNS))
        after["identifiers"] = sorted([pair for pair in after["identifiers"] if pair[0] not in replaced]
                                      + list(given.get("identifiers", [])))
        return after

    def missing_for_new(self, fields):
        return [Problem(column, "required", f"Give the {column}: your organization does not flag this seller "
                                            "yet, so this row creates a flag.")
                for column in ("category", "tlp", "distribution") if column not in fields["set"]]

    def shown(self, content):
        """A flag's content as the row report shows it: groups by org slug, identifiers by kind."""
        shown = {name: content[name] for name in UPDATABLE}
        shown["share_with"] = sorted(self.slugs.get(org_id, str(org_id)) for org_id in content["shares"])
        for kind in IDENTIFIER_COLUMNS:
            shown[kind] = sorted(value for found, value in content["identifiers"] if found == kind)
        return shown

    def upsert(self, candidates, report):
        """Create or update the batch's flags and tell the report each row's outcome. The batch's sellers,
        active flags and their groups and identifiers are read in a fixed number of queries, whatever the
        batch's size."""
        now = utcnow()
        existing = self.existing_flags(candidates)
        # Who could see the existing flags before: only orgs that gain one are told (new flags had nobody).
        before = sharing.audiences([flag.id for flag in existing.values()]) if not self.job.dry_run else {}
        created, updated, touched = [], [], []
        for number, fields in candidates:
            flag = existing.get((self.marketplaces[fields["marketplace"]], fields["seller_id"]))
            key = [fields["marketplace"], fields["seller_id"]]
            missing = [] if flag else self.missing_for_new(fields)
            if missing:
                report.refuse(number, missing)
                continue
            try:
                after = self.content_after(flag, fields)
            except ValidationError as refused:
                report.refuse(number, [Problem(name, "invalid", messages[0], rules.text(fields["cells"].get(name)))
                                       for name, messages in refused.errors.items()])
                continue
            if flag is None:
                report.created(number, key)
                created.append([fields["marketplace"], fields["seller_id"], after["category"], after["tlp"],
                                after["distribution"]])
                if not self.job.dry_run:
                    marketplace = Marketplace.get_by_id(self.marketplaces[fields["marketplace"]])
                    touched.append(_insert_flag(self.org, marketplace, {**after, "seller_id": fields["seller_id"]},
                                                after["shares"], [], self.job.created_by, now))
                continue
            changed = {name for name in after if after[name] != flag.content[name]}
            if not changed:
                report.unchanged(number, key)
                continue
            changes = field_changes(self.shown(flag.content), self.shown(after))
            consequences = (["changes_sharing"] if any(name in SHARING_FIELDS for name, _, _ in changes) else []) \
                + (["clears_value"] if clears_a_value(changes) else [])
            report.updated(number, key, changes, consequences)
            updated.append({"id": flag.id, "before": {n: flag.content[n] for n in changed},
                            "after": {n: after[n] for n in changed}})
            if not self.job.dry_run:
                Flag.update(updated_at=now, **{n: after[n] for n in UPDATABLE}).where(Flag.id == flag.id).execute()
                _replace_children(flag, shares=after["shares"], identifiers=after["identifiers"])
                touched.append(flag)
        if touched:
            fresh = {flag.id: flag for flag in Flag.select().where(Flag.id.in_([flag.id for flag in touched]))}
            announce(list(fresh.values()), before, now=now)
        return created, updated

    def existing_flags(self, candidates):
        """{(marketplace id, seller id): the org's active flag on that seller, with `.content`} for a batch."""
        keys = {(self.marketplaces[fields["marketplace"]], fields["seller_id"]) for _, fields in candidates}
        sellers = {}
        for marketplace_id in {m for m, _ in keys}:
            external_ids = sorted(e for m, e in keys if m == marketplace_id)
            sellers.update({s.id: (s.marketplace_id, s.external_id) for s in Seller.select().where(
                (Seller.marketplace == marketplace_id) & Seller.external_id.in_(external_ids))})
        if not sellers:
            return {}
        flags = {f.id: f for f in Flag.for_org(self.org).where(Flag.seller.in_(list(sellers))
                                                               & (Flag.status == "active"))}
        shares, identifiers = {i: [] for i in flags}, {i: [] for i in flags}
        if flags:
            for share in FlagShare.select().where(FlagShare.flag.in_(list(flags))):
                shares[share.flag_id].append(share.org_id)
            for found in FlagIdentifier.select().where(FlagIdentifier.flag.in_(list(flags))):
                identifiers[found.flag_id].append((found.kind, found.value))
        for flag in flags.values():
            flag.content = {**{name: getattr(flag, name) for name in UPDATABLE}, "shares": sorted(shares[flag.id]),
                            "identifiers": sorted(identifiers[flag.id])}
        return {sellers[flag.seller_id]: flag for flag in flags.values()}


def start_flag_import(org, stream, filename, dry_run=False, user=None, run_inline=None):
    """Flag sellers from an uploaded file (see portal.imports.service.start_import)."""
    return start_import(org, stream, filename, "flags", dry_run=dry_run, user=user, run_inline=run_inline)


register(FlagImporter)
