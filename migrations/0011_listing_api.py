"""The listing-level API (issue 20): a listing's assignee (the platform analyst who claimed it) and when, and
the answers kept for an Idempotency-Key (24 hours) so a repeated bulk call is not applied twice, and the
platforms' ground templates (statements of reasons and questions kept for reuse)."""
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

    Partnership = type('Partnership', (Model,), {'Meta': type('Meta', (), {'database': db,
                                                                          'table_name': 'partnership'})})

    class GroundTemplate(Model):
        org = ForeignKeyField(Organization, on_delete='CASCADE')
        partnership = ForeignKeyField(Partnership, null=True, on_delete='CASCADE')
        move = CharField(max_length=20)
        title = CharField(max_length=100)
        text = TextField()
        redress = TextField(default='')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        updated_at = DateTimeField()

        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'ground_template'
            indexes = ((('org', 'move'), False),)

    migrator.migrate(
        migrator.add_column('notice_item', 'assignee_id',
                            ForeignKeyField(User, null=True, on_delete='SET NULL', field=User.id)),
        migrator.add_column('notice_item', 'assigned_at', DateTimeField(null=True)),
    )
    db.create_tables([IdempotentRequest, GroundTemplate])


def down(migrator, db):
    db.execute_sql('DROP TABLE ground_template')
    db.execute_sql('DROP TABLE idempotent_request')
    migrator.migrate(
        migrator.drop_column('notice_item', 'assigned_at'),
        migrator.drop_column('notice_item', 'assignee_id'),
    )
