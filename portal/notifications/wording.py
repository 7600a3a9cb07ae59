"""How the notifications' audit events read in the trail (portal.trail)."""
from portal.trail import word

word("notification.settings_changed", "Notification settings changed",
     lambda c, e: f"changed the notifications of {c['user']}: "
     + ", ".join(f"{kind} {mode}" for kind, mode in sorted(c["after"].items())))
word("notification.unsubscribed", "Unsubscribed from e-mail",
     lambda c, e: f"{c['user']} turned e-mail off for {', '.join(c['kinds'])} (unsubscribe link)")
