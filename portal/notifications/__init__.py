"""Notifications: each user's in-app inbox over the domain events (portal.events), their settings per
kind, and the e-mails (immediate or a daily digest) the worker sends over SMTP from an outbox."""
