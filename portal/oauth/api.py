"""`GET /api/v1/me`: who a token acts for. The first thing an integrator calls to check a setup."""
from datetime import timezone

from marshmallow import Schema, fields

from portal.api.auth import ApiBlueprint, current_token

blp = ApiBlueprint("me", __name__, url_prefix="/me", description="The token's organization, client and user")


class OrgSchema(Schema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["brand", "platform"]})
    timezone = fields.String(required=True)


class ClientSchema(Schema):
    client_id = fields.String(required=True)
    name = fields.String(required=True)


class UserSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, metadata={"description": "The user's role in the organization"})


class MeSchema(Schema):
    org = fields.Nested(OrgSchema, required=True)
    client = fields.Nested(ClientSchema, required=True)
    user = fields.Nested(UserSchema, required=True, allow_none=True,
                         metadata={"description": "null for client credentials tokens"})
    scopes = fields.List(fields.String(), required=True,
                         metadata={"description": "Scopes the token holds now"})
    expires_at = fields.DateTime(required=True, format="iso")


@blp.route("", methods=["GET"])
@blp.requires()
@blp.response(200, MeSchema)
def me():
    """The organization, client and user the token acts for, and its scopes"""
    token = current_token()
    user = token.acting_user
    return {
        "org": token.org, "client": token.client, "scopes": token.granted_scopes,
        "user": None if user is None else {"id": user.id, "email": user.email, "name": user.name,
                                           "role": token.acting_role},
        "expires_at": token.expires_at.replace(tzinfo=timezone.utc),  # stored naive UTC
    }
