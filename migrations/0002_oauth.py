"""OAuth 2.0: clients, authorization codes and tokens (secrets stored only as SHA-256 digests).

Frozen copies of the models as they were when this migration was written; referenced tables are
declared with just enough to point foreign keys at them.
"""
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

    class OAuthClient(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        client_id = CharField(unique=True, max_length=64)
        name = CharField(max_length=120)
        public = BooleanField(default=False)
        secret_hash = CharField(max_length=64, null=True)
        secret_hint = CharField(max_length=8, default='')
        grant_types = CharField(max_length=200)
        redirect_uris = TextField(default='')
        scope = TextField()
        created_by = ForeignKeyField(User, null=True, on_delete='RESTRICT')
        created_at = DateTimeField()
        secret_rotated_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)
        last_used_at = DateTimeField(null=True)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'oauth_client'

    class AuthorizationCode(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        client = ForeignKeyField(OAuthClient, on_delete='CASCADE')
        user = ForeignKeyField(User, on_delete='CASCADE')
        code_hash = CharField(unique=True, max_length=64)
        redirect_uri = TextField()
        scope = TextField()
        code_challenge = CharField(max_length=128)
        code_challenge_method = CharField(max_length=8)
        family = CharField(max_length=36)
        created_at = DateTimeField()
        expires_at = DateTimeField()
        used_at = DateTimeField(null=True)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'authorization_code'

    class Token(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        client = ForeignKeyField(OAuthClient, on_delete='CASCADE')
        user = ForeignKeyField(User, null=True, on_delete='CASCADE')
        grant_type = CharField(max_length=32)
        family = CharField(max_length=36, index=True)
        access_token_hash = CharField(unique=True, max_length=64)
        refresh_token_hash = CharField(unique=True, max_length=64, null=True)
        scope = TextField()
        issued_at = DateTimeField()
        expires_in = IntegerField()
        refresh_expires_at = DateTimeField(null=True)
        refresh_used_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'token'

    db.create_tables([OAuthClient, AuthorizationCode, Token])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('token'))
    migrator.migrate(migrator.drop_table('authorization_code'))
    migrator.migrate(migrator.drop_table('oauth_client'))
