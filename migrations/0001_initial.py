"""Accounts, tenancy and the audit log: the foundation schema.

Frozen copies of the models as they were when this migration was written (playhouse.migrations style):
later model changes get their own numbered migration and never edit this one. Column defaults such as
created_at are applied by the models in Python, so they are not repeated here.
"""
from peewee import *

GENESIS_HASH = "0" * 64


def up(migrator, db):
    class Organization(Model):
        slug = CharField(unique=True, max_length=64)
        name = CharField(max_length=200)
        kind = CharField(max_length=16)
        timezone = CharField(max_length=64, default='UTC')
        created_at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'organization'
    db.create_tables([Organization])

    class User(Model):
        email = CharField(unique=True, max_length=254)
        name = CharField(max_length=200, default='')
        password_hash = CharField()
        active = BooleanField(default=True)
        created_at = DateTimeField()
        last_login_at = DateTimeField(null=True)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'user'
    db.create_tables([User])

    class AuditEvent(Model):
        seq = BigIntegerField(unique=True)
        created_at = DateTimeField()
        org = ForeignKeyField(Organization, null=True, on_delete='RESTRICT')
        actor = ForeignKeyField(User, null=True, on_delete='RESTRICT')
        actor_label = CharField(max_length=254)
        action = CharField(max_length=64)
        object_type = CharField(max_length=64, default='')
        object_id = CharField(max_length=64, default='')
        change = TextField(default='{}')
        prev_hash = CharField(max_length=64)
        hash = CharField(max_length=64)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'audit_event'
            indexes = ((('org', 'seq'), False),)
    db.create_tables([AuditEvent])

    class AuditHead(Model):
        id = IntegerField(primary_key=True)
        seq = BigIntegerField(default=0)
        hash = CharField(max_length=64, default=GENESIS_HASH)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'audit_head'
    db.create_tables([AuditHead])
    # The head row exists from the start: every audited write updates it first, which is the lock that
    # keeps the hash chain linear under concurrent writers.
    AuditHead.create(id=1, seq=0, hash=GENESIS_HASH)

    class Invitation(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        email = CharField(max_length=254)
        role = CharField(max_length=16)
        token_hash = CharField(unique=True, max_length=64)
        invited_by = ForeignKeyField(User, null=True, on_delete='RESTRICT')
        created_at = DateTimeField()
        expires_at = DateTimeField()
        accepted_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'invitation'
    db.create_tables([Invitation])

    class Marketplace(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        slug = CharField(unique=True, max_length=64)
        name = CharField(max_length=200)
        country = CharField(null=True, max_length=2)
        created_at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'marketplace'
    db.create_tables([Marketplace])

    class Membership(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        user = ForeignKeyField(User, on_delete='RESTRICT')
        role = CharField(max_length=16)
        active = BooleanField(default=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'membership'
            indexes = ((('user', 'org'), True),)
    db.create_tables([Membership])

    class UserSession(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        token_hash = CharField(unique=True, max_length=64)
        org = ForeignKeyField(Organization, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        last_seen_at = DateTimeField()
        ended_at = DateTimeField(null=True)
        ip_address = CharField(max_length=64, default='')
        user_agent = CharField(default='')
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'user_session'
    db.create_tables([UserSession])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('user_session'))
    migrator.migrate(migrator.drop_table('membership'))
    migrator.migrate(migrator.drop_table('marketplace'))
    migrator.migrate(migrator.drop_table('invitation'))
    migrator.migrate(migrator.drop_table('audit_head'))
    migrator.migrate(migrator.drop_table('audit_event'))
    migrator.migrate(migrator.drop_table('user'))
    migrator.migrate(migrator.drop_table('organization'))
