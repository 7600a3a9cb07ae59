"""Sign-in, org choice, team management, the org's audit trail and the user's own account page."""
import logging
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from wtforms import SelectChoice

from portal import audit
from portal.access import member, public, signed_in
from portal.accounts import audit_trail as audit_trail_service
from portal.accounts import services, sessions, throttle, two_factor
from portal.accounts.forms import (AcceptInvitationForm, ChangePasswordForm, ChooseOrgForm, DisableTwoFactorForm,
                                   EnableTwoFactorForm, InviteForm, LoginForm, RegenerateRecoveryCodesForm, RoleForm,
                                   TwoFactorLoginForm, TwoFactorMandateForm)
from portal.accounts.models import Invitation, Membership, User
from portal.csvutil import csv_response
from portal.errors import ServiceError, refusal
from portal.forms import ConfirmForm, apply_service_errors
from portal.paging import numbered_page
from portal.tenancy import current_org
from portal.timeutil import format_local

bp = Blueprint("accounts", __name__)
security_log = logging.getLogger("portal.security")

AUDIT_PAGE_SIZE = 50
TOO_MANY_SIGN_INS = "Too many sign-in attempts. Wait a few minutes, then try again."
TOO_MANY_CODES = "Too many attempts at a code. Wait a few minutes, then try again."
TOO_MANY_PASSWORD_CHECKS = "Too many attempts at your current password. Wait a few minutes, then try again."
# Keys in the signed session cookie: the half-signed-in state between password and code, and the key of a
# two-factor set-up in progress (encrypted).
PENDING_SIGN_IN = "two_factor_sign_in"
ENROLMENT = "two_factor_enrolment"


def safe_next(target):
    """Only a path on this site: an open redirect after sign-in would make phishing links look genuine.

    Browsers drop tabs and newlines inside URLs, so "/%09/evil.example" (a tab) would become
    "//evil.example": any control character, backslash or scheme-relative form is refused outright.
    """
    if not target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target) or "\\" in target:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # "/[" style targets urlsplit cannot parse ("Invalid IPv6 URL"): not a page of ours
        return None
    return None if parts.scheme or parts.netloc else target


def for_log(value):
    """User-typed text for a log line: repr() keeps a forged newline from starting a fake log entry."""
    return repr((value or "").strip()[:254])


# --- sign-in -------------------------------------------------------------------------------------------

def render_with_message(template, form, status, message=None):
    """A sign-in step's page again, with `message` above the form."""
    if message:
        form.form_errors.append(message)
    return render_template(template, form=form), status


def render_login(form, status, message=None):
    return render_with_message("accounts/login.html", form, status, message)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_login(form, 422 if form.is_submitted() else 200)
    email, address = form.email.data, get_remote_address()
    if not throttle.count_attempt(email):
        security_log.warning("sign-in throttled for %s from %s", for_log(email), address)
        return render_login(form, 429, TOO_MANY_SIGN_INS)
    try:
        user = services.authenticate(email, form.password.data)
    except services.LoginRefused as refused:
        security_log.warning("sign-in refused for %s from %s: %s", for_log(email), address, refused.reason)
        return render_login(form, 401, refused.message)
    throttle.forget_account_failures(email)
    if current_user.is_authenticated:  # signing in again, maybe as someone else: end the old session
        sessions.end_current_session()
        logout_user()
    # A fresh session identifier: nothing from the earlier session survives into the signed-in one.
    session.clear()
    target = safe_next(form.next.data)
    if user.has_two_factor:
        # Half signed in: only the second step's page knows this state; every other page still sees a
        # signed-out visitor. Signed (the session cookie), short-lived, and void once the account changes.
        session[PENDING_SIGN_IN] = two_factor.pending_sign_in(user, target)
        security_log.info("password accepted for %s from %s; two-factor code requested", user.email, address)
        return redirect(url_for("accounts.login_two_factor"))
    return finish_sign_in(user, target, address)


def finish_sign_in(user, target, address):
    """Open the login session and go on: to the org chooser (several orgs), the two-factor set-up (an org
    that requires it), or the page asked for."""
    org = sessions.start_session(user)
    login_user(user)
    security_log.info("sign-in for %s from %s", user.email, address)
    if org is None:  # several orgs: the user picks one before anything else
        return redirect(url_for("accounts.choose_org", next=target))
    if org.two_factor_required and not user.has_two_factor:
        return redirect(url_for("accounts.two_factor_setup", next=target))
    return redirect(target or url_for("dashboard.index"))


def render_second_step(form, status, message=None):
    return render_with_message("accounts/login_two_factor.html", form, status, message)


@bp.route("/login/two-factor", methods=["GET", "POST"])
@public
def login_two_factor():
    """The second step of signing in: a code from the authenticator app, or a recovery code.

    Public like the sign-in form: it is reached with the half-signed-in state of the signed session
    cookie (user, time, a fingerprint of the account's credentials), not with a login session, and that
    state opens no other page. It expires after a few minutes and with any change to the credentials
    (a code used elsewhere, a new password). Wrong codes are throttled and logged like wrong passwords.
    """
    state = session.get(PENDING_SIGN_IN)
    user = two_factor.pending_user(state)
    if user is None:
        session.pop(PENDING_SIGN_IN, None)
        if state:
            flash("Signing in took too long, or your account changed meanwhile. Enter your email and password "
                  "again.", "info")
        return redirect(url_for("accounts.login"))
    form = TwoFactorLoginForm()
    if not form.validate_on_submit():
        return render_second_step(form, 422 if form.is_submitted() else 200)
    address = get_remote_address()
    if not throttle.count_two_factor_attempt(user):
        security_log.warning("two-factor code throttled for %s from %s", user.email, address)
        return render_second_step(form, 429, TOO_MANY_CODES)
    try:
        left = two_factor.check_second_factor(user, form.code.data)
    except ServiceError as error:
        security_log.warning("two-factor code refused for %s from %s", user.email, address)
        apply_service_errors(form, error)
        form.code.data = ""  # a refused code is of no use: the field is ready for the next one
        return render_second_step(form, 401)
    throttle.forget_two_factor_failures(user)
    target = safe_next(state.get("next"))
    session.clear()
    response = finish_sign_in(user, target, address)
    if left is not None:
        advice = " Make new ones on your account page." if left <= 3 else ""
        flash(f"You signed in with a recovery code, which is now used up: {left} unused recovery "
              f"code{'s' if left != 1 else ''} left.{advice}", "info")
    return response


@bp.route("/logout", methods=["POST"])
@signed_in
def logout():
    sessions.end_current_session()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/choose-org", methods=["GET", "POST"])
@signed_in
def choose_org():
    """Pick the org to act for: after signing in with several memberships, and from the navigation bar."""
    memberships = services.active_memberships(current_user)
    form = ChooseOrgForm()
    form.org_id.choices = [SelectChoice(str(m.org_id), f"{m.org.name} ({m.role})") for m in memberships]
    if form.validate_on_submit():
        membership = sessions.choose_org(form.org_id.data)
        flash(f"You are now working for {membership.org.name} as {membership.role}.", "info")
        return redirect(safe_next(form.next.data) or url_for("dashboard.index"))
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        if g.get("org") is not None:
            form.org_id.data = str(g.org.id)
    return render_template("accounts/choose_org.html", form=form, memberships=memberships)


# --- invitations ---------------------------------------------------------------------------------------

@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token):
    """The invitation link. Reached by its secret token, not by a session (so it is a public route).

    A newcomer chooses a name and password here. Someone whose email already has an account signs in
    first and then accepts with one click, so nobody joins an org without saying yes.
    """
    invitation = services.pending_invitation(token)
    if services.find_user(invitation.email) is not None:
        return accept_invitation_as_member(token, invitation)
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            membership = services.accept_invitation(token, form.name.data, form.password.data)
        except ServiceError as error:
            apply_service_errors(form, error)
        else:
            flash(f"Welcome to {membership.org.name}. Sign in with your email and new password.", "success")
            return redirect(url_for("accounts.login"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/accept_invitation.html", form=form, invitation=invitation), status


def accept_invitation_as_member(token, invitation):
    signed_in_as_invitee = current_user.is_authenticated and current_user.email == invitation.email
    form = ConfirmForm()
    if signed_in_as_invitee and form.validate_on_submit():
        membership = services.accept_invitation_as(token, current_user._get_current_object())
        sessions.choose_org(membership.org_id)
        flash(f"You joined {membership.org.name} as {membership.role}.", "success")
        return redirect(url_for("dashboard.index"))
    return render_template("accounts/accept_invitation_existing.html", invitation=invitation, form=form,
                           signed_in_as_invitee=signed_in_as_invitee,
                           login_url=url_for("accounts.login", next=request.path))


# --- team ----------------------------------------------------------------------------------------------

def render_team(invite_form=None, invite_link=None, status=200):
    members = (Membership.for_org(current_org).select(Membership, User).join(User)
               .order_by(Membership.active.desc(), User.email))
    invitations = list(Invitation.pending_for_org(current_org).order_by(Invitation.created_at.desc()))
    mandate_form = TwoFactorMandateForm(formdata=None, required=current_org.two_factor_required)
    return render_template("accounts/team.html", members=members, invitations=invitations,
                           invite_form=invite_form or InviteForm(), role_form=RoleForm(),
                           confirm_form=ConfirmForm(), invite_link=invite_link, mandate_form=mandate_form), status


@bp.route("/team")
@member("viewer")
def team():
    return render_team()


@bp.route("/team/invite", methods=["POST"])
@member("admin")
def invite():
    form = InviteForm()
    if not form.validate_on_submit():
        return render_team(form, status=422)
    try:
        invitation, token = services.invite_member(current_org, form.email.data, form.role.data,
                                                   invited_by=current_user._get_current_object())
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_team(form, status=error.status)
    # The link is shown once, on this response only: it is the invitee's key, and we store only its hash.
    link = url_for("accounts.accept_invitation", token=token, _external=True)
    flash(f"Invitation created for {invitation.email}. Send them the link below; it is shown only once.",
          "success")
    return render_team(invite_link=link, status=201)


def team_change(form, change, describe):
    """Run one admin action on the team page: refused input re-renders the page with the reason."""
    if not form.validate_on_submit():
        flash("That request was not valid (for example an unknown role); nothing was changed.", "error")
        return render_team(status=422)
    try:
        change()
    except ServiceError as error:
        flash(error.message, "error")
        return render_team(status=error.status)
    flash(describe(), "success")
    return redirect(url_for("accounts.team"))


@bp.route("/team/<int:membership_id>/role", methods=["POST"])
@member("admin")
def change_role(membership_id):
    membership = Membership.get_for_org(membership_id, current_org)
    form = RoleForm()
    return team_change(form, lambda: services.change_role(membership, form.role.data),
                       lambda: f"{membership.user.email} is now {membership.role}.")


@bp.route("/team/<int:membership_id>/<any(deactivate, reactivate):action>", methods=["POST"])
@member("admin")
def set_active(membership_id, action):
    membership = Membership.get_for_org(membership_id, current_org)
    return team_change(ConfirmForm(), lambda: services.set_membership_active(membership, action == "reactivate"),
                       lambda: f"{membership.user.email} was {action}d.")


@bp.route("/team/two-factor", methods=["POST"])
@member("admin")
def require_two_factor():
    """Make two-factor authentication mandatory for the org's members, or optional again."""
    form = TwoFactorMandateForm()

    def describe():
        if not g.org.two_factor_required:
            return f"Two-factor authentication is now optional in {g.org.name}."
        missing = two_factor.members_without_two_factor(g.org)
        return (f"Two-factor authentication is now required in {g.org.name}."
                + (f" {missing} member(s) without it must set it up before anything else." if missing else ""))
    return team_change(form, lambda: two_factor.set_required(g.org, form.required.data,
                                                             current_user._get_current_object()), describe)


@bp.route("/team/<int:membership_id>/two-factor/reset", methods=["POST"])
@member("admin")
def reset_two_factor(membership_id):
    """A member lost their authenticator: clear their two-factor authentication so they can set it up again."""
    membership = Membership.get_for_org(membership_id, current_org)
    return team_change(ConfirmForm(),
                       lambda: two_factor.reset_by_admin(membership, current_user._get_current_object()),
                       lambda: f"The two-factor authentication of {membership.user.email} was reset. "
                               + ("They must set it up again when they next sign in."
                                  if g.org.two_factor_required else "They can set it up again on their account page."))


@bp.route("/team/invitations/<int:invitation_id>/revoke", methods=["POST"])
@member("admin")
def revoke_invitation(invitation_id):
    invitation = Invitation.get_for_org(invitation_id, current_org)
    return team_change(ConfirmForm(), lambda: services.revoke_invitation(invitation),
                       lambda: f"The invitation for {invitation.email} was revoked.")


# --- audit trail ---------------------------------------------------------------------------------------

@bp.route("/audit")
@member("admin")
def audit_trail():
    try:
        filters = audit_trail_service.parse_filters(request.args)
        errors, status = {}, 200
    except ServiceError as error:
        filters, errors, status = audit_trail_service.Filters(), error.errors, 422
    page = numbered_page(audit_trail_service.events(current_org, filters), AUDIT_PAGE_SIZE)
    return render_template("accounts/audit.html", lines=audit_trail_service.lines(page.rows), page=page.number,
                           pages=page.count, total=page.total, filters=filters, args=filters.as_args(),
                           raw=request.args, errors=errors,
                           choices=audit_trail_service.choices(current_org)), status


@bp.route("/audit.csv")
@member("admin")
def audit_trail_csv():
    try:
        filters = audit_trail_service.parse_filters(request.args)
    except ServiceError as error:
        return refusal(422, "Unprocessable Entity", f"The export's filters are not valid: {error.message}")
    return csv_response(f"audit-{current_org.slug}.csv", audit_trail_service.CSV_HEADER,
                        audit_trail_service.csv_rows(current_org._get_current_object(), filters, format_local))


# --- own account ---------------------------------------------------------------------------------------

def render_account(form=None, regenerate_form=None, disable_form=None, status=200):
    memberships = services.active_memberships(current_user)
    return render_template(
        "accounts/account.html", form=form or ChangePasswordForm(), memberships=memberships,
        regenerate_form=regenerate_form or RegenerateRecoveryCodesForm(prefix="regenerate"),
        disable_form=disable_form or DisableTwoFactorForm(prefix="disable"),
        requiring=[m.org for m in memberships if m.org.two_factor_required],
        recovery_codes_left=two_factor.recovery_codes_left(current_user)), status


@bp.route("/account", methods=["GET", "POST"])
@signed_in
def account():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        org = g.get("org") or g.fallback_org
        # The current password is checked like a sign-in, on the sign-in's counters: a session left open
        # (or stolen) is no oracle for guessing it.
        if not throttle.count_attempt(current_user.email):
            security_log.warning("password change throttled for %s from %s", current_user.email,
                                 get_remote_address())
            form.form_errors.append(TOO_MANY_PASSWORD_CHECKS)
            return render_account(form, status=429)
        try:
            services.change_password(current_user._get_current_object(), org, form.current_password.data,
                                     form.password.data)
        except ServiceError as error:
            apply_service_errors(form, error)
            status = error.status
        else:
            throttle.forget_account_failures(current_user.email)
            ended = sessions.end_all_sessions(current_user.id, except_token=current_user.get_id())
            flash("Your password was changed." + (f" {ended} other session(s) were signed out." if ended else ""),
                  "success")
            return redirect(url_for("accounts.account"))
    elif form.is_submitted():
        status = 422
    return render_account(form, status=status)


def code_attempt(form, action, what):
    """Run `action`, which checks a two-factor code of the signed-in user, under the code throttle.

    Returns (True, result) or (False, HTTP status) with the messages put on `form`.
    """
    user = current_user._get_current_object()
    address = get_remote_address()
    if not throttle.count_two_factor_attempt(user):
        security_log.warning("two-factor code throttled for %s from %s (%s)", user.email, address, what)
        form.form_errors.append(TOO_MANY_CODES)
        return False, 429
    try:
        result = action()
    except ServiceError as error:
        if "code" in error.errors:
            security_log.warning("two-factor code refused for %s from %s (%s)", user.email, address, what)
            form.code.data = ""
        apply_service_errors(form, error)
        return False, error.status
    throttle.forget_two_factor_failures(user)
    return True, result


def render_recovery_codes(codes, heading, target=None, replaced=False):
    """The recovery codes, shown on this response only (only their digests are kept)."""
    return render_template("accounts/recovery_codes.html", codes=codes, heading=heading, replaced=replaced,
                           next_url=target or url_for("accounts.account"))


@bp.route("/account/two-factor", methods=["GET", "POST"])
@signed_in
def two_factor_setup():
    """Set up two-factor authentication: the key (as text and QR code) for the authenticator app, then a
    code from the app to confirm it. Where a member without it is sent when an org requires it.

    Self-service (signed_in, any role): it changes only the signed-in user's own account."""
    user = current_user._get_current_object()
    form = EnableTwoFactorForm()
    target = safe_next(form.next.data if form.is_submitted() else request.args.get("next"))
    if user.has_two_factor:
        flash(two_factor.ALREADY_ON, "info")
        return redirect(target or url_for("accounts.account"))
    # The key being set up lives in the session cookie (encrypted) until a code confirms it: nothing is
    # stored, or audited, for a set-up that is abandoned. Reloading the page shows the same key.
    secret = two_factor.open_enrolment(user, session.get(ENROLMENT))
    expired = secret is None and form.is_submitted()  # the code was made with a key that is gone
    if secret is None:
        secret = two_factor.new_secret()
        session[ENROLMENT] = two_factor.seal_enrolment(user, secret)
    status = 200
    if expired:
        form.form_errors.append("This page was open too long and its key has expired. Add the new key below "
                                "to your authenticator app (remove the old one), then enter its code.")
        form.code.data = ""
        status = 422
    elif form.validate_on_submit():
        def turn_on():  # every other session of the user ends: it was opened with the password alone
            return two_factor.enable(user, secret, form.code.data, keep_session_token=user.get_id())
        done, result = code_attempt(form, turn_on, "set-up")
        if done:
            session.pop(ENROLMENT, None)
            flash("Two-factor authentication is on. From now on, signing in asks for a code from your app.",
                  "success")
            return render_recovery_codes(result, "Two-factor authentication is on", target)
        status = result
    elif form.is_submitted():
        status = 422
    form.next.data = target or ""
    memberships = services.active_memberships(user)
    return render_template("accounts/two_factor_setup.html", form=form, secret=two_factor.grouped(secret),
                           qr_code=two_factor.qr_code(secret, user.email), issuer=two_factor.ISSUER,
                           requiring=[m.org for m in memberships if m.org.two_factor_required]), status


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@signed_in
def regenerate_recovery_codes():
    """New recovery codes (the old ones stop working); needs a current code from the app. Self-service."""
    form = RegenerateRecoveryCodesForm(prefix="regenerate")
    if not form.validate_on_submit():
        return render_account(regenerate_form=form, status=422)
    user = current_user._get_current_object()
    done, result = code_attempt(form, lambda: two_factor.regenerate_recovery_codes(user, form.code.data),
                                "new recovery codes")
    if not done:
        return render_account(regenerate_form=form, status=result)
    return render_recovery_codes(result, "New recovery codes", replaced=True)


@bp.route("/account/two-factor/disable", methods=["POST"])
@signed_in
def disable_two_factor():
    """Turn two-factor authentication off: needs the password and a code (refused where an org requires it).
    Self-service: the signed-in user's own account only."""
    form = DisableTwoFactorForm(prefix="disable")
    if not form.validate_on_submit():
        return render_account(disable_form=form, status=422)
    user = current_user._get_current_object()
    done, result = code_attempt(form, lambda: two_factor.disable(user, form.password.data, form.code.data),
                                "turning off")
    if not done:
        return render_account(disable_form=form, status=result)
    flash("Two-factor authentication is off. Signing in now asks only for your password.", "success")
    return redirect(url_for("accounts.account"))
