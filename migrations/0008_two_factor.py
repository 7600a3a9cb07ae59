"""Two-factor authentication: each user's TOTP key (encrypted under a key derived from SECRET_KEY), when it
was switched on, the last time step used (a code works once) and the digests of unused recovery codes; and
the organization setting that makes it mandatory for the org's members."""
from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('user', 'two_factor_secret', TextField(null=True)),
        migrator.add_column('user', 'two_factor_enabled_at', DateTimeField(null=True)),
        migrator.add_column('user', 'two_factor_last_step', BigIntegerField(null=True)),
        migrator.add_column('user', 'recovery_code_hashes', TextField(default='')),
        migrator.add_column('organization', 'two_factor_required', BooleanField(default=False)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('organization', 'two_factor_required'),
        migrator.drop_column('user', 'recovery_code_hashes'),
        migrator.drop_column('user', 'two_factor_last_step'),
        migrator.drop_column('user', 'two_factor_enabled_at'),
        migrator.drop_column('user', 'two_factor_secret'),
    )
