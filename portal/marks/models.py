"""Marks: trademark registrations, each at one office."""
import json

from peewee import (CharField, DateField, DateTimeField, ForeignKeyField, IntegerField,
                    TextField)

from portal.accounts.models import Organization, User
from portal.packed import pack_codes, unpack_codes  # noqa: F401 (the marks' packed lists)
from portal.tenancy import TenantModel
from portal.timeutil import utcnow

STATUSES = ("pending", "verified", "rejected", "expired")
# The fields a platform verifies (the proof by its content): changing one of them needs a new verification.
REVIEWED_FIELDS = ("word", "office", "registration_number", "nice_classes", "registered_on", "expires_on",
                   "jurisdictions", "proof_sha256")
PACKED_FIELDS = ("nice_classes", "jurisdictions")


class Mark(TenantModel):
    """One registration of a brand's mark at one office. Natural key: (org, office, registration number)."""

    org = ForeignKeyField(Organization, backref="marks", on_delete="RESTRICT")
    word = CharField(max_length=200)
    office = CharField(max_length=16)
    registration_number = CharField(max_length=32)
    nice_classes = CharField(max_length=200)  # packed: ";9;25;42;"
    registered_on = DateField(null=True)
    expires_on = DateField(null=True)
    jurisdictions = TextField(default="")  # packed ISO 3166 alpha-2 codes (and EU): ";CN;US;"
    status = CharField(max_length=16, default="pending")
    status_reason = TextField(default="")  # why a platform rejected it
    reviewed_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    reviewed_by_org = ForeignKeyField(Organization, null=True, on_delete="SET NULL")
    reviewed_at = DateTimeField(null=True)
    proof_name = CharField(max_length=200, default="")  # the name it was uploaded with, for display only
    proof_path = CharField(max_length=64, default="")  # a generated name under instance/uploads/proofs
    proof_sha256 = CharField(max_length=64, default="")
    proof_size = IntegerField(default=0)
    proof_type = CharField(max_length=64, default="")
    # What the platform looked at in its last decision (verify or reject): the reviewed fields as they were
    # then, with the decision, so the verification queue shows what changed since (JSON; "" before any).
    last_review = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("org", "office", "registration_number"), True),
            (("org", "status"), False),
            (("status", "expires_on"), False),
        )

    @property
    def classes(self):
        return unpack_codes(self.nice_classes, int)

    @property
    def jurisdiction_list(self):
        return unpack_codes(self.jurisdictions)

    @property
    def is_known_office(self):
        from portal.marks.offices import is_known_office
        return is_known_office(self.office)

    @property
    def reviewer_slug(self):
        return self.reviewed_by_org.slug if self.reviewed_by_org_id else None

    @property
    def proof_digest(self):
        return self.proof_sha256 or None

    @property
    def last_review_data(self):
        return json.loads(self.last_review) if self.last_review else None

    def reviewed_values(self):
        """The reviewed fields as a review keeps them: text (dates in ISO, lists packed), None for nothing."""
        return {name: None if getattr(self, name) in (None, "") else str(getattr(self, name))
                for name in REVIEWED_FIELDS}

    @property
    def changes_since_review(self):
        """[[field, at the last review, now]] for a mark reviewed before: what the platform has not seen."""
        review = self.last_review_data
        if not review:
            return []
        now, then = self.reviewed_values(), review["values"]
        return [[name, *(";".join(unpack_codes(v)) if name in PACKED_FIELDS else (v or "")
                         for v in (then.get(name), now[name]))]
                for name in REVIEWED_FIELDS if then.get(name) != now[name]]

    def as_dict(self):
        return {
            "id": self.id, "owner": self.org.slug, "word": self.word, "office": self.office,
            "registration_number": self.registration_number, "nice_classes": self.classes,
            "registered_on": self.registered_on, "expires_on": self.expires_on,
            "jurisdictions": self.jurisdiction_list, "status": self.status, "status_reason": self.status_reason,
            "proof_sha256": self.proof_sha256 or None,
        }
