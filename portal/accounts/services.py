"""Business rules for organizations, marketplaces, users and team management.

Pages, CLI and demo seeding all call these functions; each validates its input, changes the database in
one transaction and writes the audit event inside it.
"""
import hashlib
import re
import secrets
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context
from peewee import IntegrityError, fn

from portal import audit
from portal.accounts import passwords
from portal.accounts.models import (ORG_KINDS, ROLES, Invitation, Marketplace, Membership, Organization,
                                    User, UserSession)
from portal.db import PreparedSelect, db
from portal.errors import Conflict, NotFound, ValidationError
from portal.tenancy import lock_org
from portal.timeutil import is_valid_timezone, utcnow

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
DEFAULT_INVITATION_DAYS = 7

WRONG_CREDENTIALS = "The email or password is not correct."
INVITATION_NOT_VALID = "This invitation link is not valid: it was used, revoked or has expired."
ACCOUNT_EXISTS_NOW = "An account with this email exists now: sign in, then open the link again."
ACCOUNT_DEACTIVATED = "This account has been deactivated. Ask your organization's admin to restore it."
NO_ACTIVE_MEMBERSHIP = ("This account is not active in any organization. "
                        "Ask your organization's admin to restore your access.")


class LoginRefused(Exception):
    """A sign-in that must not succeed. `message` is safe to show: it never says whether an email exists."""

    def __init__(self, message, reason):
        super().__init__(message)
        self.message = message
        self.reason = reason  # for the security log only


# --- validation helpers -------------------------------------------------------------------------------

def slugify(text):
    return re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")[:64].strip("-")


def clean_slug(slug, field="slug"):
    slug = (slug or "").strip().lower()
    if not SLUG_PATTERN.match(slug) or not 2 <= len(slug) <= 64:
        raise ValidationError({field: "Use 2 to 64 lower-case letters, digits and single dashes, "
                                      "for example 'louis-vuitton'."})
    return slug


def clean_name(name, field="name"):
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({field: "A name is required."})
    if len(name) > 200:
        raise ValidationError({field: "Use at most 200 characters."})
    return name


def normalize_email(email):
    """Validated and lower-cased: one account per mailbox whatever case it was typed in."""
    try:
        result = validate_email((email or "").strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValidationError({"email": f"Not a valid email address: {error}"})
    return result.normalized.lower()


def clean_role(role):
    if role not in ROLES:
        raise ValidationError({"role": f"Role must be one of {', '.join(ROLES)}."})
    return role


def clean_password(password, email=None):
    """The password if the policy accepts it for the account `email`; otherwise ValidationError."""
    problems = passwords.password_problems(password or "", email)
    if problems:
        raise ValidationError({"password": problems})
    return password


def token_digest(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- organizations and marketplaces --------------------------------------------------------------------

def create_organization(name, kind, slug=None, timezone="UTC"):
    name = clean_name(name)
    if kind not in ORG_KINDS:
        raise ValidationError({"kind": "Kind must be 'brand' or 'platform'."})
    slug = clean_slug(slug or slugify(name))
    timezone = (timezone or "UTC").strip()
    if not is_valid_timezone(timezone):
        raise ValidationError({"timezone": f"'{timezone}' is not an IANA time zone such as Europe/Paris."})
    with db.atomic():
        if Organization.select().where(Organization.slug == slug).exists():
            raise Conflict({"slug": f"An organization with slug '{slug}' already exists."})
        org = Organization.create(name=name, kind=kind, slug=slug, timezone=timezone)
        audit.record("org.created", org, org, org.as_dict())
    return org


def get_organization(slug):
    org = Organization.get_or_none(Organization.slug == (slug or "").strip().lower())
    if org is None:
        raise NotFound(f"No organization with slug '{slug}'.")
    return org


def create_marketplace(org, name, slug=None, country=None):
    if not org.is_platform:
        raise ValidationError({"org": "Only a platform organization runs marketplaces."})
    name = clean_name(name)
    slug = clean_slug(slug or slugify(name))
    country = (country or "").strip().upper() or None
    if country and not COUNTRY_PATTERN.match(country):
        raise ValidationError({"country": "Use a two-letter ISO 3166 country code such as CN."})
    with db.atomic():
        if Marketplace.select().where(Marketplace.slug == slug).exists():
            raise Conflict({"slug": f"A marketplace with slug '{slug}' already exists."})
        marketplace = Marketplace.create(org=org, name=name, slug=slug, country=country)
        audit.record("marketplace.created", org, marketplace, marketplace.as_dict())
    return marketplace


# --- users and memberships -----------------------------------------------------------------------------

def find_user(email):
    try:
        return User.get_or_none(User.email == normalize_email(email))
    except ValidationError:
        return None


def add_member(org, email, role, password=None, name=""):
    """Give `email` a role in `org`, creating the account when it is new (CLI and demo seeding).

    Returns (membership, user_created). An existing account keeps its password: outside counsel who
    already has a login simply gains another org.
    """
    email, role = normalize_email(email), clean_role(role)
    # argon2 takes a fifth of a second: hash before the transaction, never while holding the write lock.
    # (Users are never deleted, so an account found here still exists inside the transaction.)
    password_hash = None if find_user(email) else passwords.hash_password(clean_password(password, email))
    with db.atomic():
        user = User.get_or_none(User.email == email)
        created = user is None
        if created:
            user = User.create(email=email, name=clean_name(name or email.split("@")[0]),
                               password_hash=password_hash)
            audit.record("user.created", org, user, {"email": email})
        membership = _create_membership(org, user, role)
    return membership, created


def _create_membership(org, user, role, actor=None):
    if Membership.for_org(org).where(Membership.user == user).exists():
        raise Conflict({"email": f"{user.email} is already a member of {org.name}."})
    try:
        with db.atomic():
            membership = Membership.create(org=org, user=user, role=role)
    except IntegrityError:
        raise Conflict({"email": f"{user.email} is already a member of {org.name}."})
    audit.record("membership.created", org, membership, {"user": user.email, "role": role}, actor=actor)
    return membership


def invite_member(org, email, role, invited_by=None):
    """An admin invites someone to the team; returns (invitation, token).

    Everyone gets an invitation link, whether or not the address already has a portal login: adding an
    existing account directly would tell any org admin which emails have accounts, and would put an org
    into someone's switcher without their consent. The link (token) is shown once; only its hash is kept.
    """
    email, role = normalize_email(email), clean_role(role)
    with db.atomic():
        lock_org(org)
        if Membership.for_org(org).join(User).where(User.email == email).exists():
            raise Conflict({"email": f"{email} is already a member of {org.name}."})
        if Invitation.pending_for_org(org).where(Invitation.email == email).exists():
            raise Conflict({"email": f"{email} already has a pending invitation; revoke it to send a new one."})
        token = secrets.token_urlsafe(32)
        invitation = Invitation.create(org=org, email=email, role=role, token_hash=token_digest(token),
                                       invited_by=invited_by, expires_at=utcnow() + invitation_lifetime())
        audit.record("invitation.created", org, invitation, {"email": email, "role": role})
    return invitation, token


def invitation_lifetime():
    days = current_app.config["INVITATION_DAYS"] if has_app_context() else DEFAULT_INVITATION_DAYS
    return timedelta(days=days)


def pending_invitation(token):
    """The invitation a link stands for, if it can still be accepted; otherwise NotFound."""
    invitation = Invitation.get_or_none(Invitation.token_hash == token_digest(token or ""))
    if invitation is None or not invitation.is_pending:
        raise NotFound(INVITATION_NOT_VALID)
    return invitation


def _close_invitation(invitation, **when):
    """Set accepted_at or revoked_at, exactly once: of two simultaneous clicks only one gets True."""
    return bool(Invitation.update(**when)
                .where(Invitation.id == invitation.id, Invitation.still_open())
                .execute())


def _claim_invitation(token):
    invitation = pending_invitation(token)
    if not _close_invitation(invitation, accepted_at=utcnow()):
        raise NotFound(INVITATION_NOT_VALID)
    return invitation


def accept_invitation(token, name, password):
    """A newcomer accepts: the account is created with their own password, then the membership."""
    name = clean_name(name)
    email = pending_invitation(token).email
    password_hash = passwords.hash_password(clean_password(password, email))  # outside the transaction: slow
    with db.atomic():
        invitation = _claim_invitation(token)
        try:
            with db.atomic():
                user = User.create(email=invitation.email, name=name, password_hash=password_hash)
        except IntegrityError:  # the address registered meanwhile (another org's invitation)
            raise Conflict(ACCOUNT_EXISTS_NOW)
        audit.record("user.created", invitation.org, user, {"email": user.email, "via": "invitation"}, actor=user)
        audit.record("invitation.accepted", invitation.org, invitation, {"email": user.email}, actor=user)
        membership = _create_membership(invitation.org, user, invitation.role, actor=user)
    return membership


def accept_invitation_as(token, user):
    """Someone who already has an account accepts, signed in as the invited address."""
    with db.atomic():
        invitation = _claim_invitation(token)
        if invitation.email != user.email:
            raise ValidationError(f"This invitation is for {invitation.email}; sign in with that account.")
        audit.record("invitation.accepted", invitation.org, invitation, {"email": user.email}, actor=user)
        membership = _create_membership(invitation.org, user, invitation.role, actor=user)
    return membership


def revoke_invitation(invitation):
    with db.atomic():
        if not _close_invitation(invitation, revoked_at=utcnow()):
            raise ValidationError("This invitation is no longer pending.")
        audit.record("invitation.revoked", invitation.org, invitation, {"email": invitation.email})


def active_admin_count(org):
    return (Membership.for_org(org).join(User)
            .where(Membership.role == "admin", Membership.active == True, User.active == True)  # noqa: E712
            .count())


def _locked_membership(membership):
    """Lock the membership's org and read the membership again, as it is now, inside the transaction."""
    lock_org(membership.org_id)
    return Membership.get_for_org(membership.id, membership.org_id)


def _ensure_other_admin_remains(membership):
    if membership.role == "admin" and membership.active and active_admin_count(membership.org_id) <= 1:
        raise ValidationError("An organization must keep at least one active admin.")


def change_role(membership, role):
    role = clean_role(role)
    with db.atomic():
        current = _locked_membership(membership)
        if role != current.role:
            if role != "admin":
                _ensure_other_admin_remains(current)
            Membership.update(role=role).where(Membership.id == current.id).execute()
            audit.record("membership.role_changed", current.org_id, current,
                         {"user": current.user.email, "role": {"from": current.role, "to": role}})
    membership.role = role
    return membership


def end_all_sessions(user, except_token=None):
    """End every open login session of `user` (but the one of `except_token`); returns how many."""
    query = UserSession.update(ended_at=utcnow()).where(UserSession.user == user, UserSession.ended_at.is_null())
    if except_token:
        query = query.where(UserSession.token_hash != token_digest(except_token))
    return query.execute()


def set_membership_active(membership, active):
    with db.atomic():
        current = _locked_membership(membership)
        if current.active != active:
            if not active:
                _ensure_other_admin_remains(current)
            Membership.update(active=active).where(Membership.id == current.id).execute()
            if not active:
                # A deactivation is a security event: the person's sessions end everywhere at once (in any
                # org); they sign in again to whatever orgs they still belong to.
                end_all_sessions(current.user_id)
            audit.record("membership.reactivated" if active else "membership.deactivated", current.org_id,
                         current, {"user": current.user.email, "active": active})
    membership.active = active
    return membership


# Every signed-in page lists them (the org switcher): compiled once.
ACTIVE_MEMBERSHIPS = PreparedSelect(lambda user_id: (
    Membership.select(Membership, Organization).join(Organization)
    .where(Membership.user == user_id, Membership.active == True)  # noqa: E712
    .order_by(fn.LOWER(Organization.name))))


def active_memberships(user):
    """The orgs a user may act for now, alphabetically.

    The one read of a tenant-owned model that crosses orgs on purpose: it is scoped by the user, and
    only ever lists the user's own memberships (for the org switcher and the choice after sign-in).
    """
    return ACTIVE_MEMBERSHIPS.rows(getattr(user, "id", user))


# --- sign-in and passwords -----------------------------------------------------------------------------

def authenticate(email, password):
    """The user for these credentials, or LoginRefused with a message that does not reveal which was wrong."""
    try:
        email = normalize_email(email)
    except ValidationError:
        passwords.spend_verification_time(password or "")
        raise LoginRefused(WRONG_CREDENTIALS, "malformed email")
    user = User.get_or_none(User.email == email)
    if user is None:
        passwords.spend_verification_time(password or "")
        raise LoginRefused(WRONG_CREDENTIALS, "unknown email")
    if not passwords.verify_password(user.password_hash, password or ""):
        raise LoginRefused(WRONG_CREDENTIALS, "wrong password")
    # Only someone who knows the password learns that the account is switched off.
    if not user.active:
        raise LoginRefused(ACCOUNT_DEACTIVATED, "account deactivated")
    if not active_memberships(user):
        raise LoginRefused(NO_ACTIVE_MEMBERSHIP, "no active membership")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        User.update(password_hash=user.password_hash).where(User.id == user.id).execute()
    return user


def change_password(user, org, current_password, new_password):
    if not passwords.verify_password(user.password_hash, current_password or ""):
        raise ValidationError({"current_password": "The current password is not correct."})
    password_hash = passwords.hash_password(clean_password(new_password, user.email))  # outside the transaction
    with db.atomic():
        user.password_hash = password_hash
        user.save()
        audit.record("user.password_changed", org, user, {"email": user.email})
    return user
