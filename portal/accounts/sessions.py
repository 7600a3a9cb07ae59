"""Browser login sessions, kept server-side so they can be ended: logout, timeouts, lost membership.

The signed cookie carries only a random token; `UserSession` stores its SHA-256, the org the session acts
for and when it was last used. Signing in always creates a new token (the session identifier rotates),
and the token is looked up on every request, so ending the row ends the session everywhere at once.
Before every request, after the org is known, an org's two-factor mandate is applied
(`enforce_two_factor_mandate`).
"""
import secrets
from datetime import timedelta

from flask import current_app, g, redirect, request, url_for
from flask_login import current_user, logout_user

from portal import audit
from portal.access import READ_METHODS, access_rule_of, is_token_request
from portal.accounts.models import Membership, Organization, User, UserSession
from portal.accounts.services import active_memberships, end_all_sessions, token_digest  # noqa: F401
from portal.db import PreparedSelect, db
from portal.errors import NotFound
from portal.timeutil import utcnow

# last_seen_at is written at most this often: one write per minute per session, not one per request.
TOUCH_INTERVAL = timedelta(seconds=60)


def start_session(user):
    """Open a new login session for `user` and return its org: chosen at once when the user has only one,
    None when the user must choose."""
    token = secrets.token_urlsafe(32)
    memberships = active_memberships(user)
    org = memberships[0].org if len(memberships) == 1 else None
    with db.atomic():
        UserSession.create(user=user, token_hash=token_digest(token), org=org,
                           ip_address=(request.remote_addr or "")[:64],
                           user_agent=(request.user_agent.string or "")[:255])
        User.update(last_login_at=utcnow()).where(User.id == user.id).execute()
        if org is not None:
            audit.record("session.signed_in", org, user, {"email": user.email}, actor=user)
    user.session_token = token
    return org


# The two reads every signed-in page makes before its view, compiled once.
LIVE_SESSION = PreparedSelect(lambda digest: UserSession.select(UserSession, User).join(User).where(
    UserSession.token_hash == digest, UserSession.ended_at.is_null()).limit(1))
ACTIVE_MEMBERSHIP = PreparedSelect(lambda org_id, user_id: (
    Membership.for_org(org_id).select(Membership, Organization)
    .join(Organization)  # the org comes with it: g.org costs no second query
    .where(Membership.user == user_id, Membership.active == True).limit(1)), arity=2)  # noqa: E712


def load_user_from_session(token):
    """Flask-Login's user loader: the user of a live session, or None (which signs the browser out)."""
    session_row = next(iter(LIVE_SESSION.rows(token_digest(token or ""))), None)
    if session_row is None or not session_row.user.active or session_has_expired(session_row):
        if session_row is not None and session_row.ended_at is None:
            end_session(session_row)
        return None
    now = utcnow()
    if now - session_row.last_seen_at > TOUCH_INTERVAL:
        UserSession.update(last_seen_at=now).where(UserSession.id == session_row.id).execute()
    user = session_row.user
    user.session_token = token
    g.user_session = session_row
    return user


def session_has_expired(session_row):
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    absolute = timedelta(hours=current_app.config["SESSION_MAX_HOURS"])
    return now - session_row.last_seen_at > idle or now - session_row.created_at > absolute


def end_session(session_row):
    UserSession.update(ended_at=utcnow()).where(UserSession.id == session_row.id).execute()


def end_current_session():
    """Signing out: this session, and any other of the user's still open (another browser), end now."""
    session_row = g.get("user_session")
    if session_row is None:
        return
    with db.atomic():
        end_session(session_row)
        end_all_sessions(session_row.user_id)
        if session_row.org_id is not None:
            audit.record("session.signed_out", session_row.org_id, current_user._get_current_object(),
                         {"email": current_user.email})


def end_expired_sessions():
    """Periodic clean-up: close every session past its idle or absolute limit."""
    now = utcnow()
    idle_cutoff = now - timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    absolute_cutoff = now - timedelta(hours=current_app.config["SESSION_MAX_HOURS"])
    return (UserSession.update(ended_at=now)
            .where(UserSession.ended_at.is_null(),
                   (UserSession.last_seen_at < idle_cutoff) | (UserSession.created_at < absolute_cutoff))
            .execute())


def choose_org(org_id):
    """Point the current session at one of the user's orgs; another org is a 404 like any foreign object."""
    session_row = g.user_session
    membership = None
    try:
        membership = next(m for m in active_memberships(current_user) if m.org_id == int(org_id))
    except (StopIteration, TypeError, ValueError):
        raise NotFound()
    with db.atomic():
        UserSession.update(org=membership.org).where(UserSession.id == session_row.id).execute()
        audit.record("session.org_selected", membership.org, current_user._get_current_object(),
                     {"email": current_user.email})
    session_row.org = membership.org
    return membership


def load_org_context():
    """Before each request: put the session's org and the user's membership in it into `g`, then apply
    the org's two-factor mandate (a response here ends the request).

    A membership deactivated (or removed) since the org was chosen drops the org at once; the user then
    picks another org or, with none left, is signed out by the access rules.
    """
    _load_org_context()
    return enforce_two_factor_mandate()


# Pages a member without two-factor authentication still reaches when an org of theirs requires it: their
# own account and its set-up, the org chooser (to work for another org) and signing out.
TWO_FACTOR_SET_UP_ENDPOINTS = frozenset({
    "accounts.account", "accounts.two_factor_setup", "accounts.regenerate_recovery_codes",
    "accounts.disable_two_factor", "accounts.choose_org", "accounts.logout"})


def enforce_two_factor_mandate():
    """Send a signed-in user without two-factor authentication to its set-up page when the org of the
    page requires it: any member page of an org that requires it, and any other signed-in page (the OAuth
    consent page, which can grant an app access to any of the user's orgs) when one of the user's orgs
    requires it. Public pages, API calls (tokens) and the pages above are never held."""
    if request.endpoint in TWO_FACTOR_SET_UP_ENDPOINTS:
        return None
    view = current_app.view_functions.get(request.endpoint)
    rule = access_rule_of(view) if view is not None else None
    if rule is None or rule.level not in ("member", "signed_in"):  # static files never load the user
        return None
    if not g.browser_session or not current_user.is_authenticated or current_user.has_two_factor:
        return None
    if rule.level == "member":
        required = g.org is not None and g.org.two_factor_required
    else:
        required = any(m.org.two_factor_required for m in active_memberships(current_user))
    if not required:
        return None
    target = request.full_path.rstrip("?") if request.method in READ_METHODS else None
    return redirect(url_for("accounts.two_factor_setup", next=target))


def _load_org_context():
    g.org = g.membership = g.fallback_org = None
    g.browser_session = not is_token_request()  # a cookie sent to the API never lends it its user
    if request.endpoint == "static" or not g.browser_session or not current_user.is_authenticated:
        return
    session_row = g.user_session
    membership = None
    if session_row.org_id is not None:
        membership = next(iter(ACTIVE_MEMBERSHIP.rows(session_row.org_id, current_user.id)), None)
    if membership is not None:
        g.membership, g.org = membership, membership.org
        return
    if session_row.org_id is not None:
        UserSession.update(org=None).where(UserSession.id == session_row.id).execute()
        session_row.org = None
    remaining = active_memberships(current_user)
    if not remaining:
        # Every membership was deactivated while signed in: nothing is left to act for.
        end_session(session_row)
        logout_user()
        return
    g.fallback_org = remaining[0].org
