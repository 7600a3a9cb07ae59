"""Bulk flagging from a CSV or XLSX file, through the import service (portal.marks.imports): the same
upload checks, background job, progress, dry run, per-row report and resume as mark imports.

One row flags one seller (columns in rules.FLAG_COLUMNS). The natural key is (marketplace, seller id):
a row for a seller the org already flags (active) updates that flag, or leaves it unchanged; a row for a
seller it does not flag creates a flag. Evidence files and linked notices are added on the flag's page or
over the API, not from the file.
"""
from portal.accounts.models import Marketplace, Organization
from portal.errors import ValidationError
from portal.intel import rules, sharing, strikes
from portal.intel.models import Flag, FlagIdentifier, FlagShare
from portal.intel.services import UPDATABLE, _insert_flag, _replace_children, active_flag_of, announce
from portal.marks.imports import Importer, start_import
from portal.marks.rules import Checked, Problem
from portal.timeutil import utcnow

IDENTIFIER_COLUMNS = ("email", "domain", "payment", "phone")


class FlagImporter(Importer):
    columns = rules.FLAG_COLUMNS
    audit_name = "flag_import"
    batch_event = "intel.flags.imported"

    def __init__(self, job):
        super().__init__(job)
        self.marketplaces = {m.slug: m.id for m in Marketplace.select(Marketplace.id, Marketplace.slug)}
        self.orgs = {o.slug: o.id for o in Organization.select(Organization.id, Organization.slug)}

    def clean(self, values):
        values = dict(values)
        values["identifiers"] = {kind: values.pop(kind) for kind in IDENTIFIER_COLUMNS if values.get(kind)}
        fields, errors = rules.clean_flag(values)
        checked = Checked(fields=fields)
        if "marketplace" not in errors and fields["marketplace"] not in self.marketplaces:
            errors["marketplace"] = f"No marketplace {fields['marketplace'][:64]!r} in the alliance."
        unknown = [slug for slug in fields.get("share_with", ()) if slug not in self.orgs]
        if unknown and "share_with" not in errors:
            errors["share_with"] = "No organization " + ", ".join(repr(s[:64]) for s in unknown[:5]) + " in the alliance."
        if not errors:
            named = [self.orgs[slug] for slug in fields["share_with"]]
            try:
                fields["shares"] = sharing.check_sharing(fields["tlp"], fields["distribution"], named, self.org.id)
            except ValidationError as refused:
                errors.update({name: messages[0] for name, messages in refused.errors.items()})
        for column, message in errors.items():
            column = column if column in self.columns.names else "identifiers"
            checked.problem(column, "invalid", message, values.get(column) if column != "identifiers" else "")
        return checked

    def key(self, fields):
        return hash((fields["marketplace"], fields["seller_id"]))

    def duplicate(self, fields, first):
        return Problem("seller_id", "duplicate_row",
                       f"Row {first} flags the same seller; this row was skipped.",
                       f"{fields['marketplace']} {fields['seller_id']}")

    def stored(self, fields):
        return fields

    def upsert(self, candidates, codes):
        now = utcnow()
        created, updated, touched = [], [], []
        for _, position, fields in candidates:
            marketplace_id = self.marketplaces[fields["marketplace"]]
            seller = strikes.find_seller(marketplace_id, fields["seller_id"])
            flag = active_flag_of(self.org, seller) if seller is not None else None
            if flag is None:
                codes[position] = "c"
                created.append([fields["marketplace"], fields["seller_id"], fields["category"], fields["tlp"],
                                fields["distribution"]])
                if not self.job.dry_run:
                    marketplace = Marketplace.get_by_id(marketplace_id)
                    touched.append((_insert_flag(self.org, marketplace, fields, fields["shares"], [],
                                                 self.job.created_by, now), None))
                continue
            before = comparable(flag)
            after = {**{name: fields[name] for name in UPDATABLE}, "shares": sorted(fields["shares"]),
                     "identifiers": sorted(fields["identifiers"])}
            changed = {name for name in after if after[name] != before[name]}
            if not changed:
                codes[position] = "n"
                continue
            codes[position] = "u"
            updated.append({"id": flag.id, "before": {n: before[n] for n in changed},
                            "after": {n: after[n] for n in changed}})
            if not self.job.dry_run:
                audience = {o.id for o in sharing.audience(flag)}
                Flag.update(updated_at=now, **{n: fields[n] for n in UPDATABLE}).where(Flag.id == flag.id).execute()
                _replace_children(flag, shares=fields["shares"], identifiers=fields["identifiers"])
                touched.append((Flag.get_by_id(flag.id), audience))
        if touched:
            announce([flag for flag, _ in touched],
                     {flag.id: audience for flag, audience in touched if audience is not None})
        return created, updated


def comparable(flag):
    """A flag's content in the shape a row is compared with."""
    return {**{name: getattr(flag, name) for name in UPDATABLE},
            "shares": sorted(s.org_id for s in FlagShare.select().where(FlagShare.flag == flag)),
            "identifiers": sorted((i.kind, i.value) for i in FlagIdentifier.select().where(FlagIdentifier.flag == flag))}


def start_flag_import(org, stream, filename, dry_run=False, user=None, run_inline=None):
    """Flag sellers from an uploaded file (see portal.marks.imports.start_import)."""
    return start_import(org, stream, filename, dry_run=dry_run, user=user, run_inline=run_inline, kind="flags")
