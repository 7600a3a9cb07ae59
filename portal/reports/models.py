"""Snapshots of closed weeks: a weekly report is computed once when its week ends and never changed."""
from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from portal.accounts.models import Organization
from portal.tenancy import TenantModel
from portal.timeutil import utcnow


class WeeklyReport(TenantModel):
    """The report of a closed week as it was served: `body` is its canonical JSON (the bytes every pull
    returns) and `sha256` their digest, also the ETag."""

    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    week = CharField(max_length=8)  # 2026-W46
    starts_at = DateTimeField()
    ends_at = DateTimeField()
    body = TextField()
    sha256 = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "week"), True),)
