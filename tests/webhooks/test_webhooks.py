"""Webhooks (issue 7): endpoints registered by org admins receive signed events emitted to their org,
sent by the worker (never during a request) with retries, exponential backoff, a delivery log, manual
redelivery and automatic disabling. The receiving side is `responses`."""
import json
import re
import socket
from datetime import timedelta

import pytest
import requests
import responses

from portal.audit import AuditEvent, acting_as
from portal.notices import services as notices
from portal.notices.models import NoticeItem
from portal.timeutil import utcnow
from portal.webhooks import services, signing
from portal.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery
from tests.conftest import page_text

BRAND_URL = "https://hooks.microsoft.example/portal"
PLATFORM_URL = "https://hooks.alibaba.example/in"
THIRD_URL = "https://hooks.swarovski.example/in"
ALL_KINDS = ["notice.item.transitioned", "sla.warning", "sla.breached", "report.weekly.ready", "intel.flag.shared"]


# example.com's address (IANA's): public, so the worker's check lets it through; never contacted here,
# `responses` answers before any connection is made.
PUBLIC_STAND_IN = "93.184.215.14"


def resolve_example_names(monkeypatch):
    """The endpoints of these tests are names under .example (RFC 2606), which never resolve, and a name
    that does not resolve is a failed delivery (it used to pass as "not private": the SSRF defect). Make
    them resolve to a public address; every other name resolves as usual."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".example"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_STAND_IN, port))]
        return real(host, port, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


class Setup:
    pass


@pytest.fixture
def setup(app, world, monkeypatch):
    resolve_example_names(monkeypatch)
    s = Setup()
    s.app = app
    s.brand, s.platform, s.third = world.org("Microsoft"), world.org("Alibaba", kind="platform"), world.org("Swarovski")
    s.people = {}
    for org in (s.brand, s.platform, s.third):
        for role in ("admin", "analyst", "viewer"):
            s.people[(org.slug, role)] = world.person(org, role)
    s.partnership = world.partnership(s.brand, s.platform)
    world.partnership(s.third, s.platform)
    s.notice = world.notice(s.brand, s.partnership, ["https://item.taobao.com/item.htm?id=1",
                                                     "https://item.taobao.com/item.htm?id=2"]).notice
    s.items = list(NoticeItem.select().where(NoticeItem.notice == s.notice).order_by(NoticeItem.id))
    s.world = world
    return s


def hook(app, org, url, events=ALL_KINDS):
    with app.app_context(), acting_as("test"):
        return services.register(org, url, events)


def signed_in(make_client, user):
    client = make_client()
    client.sign_in(user.email)
    return client


def run_worker(app, now=None):
    """What the worker does every minute (later moments for retries whose backoff has passed)."""
    with app.app_context(), acting_as("worker"):
        return services.deliver_due(now=now)


def transition(setup, item, to, reason="Counterfeit per test buy."):
    with setup.app.app_context(), acting_as("test"):
        return notices.transition(item, setup.platform, to, reason=reason)


def receiver(rsps, url, secret_of, status=200, received=None):
    """A receiving endpoint: checks the signature the way a receiver would, records the body."""
    def answer(request):
        signing.verify(request.headers[signing.HEADER], secret_of(), request.body)
        if received is not None:
            received.append((request.headers, json.loads(request.body)))
        return status, {}, "ok"
    rsps.add_callback(responses.POST, url, callback=answer)


def test_a_request_that_emits_returns_without_contacting_the_endpoint(setup, make_client):
    (_, brand_secret), (_, platform_secret) = hook(setup.app, setup.brand, BRAND_URL), \
        hook(setup.app, setup.platform, PLATFORM_URL)
    analyst = signed_in(make_client, setup.people[("alibaba", "analyst")])
    received = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        receiver(rsps, BRAND_URL, lambda: brand_secret, received=received)
        receiver(rsps, PLATFORM_URL, lambda: platform_secret, received=received)
        response = analyst.post_form(f"/notices/{setup.notice.id}/items/{setup.items[0].id}/transition",
                                     {"to": "acknowledged", "reason": "Looking into it."})
        assert response.status_code == 302
        assert len(rsps.calls) == 0  # the request only wrote the deliveries
        assert WebhookDelivery.select().where(WebhookDelivery.status == "pending").count() == 2
        assert run_worker(setup.app) == 2
        assert len(rsps.calls) == 2
    bodies = {headers["X-Portal-Delivery"]: body for headers, body in received}
    assert {b["org"] for b in bodies.values()} == {setup.brand.slug, setup.platform.slug}
    for headers, body in received:
        assert headers["X-Portal-Event"] == body["type"] == "notice.item.transitioned"
        assert headers["Content-Type"] == "application/json"
        assert body["data"]["item"] == setup.items[0].id and body["data"]["to"] == "acknowledged"
        assert body["id"].startswith("evt_")
    assert {d.status for d in WebhookDelivery.select()} == {"delivered"}
    assert run_worker(setup.app) == 0  # nothing due any more


def test_signature_verifies_and_the_body_is_the_stored_payload(setup):
    webhook, secret = hook(setup.app, setup.brand, BRAND_URL, ["notice.item.transitioned"])
    transition(setup, setup.items[0], "acknowledged")
    delivery = WebhookDelivery.get()
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, BRAND_URL, status=204)
        run_worker(setup.app)
        sent = rsps.calls[0].request
    assert sent.body == delivery.payload.encode()
    signing.verify(sent.headers[signing.HEADER], secret, sent.body)
    with pytest.raises(signing.SignatureError):
        signing.verify(sent.headers[signing.HEADER], "whsec_another", sent.body)
    assert json.loads(delivery.payload)["data"]["url"] == setup.items[0].url
    delivery = WebhookDelivery.get_by_id(delivery.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)


def test_a_failure_is_retried_with_exponential_backoff_and_every_attempt_is_logged(setup):
    hook(setup.app, setup.brand, BRAND_URL, ["notice.item.transitioned"])
    transition(setup, setup.items[0], "acknowledged")
    start = utcnow()
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, BRAND_URL, status=500, body="database down")
        rsps.add(responses.POST, BRAND_URL, body=requests.exceptions.ConnectionError("refused"))
        rsps.add(responses.POST, BRAND_URL, body=requests.exceptions.ReadTimeout("slow"))
        rsps.add(responses.POST, BRAND_URL, status=200)
        assert run_worker(setup.app, start) == 1
        delivery = WebhookDelivery.get()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        assert delivery.next_attempt_at == start + timedelta(minutes=1)
        assert run_worker(setup.app, start + timedelta(seconds=59)) == 0  # not due yet
        moment = start + timedelta(minutes=1)
        for waited in (2, 4):  # connection refused, then timed out: each doubles the wait
            assert run_worker(setup.app, moment) == 1
            assert WebhookDelivery.get().next_attempt_at == moment + timedelta(minutes=waited)
            moment += timedelta(minutes=waited)
        assert run_worker(setup.app, moment) == 1
        assert len(rsps.calls) == 4
    delivery = WebhookDelivery.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 4, 200)
    log = list(WebhookAttempt.select().order_by(WebhookAttempt.id))
    assert [a.status_code for a in log] == [500, None, None, 200]
    assert "database down" in log[0].error and "Connection failed" in log[1].error
    assert "No answer within 5 s" in log[2].error and log[3].error == ""


def test_retries_stop_at_the_maximum_and_repeated_failures_disable_the_endpoint(setup, monkeypatch):
    monkeypatch.setitem(setup.app.config, "WEBHOOK_MAX_ATTEMPTS", 2)
    monkeypatch.setitem(setup.app.config, "WEBHOOK_DISABLE_AFTER", 2)
    webhook, _ = hook(setup.app, setup.brand, BRAND_URL, ["notice.item.transitioned"])
    transition(setup, setup.items[0], "acknowledged")
    transition(setup, setup.items[1], "acknowledged")
    transition(setup, setup.items[0], "removed")
    moment = utcnow()
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, BRAND_URL, status=503)
        run_worker(setup.app, moment)  # first attempt of the three deliveries
        assert Webhook.get_by_id(webhook.id).active
        run_worker(setup.app, moment + timedelta(minutes=1))  # second and last attempt of the first two...
    webhook = Webhook.get_by_id(webhook.id)
    assert not webhook.active and "2 deliveries in a row failed" in webhook.disabled_reason
    assert "HTTP 503" in webhook.disabled_reason
    # ... and the third, still pending when the endpoint was disabled, is dropped, not sent.
    assert sorted(d.status for d in WebhookDelivery.select()) == ["failed"] * 3
    assert WebhookAttempt.select().count() == 5
    event = AuditEvent.get(AuditEvent.action == "webhook.disabled")
    assert (event.org_id, event.actor_label) == (setup.brand.id, "worker")
    transition(setup, setup.items[1], "removed")  # a disabled endpoint gets no new deliveries
    assert WebhookDelivery.select().count() == 3
    with setup.app.app_context(), acting_as("test"):
        webhook = services.enable(webhook)
    assert webhook.active and webhook.consecutive_failures == 0


def test_a_success_resets_the_failure_count(setup, monkeypatch):
    monkeypatch.setitem(setup.app.config, "WEBHOOK_MAX_ATTEMPTS", 1)
    webhook, _ = hook(setup.app, setup.brand, BRAND_URL, ["notice.item.transitioned"])
    transition(setup, setup.items[0], "acknowledged")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, BRAND_URL, status=500)
        run_worker(setup.app)
        assert Webhook.get_by_id(webhook.id).consecutive_failures == 1
        transition(setup, setup.items[1], "acknowledged")
        rsps.replace(responses.POST, BRAND_URL, status=200)
        run_worker(setup.app)
    assert Webhook.get_by_id(webhook.id).consecutive_failures == 0


def test_redirects_are_not_followed(setup):
    hook(setup.app, setup.brand, BRAND_URL, ["notice.item.transitioned"])
    transition(setup, setup.items[0], "acknowledged")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, BRAND_URL, status=302, headers={"Location": "https://elsewhere.example/"})
        run_worker(setup.app)
        assert len(rsps.calls) == 1
    delivery = WebhookDelivery.get()
    assert delivery.status == "pending" and "redirects are not followed" in delivery.last_error


def test_manual_redelivery_and_secret_rotation_through_the_pages(setup, make_client):
    admin = signed_in(make_client, setup.people[("microsoft", "admin")])
    response = admin.post_form("/webhooks/", {"url": BRAND_URL, "events": ["notice.item.transitioned",
                                                                          "sla.breached"]})
    assert response.status_code == 201
    old_secret = re.search(r'id="new-webhook-secret"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)
    webhook = Webhook.get()
    assert webhook.event_list == ["notice.item.transitioned", "sla.breached"]
    assert old_secret not in webhook.secret_encrypted
    with setup.app.app_context():
        assert services.secret_of(webhook) == old_secret
    assert old_secret not in page_text(admin.get(f"/webhooks/{webhook.id}"))  # shown once
    transition(setup, setup.items[0], "acknowledged")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, BRAND_URL, status=200)
        run_worker(setup.app)
        first = rsps.calls[0].request
        signing.verify(first.headers[signing.HEADER], old_secret, first.body)

        response = admin.post_form(f"/webhooks/{webhook.id}/rotate")
        assert response.status_code == 200
        new_secret = re.search(r'id="new-webhook-secret"[^>]*value="([^"]+)"',
                               response.get_data(as_text=True)).group(1)
        assert new_secret != old_secret
        delivery = WebhookDelivery.get()
        page = page_text(admin.get(f"/webhooks/deliveries/{delivery.id}"))
        assert "delivered" in page and "200" in page and "Redeliver" in page
        response = admin.post_form(f"/webhooks/deliveries/{delivery.id}/redeliver")
        assert response.status_code == 302 and len(rsps.calls) == 1  # queued, not sent in the request
        run_worker(setup.app)
        assert len(rsps.calls) == 2
        second = rsps.calls[1].request
    assert second.body == first.body
    signing.verify(second.headers[signing.HEADER], new_secret, second.body)
    with pytest.raises(signing.SignatureError):
        signing.verify(second.headers[signing.HEADER], old_secret, second.body)
    assert WebhookDelivery.get().attempts == 2
    actions = {e.action for e in AuditEvent.for_org(setup.brand)}
    assert {"webhook.created", "webhook.secret_rotated", "webhook.redelivery_requested"} <= actions


def test_endpoint_pages_change_events_disable_enable_and_delete(setup, make_client):
    admin = signed_in(make_client, setup.people[("microsoft", "admin")])
    webhook, _ = hook(setup.app, setup.brand, BRAND_URL, ["sla.breached"])
    assert BRAND_URL in page_text(admin.get("/webhooks/"))
    assert admin.post_form(f"/webhooks/{webhook.id}/events", {"events": ["intel.flag.shared",
                                                                         "sla.warning"]}).status_code == 302
    assert Webhook.get_by_id(webhook.id).event_list == ["sla.warning", "intel.flag.shared"]
    response = admin.post_form(f"/webhooks/{webhook.id}/events", {"events": []})
    assert response.status_code == 422 and "Choose at least one event" in page_text(response)
    assert admin.post_form(f"/webhooks/{webhook.id}/disable").status_code == 302
    assert not Webhook.get_by_id(webhook.id).active
    assert "Disabled by an admin" in page_text(admin.get(f"/webhooks/{webhook.id}"))
    assert admin.post_form(f"/webhooks/{webhook.id}/enable").status_code == 302
    assert Webhook.get_by_id(webhook.id).active
    assert admin.post_form(f"/webhooks/{webhook.id}/delete").status_code == 302
    assert Webhook.select().count() == 0
    assert {"webhook.events_changed", "webhook.disabled", "webhook.enabled", "webhook.deleted"} <= \
        {e.action for e in AuditEvent.for_org(setup.brand)}


def test_http_and_private_urls_are_refused(setup, make_client):
    admin = signed_in(make_client, setup.people[("microsoft", "admin")])
    for url, words in [("http://hooks.microsoft.example/in", "Use https"),
                       ("https://user:pw@hooks.microsoft.example/in", "credentials"),
                       ("https://10.0.0.5/in", "private"), ("ftp://hooks.microsoft.example/", "absolute https"),
                       ("not a url", "spaces")]:
        response = admin.post_form("/webhooks/", {"url": url, "events": ["sla.breached"]})
        assert response.status_code == 422, url
        assert words in page_text(response), url
    response = admin.post_form("/webhooks/", {"url": BRAND_URL, "events": ["no.such.event"]})
    assert response.status_code == 422 and "Unknown event" in page_text(response)
    assert Webhook.select().count() == 0
    # http to localhost: in tests (app.testing) or with WEBHOOKS_ALLOW_HTTP, for local receivers.
    assert admin.post_form("/webhooks/", {"url": "http://127.0.0.1:8080/in",
                                          "events": ["sla.breached"]}).status_code == 201


def test_each_org_receives_only_the_events_emitted_to_it(setup):
    brand_hook, _ = hook(setup.app, setup.brand, BRAND_URL)
    platform_hook, _ = hook(setup.app, setup.platform, PLATFORM_URL)
    third_hook, _ = hook(setup.app, setup.third, THIRD_URL)
    transition(setup, setup.items[0], "acknowledged")
    assert {d.webhook_id for d in WebhookDelivery.select()} == {brand_hook.id, platform_hook.id}

    # A flag shared with a named group reaches only the named org; an alliance flag reaches everyone else.
    WebhookDelivery.delete().execute()
    setup.world.flag(setup.brand, "shop-group", "alibaba-market", tlp="amber", distribution="group",
                     share_with=[setup.platform])
    shared = list(WebhookDelivery.select().where(WebhookDelivery.event_kind == "intel.flag.shared"))
    assert [d.webhook_id for d in shared] == [platform_hook.id]
    assert "shop-group" in shared[0].payload
    WebhookDelivery.delete().execute()
    setup.world.flag(setup.brand, "shop-everyone", "alibaba-market", tlp="green", distribution="alliance")
    shared = WebhookDelivery.select().where(WebhookDelivery.event_kind == "intel.flag.shared")
    assert {d.webhook_id for d in shared} == {platform_hook.id, third_hook.id}
    setup.world.flag(setup.brand, "shop-own", "alibaba-market", tlp="red", distribution="own")
    assert WebhookDelivery.select().where(WebhookDelivery.payload.contains("shop-own")).count() == 0
    assert all(d.org_id == Webhook.get_by_id(d.webhook_id).org_id for d in WebhookDelivery.select())


def test_unsubscribed_kinds_and_other_events_create_nothing(setup):
    hook(setup.app, setup.brand, BRAND_URL, ["sla.breached"])
    transition(setup, setup.items[0], "acknowledged")  # notice.item.transitioned: not subscribed
    setup.world.notice(setup.brand, setup.partnership, ["https://item.taobao.com/item.htm?id=3"])  # notice.filed
    assert WebhookDelivery.select().count() == 0


def test_sla_events_from_the_periodic_check_are_delivered(setup):
    from portal.sla.clocks import check_clocks
    hook(setup.app, setup.platform, PLATFORM_URL, ["sla.warning", "sla.breached"])
    with setup.app.app_context(), acting_as("worker"):
        warnings, breaches = check_clocks(now=utcnow() + timedelta(days=60))
    assert breaches > 0
    kinds = {d.event_kind for d in WebhookDelivery.select()}
    assert kinds == {"sla.warning", "sla.breached"}
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, PLATFORM_URL, status=200)
        with setup.app.app_context():
            from portal.webhooks.tasks import deliver_due_webhooks
            deliver_due_webhooks()
        assert len(rsps.calls) == WebhookDelivery.select().count()
    assert {d.status for d in WebhookDelivery.select()} == {"delivered"}


def test_another_orgs_webhook_and_delivery_are_404(setup, make_client):
    other, _ = hook(setup.app, setup.third, THIRD_URL)
    with setup.app.app_context(), acting_as("test"):
        delivery = services.enqueue("sla.breached", setup.third, None, {"x": 1})[0]
    admin = signed_in(make_client, setup.people[("microsoft", "admin")])
    for url in (f"/webhooks/{other.id}", f"/webhooks/deliveries/{delivery.id}", "/webhooks/not-a-number"):
        assert admin.get(url).status_code == 404, url
    for url in (f"/webhooks/{other.id}/rotate", f"/webhooks/{other.id}/disable", f"/webhooks/{other.id}/delete",
                f"/webhooks/deliveries/{delivery.id}/redeliver"):
        response = admin.post_form(url)
        assert response.status_code == 404, url
        assert "swarovski" not in page_text(response).lower()
    assert Webhook.get_by_id(other.id).active and Webhook.get_by_id(other.id).secret_rotated_at is None
    assert THIRD_URL not in page_text(admin.get("/webhooks/"))


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_only_admins_manage_webhooks(setup, make_client, role):
    webhook, _ = hook(setup.app, setup.brand, BRAND_URL)
    client = signed_in(make_client, setup.people[("microsoft", role)])
    assert client.get("/webhooks/").status_code == 403
    assert client.get(f"/webhooks/{webhook.id}").status_code == 403
    assert client.post_form("/webhooks/", {"url": "https://x.example/", "events": ["sla.breached"]}).status_code == 403
    assert client.post_form(f"/webhooks/{webhook.id}/rotate").status_code == 403
    assert Webhook.select().count() == 1
    assert "Webhooks</a>" not in page_text(client.get("/"))


def test_an_unreadable_secret_fails_the_attempt_with_a_clear_message(setup):
    webhook, _ = hook(setup.app, setup.brand, BRAND_URL, ["notice.item.transitioned"])
    Webhook.update(secret_encrypted="gAAAAA-not-a-token").where(Webhook.id == webhook.id).execute()
    transition(setup, setup.items[0], "acknowledged")
    with responses.RequestsMock():  # nothing may be sent unsigned
        run_worker(setup.app)
    assert "rotate its secret" in WebhookDelivery.get().last_error


def test_outside_immediate_mode_a_request_queues_its_deliveries_for_the_worker(setup, make_client, monkeypatch):
    """In production the request hands its new deliveries to the queue after the response is built, so
    the worker sends them at once rather than at the next minute; the request itself sends nothing."""
    import types

    from portal.webhooks import tasks
    queued = []
    monkeypatch.setattr(tasks, "huey", types.SimpleNamespace(immediate=False))
    monkeypatch.setattr(tasks, "deliver_webhook", queued.append)
    hook(setup.app, setup.brand, BRAND_URL)
    hook(setup.app, setup.platform, PLATFORM_URL)
    analyst = signed_in(make_client, setup.people[("alibaba", "analyst")])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, BRAND_URL, status=200)
        response = analyst.post_form(f"/notices/{setup.notice.id}/items/{setup.items[0].id}/transition",
                                     {"to": "acknowledged", "reason": "Looking into it."})
        assert response.status_code == 302 and len(rsps.calls) == 0
    assert sorted(queued) == sorted(d.id for d in WebhookDelivery.select())
    assert len(queued) == 2
