"""Two-factor authentication (TOTP, RFC 6238) and recovery codes: the rules, for pages and the CLI.

- The key is 160 random bits, shown once for the authenticator app (grouped text and a QR code of its
  otpauth:// URI), and stored encrypted (portal.secretbox) only after a first code confirms the app has it.
- A code is 6 digits for a 30-second time step; the step before and after are accepted too (clock drift).
  Each step's code works once: the last accepted step is stored, and a code of that step or an earlier
  one is refused (a replay). The claim is a conditional UPDATE, so two simultaneous uses of one code
  cannot both succeed.
- Ten recovery codes are made when two-factor authentication is switched on or the codes are renewed;
  each is 16 characters from a 31-letter alphabet (79 bits), shown once, and stored as SHA-256 digests
  (with the user id): so much entropy needs no slow hash, and no key, so recovery codes still work
  after a SECRET_KEY change has made the TOTP key unreadable. Using one consumes it.
- An organization may make two-factor authentication mandatory (`Organization.two_factor_required`):
  its members without it reach only their account, the set-up page, the org chooser and sign-out
  (enforced for every request by `portal.accounts.sessions.enforce_two_factor_mandate`), and cannot turn
  it off while they belong to it.
- Every change is audited in each organization the user is an active member of (two-factor status shows
  on each team page); an admin's reset in the admin's organization only.
"""
import hashlib
import hmac
import json
import re
import secrets
import time

import pyotp
import segno

from portal import audit
from portal.accounts import passwords
from portal.accounts.models import Membership, Organization, User
from portal.accounts.services import active_memberships, end_all_sessions
from portal.db import db
from portal.errors import Conflict, ValidationError
from portal.secretbox import SecretBox, SecretUnreadable
from portal.tenancy import lock_org
from portal.timeutil import utcnow

ISSUER = "Alliance Portal"
STEP_SECONDS = 30
DRIFT_STEPS = 1  # the step before and the step after the current one are accepted too
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/i/l: easy to read back from paper
RECOVERY_GROUPS, RECOVERY_GROUP_SIZE = 4, 4
ENROLMENT_SECONDS = 30 * 60  # a key shown for setting up, not confirmed within this time, is replaced
SIGN_IN_SECONDS = 5 * 60  # between the right password and the code

WRONG_CODE = "That code is not correct. Enter the current 6-digit code from your authenticator app."
WRONG_SECOND_FACTOR = ("That code is not correct, or was already used. Enter the current 6-digit code from "
                       "your authenticator app, or one of your unused recovery codes.")
ALREADY_ON = "Two-factor authentication is already on for this account."
NOT_ON = "Two-factor authentication is not on for this account."
KEY_UNREADABLE = ("Your authenticator key cannot be read (the portal's SECRET_KEY was changed). Use a recovery "
                  "code, or ask an admin to reset your two-factor authentication.")

_keys = SecretBox(b"alliance-portal two-factor keys")
_enrolment = SecretBox(b"alliance-portal two-factor enrolment")
CODE_PATTERN = re.compile(r"^[0-9]{6}$")  # ASCII digits only: \d takes Arabic-Indic or full-width ones too


def now():
    """Seconds since the epoch (tests replace it to move the clock)."""
    return time.time()


# --- keys, codes and what the set-up page shows ------------------------------------------------------

def new_secret():
    return pyotp.random_base32()  # 32 base32 characters: 160 bits, as RFC 4226 recommends


def grouped(secret):
    """The key as people type it: groups of four."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret, email):
    return pyotp.TOTP(secret, issuer=ISSUER, name=email).provisioning_uri()


def qr_code(secret, email):
    """The otpauth:// URI as a QR code, an SVG data: URI (drawn here: no script, no outside service)."""
    return segno.make(provisioning_uri(secret, email), error="m").svg_data_uri(scale=4, border=2)


def seal_enrolment(user, secret):
    """The key being set up, encrypted for the browser session (nothing is stored before it is confirmed)."""
    return _enrolment.encrypt(json.dumps({"user": user.id, "secret": secret}))


def open_enrolment(user, sealed):
    """The key of a set-up in progress for `user`, or None (none, another user's, or too old)."""
    if not sealed:
        return None
    try:
        data = json.loads(_enrolment.decrypt(sealed, ttl=ENROLMENT_SECONDS))
    except (SecretUnreadable, ValueError):
        return None
    return data.get("secret") if data.get("user") == user.id else None


def _digits(code):
    return "".join((code or "").split())


def matching_step(secret, code, at=None):
    """The time step (within the drift window) whose code `code` is, or None."""
    code = _digits(code)
    if not CODE_PATTERN.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int((now() if at is None else at) // STEP_SECONDS)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):  # every step compared: no early exit
            found = step
    return found


def _secret_of(user):
    try:
        return _keys.decrypt(user.two_factor_secret)
    except SecretUnreadable:
        raise ValidationError({"code": KEY_UNREADABLE})


def _claim_step(user, code):
    """Accept a TOTP code once: True when `code` is a current code of a step not used before."""
    step = matching_step(_secret_of(user), code)
    if step is None:
        return False
    claimed = (User.update(two_factor_last_step=step)
               .where(User.id == user.id, User.two_factor_enabled_at.is_null(False),
                      User.two_factor_last_step.is_null() | (User.two_factor_last_step < step))
               .execute())
    if claimed:
        user.two_factor_last_step = step
    return bool(claimed)


def normalize_recovery_code(code):
    return re.sub(r"[\s\-]+", "", (code or "").lower())


def recovery_digest(user, code):
    return hashlib.sha256(f"{user.id}:{normalize_recovery_code(code)}".encode()).hexdigest()


def new_recovery_codes():
    """Ten codes like "k7mq-2xpd-h9ta-rw3e" (16 characters of 31: 79 bits each)."""
    return ["-".join("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP_SIZE))
                     for _ in range(RECOVERY_GROUPS)) for _ in range(RECOVERY_CODE_COUNT)]


def recovery_codes_left(user):
    return len((user.recovery_code_hashes or "").split())


def is_recovery_code(code):
    """A recovery code has letters or is longer than a TOTP code; six digits are a TOTP code."""
    return not CODE_PATTERN.match(_digits(code))


def _use_recovery_code(user, code):
    """Consume a recovery code: the number left, or None when it is not one of the user's unused codes."""
    digest = recovery_digest(user, code)
    for _ in range(3):  # another code used at the same moment changed the list: read it again
        stored = user.recovery_code_hashes or ""
        hashes = stored.split()
        if digest not in hashes:
            return None
        remaining = " ".join(h for h in hashes if h != digest)
        with db.atomic():
            # Compare-and-set on the whole list: of two simultaneous uses of one code, only one succeeds.
            if User.update(recovery_code_hashes=remaining).where(User.id == user.id,
                                                                 User.recovery_code_hashes == stored).execute():
                user.recovery_code_hashes = remaining
                left = recovery_codes_left(user)
                _record(user, "account.two_factor.recovery_code_used",
                        {"email": user.email, "recovery_codes_left": left},
                        actor=user)  # at sign-in, before anyone is signed in: the user is the one acting
                return left
        user.recovery_code_hashes = User.get_by_id(user.id).recovery_code_hashes
    return None


# --- signing in: the state between the password and the code ----------------------------------------

def _fingerprint(user):
    """Changes whenever the account's credentials do: a code or recovery code used, a new password or key."""
    material = "|".join(str(value) for value in (user.password_hash, user.two_factor_secret,
                                                 user.two_factor_last_step, user.recovery_code_hashes))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def pending_sign_in(user, target):
    """The half-signed-in state kept in the signed session cookie after the right password."""
    return {"user": user.id, "since": now(), "next": target or "", "check": _fingerprint(user)}


def pending_user(state):
    """The user of a half-signed-in state, or None when there is none, it is older than SIGN_IN_SECONDS,
    or the account changed since (deactivated, two-factor reset, a code used elsewhere, new password)."""
    if not isinstance(state, dict):
        return None
    since = state.get("since")
    if not isinstance(since, (int, float)) or not 0 <= now() - since <= SIGN_IN_SECONDS:
        return None
    user = User.get_or_none(User.id == state.get("user"))
    if user is None or not user.active or not user.has_two_factor:
        return None
    if not hmac.compare_digest(str(state.get("check", "")), _fingerprint(user)):
        return None
    return user


# --- what happens to an account ----------------------------------------------------------------------

def _record(user, action, change, actor=None):
    """One audit event in each org the user is an active member of (none: an event of no org)."""
    orgs = [m.org for m in active_memberships(user)] or [None]
    for org in orgs:
        audit.record(action, org, user, change, actor=actor)


def _hashes(user, codes):
    return " ".join(recovery_digest(user, code) for code in codes)


def enable(user, secret, code, keep_session_token=None):
    """Switch two-factor authentication on with the key the user's app was given, once a code of it is
    right. Returns the recovery codes (shown once; only their digests are kept).

    Every other session of the user ends (all but `keep_session_token`, the browser that set it up): they
    were opened with the password alone, and must not pass an org's mandate on the strength of this one."""
    if user.has_two_factor:
        raise Conflict(ALREADY_ON)
    step = matching_step(secret, code)
    if step is None:
        raise ValidationError({"code": WRONG_CODE})
    codes = new_recovery_codes()
    with db.atomic():
        enabled = (User.update(two_factor_secret=_keys.encrypt(secret), two_factor_enabled_at=utcnow(),
                               two_factor_last_step=step, recovery_code_hashes=_hashes(user, codes))
                   .where(User.id == user.id, User.two_factor_enabled_at.is_null())
                   .execute())
        if not enabled:
            raise Conflict(ALREADY_ON)
        end_all_sessions(user.id, except_token=keep_session_token)
        _record(user, "account.two_factor.enabled", {"email": user.email, "recovery_codes": len(codes)}, actor=user)
    return codes


def check_second_factor(user, code):
    """At sign-in: the result of `code`, a current TOTP code (once) or an unused recovery code.

    Returns None for a TOTP code, the number of recovery codes left for a recovery code; raises
    ValidationError when it is neither.
    """
    if not user.has_two_factor:
        raise ValidationError({"code": NOT_ON})
    if is_recovery_code(code):
        left = _use_recovery_code(user, code)
        if left is None:
            raise ValidationError({"code": WRONG_SECOND_FACTOR})
        return left
    if not _claim_step(user, code):
        raise ValidationError({"code": WRONG_SECOND_FACTOR})
    return None


def regenerate_recovery_codes(user, code):
    """New recovery codes replace all the old ones; needs a current TOTP code (not a recovery code)."""
    if not user.has_two_factor:
        raise ValidationError(NOT_ON)
    if not _claim_step(user, code):
        raise ValidationError({"code": WRONG_CODE})
    codes = new_recovery_codes()
    digests = _hashes(user, codes)
    with db.atomic():
        User.update(recovery_code_hashes=digests).where(User.id == user.id).execute()
        _record(user, "account.two_factor.recovery_codes_regenerated",
                {"email": user.email, "recovery_codes": len(codes)}, actor=user)
    user.recovery_code_hashes = digests
    return codes


def orgs_requiring(user):
    """The user's active organizations that make two-factor authentication mandatory, by name."""
    return [m.org for m in active_memberships(user) if m.org.two_factor_required]


def requirement_message(orgs):
    names = ", ".join(org.name for org in orgs)
    verb = "requires" if len(orgs) == 1 else "require"
    return f"{names} {verb} two-factor authentication for {'its' if len(orgs) == 1 else 'their'} members"


def disable(user, password, code):
    """Switch it off: needs the password and a current code or a recovery code; refused while an org of
    the user makes it mandatory."""
    if not user.has_two_factor:
        raise ValidationError(NOT_ON)
    requiring = orgs_requiring(user)
    if requiring:
        raise ValidationError(f"{requirement_message(requiring)}: it cannot be turned off while you belong "
                              f"to {'it' if len(requiring) == 1 else 'them'}.")
    if not passwords.verify_password(user.password_hash, password or ""):
        raise ValidationError({"password": "The password is not correct."})
    check_second_factor(user, code)
    with db.atomic():
        _clear(user)
        _record(user, "account.two_factor.disabled", {"email": user.email}, actor=user)


def _clear(user):
    User.update(two_factor_secret=None, two_factor_enabled_at=None, two_factor_last_step=None,
                recovery_code_hashes="").where(User.id == user.id).execute()
    user.two_factor_secret = user.two_factor_enabled_at = user.two_factor_last_step = None
    user.recovery_code_hashes = ""


def reset_by_admin(membership, admin):
    """An org admin clears a member's two-factor authentication (a lost phone); the member sets it up
    again, at once when an org of theirs requires it. An admin's own is turned off on the account page."""
    user = User.get_by_id(membership.user_id)
    if user.id == admin.id:
        raise ValidationError("Turn off your own two-factor authentication on your account page.")
    if not membership.active:
        raise ValidationError(f"{user.email} is no longer an active member here: their account is not yours "
                              "to change.")
    if not user.has_two_factor:
        raise ValidationError(f"{user.email} has no two-factor authentication to reset.")
    if any(org.id != membership.org_id for org in orgs_requiring(user)):
        # Another tenant's mandate must not come down to this admin's click and the member's password.
        raise ValidationError(f"{user.email} also works for another organization that requires two-factor "
                              "authentication: they can sign in with a recovery code, or the portal's operator "
                              "can reset it (flask user reset-two-factor).")
    with db.atomic():
        _clear(user)
        end_all_sessions(user.id)  # a lost phone may come with an open session
        audit.record("account.two_factor.reset", membership.org_id, user, {"email": user.email})
    return user


def reset_by_operator(user):
    """The CLI's escape hatch (`flask user reset-two-factor`): audited in each of the user's orgs."""
    if not user.has_two_factor:
        raise ValidationError({"email": f"{user.email} has no two-factor authentication to reset."})
    with db.atomic():
        _clear(user)
        _record(user, "account.two_factor.reset", {"email": user.email})
    return user


def set_required(org, required, admin):
    """An org admin makes two-factor authentication mandatory for the org's members, or optional again.
    Requiring it needs it on the admin's own account first (nobody locks themselves out by surprise)."""
    required = bool(required)
    if required and not admin.has_two_factor:
        raise ValidationError("Turn on two-factor authentication for your own account first (on your account "
                              "page); then you can require it of everyone.")
    with db.atomic():
        lock_org(org)
        current = Organization.get_by_id(org.id)
        if current.two_factor_required != required:
            Organization.update(two_factor_required=required).where(Organization.id == org.id).execute()
            audit.record("org.two_factor.mandate_changed", org, org,
                         {"two_factor_required": {"from": current.two_factor_required, "to": required},
                          "members_without": members_without_two_factor(org) if required else 0})
    org.two_factor_required = required
    return org


def members_without_two_factor(org):
    return (Membership.for_org(org).join(User)
            .where(Membership.active == True, User.two_factor_enabled_at.is_null())  # noqa: E712
            .count())
