"""Marketplaces over the API (scope `notices:read`: marketplaces are where notices are filed).

A platform reads the marketplaces it runs; a brand those of the platforms it has an active partnership
with (where it may file); any other marketplace is a 404, as on the web.
"""
from marshmallow import Schema, fields

from portal.accounts.models import Marketplace
from portal.api.auth import ApiBlueprint
from portal.api.pagination import PageArgs, paginate
from portal.api.schemas import page_schema
from portal.errors import NotFound
from portal.partnerships.services import visible_marketplaces
from portal.tenancy import current_org, object_id

blp = ApiBlueprint("marketplaces", __name__, url_prefix="/marketplaces",
                   description="Marketplaces run by platform organizations")


class MarketplaceSchema(Schema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    country = fields.String(required=True, allow_none=True,
                            metadata={"description": "ISO 3166-1 alpha-2 code of the market served"})
    platform = fields.String(attribute="org.slug", required=True,
                             metadata={"description": "Slug of the platform organization"})


MarketplacePage = page_schema(MarketplaceSchema, "MarketplacePage")


# Function views rather than MethodView classes: the route then registers the guarded function itself,
# with its access rule, which the route tests check.
@blp.route("", methods=["GET"])
@blp.requires("notices:read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, MarketplacePage)
def list_marketplaces(args):
    """Marketplaces you run (platforms) or may file notices on (brands), in id order, one page at a time"""
    return paginate(visible_marketplaces(current_org), Marketplace, args)


@blp.route("/<int:marketplace_id>", methods=["GET"])
@blp.requires("notices:read")
@blp.response(200, MarketplaceSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_marketplace(marketplace_id):
    """One marketplace"""
    found = visible_marketplaces(current_org).where(Marketplace.id == object_id(marketplace_id)).first()
    if found is None:
        raise NotFound()
    return found
