"""The inbox (`/notifications`), each member's settings, and the unsubscribe page of the e-mails.

Reading the inbox and the settings is for every member. Marking read and saving one's settings touch only
the signed-in user's own notifications and choices, so a viewer (who changes nothing of the org) may do
them: those routes are `signed_in` self-service, scoped to the current org's membership here. The
unsubscribe page is reached from an e-mail without signing in: its signed token is the credential, and
mail clients post to it without a CSRF token (RFC 8058 one-click).
"""
from functools import wraps

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from portal.access import member, public, signed_in
from portal.errors import NotFound, ValidationError
from portal.extensions import csrf
from portal.forms import ConfirmForm
from portal.notifications import mailer, services, tasks
from portal.notifications.kinds import KINDS, MODE_LABELS, kinds_for
from portal.notifications.models import MODES
from portal.tenancy import current_org

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
bp.after_app_request(tasks.kick_worker)


def in_current_org(view):
    """A self-service route about the user's notifications in the current org: choose an org first."""
    @wraps(view)
    def guarded(*args, **kwargs):
        if g.get("membership") is None:
            return redirect(url_for("accounts.choose_org", next=url_for("notifications.inbox")))
        return view(*args, **kwargs)
    return guarded


def user():
    return current_user._get_current_object()


@bp.app_context_processor
def unread_notifications():
    """The unread count of the navigation bar (current org, signed-in user)."""
    def count():
        if current_user.is_authenticated and g.get("membership") is not None:
            return services.unread_count(current_org, current_user)
        return 0
    return {"unread_notifications": count}


@bp.route("")
@member("viewer")
def inbox():
    rows, older = services.inbox_page(current_org, user(), request.args.get("before"))
    return render_template("notifications/inbox.html", notifications=rows, older=older,
                           unread=services.unread_count(current_org, user()),
                           link_of=services.link_of, kinds=KINDS)


@bp.route("/<notification_id>")
@member("viewer")
def open_notification(notification_id):
    """Opening a notification marks it read (the reader's own state) and goes to its page."""
    notification = services.get_own(notification_id, current_org, user())
    services.mark_read(notification)
    return redirect(services.link_of(notification))


# A viewer marks their own notifications read: self-service, see the module's docstring.
@bp.route("/<notification_id>/read", methods=["POST"])
@signed_in
@in_current_org
def mark_read(notification_id):
    notification = services.get_own(notification_id, current_org, user())
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("notifications.inbox")), 400
    services.mark_read(notification)
    return redirect(url_for("notifications.inbox"))


@bp.route("/read-all", methods=["POST"])
@signed_in
@in_current_org
def mark_all_read():
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("notifications.inbox")), 400
    count = services.mark_all_read(current_org, user())
    flash(f"{count} notification{'s' if count != 1 else ''} marked as read.", "success")
    return redirect(url_for("notifications.inbox"))


def render_settings(values=None, errors=None, status=200):
    choices = values if values is not None else services.choices_of(current_org, user())
    return render_template("notifications/settings.html", kinds=kinds_for(current_org.kind), choices=choices,
                           errors=errors or {}, modes=MODES, mode_labels=MODE_LABELS,
                           email_on=services.email_configured(), digest_hour=services.digest_hour(),
                           form=ConfirmForm()), status


@bp.route("/settings")
@member("viewer")
def settings():
    return render_settings()


# A member's own choices: self-service, see the module's docstring.
@bp.route("/settings", methods=["POST"])
@signed_in
@in_current_org
def save_settings():
    if not ConfirmForm().validate_on_submit():
        return render_settings(status=400)
    values = {name: request.form.get(name, "") for name in kinds_for(current_org.kind)}
    try:
        changed = services.save_choices(current_org, user(), values)
    except ValidationError as error:
        return render_settings(values=values, errors=error.errors, status=422)
    flash("Notification settings saved." if changed else "Nothing changed.", "success")
    return redirect(url_for("notifications.settings"))


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
@public
def unsubscribe(token):
    try:
        org_id, user_id, kinds = mailer.read_unsubscribe_token(token)
    except ValueError as refused:
        return render_template("notifications/unsubscribe.html", refused=str(refused), done=None), 400
    labels = [KINDS[k].label for k in kinds]
    if request.method == "POST":
        try:
            changed = services.unsubscribe(org_id, user_id, kinds)
        except NotFound:
            return render_template("notifications/unsubscribe.html", refused="This link is no longer valid.",
                                   done=None), 400
        return render_template("notifications/unsubscribe.html", refused=None, done=changed, labels=labels,
                               token=token)
    return render_template("notifications/unsubscribe.html", refused=None, done=None, labels=labels, token=token)
