"""Marks registry: partnerships (the minimum the registry needs), marks, and bulk import jobs with their
per-row errors and outcomes.

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

    class Partnership(Model):
        brand = ForeignKeyField(Organization, on_delete='RESTRICT')
        platform = ForeignKeyField(Organization, on_delete='RESTRICT')
        status = CharField(max_length=16, default='active')
        created_at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'partnership'
            indexes = ((('brand', 'platform'), True),)

    class Mark(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        word = CharField(max_length=200)
        office = CharField(max_length=16)
        registration_number = CharField(max_length=32)
        nice_classes = CharField(max_length=200)
        registered_on = DateField(null=True)
        expires_on = DateField(null=True)
        jurisdictions = TextField(default='')
        status = CharField(max_length=16, default='pending')
        status_reason = TextField(default='')
        reviewed_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        reviewed_by_org = ForeignKeyField(Organization, null=True, on_delete='SET NULL')
        reviewed_at = DateTimeField(null=True)
        proof_name = CharField(max_length=200, default='')
        proof_path = CharField(max_length=64, default='')
        proof_sha256 = CharField(max_length=64, default='')
        proof_size = IntegerField(default=0)
        proof_type = CharField(max_length=64, default='')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'mark'
            indexes = ((('org', 'office', 'registration_number'), True), (('org', 'status'), False),
                       (('status', 'expires_on'), False))

    class ImportJob(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_by_label = CharField(max_length=254, default='')
        filename = CharField(max_length=255)
        file_format = CharField(max_length=8)
        encoding = CharField(max_length=32, default='')
        file_size = IntegerField()
        file_sha256 = CharField(max_length=64)
        stored_path = CharField(max_length=64, default='')
        dry_run = BooleanField(default=False)
        status = CharField(max_length=16, default='queued')
        total_rows = IntegerField(null=True)
        last_row = IntegerField(default=0)
        created = IntegerField(default=0)
        updated = IntegerField(default=0)
        unchanged = IntegerField(default=0)
        error_rows = IntegerField(default=0)
        warnings = TextField(default='')
        failure = TextField(default='')
        applied_from = ForeignKeyField('self', null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        started_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)
        heartbeat_at = DateTimeField(null=True)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'import_job'
            indexes = ((('org', 'created_at'), False),)

    class ImportRowError(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        job = ForeignKeyField(ImportJob, on_delete='CASCADE')
        row = IntegerField()
        column = CharField(max_length=64, default='')
        code = CharField(max_length=32)
        level = CharField(max_length=8, default='error')
        message = TextField()
        value = TextField(default='')
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'import_row_error'
            indexes = ((('job', 'row'), False),)

    class ImportOutcomes(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        job = ForeignKeyField(ImportJob, on_delete='CASCADE')
        first_row = IntegerField()
        codes = TextField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'import_outcomes'
            indexes = ((('job', 'first_row'), True),)

    db.create_tables([Partnership, Mark, ImportJob, ImportRowError, ImportOutcomes])


def down(migrator, db):
    for table in ('import_outcomes', 'import_row_error', 'import_job', 'mark', 'partnership'):
        migrator.migrate(migrator.drop_table(table))
