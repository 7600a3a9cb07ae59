"""What a user is told: one inbox row per user and event, the user's choice per kind of event, and the
outbox of e-mails the worker sends (one e-mail may carry several notifications: the immediate ones that
came while it waited, or a day's digest)."""
from peewee import CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import Organization, User
from portal.tenancy import TenantModel
from portal.timeutil import utcnow

MODES = ("off", "inbox", "immediate", "digest")


class OutboundEmail(TenantModel):
    """An e-mail to one member of `org`: `immediate` (sent as soon as the worker gets to it; immediate
    notifications arriving before its first attempt join it) or the `digest` of one local day. Its text is
    written at sending time, from the notifications still visible to the recipient then."""

    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    user = ForeignKeyField(User, on_delete="CASCADE")
    kind = CharField(max_length=10)  # immediate | digest
    digest_date = DateField(null=True)  # the org's local date of a digest: one per user, org and day
    status = CharField(max_length=10, default="pending")  # pending | sent | failed | dropped
    attempts = IntegerField(default=0)
    max_attempts = IntegerField()
    next_attempt_at = DateTimeField(null=True)
    claimed_at = DateTimeField(null=True)  # first taken by a worker: from then on nothing joins it
    last_error = TextField(default="")
    subject = CharField(max_length=200, default="")
    sent_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "outbound_email"
        indexes = ((("status", "next_attempt_at"), False), (("org", "user", "digest_date"), True))


class Notification(TenantModel):
    """One event told to one member of `org` (the receiving org). `title` is minimal text written for that
    member: never more than the event's recipients may see, and for intelligence no seller or note at all."""

    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    user = ForeignKeyField(User, on_delete="CASCADE")
    kind = CharField(max_length=64)  # a kind of portal.notifications.kinds.KINDS
    event = CharField(max_length=64)  # the domain event it came from
    title = CharField(max_length=300)
    object_type = CharField(max_length=64, default="")
    object_id = CharField(max_length=64, default="")
    data = TextField(default="{}")  # JSON the visibility re-check and the link need (ids, never notes)
    link_endpoint = CharField(max_length=64, default="")
    link_args = TextField(default="{}")  # JSON
    delivery = CharField(max_length=10, default="inbox")  # inbox | immediate | digest, as chosen then
    email = ForeignKeyField(OutboundEmail, null=True, backref="notifications", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    read_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("org", "user", "read_at"), False), (("org", "user", "created_at"), False),
                   (("delivery", "email"), False))


class NotificationPreference(TenantModel):
    """A member's choice for one kind of event in one org; a kind without a row has its default."""

    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    user = ForeignKeyField(User, on_delete="CASCADE")
    kind = CharField(max_length=64)
    mode = CharField(max_length=10)  # off | inbox | immediate | digest
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "notification_preference"
        indexes = ((("org", "user", "kind"), True),)
