"""Sign-in, org choice, team management, the org's audit trail and the user's own account page."""
import logging
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from wtforms import SelectChoice

from portal import audit
from portal.access import member, public, signed_in
from portal.accounts import services, sessions, throttle
from portal.accounts.forms import (AcceptInvitationForm, ChangePasswordForm, ChooseOrgForm, ConfirmForm,
                                   InviteForm, LoginForm, RoleForm, apply_service_errors)
from portal.accounts.models import Invitation, Membership, User
from portal.errors import ServiceError
from portal.paging import numbered_page
from portal.tenancy import current_org

bp = Blueprint("accounts", __name__)
security_log = logging.getLogger("portal.security")

AUDIT_PAGE_SIZE = 50


def safe_next(target):
    """Only a path on this site: an open redirect after sign-in would make phishing links look genuine.

    Browsers drop tabs and newlines inside URLs, so "/%09/evil.example" (a tab) would become
    "//evil.example": any control character, backslash or scheme-relative form is refused outright.
    """
    if not target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return None
    return target


def for_log(value):
    """User-typed text for a log line: repr() keeps a forged newline from starting a fake log entry."""
    return repr((value or "").strip()[:254])


# --- sign-in -------------------------------------------------------------------------------------------

def render_login(form, status, message=None):
    if message:
        form.form_errors.append(message)
    return render_template("accounts/login.html", form=form), status


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
        return render_login(form, 429, "Too many sign-in attempts. Wait a few minutes, then try again.")
    try:
        user = services.authenticate(email, form.password.data)
    except services.LoginRefused as refused:
        security_log.warning("sign-in refused for %s from %s: %s", for_log(email), address, refused.reason)
        return render_login(form, 401, refused.message)
    throttle.forget_account_failures(email)
    if current_user.is_authenticated:  # signing in again, maybe as someone else: end the old session
        sessions.end_current_session()
    # A fresh session identifier: nothing from the earlier session survives into the signed-in one.
    session.clear()
    org = sessions.start_session(user)
    login_user(user)
    security_log.info("sign-in for %s from %s", user.email, address)
    target = safe_next(form.next.data)
    if org is None:  # several orgs: the user picks one before anything else
        return redirect(url_for("accounts.choose_org", next=target))
    return redirect(target or url_for("dashboard.index"))


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
    return render_template("accounts/team.html", members=members, invitations=invitations,
                           invite_form=invite_form or InviteForm(), role_form=RoleForm(),
                           confirm_form=ConfirmForm(), invite_link=invite_link), status


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
    events = audit.AuditEvent.for_org(current_org)
    actions = sorted({row.action for row in events.select(audit.AuditEvent.action).distinct()})
    action = request.args.get("action", "")
    if action in actions:
        events = events.where(audit.AuditEvent.action == action)
    else:
        action = ""
    page = numbered_page(events.order_by(audit.AuditEvent.seq.desc()), AUDIT_PAGE_SIZE)
    return render_template("accounts/audit.html", events=page.rows, page=page.number, pages=page.count,
                           total=page.total, actions=actions, action=action)


# --- own account ---------------------------------------------------------------------------------------

@bp.route("/account", methods=["GET", "POST"])
@signed_in
def account():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        org = g.get("org") or g.fallback_org
        try:
            services.change_password(current_user._get_current_object(), org, form.current_password.data,
                                     form.password.data)
        except ServiceError as error:
            apply_service_errors(form, error)
            status = error.status
        else:
            ended = sessions.end_all_sessions(current_user.id, except_token=current_user.get_id())
            flash("Your password was changed." + (f" {ended} other session(s) were signed out." if ended else ""),
                  "success")
            return redirect(url_for("accounts.account"))
    elif form.is_submitted():
        status = 422
    return render_template("accounts/account.html", form=form,
                           memberships=services.active_memberships(current_user)), status
