"""The SLA clocks of notice items: one per item and metric (acknowledge, action)."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import Organization
from portal.db import BaseModel
from portal.notices.models import NoticeItem

METRICS = ("acknowledge", "action")
STAGES = ("running", "paused", "completed", "cancelled")


class SlaClock(BaseModel):
    """Target and calendar are copied in when the clock starts (a snapshot): later terms never move it.

    `deadline` and `warn_at` are the moments the clock reaches 100% and 75% of its target while it
    runs; a pause keeps the business time left (`remaining_seconds`) and resuming moves both on by it.
    """

    item = ForeignKeyField(NoticeItem, backref="clocks", on_delete="CASCADE")
    # Copied from the item, so a weekly report reads one org's clocks of a week by index.
    brand = ForeignKeyField(Organization, on_delete="RESTRICT", backref="+")
    platform = ForeignKeyField(Organization, on_delete="RESTRICT", backref="+")
    metric = CharField(max_length=16)
    target_minutes = IntegerField()
    calendar = TextField()  # JSON snapshot of the business calendar
    started_at = DateTimeField()
    deadline = DateTimeField()
    warn_at = DateTimeField()
    stage = CharField(max_length=16, default="running")
    paused_at = DateTimeField(null=True)
    paused_seconds = IntegerField(default=0)  # business time spent paused, all pauses together
    remaining_seconds = IntegerField(null=True)  # business time left when paused or stopped (negative: late)
    stopped_at = DateTimeField(null=True)  # completed or cancelled
    breached = BooleanField(default=False)
    warned_at = DateTimeField(null=True)  # when sla.warning was emitted (once)
    breach_emitted_at = DateTimeField(null=True)  # when sla.breached was emitted (once)

    class Meta:
        indexes = ((("item", "metric"), True), (("stage", "deadline"), False), (("stage", "warn_at"), False),
                   # the weekly reports: clocks completed, and deadlines passed, in a week
                   (("brand", "stage", "stopped_at"), False), (("platform", "stage", "stopped_at"), False),
                   (("brand", "deadline"), False), (("platform", "deadline"), False))
