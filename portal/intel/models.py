"""Flagged-seller intelligence: sellers, the flags members raise on them (with a TLP label and a
distribution), sightings by other orgs, strikes from upheld counterfeit removals, a brand's authorized
sellers, and listing screenings.

Who may read a flag is decided in one place, `portal.intel.sharing`; nothing reads `Flag` or `Sighting`
for a viewer without it.
"""
from peewee import BooleanField, CharField, DateTimeField, FloatField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import Marketplace, Organization, User
from portal.db import BaseModel
from portal.notices.models import Notice, NoticeItem
from portal.tenancy import TenantModel
from portal.timeutil import utcnow

CATEGORIES = {
    "counterfeit_confirmed": "Counterfeit confirmed by test buy",
    "suspected_counterfeit": "Suspected counterfeit",
    "repeat_infringer": "Repeat infringer",
    "other": "Other (see notes)",
}
CONFIDENCES = {"low": "Low", "medium": "Medium", "high": "High"}
TLP_LABELS = {"clear": "TLP:CLEAR", "green": "TLP:GREEN", "amber": "TLP:AMBER",
              "amber+strict": "TLP:AMBER+STRICT", "red": "TLP:RED"}
DISTRIBUTIONS = {"own": "Own organization only", "group": "Named organizations (a sharing group)",
                 "alliance": "The whole alliance"}
SIGHTING_KINDS = {"seen": "Seen selling fakes of our brand too", "false_positive": "False positive",
                  "expired": "Expired (seller gone or cleaned up)"}
IDENTIFIER_KINDS = {"email": "Contact e-mail", "domain": "Storefront domain", "payment": "Payment handle",
                    "phone": "Phone number"}


class Seller(BaseModel):
    """A seller on a marketplace, known by the marketplace's own id. Only the identity lives here: names,
    shop URLs and identifiers belong to the flags that reported them, so each viewer sees only those of
    the flags they may see. `repeat_infringer_at` is derived from the strikes (portal.intel.strikes)."""

    marketplace = ForeignKeyField(Marketplace, on_delete="RESTRICT")
    external_id = CharField(max_length=200)
    created_at = DateTimeField(default=utcnow)
    repeat_infringer_at = DateTimeField(null=True)  # when the fourth strike within 365 days landed

    class Meta:
        indexes = ((("marketplace", "external_id"), True),)


class Flag(TenantModel):
    org = ForeignKeyField(Organization, backref="flags", on_delete="RESTRICT")  # the flagging org
    seller = ForeignKeyField(Seller, backref="flags", on_delete="RESTRICT")
    category = CharField(max_length=32)
    confidence = CharField(max_length=8)
    tlp = CharField(max_length=16)
    distribution = CharField(max_length=8)
    show_group = BooleanField(default=False)  # group members may see who else the flag is shared with
    display_name = CharField(max_length=200, default="")
    shop_url = TextField(default="")
    notes = TextField(default="")
    status = CharField(max_length=10, default="active")  # active | withdrawn
    withdrawn_reason = TextField(default="")
    withdrawn_at = DateTimeField(null=True)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "seller"), False), (("seller", "status"), False), (("distribution", "status"), False))

    @property
    def reference(self):
        return f"F-{self.id:06d}"

    @property
    def category_label(self):
        return CATEGORIES.get(self.category, self.category)

    @property
    def tlp_label(self):
        return TLP_LABELS.get(self.tlp, self.tlp)

    @property
    def distribution_label(self):
        return DISTRIBUTIONS.get(self.distribution, self.distribution)


class FlagShare(BaseModel):
    """One org a group-distributed flag is shared with."""

    flag = ForeignKeyField(Flag, backref="shares", on_delete="CASCADE")
    org = ForeignKeyField(Organization, on_delete="RESTRICT")

    class Meta:
        indexes = ((("flag", "org"), True), (("org", "flag"), False))


class FlagReceipt(TenantModel):
    """An org received a flag: it became able to see it (the flag was raised, widened or named it), at
    `at`. Written with each `intel.flag.shared` event; the weekly reports count flags shared and received
    by these, since a flag may be shared long after it was raised."""

    org = ForeignKeyField(Organization, on_delete="RESTRICT")  # the receiving org
    flag = ForeignKeyField(Flag, backref="receipts", on_delete="CASCADE")
    at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "at"), False), (("flag", "at"), False))


class FlagIdentifier(BaseModel):
    """Something else the seller is known by (an e-mail, a storefront domain, a payment handle), stored
    normalised: two flags naming the same one link their sellers."""

    flag = ForeignKeyField(Flag, backref="identifiers", on_delete="CASCADE")
    kind = CharField(max_length=16)
    value = CharField(max_length=254)

    class Meta:
        indexes = ((("kind", "value"), False), (("flag", "kind", "value"), True))


class FlagEvidence(BaseModel):
    flag = ForeignKeyField(Flag, backref="evidence", on_delete="CASCADE")
    name = CharField(max_length=200)
    path = CharField(max_length=64)  # generated, under instance/uploads/flag-evidence
    sha256 = CharField(max_length=64)
    size = IntegerField()
    content_type = CharField(max_length=64)
    uploaded_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    uploaded_at = DateTimeField(default=utcnow)


class FlagNotice(BaseModel):
    """A notice of the flagging org that backs the flag."""

    flag = ForeignKeyField(Flag, backref="notice_links", on_delete="CASCADE")
    notice = ForeignKeyField(Notice, on_delete="CASCADE")

    class Meta:
        indexes = ((("flag", "notice"), True),)


class Sighting(TenantModel):
    """Another org's word on a flag it can see: it saw the seller too, thinks the flag is a false positive,
    or that it has expired. The flag itself stays its owner's."""

    org = ForeignKeyField(Organization, on_delete="RESTRICT")  # the reporting org
    flag = ForeignKeyField(Flag, backref="sightings", on_delete="CASCADE")
    kind = CharField(max_length=16)
    note = TextField(default="")
    listing_url = TextField(default="")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("flag", "created_at"), False), (("org", "created_at"), False))

    @property
    def kind_label(self):
        return SIGHTING_KINDS.get(self.kind, self.kind)


class Strike(BaseModel):
    """An upheld counterfeit removal against a seller: one per (seller, notice), dated by the notice's
    first removal of that seller's listings. Kept in step with the items by portal.intel.strikes; a
    strike whose removals were all reinstated is voided, not deleted."""

    seller = ForeignKeyField(Seller, backref="strikes", on_delete="RESTRICT")
    notice = ForeignKeyField(Notice, on_delete="RESTRICT")
    item = ForeignKeyField(NoticeItem, on_delete="RESTRICT")  # the earliest standing removal
    listings = IntegerField(default=1)  # standing removals of this seller's listings in the notice
    at = DateTimeField()
    voided_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("seller", "notice"), True), (("seller", "at"), False))


class AuthorizedSeller(TenantModel):
    """A seller a brand authorizes to sell its goods: screening never reports their listings."""

    org = ForeignKeyField(Organization, on_delete="RESTRICT")  # the brand
    marketplace = ForeignKeyField(Marketplace, on_delete="RESTRICT")
    external_id = CharField(max_length=200)
    note = CharField(max_length=500, default="")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "marketplace", "external_id"), True),)


class Screening(TenantModel):
    """One batch of listings a brand screened; only the hits are kept."""

    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    source = CharField(max_length=16)  # upload | form | api
    filename = CharField(max_length=200, default="")
    listings = IntegerField(default=0)
    hit_count = IntegerField(default=0)
    authorized_skipped = IntegerField(default=0)  # listings with a hit, left out: the seller is authorized
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "created_at"), False),)


class ScreeningHit(BaseModel):
    """A listing of a screening whose title names one of the brand's marks."""

    screening = ForeignKeyField(Screening, backref="hits", on_delete="CASCADE")
    row = IntegerField()  # the listing's position in the batch (a spreadsheet's row number for uploads)
    marketplace = ForeignKeyField(Marketplace, on_delete="RESTRICT")
    url = TextField()
    title = CharField(max_length=500)
    price = CharField(max_length=64, default="")
    seller_id = CharField(max_length=200, default="")
    score = FloatField()
    words = CharField(max_length=500)  # the marks found, as registered, "; "-separated
    mark_ids = TextField()  # every registration of those words, comma-separated
    indicators = CharField(max_length=500, default="")  # "; "-separated
    disguised = BooleanField(default=False)
    reason = TextField()
    notice = ForeignKeyField(Notice, null=True, on_delete="SET NULL")  # filed from this hit

    class Meta:
        indexes = ((("screening", "row"), True),)
