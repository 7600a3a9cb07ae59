"""Sign-in, org choice, team management, the org's audit trail and the user's own account page."""
import logging

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from wtforms import SelectChoice

from portal import audit
from portal.access import member, public, signed_in
from portal.accounts import services, sessions
from portal.accounts.forms import (AcceptInvitationForm, ChangePasswordForm, ChooseOrgForm, ConfirmForm,
                                   InviteForm, LoginForm, RoleForm, apply_service_errors)
from portal.accounts.models import Invitation, Membership, User
from portal.errors import ServiceError
from portal.extensions import limiter
from portal.tenancy import current_org

bp = Blueprint("accounts", __name__)
security_log = logging.getLogger("portal.security")

AUDIT_PAGE_SIZE = 50


def safe_next(target):
    """Only same-site paths: an open redirect after sign-in would make phishing links look genuine."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


# --- sign-in -------------------------------------------------------------------------------------------

def sign_in_failed(_response):
    return bool(g.get("sign_in_failed"))


def account_key():
    return "account:" + (request.form.get("email") or "").strip().lower()


def sign_in_throttled(limit):
    security_log.warning("sign-in throttled (%s) for %s from %s", limit.limit,
                         (request.form.get("email") or "").strip().lower(), get_remote_address())
    form = LoginForm()
    form.form_errors.append("Too many failed sign-in attempts. Wait a few minutes, then try again.")
    return current_app.make_response((render_template("accounts/login.html", form=form), 429))


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_FAILURES_PER_ACCOUNT"], key_func=account_key,
               methods=["POST"], deduct_when=sign_in_failed, on_breach=sign_in_throttled)
@limiter.limit(lambda: current_app.config["LOGIN_FAILURES_PER_ADDRESS"], key_func=get_remote_address,
               methods=["POST"], deduct_when=sign_in_failed, on_breach=sign_in_throttled)
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("accounts/login.html", form=form), 422 if form.is_submitted() else 200
    try:
        user = services.authenticate(form.email.data, form.password.data)
    except services.LoginRefused as refused:
        g.sign_in_failed = True
        security_log.warning("sign-in refused for %s from %s: %s", (form.email.data or "").strip().lower(),
                             get_remote_address(), refused.reason)
        form.form_errors.append(refused.message)
        return render_template("accounts/login.html", form=form), 401
    # A fresh session identifier: nothing from the anonymous session survives into the signed-in one.
    session.clear()
    org = sessions.start_session(user)
    login_user(user)
    security_log.info("sign-in for %s from %s", user.email, get_remote_address())
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
    invitation = services.pending_invitation(token)
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


# --- team ----------------------------------------------------------------------------------------------

def render_team(invite_form=None, invite_link=None, status=200):
    members = (Membership.for_org(current_org).select(Membership, User).join(User)
               .order_by(Membership.active.desc(), User.email))
    invitations = [i for i in Invitation.for_org(current_org).order_by(Invitation.created_at.desc())
                   if i.is_pending]
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
        outcome, subject, token = services.invite_member(current_org, form.email.data, form.role.data,
                                                         invited_by=current_user._get_current_object())
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_team(form, status=error.status)
    if outcome == "added":
        flash(f"{subject.user.email} already had an account and is now a {subject.role} here.", "success")
        return redirect(url_for("accounts.team"))
    # The link is shown once, on this response only: it is the invitee's key, and we store only its hash.
    link = url_for("accounts.accept_invitation", token=token, _external=True)
    flash(f"Invitation created for {subject.email}. Send them the link below; it is shown only once.", "success")
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
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    action = request.args.get("action", "").strip()
    events = audit.AuditEvent.for_org(current_org)
    actions = sorted({row.action for row in events.select(audit.AuditEvent.action).distinct()})
    if action:
        events = events.where(audit.AuditEvent.action == action)
    total = events.count()
    rows = list(events.order_by(audit.AuditEvent.seq.desc()).paginate(page, AUDIT_PAGE_SIZE))
    pages = max((total + AUDIT_PAGE_SIZE - 1) // AUDIT_PAGE_SIZE, 1)
    return render_template("accounts/audit.html", events=rows, page=page, pages=pages, total=total,
                           actions=actions, action=action)


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
