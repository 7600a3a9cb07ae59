"""Partnerships (MOUs) between a brand and a platform, and the versioned terms they work under.

A partnership joins two orgs, so it is not owned by one tenant: each side reaches it through
`services.partnerships_of(org)` / `services.get_partnership(pk, org)`, never unscoped.

Terms (effective dates, marketplaces covered, SLA policy) are immutable versions. One side writes a
version (`pending`); the other side accepts it (`in_force`, the previous one `replaced`) or declines it; a
pending version revised before a decision is `superseded`. Accepted terms dated in the future leave the
replaced version governing new notices until their start date.
Clocks copy their targets and calendar when they start, so a new version never moves a running clock.
"""
import json
from datetime import time

from peewee import BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import Organization, User
from portal.db import BaseModel
from portal.sla.calendar import WEEKDAYS, BusinessCalendar
from portal.timeutil import utcnow

STATUSES = ("proposed", "active", "suspended", "ended")
TERMS_STATES = ("pending", "in_force", "replaced", "superseded", "declined")


class Partnership(BaseModel):
    brand = ForeignKeyField(Organization, backref="platform_partnerships", on_delete="RESTRICT")
    platform = ForeignKeyField(Organization, backref="brand_partnerships", on_delete="RESTRICT")
    status = CharField(max_length=16, default="proposed")
    created_at = DateTimeField(default=utcnow)
    status_reason = TextField(default="")  # why it was declined, suspended or ended
    status_changed_at = DateTimeField(null=True)
    status_changed_by = ForeignKeyField(Organization, null=True, on_delete="RESTRICT")  # who suspended it

    class Meta:
        indexes = ((("brand", "platform"), False),)

    @property
    def reference(self):
        return f"P-{self.id:04d}"

    @property
    def terms_version(self):
        """The version in force; 0 while only proposed (the Terms rows say which, nothing else does)."""
        return (Terms.select(Terms.version).where((Terms.partnership == self.id) & (Terms.state == "in_force"))
                .scalar() or 0)

    def other_side(self, org):
        return self.platform if getattr(org, "id", org) == self.brand_id else self.brand

    def as_dict(self):
        return {"id": self.id, "brand": self.brand.slug, "platform": self.platform.slug, "status": self.status,
                "terms_version": self.terms_version}


class Terms(BaseModel):
    """One version of a partnership's terms. Never updated once written, except its state."""

    partnership = ForeignKeyField(Partnership, backref="terms", on_delete="CASCADE")
    version = IntegerField()
    state = CharField(max_length=16, default="pending")
    proposed_by_org = ForeignKeyField(Organization, on_delete="RESTRICT")
    proposed_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    proposed_at = DateTimeField(default=utcnow)
    decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    decided_at = DateTimeField(null=True)
    note = TextField(default="")  # the proposer's note, or the reason for declining
    effective_from = DateField()
    effective_to = DateField(null=True)
    marketplaces = TextField(default="")  # packed marketplace slugs: ";taobao;tmall;"
    ack_minutes = IntegerField()
    action_minutes = IntegerField()
    fast_ack_minutes = IntegerField()
    fast_action_minutes = IntegerField()
    always_open = BooleanField(default=False)  # 24/7
    timezone = CharField(max_length=64, default="UTC")
    working_days = CharField(max_length=16, default="0;1;2;3;4")
    opens = CharField(max_length=5, default="09:00")
    closes = CharField(max_length=5, default="17:00")
    holidays = TextField(default="")  # packed ISO dates, local to the calendar

    class Meta:
        indexes = ((("partnership", "version"), True),)

    @property
    def marketplace_slugs(self):
        return [part for part in self.marketplaces.split(";") if part]

    @property
    def day_numbers(self):
        return sorted(int(part) for part in self.working_days.split(";") if part)

    @property
    def holiday_list(self):
        return sorted(part for part in self.holidays.split(";") if part)

    def calendar(self):
        if self.always_open:
            return BusinessCalendar.twenty_four_seven(self.timezone)
        from datetime import date
        return BusinessCalendar(timezone=self.timezone, working_days=frozenset(self.day_numbers),
                                opens=time.fromisoformat(self.opens), closes=time.fromisoformat(self.closes),
                                holidays=frozenset(date.fromisoformat(d) for d in self.holiday_list))

    def targets(self, fast_lane=False):
        """(acknowledge, action) targets in minutes of business time."""
        if fast_lane:
            return self.fast_ack_minutes, self.fast_action_minutes
        return self.ack_minutes, self.action_minutes

    def describe_calendar(self):
        if self.always_open:
            return f"24/7 ({self.timezone})"
        days = ", ".join(WEEKDAYS[d].capitalize() for d in self.day_numbers)
        holidays = f", {len(self.holiday_list)} holidays" if self.holiday_list else ""
        return f"{days} {self.opens}-{self.closes} {self.timezone}{holidays}"

    def as_dict(self):
        return {"version": self.version, "state": self.state, "proposed_by": self.proposed_by_org.slug,
                "effective_from": self.effective_from.isoformat() if self.effective_from else None,
                "effective_to": self.effective_to.isoformat() if self.effective_to else None,
                "marketplaces": self.marketplace_slugs, "ack_minutes": self.ack_minutes,
                "action_minutes": self.action_minutes, "fast_ack_minutes": self.fast_ack_minutes,
                "fast_action_minutes": self.fast_action_minutes, "always_open": self.always_open,
                "timezone": self.timezone, "working_days": self.day_numbers, "opens": self.opens,
                "closes": self.closes, "holidays": self.holiday_list, "note": self.note}

    def policy_json(self):
        return json.dumps(self.as_dict(), sort_keys=True)
