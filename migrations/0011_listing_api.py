"""The listing-level API (issue 20): a listing's assignee (the platform analyst who claimed it) and when, and
the answers kept for an Idempotency-Key (24 hours) so a repeated bulk call is not applied twice."""
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

    class IdempotentRequest(Model):
        org = ForeignKeyField(Organization, on_delete='CASCADE')
        operation = CharField(max_length=64)
        key = CharField(max_length=255)
        request_sha256 = CharField(max_length=64)
        status = IntegerField(default=0)
        body = TextField(default='')
        created_at = DateTimeField()

        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'idempotent_request'
            indexes = ((('org', 'operation', 'key'), True), (('created_at',), False))

    migrator.migrate(
        migrator.add_column('notice_item', 'assignee_id',
                            ForeignKeyField(User, null=True, on_delete='SET NULL', field=User.id)),
        migrator.add_column('notice_item', 'assigned_at', DateTimeField(null=True)),
    )
    db.create_tables([IdempotentRequest])


def down(migrator, db):
    db.execute_sql('DROP TABLE idempotent_request')
    migrator.migrate(
        migrator.drop_column('notice_item', 'assigned_at'),
        migrator.drop_column('notice_item', 'assignee_id'),
    )
