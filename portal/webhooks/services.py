"""Webhooks: endpoints an org admin registers, and the delivery of events to them by the worker.

- `enqueue` is called by `portal.events.emit` for each org allowed to know an event, inside the
  transaction of the change: it only writes one `WebhookDelivery` per active endpoint of that org
  subscribed to the kind. Nothing is sent during a request.
- `deliver` (run by the worker: the periodic `deliver_due_webhooks` task every minute, and a task queued
  after a request that created deliveries) claims a due delivery, POSTs it outside any transaction,
  logs the attempt and schedules a retry with exponential backoff (1, 2, 4, 8 ... minutes) until
  WEBHOOK_MAX_ATTEMPTS. An endpoint whose deliveries fail WEBHOOK_DISABLE_AFTER times in a row (each
  after its retries ran out) is disabled, with a reason and an audit event.
- Bodies are signed by `portal.webhooks.signing` (HMAC-SHA256 over "<timestamp>." + body).
- Every connection goes through `portal.webhooks.egress`: the URL read the same by every parser, the
  host resolved once per attempt, every address it resolves to public, the connection made to that
  checked address (TLS and Host still the name), no redirects, proxies or .netrc. Its docstring has the
  rules (IDNA included).

Settings (Flask config, else the environment): WEBHOOK_TIMEOUT_SECONDS (5), WEBHOOK_MAX_ATTEMPTS (8),
WEBHOOK_RETRY_BASE_SECONDS (60), WEBHOOK_DISABLE_AFTER (10), WEBHOOKS_ALLOW_HTTP (off; on, or when the
app is testing, local receivers are allowed: endpoints on this machine's loopback, 127.0.0.0/8, ::1 or
`localhost`, over http or https; no other private address ever is).
"""
import hashlib
import json
import logging
import re
import secrets
import threading
import time
from datetime import timedelta

import requests
from flask import current_app, g, has_app_context, has_request_context

from portal import audit
from portal.accounts.models import Organization
from portal.config import env_bool, env_int
from portal.db import PreparedSelect, db
from portal.errors import Conflict, ValidationError
from portal.secretbox import SecretBox, SecretUnreadable
from portal.timeutil import utcnow
from portal.webhooks import egress, signing
from portal.webhooks.models import EVENT_KINDS, Webhook, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

MAX_ENDPOINTS_PER_ORG = 20
RESPONSE_BODY_CAP = 4096  # bytes of a response read, at most; the log keeps the first 500 characters
DEFAULTS = {"WEBHOOK_TIMEOUT_SECONDS": 5, "WEBHOOK_MAX_ATTEMPTS": 8, "WEBHOOK_RETRY_BASE_SECONDS": 60,
            "WEBHOOK_DISABLE_AFTER": 10}


def setting(name):
    if has_app_context() and current_app.config.get(name) is not None:
        return current_app.config[name]
    if name == "WEBHOOKS_ALLOW_HTTP":
        return env_bool(name, False)
    return env_int(name, DEFAULTS[name])


# --- secrets --------------------------------------------------------------------------------------------

# Signing secrets are encrypted at rest (portal.secretbox) under their own key derived from SECRET_KEY.
_box = SecretBox(b"alliance-portal webhook secrets")


def new_secret():
    return "whsec_" + secrets.token_urlsafe(32)


def encrypt_secret(secret):
    return _box.encrypt(secret)


def secret_of(webhook):
    try:
        return _box.decrypt(webhook.secret_encrypted)
    except SecretUnreadable:
        raise SecretUnreadable("The endpoint's secret cannot be read (SECRET_KEY changed?): rotate its secret.")


# --- validation -----------------------------------------------------------------------------------------

def http_allowed():
    """Whether local receivers are allowed: WEBHOOKS_ALLOW_HTTP, or the app is testing. Then endpoints on
    this machine's loopback (127.0.0.0/8, ::1, `localhost`) are accepted, over http or https; nothing
    else private ever is (see portal.webhooks.egress)."""
    return bool(setting("WEBHOOKS_ALLOW_HTTP") or (has_app_context() and current_app.testing))


def clean_url(url):
    """The URL to store: absolute https, read the same by every parser, without credentials or fragment,
    not to a private IP literal; http only to a local receiver when allowed (egress.check_registration).
    Host names are resolved and checked at each attempt, not here."""
    try:
        return egress.check_registration(url, local_ok=http_allowed())
    except egress.Refused as refusal:
        raise ValidationError({"url": refusal.advice})


def clean_events(events):
    if isinstance(events, str):
        events = events.split()
    chosen = set(events or ())
    unknown = sorted(chosen - set(EVENT_KINDS))
    if unknown:
        raise ValidationError({"events": f"Unknown event: {', '.join(unknown)}."})
    if not chosen:
        raise ValidationError({"events": "Choose at least one event."})
    return [kind for kind in EVENT_KINDS if kind in chosen]


# --- the admin's changes --------------------------------------------------------------------------------

def webhooks_of(org):
    return Webhook.for_org(org).order_by(Webhook.created_at.desc(), Webhook.id.desc())


def register(org, url, events, created_by=None):
    """A new endpoint of `org`. Returns (webhook, secret): the secret is shown once."""
    url, events = clean_url(url), clean_events(events)
    if Webhook.for_org(org).count() >= MAX_ENDPOINTS_PER_ORG:
        raise ValidationError({"url": f"An organization has at most {MAX_ENDPOINTS_PER_ORG} endpoints."})
    secret = new_secret()
    with db.atomic():
        webhook = Webhook.create(org=org, url=url, events=" ".join(events), secret_encrypted=encrypt_secret(secret),
                                 secret_hint=secret[-4:], created_by=created_by)
        audit.record("webhook.created", org, webhook, {"url": url, "events": events})
    return webhook, secret


def change_events(webhook, events):
    events = clean_events(events)
    with db.atomic():
        before = webhook.event_list
        Webhook.update(events=" ".join(events)).where(Webhook.id == webhook.id).execute()
        audit.record("webhook.events_changed", webhook.org_id, webhook, {"before": before, "after": events})
    webhook.events = " ".join(events)
    return webhook


def rotate_secret(webhook):
    """A new secret signs every delivery from now on, retries of older ones included; the old one stops."""
    secret = new_secret()
    now = utcnow()
    with db.atomic():
        Webhook.update(secret_encrypted=encrypt_secret(secret), secret_hint=secret[-4:], secret_rotated_at=now
                       ).where(Webhook.id == webhook.id).execute()
        audit.record("webhook.secret_rotated", webhook.org_id, webhook, {"secret_hint": secret[-4:]})
    webhook.secret_hint, webhook.secret_rotated_at = secret[-4:], now
    return secret


def _fail_pending(webhook_id, reason, now):
    return (WebhookDelivery.update(status="failed", next_attempt_at=None, last_error=reason)
            .where((WebhookDelivery.webhook == webhook_id) & (WebhookDelivery.status == "pending")).execute())


def disable(webhook, reason="Disabled by an admin.", now=None):
    """Stop deliveries to the endpoint; its pending deliveries fail (an admin may redeliver them later)."""
    now = now or utcnow()
    with db.atomic():
        changed = (Webhook.update(active=False, disabled_at=now, disabled_reason=reason)
                   .where((Webhook.id == webhook.id) & (Webhook.active == True)).execute())  # noqa: E712
        if changed:
            dropped = _fail_pending(webhook.id, f"Not sent: the endpoint was disabled ({reason})", now)
            audit.record("webhook.disabled", webhook.org_id, webhook, {"reason": reason, "pending_failed": dropped})
    return Webhook.get_by_id(webhook.id)


def enable(webhook):
    with db.atomic():
        changed = (Webhook.update(active=True, disabled_at=None, disabled_reason="", consecutive_failures=0)
                   .where((Webhook.id == webhook.id) & (Webhook.active == False)).execute())  # noqa: E712
        if changed:
            audit.record("webhook.enabled", webhook.org_id, webhook, {})
    return Webhook.get_by_id(webhook.id)


def delete(webhook):
    """The endpoint goes, with its deliveries and their log (the audit trail keeps that it existed)."""
    with db.atomic():
        deliveries = WebhookDelivery.select().where(WebhookDelivery.webhook == webhook.id).count()
        audit.record("webhook.deleted", webhook.org_id, webhook, {"url": webhook.url, "deliveries": deliveries})
        Webhook.delete().where(Webhook.id == webhook.id).execute()  # deliveries and attempts cascade


def redeliver(delivery, now=None):
    """Queue one more attempt of `delivery`, now (the worker makes it; a request never waits on it)."""
    now = now or utcnow()
    webhook = Webhook.get_by_id(delivery.webhook_id)
    if not webhook.active:
        raise Conflict("The endpoint is disabled: enable it first.")
    with db.atomic():
        # Only a finished delivery is sent again: one still pending is being retried (or is on its way),
        # and taking its turn could send it twice at once or cut its remaining retries.
        queued = (WebhookDelivery.update(status="pending", next_attempt_at=now,
                                         max_attempts=WebhookDelivery.attempts + 1)
                  .where((WebhookDelivery.id == delivery.id) & (WebhookDelivery.status != "pending")).execute())
        if not queued:
            raise Conflict("This delivery is still being retried; its next attempt comes on its own.")
        audit.record("webhook.redelivery_requested", delivery.org_id, delivery,
                     {"webhook": webhook.id, "event_id": delivery.event_id, "event": delivery.event_kind})
    _kick_after_request([delivery.id])
    return WebhookDelivery.get_by_id(delivery.id)


# --- creating deliveries (from portal.events.emit) --------------------------------------------------------

# Every domain event asks this for each receiving org (twice per listing moved): compiled once per kind.
SUBSCRIBED = PreparedSelect(lambda kind, org_id: Webhook.select().where(
    (Webhook.org == org_id) & (Webhook.active == True) & Webhook.events.contains(kind)),  # noqa: E712
    shaped=True)
ORG_SLUG = PreparedSelect(lambda org_id: Organization.select(Organization.slug).where(Organization.id == org_id))


def enqueue(kind, org, obj, payload, now=None):
    """One pending delivery of event `kind` per active endpoint of `org` subscribed to it. Must run in the
    transaction of the change (emit's). `org` must be allowed to know the event: emit decides that."""
    if kind not in EVENT_KINDS:
        return []
    org_id = getattr(org, "id", org)
    hooks = [w for w in SUBSCRIBED.rows(org_id, shape=kind) if kind in w.event_list]
    if not hooks:
        return []
    now = now or utcnow()
    slug = ORG_SLUG.scalar(org_id)
    event_id = "evt_" + secrets.token_hex(16)
    body = audit.canonical_json({"id": event_id, "type": kind, "created_at": now.isoformat(timespec="seconds") + "Z",
                                 "org": slug, "data": payload})
    max_attempts = setting("WEBHOOK_MAX_ATTEMPTS")
    created = [WebhookDelivery.create(org=org_id, webhook=w, event_kind=kind, event_id=event_id, payload=body,
                                      max_attempts=max_attempts, next_attempt_at=now, created_at=now)
               for w in hooks]
    _kick_after_request([d.id for d in created])
    return created


def _kick_after_request(ids):
    """Remember deliveries made in this request; `tasks.kick_worker` queues them after the response is built."""
    if has_request_context():
        g.setdefault("webhook_delivery_ids", []).extend(ids)


# --- delivering (the worker) ----------------------------------------------------------------------------

def due_deliveries(now=None, limit=500):
    now = now or utcnow()
    query = (WebhookDelivery.select(WebhookDelivery.id)
             .where((WebhookDelivery.status == "pending") & (WebhookDelivery.next_attempt_at <= now))
             .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
    return [d.id for d in query]


def deliver_due(now=None):
    """Attempt every due delivery, one after the other; returns how many were attempted. A delivery that
    fails on our side is logged and left to its lease; the others still go."""
    attempted = 0
    for delivery_id in due_deliveries(now):
        try:
            attempted += deliver(delivery_id, now=now) is not None
        except Exception:
            log.exception("webhook delivery %s failed on our side; it is retried when its lease ends", delivery_id)
    return attempted


def backoff(attempt):
    """Seconds to wait after failed attempt number `attempt` (1-based): base, 2 base, 4 base, ..."""
    return setting("WEBHOOK_RETRY_BASE_SECONDS") * 2 ** (attempt - 1)


def _claim(delivery_id, now):
    """Take a due delivery for this worker: its next attempt moves past the time the POST may take, so
    another worker (or the next periodic run) leaves it alone. None when it is not due or taken."""
    with db.atomic():
        delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == delivery_id)
        if delivery is None or delivery.status != "pending" or delivery.next_attempt_at is None \
                or delivery.next_attempt_at > now:
            return None
        lease = now + timedelta(seconds=setting("WEBHOOK_TIMEOUT_SECONDS") * 3 + 60)
        claimed = (WebhookDelivery.update(next_attempt_at=lease)
                   .where((WebhookDelivery.id == delivery_id) & (WebhookDelivery.status == "pending")
                          & (WebhookDelivery.next_attempt_at == delivery.next_attempt_at)).execute())
    return delivery if claimed else None


def post(url, body, headers, timeout, local_ok=False):
    """POST `body` through `egress.post` (the URL read once, its host resolved once, every address checked
    and the connection pinned to the checked one; no redirects, proxies or .netrc); returns (status code
    or None, error text). A refused endpoint is never connected to: the text says why, the same for any
    port. At most RESPONSE_BODY_CAP bytes of the answer are read. The whole attempt, lookup included, has
    `timeout` seconds: requests' timeouts are per socket read, so the POST runs in a thread the worker
    waits for at most that long; an endpoint trickling its answer is a timeout, and its thread (a daemon,
    still bounded by the per-read timeout) is left to end on its own, its answer ignored. `local_ok`
    (http_allowed(), read by the caller: the thread has no app context) lets a local receiver through."""
    outcome = {}
    attempt = threading.Thread(target=_post, args=(url, body, headers, timeout, local_ok, outcome), daemon=True)
    attempt.start()
    attempt.join(timeout)
    if "result" not in outcome:
        return None, f"No complete answer within {timeout} s."
    return outcome["result"]


def _post(url, body, headers, timeout, local_ok, outcome):
    try:
        with egress.post(url, body, headers, timeout, local_ok) as response:
            received = b""
            for chunk in response.iter_content(1024):
                received += chunk
                if len(received) >= RESPONSE_BODY_CAP:
                    break
            code = response.status_code
            if 200 <= code < 300:
                outcome["result"] = (code, "")
                return
            text = received[:RESPONSE_BODY_CAP].decode("utf-8", "replace").strip()
            if 300 <= code < 400:
                outcome["result"] = (code, f"HTTP {code}: redirects are not followed (to "
                                           f"{response.headers.get('Location', '?')})")
                return
            outcome["result"] = (code, f"HTTP {code}" + (f": {text[:500]}" if text else ""))
    except egress.Refused as refusal:
        outcome["result"] = (None, refusal.log)
    except requests.Timeout:
        outcome["result"] = (None, f"No answer within {timeout} s.")
    except requests.ConnectionError as error:
        outcome["result"] = (None, f"Connection failed: {_short(error)}")
    except requests.RequestException as error:
        outcome["result"] = (None, f"Request failed: {_short(error)}")


def _short(error):
    return (str(error) or type(error).__name__)[:300]


def deliver(delivery_id, now=None):
    """One attempt of a due delivery. Returns the delivery after it, or None when it was not due."""
    now = now or utcnow()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return None
    webhook = Webhook.get_or_none(Webhook.id == delivery.webhook_id)
    if webhook is None:
        return None  # deleted since, with its deliveries
    refusal = None
    if not webhook.active:  # disabled between the claim and now
        refusal = "Not sent: the endpoint is disabled."
    elif not still_visible(delivery):
        refusal = "Not sent: the organization may no longer see what the event is about."
    if refusal:
        WebhookDelivery.update(status="failed", next_attempt_at=None, last_error=refusal).where(
            WebhookDelivery.id == delivery.id).execute()
        return WebhookDelivery.get_by_id(delivery.id)
    timeout = setting("WEBHOOK_TIMEOUT_SECONDS")
    started = time.monotonic()
    try:
        secret = secret_of(webhook)
    except SecretUnreadable as error:
        code, message = None, str(error)
    else:
        body = delivery.payload.encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "AlliancePortal-Webhooks/1",
                   "X-Portal-Event": delivery.event_kind, "X-Portal-Delivery": str(delivery.id),
                   signing.HEADER: signing.sign(secret, body)}
        code, message = post(webhook.url, body, headers, timeout, http_allowed())  # outside any transaction
    duration = int((time.monotonic() - started) * 1000)
    return _record(delivery, webhook, code, message, duration, now)


def still_visible(delivery):
    """Whether the receiving org may still see what the event is about. Sharing can narrow after the event
    was queued: an intelligence event goes out only while the sharing predicate (portal.intel.sharing)
    still lets the org see what it names (retries and redeliveries included): every flag of a flag event,
    the flag a sighting is on, the strikes of a repeat infringer's marketplace."""
    kind = delivery.event_kind
    if not kind.startswith("intel."):
        return True
    from portal.accounts.models import Marketplace
    from portal.intel import sharing
    data = json.loads(delivery.payload).get("data") or {}
    flag_ids, marketplace_ids = set(), set()
    if kind.startswith("intel.flag"):
        flag_ids = {entry.get("id") for entry in data.get("flags", [])} | ({data["id"]} if "id" in data else set())
        if "flag" in data:  # a withdrawn flag names itself by its reference
            flag_ids.add(sharing.flag_id_of_reference(data["flag"]) or 0)
        flag_ids.discard(None)
    elif kind == "intel.sighting.added":
        flag_id = sharing.flag_id_of_reference(data.get("flag"))
        if flag_id is None:
            return False
        flag_ids = {flag_id}
    elif kind == "intel.seller.repeat_infringer":
        marketplace = Marketplace.get_or_none(Marketplace.slug == data.get("marketplace"))
        if marketplace is None:
            return False
        marketplace_ids = {marketplace.id}
    return sharing.still_sees(delivery.org_id, flag_ids, marketplace_ids)


def _record(delivery, webhook, code, message, duration, now):
    ok = code is not None and 200 <= code < 300
    attempt = delivery.attempts + 1
    message = CONTROL.sub(" ", message or "")  # a receiver's answer is text for people, never raw bytes
    if not WebhookDelivery.select().where(WebhookDelivery.id == delivery.id).exists():
        return None  # the endpoint was deleted while the POST was on its way
    with db.atomic():
        WebhookAttempt.create(delivery=delivery.id, at=now, status_code=code, error=message, duration_ms=duration)
        changes = {"attempts": attempt, "last_status_code": code, "last_error": message}
        if ok:
            changes.update(status="delivered", delivered_at=now, next_attempt_at=None)
        elif attempt >= delivery.max_attempts:
            changes.update(status="failed", next_attempt_at=None)
        else:
            changes.update(next_attempt_at=now + timedelta(seconds=backoff(attempt)))
        WebhookDelivery.update(**changes).where(WebhookDelivery.id == delivery.id).execute()
        if ok:
            Webhook.update(consecutive_failures=0).where(Webhook.id == webhook.id).execute()
        elif changes.get("status") == "failed":
            Webhook.update(consecutive_failures=Webhook.consecutive_failures + 1).where(
                Webhook.id == webhook.id).execute()
            failures = Webhook.select(Webhook.consecutive_failures).where(Webhook.id == webhook.id).scalar()
            limit = setting("WEBHOOK_DISABLE_AFTER")
            if failures >= limit:
                disable(webhook, f"Disabled automatically: {failures} deliveries in a row failed "
                                 f"(last: {message or 'no answer'}).", now)
    return WebhookDelivery.get_by_id(delivery.id)


# --- reading ---------------------------------------------------------------------------------------------

def deliveries_of(webhook, limit=50):
    return (WebhookDelivery.for_org(webhook.org_id).where(WebhookDelivery.webhook == webhook.id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit))


def attempts_of(delivery):
    return WebhookAttempt.select().where(WebhookAttempt.delivery == delivery.id).order_by(WebhookAttempt.id)


def pretty_payload(delivery):
    try:
        return json.dumps(json.loads(delivery.payload), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return delivery.payload


def payload_sha256(delivery):
    return hashlib.sha256(delivery.payload.encode("utf-8")).hexdigest()
