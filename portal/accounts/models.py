"""Organizations, their marketplaces, users, memberships, invitations and login sessions."""
from flask_login import UserMixin
from peewee import BigIntegerField, BooleanField, CharField, DateTimeField, ForeignKeyField, TextField

from portal import audit
from portal.db import BaseModel
from portal.tenancy import TenantModel
from portal.timeutil import utcnow

ORG_KINDS = ("brand", "platform")
ROLES = ("admin", "analyst", "viewer")


class Organization(BaseModel):
    """A tenant: a brand (rights holder, or its law firm) or a platform (marketplace operator)."""

    slug = CharField(max_length=64, unique=True)
    name = CharField(max_length=200)
    kind = CharField(max_length=16)
    timezone = CharField(max_length=64, default="UTC")
    created_at = DateTimeField(default=utcnow)
    # Members without two-factor authentication reach nothing of this org until they set it up.
    two_factor_required = BooleanField(default=False)

    @property
    def is_platform(self):
        return self.kind == "platform"

    def as_dict(self):
        return {"id": self.id, "slug": self.slug, "name": self.name, "kind": self.kind,
                "timezone": self.timezone}


class Marketplace(TenantModel):
    """A storefront run by a platform org (Taobao, Tmall, AliExpress). Slugs are unique alliance-wide."""

    org = ForeignKeyField(Organization, backref="marketplaces", on_delete="RESTRICT")
    slug = CharField(max_length=64, unique=True)
    name = CharField(max_length=200)
    country = CharField(max_length=2, null=True)  # ISO 3166-1 alpha-2 of the market it serves
    created_at = DateTimeField(default=utcnow)

    def as_dict(self):
        return {"id": self.id, "org": self.org.slug, "slug": self.slug, "name": self.name,
                "country": self.country}


class User(UserMixin, BaseModel):
    """A person. Not tenant-owned: one login may hold memberships in several orgs (outside counsel)."""

    email = CharField(max_length=254, unique=True)  # stored normalised to lower case
    name = CharField(max_length=200, default="")
    password_hash = CharField(max_length=255)
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)
    # Two-factor authentication (portal.accounts.two_factor): the TOTP key, encrypted (portal.secretbox);
    # when it was switched on; the last time step whose code was accepted (a code works once); and the
    # SHA-256 digests of the unused recovery codes, space separated.
    two_factor_secret = TextField(null=True)
    two_factor_enabled_at = DateTimeField(null=True)
    two_factor_last_step = BigIntegerField(null=True)
    recovery_code_hashes = TextField(default="")

    # Flask-Login identifies a browser session, not a user: `get_id` returns the token of the login
    # session this object was loaded through, so ending that session (logout, deactivation) ends access.
    session_token = None

    @property
    def is_active(self):
        return self.active

    @property
    def has_two_factor(self):
        return self.two_factor_enabled_at is not None

    def get_id(self):
        return self.session_token

    def as_dict(self):
        return {"id": self.id, "email": self.email, "name": self.name, "active": self.active}


class Membership(TenantModel):
    """A user's role in one org. Deactivating a membership removes access to that org only."""

    org = ForeignKeyField(Organization, backref="memberships", on_delete="RESTRICT")
    user = ForeignKeyField(User, backref="memberships", on_delete="RESTRICT")
    role = CharField(max_length=16)
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "org"), True),)

    def as_dict(self):
        return {"id": self.id, "org": self.org.slug, "user": self.user.email, "role": self.role,
                "active": self.active}


class Invitation(TenantModel):
    """An admin's invitation for someone without an account; the link carries a token stored only hashed."""

    org = ForeignKeyField(Organization, backref="invitations", on_delete="RESTRICT")
    email = CharField(max_length=254)
    role = CharField(max_length=16)
    token_hash = CharField(max_length=64, unique=True)
    invited_by = ForeignKeyField(User, null=True, on_delete="RESTRICT")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    accepted_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)

    @classmethod
    def still_open(cls, now=None):
        """The SQL condition of `is_pending`: neither accepted nor revoked, and not yet expired (at `now`)."""
        return cls.accepted_at.is_null() & cls.revoked_at.is_null() & (cls.expires_at > (now or utcnow()))

    @classmethod
    def pending_for_org(cls, org, now=None):
        return cls.for_org(org).where(cls.still_open(now))

    @property
    def is_pending(self):
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > utcnow()


class UserSession(BaseModel):
    """One browser login. The cookie holds only the token; the row holds the current org and timestamps."""

    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    token_hash = CharField(max_length=64, unique=True)
    org = ForeignKeyField(Organization, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)
    ended_at = DateTimeField(null=True)
    ip_address = CharField(max_length=64, default="")
    user_agent = CharField(max_length=255, default="")


# The audit log (plumbing) names an event's org and actor; it does not import this domain, so it gets them here.
audit.link_parties(Organization, User)
