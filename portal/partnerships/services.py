"""Who works with whom. The one place that answers "which brands does this platform partner with"."""
from portal import audit
from portal.db import db
from portal.errors import Conflict, ValidationError
from portal.partnerships.models import Partnership


def create_partnership(brand, platform):
    """An active partnership (operator's tool: the CLI and demo data; the proposal flow comes later)."""
    if brand.kind != "brand" or platform.kind != "platform":
        raise ValidationError("A partnership joins a brand organization and a platform organization.")
    with db.atomic():
        if Partnership.select().where((Partnership.brand == brand) & (Partnership.platform == platform)).exists():
            raise Conflict(f"{brand.name} and {platform.name} already have a partnership.")
        partnership = Partnership.create(brand=brand, platform=platform, status="active")
        for org in (brand, platform):
            audit.record("partnership.created", org, partnership, change=partnership.as_dict())
    return partnership


def active_partner_brand_ids(platform):
    """A subquery: ids of the brands with an active partnership with `platform`."""
    return (Partnership.select(Partnership.brand)
            .where((Partnership.platform == platform) & (Partnership.status == "active")))


def active_partner_brands(platform):
    from portal.accounts.models import Organization
    return Organization.select().where(Organization.id.in_(active_partner_brand_ids(platform))).order_by(
        Organization.name)
