"""OAuth 2.0 clients, authorization codes and tokens, in peewee, with the methods Authlib's grants call.

Secrets are never stored: client secrets, codes, access and refresh tokens are kept as SHA-256 digests.
They are long random strings (not passwords), so a fast digest is enough to make a stolen table useless,
and it keeps token checking cheap on every API request.
"""
import hmac
from datetime import timedelta

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import Organization, User
from portal.accounts.services import token_digest
from portal.oauth.scopes import split_scope
from portal.tenancy import TenantModel
from portal.timeutil import utcnow


class OAuthClient(TenantModel):
    """An integration registered by an org admin: a machine job (confidential) or a vendor app."""

    org = ForeignKeyField(Organization, backref="oauth_clients", on_delete="RESTRICT")
    client_id = CharField(max_length=64, unique=True)
    name = CharField(max_length=120)
    public = BooleanField(default=False)  # a public client has no secret and must use PKCE
    secret_hash = CharField(max_length=64, null=True)
    secret_hint = CharField(max_length=8, default="")  # the last characters, to tell secrets apart
    grant_types = CharField(max_length=200)  # space separated
    redirect_uris = TextField(default="")  # newline separated, matched exactly
    scope = TextField()  # space separated, the most this client may ask for
    created_by = ForeignKeyField(User, null=True, on_delete="RESTRICT")
    created_at = DateTimeField(default=utcnow)
    secret_rotated_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)
    last_used_at = DateTimeField(null=True)

    class Meta:
        table_name = "oauth_client"

    @property
    def is_active(self):
        return self.revoked_at is None

    @property
    def grant_type_list(self):
        return self.grant_types.split()

    @property
    def redirect_uri_list(self):
        return [uri for uri in self.redirect_uris.splitlines() if uri]

    @property
    def scope_list(self):
        return split_scope(self.scope)

    # --- Authlib ClientMixin ---
    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        uris = self.redirect_uri_list
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope):
        """The scope to grant: all of the client's scopes when the request has no `scope` parameter;
        None (invalid_scope) when it names a scope this client was not given, or is blank."""
        if scope is None:
            return " ".join(self.scope_list)
        requested = split_scope(scope)
        if not requested or not set(requested) <= set(self.scope_list):
            return None
        return " ".join(requested)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uri_list  # exact string match, no prefixes or patterns

    def check_client_secret(self, client_secret):
        if self.public or not self.secret_hash or not client_secret:
            return False
        return hmac.compare_digest(self.secret_hash, token_digest(client_secret))

    def check_endpoint_auth_method(self, method, endpoint):
        if self.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code" and "authorization_code" in self.grant_type_list

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_type_list

    def as_dict(self):
        return {"id": self.id, "client_id": self.client_id, "name": self.name, "org": self.org.slug,
                "public": self.public, "grant_types": self.grant_type_list,
                "redirect_uris": self.redirect_uri_list, "scope": " ".join(self.scope_list),
                "revoked": self.revoked_at is not None}


class AuthorizationCode(TenantModel):
    """A single-use code from the consent page. `org` is the org the user chose for the app to act for."""

    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    client = ForeignKeyField(OAuthClient, backref="codes", on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    code_hash = CharField(max_length=64, unique=True)
    redirect_uri = TextField()
    scope = TextField()
    code_challenge = CharField(max_length=128)
    code_challenge_method = CharField(max_length=8)
    family = CharField(max_length=36)  # shared by every token issued from this code, for revocation on reuse
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def is_expired(self):
        return utcnow() >= self.expires_at


class Token(TenantModel):
    """An access token (and, for user grants, its refresh token). `org` is the org the token acts for.

    Refresh tokens rotate: each use creates a new row in the same `family` and marks the old one used.
    Presenting a used refresh token again revokes the whole family (RFC 9700 section 4.14.2).
    """

    org = ForeignKeyField(Organization, on_delete="RESTRICT")
    client = ForeignKeyField(OAuthClient, backref="tokens", on_delete="CASCADE")
    user = ForeignKeyField(User, null=True, on_delete="CASCADE")
    grant_type = CharField(max_length=32)
    family = CharField(max_length=36, index=True)
    access_token_hash = CharField(max_length=64, unique=True)
    refresh_token_hash = CharField(max_length=64, unique=True, null=True)
    scope = TextField()
    issued_at = DateTimeField(default=utcnow)
    expires_in = IntegerField()
    refresh_expires_at = DateTimeField(null=True)
    refresh_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)

    @property
    def expires_at(self):
        return self.issued_at + timedelta(seconds=self.expires_in)

    @property
    def scope_list(self):
        return split_scope(self.scope)

    # --- Authlib TokenMixin ---
    def check_client(self, client):
        return self.client_id == client.id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return utcnow() >= self.expires_at

    def is_revoked(self):
        return self.revoked_at is not None

    def is_refresh_usable(self):
        return (self.refresh_token_hash is not None and self.revoked_at is None
                and self.refresh_used_at is None
                and (self.refresh_expires_at is None or utcnow() < self.refresh_expires_at))

    def get_user(self):
        return self.user

    def get_client(self):
        return self.client
