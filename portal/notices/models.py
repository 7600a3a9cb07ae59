"""Takedown notices: a brand's notice to a platform under a partnership, one item per listing, each item
with its own state, its transitions (the statements of reasons) and, in portal.sla, its two clocks.

A notice is owned by the brand that filed it (`org`); the platform it was sent to reads it too, so
notices and items are reached through `services.visible_notices(org)` / `visible_items(org)`.
"""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import Marketplace, Organization, User
from portal.db import BaseModel
from portal.marks.models import Mark
from portal.partnerships.models import Partnership, Terms
from portal.tenancy import TenantModel
from portal.timeutil import utcnow

REASONS = {
    "counterfeit": "Counterfeit goods",
    "trademark_misuse": "Trademark misuse",
    "brand_images": "Unauthorized use of brand images",
    "other": "Other (explained)",
}

STATES = ("submitted", "acknowledged", "info_requested", "removed", "rejected", "counter_noticed", "reinstated",
          "upheld", "withdrawn")
STATE_LABELS = {"submitted": "Submitted", "acknowledged": "Acknowledged", "info_requested": "Info requested",
                "removed": "Removed", "rejected": "Rejected", "counter_noticed": "Counter-noticed",
                "reinstated": "Reinstated", "upheld": "Removal upheld", "withdrawn": "Withdrawn"}
# States in which the platform still owes the brand an action or a decision.
OPEN_STATES = ("submitted", "acknowledged", "info_requested", "counter_noticed")
# A listing in one of these states cannot be filed again by the same brand: it is in hand or was removed.
# Rejected, reinstated and withdrawn listings may be filed again (with better evidence, say).
ACTIVE_STATES = ("submitted", "acknowledged", "info_requested", "removed", "counter_noticed", "upheld")


def notice_reference(notice_id):
    """How people name a notice: N-000042."""
    return f"N-{notice_id:06d}"


class Notice(TenantModel):
    org = ForeignKeyField(Organization, backref="notices", on_delete="RESTRICT")  # the brand
    platform = ForeignKeyField(Organization, backref="received_notices", on_delete="RESTRICT")
    partnership = ForeignKeyField(Partnership, backref="notices", on_delete="RESTRICT")
    terms = ForeignKeyField(Terms, on_delete="RESTRICT")  # the terms in force when it was filed
    marketplace = ForeignKeyField(Marketplace, on_delete="RESTRICT")
    reason_code = CharField(max_length=32)
    explanation = TextField()
    test_buy_ref = CharField(max_length=200, default="")
    good_faith_statement = TextField()  # the text the filer attested, as it was shown to them
    jurisdiction_confirmed = BooleanField(default=False)  # filed despite marks not covering the country
    fast_lane = BooleanField(default=False)  # the brand had the fast lane when filing
    filed_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    filed_at = DateTimeField(default=utcnow)
    item_count = IntegerField(default=0)

    class Meta:
        indexes = ((("org", "filed_at"), False), (("platform", "filed_at"), False))

    @property
    def reference(self):
        return notice_reference(self.id)

    @property
    def reason_label(self):
        return REASONS.get(self.reason_code, self.reason_code)


class NoticeMark(BaseModel):
    notice = ForeignKeyField(Notice, backref="mark_links", on_delete="CASCADE")
    mark = ForeignKeyField(Mark, on_delete="RESTRICT")

    class Meta:
        indexes = ((("notice", "mark"), True),)


class Evidence(BaseModel):
    notice = ForeignKeyField(Notice, backref="evidence", on_delete="CASCADE")
    name = CharField(max_length=200)  # as uploaded, for display only
    path = CharField(max_length=64)  # generated, under instance/uploads/evidence
    sha256 = CharField(max_length=64)
    size = IntegerField()
    content_type = CharField(max_length=64)
    uploaded_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    uploaded_at = DateTimeField(default=utcnow)


class NoticeItem(BaseModel):
    """One listing of a notice. Brand, platform and marketplace are copied from the notice so the
    platform's queue and the duplicate check are single-table reads."""

    notice = ForeignKeyField(Notice, backref="items", on_delete="CASCADE")
    brand = ForeignKeyField(Organization, on_delete="RESTRICT")
    platform = ForeignKeyField(Organization, on_delete="RESTRICT")
    marketplace = ForeignKeyField(Marketplace, on_delete="RESTRICT")
    position = IntegerField()  # 1-based order within the notice
    url = TextField()
    url_key = CharField(max_length=255)  # normalised URL (or its hash when long), for duplicate checks
    seller_id = CharField(max_length=200, default="")
    title = CharField(max_length=500, default="")
    state = CharField(max_length=20, default="submitted")
    state_changed_at = DateTimeField(default=utcnow)
    due_at = DateTimeField(null=True)  # the nearest deadline of a running clock, for the queue's order
    breached = BooleanField(default=False)  # a clock of this item breached
    decision = CharField(max_length=16, default="")  # removed | rejected, for the good-faith score
    decided_at = DateTimeField(null=True)
    counter_outcome = CharField(max_length=16, default="")  # reinstated | upheld
    counter_decided_at = DateTimeField(null=True)
    # The platform's analyst who claimed the listing (the queue's "mine" / "unassigned"), and since when.
    assignee = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    assigned_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("brand", "url_key"), False), (("platform", "state", "due_at"), False),
                   (("notice", "position"), True), (("brand", "decided_at"), False),
                   # the weekly reports' replay of states at week end
                   (("brand", "state"), False), (("brand", "state_changed_at"), False),
                   (("platform", "state_changed_at"), False), (("brand", "counter_decided_at"), False))

    @property
    def state_label(self):
        return STATE_LABELS.get(self.state, self.state)


class Transition(BaseModel):
    """One move of an item from a state to another, with its statement of reasons: what was done (the
    new state), on what ground (`reason`) and how to seek redress (`redress`)."""

    item = ForeignKeyField(NoticeItem, backref="transitions", on_delete="CASCADE")
    # Copied from the item, so a weekly report reads one org's moves of a week by index, not every org's.
    brand = ForeignKeyField(Organization, on_delete="RESTRICT", backref="+")
    platform = ForeignKeyField(Organization, on_delete="RESTRICT", backref="+")
    from_state = CharField(max_length=20)
    to_state = CharField(max_length=20)
    reason = TextField(default="")
    redress = TextField(default="")
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    actor_org = ForeignKeyField(Organization, on_delete="RESTRICT")
    at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("item", "at"), False), (("brand", "at"), False), (("platform", "at"), False))
