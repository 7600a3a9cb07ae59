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
from portal.intel.models import Flag, FlagIdentifier, FlagShare, Seller
from portal.intel.services import UPDATABLE, _insert_flag, _replace_children, announce
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
        raw = dict(values)  # as the file has it, for the error report
        values = dict(values)
        # What the file has a column for: an update changes only that (a file without a notes column keeps
        # the flags' notes); identifiers are replaced kind by kind.
        given = {name for name in UPDATABLE if name in values}
        given |= {"shares"} if "share_with" in values else set()
        kinds = {kind for kind in IDENTIFIER_COLUMNS if kind in values}
        values["identifiers"] = {kind: values.pop(kind) for kind in IDENTIFIER_COLUMNS if values.get(kind)}
        fields, errors = rules.clean_flag(values)
        fields["given"], fields["identifier_kinds"] = given, kinds
        checked = Checked(fields=fields)
        if "marketplace" not in errors and fields["marketplace"] not in self.marketplaces:
            errors["marketplace"] = f"No marketplace {fields['marketplace'][:64]!r} in the alliance."
        unknown = [slug for slug in fields.get("share_with", ()) if slug not in self.orgs]
        if unknown and "share_with" not in errors:
            errors["share_with"] = "No organization " + ", ".join(repr(s[:64]) for s in unknown[:5]) + " in the alliance."
        if not errors:
            named = [self.orgs[slug] for slug in fields["share_with"]]
            if "shares" not in given and fields["distribution"] == "group":
                named = self.current_group(fields)  # a file without the column keeps a flag's group
            try:
                fields["shares"] = sharing.check_sharing(fields["tlp"], fields["distribution"], named, self.org.id)
            except ValidationError as refused:
                errors.update({name: messages[0] for name, messages in refused.errors.items()})
        for column, message in errors.items():
            column = column if column in self.columns.names else "identifiers"
            checked.problem(column, "invalid", message, raw.get(column) if column != "identifiers" else "")
        return checked

    def current_group(self, fields):
        """The orgs the org's active flag on this seller is shared with ([] when it has none)."""
        seller = strikes.find_seller(self.marketplaces[fields["marketplace"]], fields["seller_id"])
        if seller is None:
            return []
        return [share.org_id for share in FlagShare.select().join(Flag).where(
            (Flag.org == self.org) & (Flag.seller == seller) & (Flag.status == "active"))]

    def key(self, fields):
        return hash((fields["marketplace"], fields["seller_id"]))

    def duplicate(self, fields, first):
        return Problem("seller_id", "duplicate_row",
                       f"Row {first} flags the same seller; this row was skipped.",
                       f"{fields['marketplace']} {fields['seller_id']}")

    def stored(self, fields):
        return fields

    def upsert(self, candidates, codes):
        """Create or update the batch's flags. The batch's sellers, active flags and their groups and
        identifiers are read in a fixed number of queries, whatever the batch's size."""
        now = utcnow()
        existing = self.existing_flags(candidates)
        # Who could see the existing flags before: only orgs that gain one are told (new flags had nobody).
        before = sharing.audiences([flag.id for flag in existing.values()]) if not self.job.dry_run else {}
        created, updated, touched = [], [], []
        for _, position, fields in candidates:
            flag = existing.get((self.marketplaces[fields["marketplace"]], fields["seller_id"]))
            if flag is None:
                codes[position] = "c"
                created.append([fields["marketplace"], fields["seller_id"], fields["category"], fields["tlp"],
                                fields["distribution"]])
                if not self.job.dry_run:
                    marketplace = Marketplace.get_by_id(self.marketplaces[fields["marketplace"]])
                    touched.append(_insert_flag(self.org, marketplace, fields, fields["shares"], [],
                                                self.job.created_by, now))
                continue
            after = dict(flag.content)
            after.update({name: fields[name] for name in fields["given"] if name in UPDATABLE})
            if "shares" in fields["given"] or after["distribution"] != "group":
                after["shares"] = sorted(fields["shares"])
            after["identifiers"] = sorted([pair for pair in flag.content["identifiers"]
                                           if pair[0] not in fields["identifier_kinds"]] + fields["identifiers"])
            changed = {name for name in after if after[name] != flag.content[name]}
            if not changed:
                codes[position] = "n"
                continue
            codes[position] = "u"
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
        keys = {(self.marketplaces[fields["marketplace"]], fields["seller_id"]) for _, _, fields in candidates}
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
    """Flag sellers from an uploaded file (see portal.marks.imports.start_import)."""
    return start_import(org, stream, filename, dry_run=dry_run, user=user, run_inline=run_inline, kind="flags")
