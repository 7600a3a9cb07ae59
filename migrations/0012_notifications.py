"""Notifications (issue 20): each member's inbox rows, their choice per kind of event, and the outbox of
e-mails the worker sends (immediate, or one digest per member, org and local day)."""
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

    class OutboundEmail(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        user = ForeignKeyField(User, on_delete='CASCADE')
        kind = CharField(max_length=10)
        digest_date = DateField(null=True)
        status = CharField(max_length=10, default='pending')
        attempts = IntegerField(default=0)
        max_attempts = IntegerField()
        next_attempt_at = DateTimeField(null=True)
        claimed_at = DateTimeField(null=True)
        last_error = TextField(default='')
        subject = CharField(max_length=200, default='')
        sent_at = DateTimeField(null=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'outbound_email'
            indexes = ((('status', 'next_attempt_at'), False), (('org', 'user', 'digest_date'), True))

    class Notification(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        user = ForeignKeyField(User, on_delete='CASCADE')
        kind = CharField(max_length=64)
        event = CharField(max_length=64)
        title = CharField(max_length=300)
        object_type = CharField(max_length=64, default='')
        object_id = CharField(max_length=64, default='')
        data = TextField(default='{}')
        link_endpoint = CharField(max_length=64, default='')
        link_args = TextField(default='{}')
        delivery = CharField(max_length=10, default='inbox')
        email = ForeignKeyField(OutboundEmail, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        read_at = DateTimeField(null=True)

        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'notification'
            indexes = ((('org', 'user', 'read_at'), False), (('org', 'user', 'created_at'), False),
                       (('delivery', 'email'), False))

    class NotificationPreference(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        user = ForeignKeyField(User, on_delete='CASCADE')
        kind = CharField(max_length=64)
        mode = CharField(max_length=10)
        updated_at = DateTimeField()

        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'notification_preference'
            indexes = ((('org', 'user', 'kind'), True),)

    db.create_tables([OutboundEmail, Notification, NotificationPreference])


def down(migrator, db):
    for table in ('notification', 'notification_preference', 'outbound_email'):
        db.execute_sql(f'DROP TABLE {table}')
