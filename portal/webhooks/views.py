"""The org admin's webhooks pages: endpoints (register, events, secret rotation, disable, enable, delete)
and the delivery log with manual redelivery. Nothing here contacts an endpoint: the worker does."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.access import member
from portal.forms import ConfirmForm, apply_service_errors
from portal.errors import ServiceError
from portal.tenancy import current_org
from portal.webhooks import services, tasks
from portal.webhooks.forms import EventsForm, WebhookForm
from portal.webhooks.models import EVENT_KINDS, Webhook, WebhookDelivery

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
bp.after_app_request(tasks.kick_worker)


def render_list(form=None, new_secret=None, status=200):
    form = form or WebhookForm(formdata=None)
    return render_template("webhooks/list.html", webhooks=list(services.webhooks_of(current_org)), form=form,
                           new_secret=new_secret, kinds=EVENT_KINDS), status


@bp.route("/")
@member("admin")
def index():
    return render_list()


@bp.route("/", methods=["POST"])
@member("admin")
def create():
    form = WebhookForm()
    if not form.validate_on_submit():
        return render_list(form, status=422)
    try:
        webhook, secret = services.register(current_org, form.url.data, form.events.data,
                                            created_by=current_user._get_current_object())
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_list(form, status=error.status)
    flash("Endpoint registered. Copy its signing secret now: it is shown only once.", "success")
    return render_endpoint(webhook, new_secret=secret, status=201)


def render_endpoint(webhook, form=None, new_secret=None, status=200):
    form = form or EventsForm(formdata=None, events=webhook.event_list)
    return render_template("webhooks/endpoint.html", webhook=webhook, form=form, new_secret=new_secret,
                           deliveries=list(services.deliveries_of(webhook)), kinds=EVENT_KINDS), status


@bp.route("/<webhook_id>")
@member("admin")
def endpoint(webhook_id):
    return render_endpoint(Webhook.get_for_org(webhook_id, current_org))


@bp.route("/<webhook_id>/events", methods=["POST"])
@member("admin")
def change_events(webhook_id):
    webhook = Webhook.get_for_org(webhook_id, current_org)
    form = EventsForm()
    if not form.validate_on_submit():
        return render_endpoint(webhook, form, status=400)
    try:
        services.change_events(webhook, form.events.data)
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_endpoint(webhook, form, status=error.status)
    flash("Events saved.", "success")
    return redirect(url_for("webhooks.endpoint", webhook_id=webhook.id))


def endpoint_change(webhook_id, change, message):
    webhook = Webhook.get_for_org(webhook_id, current_org)
    if not ConfirmForm().validate_on_submit():
        return render_endpoint(webhook, status=400)
    try:
        change(webhook)
    except ServiceError as error:
        flash(error.message, "error")
        return render_endpoint(webhook, status=error.status)
    flash(message, "success")
    return redirect(url_for("webhooks.endpoint", webhook_id=webhook.id))


@bp.route("/<webhook_id>/rotate", methods=["POST"])
@member("admin")
def rotate_secret(webhook_id):
    webhook = Webhook.get_for_org(webhook_id, current_org)
    if not ConfirmForm().validate_on_submit():
        return render_endpoint(webhook, status=400)
    secret = services.rotate_secret(webhook)
    flash("New signing secret. The old one no longer signs anything.", "success")
    return render_endpoint(webhook, new_secret=secret)


@bp.route("/<webhook_id>/disable", methods=["POST"])
@member("admin")
def disable(webhook_id):
    return endpoint_change(webhook_id, services.disable, "Endpoint disabled; its pending deliveries were dropped.")


@bp.route("/<webhook_id>/enable", methods=["POST"])
@member("admin")
def enable(webhook_id):
    return endpoint_change(webhook_id, services.enable, "Endpoint enabled.")


@bp.route("/<webhook_id>/delete", methods=["POST"])
@member("admin")
def delete(webhook_id):
    webhook = Webhook.get_for_org(webhook_id, current_org)
    if not ConfirmForm().validate_on_submit():
        return render_endpoint(webhook, status=400)
    services.delete(webhook)
    flash("Endpoint deleted, with its delivery log.", "success")
    return redirect(url_for("webhooks.index"))


def render_delivery(delivery, status=200):
    webhook = Webhook.get_for_org(delivery.webhook_id, current_org)
    return render_template("webhooks/delivery.html", delivery=delivery, webhook=webhook,
                           attempts=list(services.attempts_of(delivery)), payload=services.pretty_payload(delivery),
                           payload_sha256=services.payload_sha256(delivery)), status


@bp.route("/deliveries/<delivery_id>")
@member("admin")
def delivery(delivery_id):
    return render_delivery(WebhookDelivery.get_for_org(delivery_id, current_org))


@bp.route("/deliveries/<delivery_id>/redeliver", methods=["POST"])
@member("admin")
def redeliver(delivery_id):
    delivery = WebhookDelivery.get_for_org(delivery_id, current_org)
    if not ConfirmForm().validate_on_submit():
        return render_delivery(delivery, status=400)
    try:
        services.redeliver(delivery)
    except ServiceError as error:
        flash(error.message, "error")
        return render_delivery(delivery, status=error.status)
    flash("Redelivery queued: the worker sends it within the minute.", "success")
    return redirect(url_for("webhooks.delivery", delivery_id=delivery.id))
