"""A partnership joins two orgs (a brand and a platform), so it is not owned by one tenant: each side
reaches it through `partnerships_of(org)` in services, never unscoped."""
from peewee import CharField, DateTimeField, ForeignKeyField

from portal.accounts.models import Organization
from portal.db import BaseModel
from portal.timeutil import utcnow

STATUSES = ("proposed", "active", "suspended", "ended")


class Partnership(BaseModel):
    brand = ForeignKeyField(Organization, backref="platform_partnerships", on_delete="RESTRICT")
    platform = ForeignKeyField(Organization, backref="brand_partnerships", on_delete="RESTRICT")
    status = CharField(max_length=16, default="active")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("brand", "platform"), True),)

    def as_dict(self):
        return {"id": self.id, "brand": self.brand.slug, "platform": self.platform.slug, "status": self.status}
