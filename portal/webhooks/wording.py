"""How the webhooks' audit events read in the trail (portal.trail)."""
from portal.trail import object_link, word

ENDPOINT = object_link("webhooks.endpoint", "webhook_id")

word("webhook.created", "Webhook added", lambda c, e: f"added the webhook {c['url']} for {', '.join(c['events'])}",
     ENDPOINT)
word("webhook.events_changed", "Webhook events changed",
     lambda c, e: f"changed webhook {e.object_id}'s events to {', '.join(c['after'])}", ENDPOINT)
word("webhook.secret_rotated", "Webhook secret rotated", "rotated webhook {secret_hint}'s signing secret", ENDPOINT)
word("webhook.disabled", "Webhook disabled", "disabled a webhook: {reason}", ENDPOINT)
word("webhook.enabled", "Webhook enabled", "enabled a webhook", ENDPOINT)
word("webhook.deleted", "Webhook deleted", "deleted the webhook {url}")
word("webhook.redelivery_requested", "Webhook redelivery", "asked to deliver {event} ({event_id}) again",
     lambda c, e: ("webhooks.delivery", {"delivery_id": e.object_id}))
