"""Webhook endpoints an org registers, the deliveries of events to them, and the log of every attempt.

An endpoint's signing secret must be readable to sign each delivery, so it cannot be kept as a digest
like OAuth client secrets. It is stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from
`cryptography`, installed with Authlib) under a key derived from SECRET_KEY (HKDF-SHA256 with a label of
its own, so the key is used for nothing else). A copied database alone does not reveal secrets; changing
SECRET_KEY makes them unreadable: deliveries then fail with a message saying to rotate each endpoint's
secret (`portal.webhooks.services.secret_of`).
"""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import Organization, User
from portal.db import BaseModel
from portal.tenancy import TenantModel
from portal.timeutil import utcnow

EVENT_KINDS = {
    "notice.item.transitioned": "A listing of a notice changed state (acknowledged, removed, rejected, ...)",
    "sla.warning": "75% of an SLA target used",
    "sla.breached": "An SLA deadline passed",
    "report.weekly.ready": "A weekly report was closed",
    "intel.flag.shared": "Another organization shared flagged sellers with you",
    "notice.filed": "A notice was filed (by your brand, or with your platform)",
    "notice.evidence_added": "Evidence was added to a notice",
    "intel.flag.withdrawn": "A flag shared with you was withdrawn by its owner",
    "intel.seller.repeat_infringer": "A seller on a marketplace whose strikes you see became a repeat infringer",
    "intel.sighting.added": "A sighting was added (by you, or to your flag); sent only while you may see the flag",
}


class Webhook(TenantModel):
    org = ForeignKeyField(Organization, backref="webhooks", on_delete="RESTRICT")
    url = TextField()
    events = CharField(max_length=500)  # space separated kinds of EVENT_KINDS
    secret_encrypted = TextField()  # Fernet token of the signing secret
    secret_hint = CharField(max_length=8, default="")  # the last characters, to tell secrets apart
    secret_rotated_at = DateTimeField(null=True)
    active = BooleanField(default=True)
    disabled_at = DateTimeField(null=True)
    disabled_reason = TextField(default="")
    consecutive_failures = IntegerField(default=0)  # deliveries failed in a row (retries exhausted)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "active"), False),)

    @property
    def event_list(self):
        return self.events.split()

    @property
    def status_label(self):
        return "Active" if self.active else "Disabled"


class WebhookDelivery(TenantModel):
    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    webhook = ForeignKeyField(Webhook, backref="deliveries", on_delete="CASCADE")
    event_kind = CharField(max_length=64)
    event_id = CharField(max_length=40)  # random, the same for every endpoint of the org receiving the event
    payload = TextField()  # the canonical JSON body, byte for byte as sent
    status = CharField(max_length=10, default="pending")  # pending | delivered | failed
    attempts = IntegerField(default=0)
    max_attempts = IntegerField()  # WEBHOOK_MAX_ATTEMPTS; a manual redelivery is one more attempt
    next_attempt_at = DateTimeField(null=True)
    last_status_code = IntegerField(null=True)
    last_error = TextField(default="")
    delivered_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "webhook_delivery"
        indexes = ((("status", "next_attempt_at"), False), (("webhook", "created_at"), False))


class WebhookAttempt(BaseModel):
    """One POST of a delivery: reached through its delivery, which is tenant-scoped."""

    delivery = ForeignKeyField(WebhookDelivery, backref="attempt_log", on_delete="CASCADE")
    at = DateTimeField(default=utcnow)
    status_code = IntegerField(null=True)
    error = TextField(default="")
    duration_ms = IntegerField(default=0)

    class Meta:
        table_name = "webhook_attempt"
        indexes = ((("delivery", "at"), False),)
