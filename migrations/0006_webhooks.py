"""Webhooks: endpoints registered by org admins (signing secret encrypted under a key derived from
SECRET_KEY), one delivery per event and endpoint, and the log of every attempt."""
from peewee import *


def up(migrator, db):
    class Organization(Model):
        class Meta:
            database = db
            table_name = 'organization'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Webhook(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        url = TextField()
        events = CharField(max_length=500)
        secret_encrypted = TextField()
        secret_hint = CharField(max_length=8, default='')
        secret_rotated_at = DateTimeField(null=True)
        active = BooleanField(default=True)
        disabled_at = DateTimeField(null=True)
        disabled_reason = TextField(default='')
        consecutive_failures = IntegerField(default=0)
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'webhook'
            indexes = ((('org', 'active'), False),)

    class WebhookDelivery(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        webhook = ForeignKeyField(Webhook, on_delete='CASCADE')
        event_kind = CharField(max_length=64)
        event_id = CharField(max_length=40)
        payload = TextField()
        status = CharField(max_length=10, default='pending')
        attempts = IntegerField(default=0)
        max_attempts = IntegerField()
        next_attempt_at = DateTimeField(null=True)
        last_status_code = IntegerField(null=True)
        last_error = TextField(default='')
        delivered_at = DateTimeField(null=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'webhook_delivery'
            indexes = ((('status', 'next_attempt_at'), False), (('webhook', 'created_at'), False))

    class WebhookAttempt(Model):
        delivery = ForeignKeyField(WebhookDelivery, on_delete='CASCADE')
        at = DateTimeField()
        status_code = IntegerField(null=True)
        error = TextField(default='')
        duration_ms = IntegerField(default=0)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'webhook_attempt'
            indexes = ((('delivery', 'at'), False),)

    db.create_tables([Webhook, WebhookDelivery, WebhookAttempt])


def down(migrator, db):
    for table in ('webhook_attempt', 'webhook_delivery', 'webhook'):
        migrator.migrate(migrator.drop_table(table))
