"""Safe bulk updates: each import row's natural key (kept with its batch's outcomes), a table of what each
updated row changes field by field with its consequences, the job's count of consequences, and each mark's
last review (what the platform verified or rejected, so the queue shows what changed since).

Marks verified before this migration get their present values as the reviewed ones: they are the best
record of what was verified."""
import json

from peewee import *

REVIEWED = ('word', 'office', 'registration_number', 'nice_classes', 'registered_on', 'expires_on',
            'jurisdictions', 'proof_sha256')


def up(migrator, db):
    class Organization(Model):
        class Meta:
            database = db
            table_name = 'organization'

    class ImportJob(Model):
        class Meta:
            database = db
            table_name = 'import_job'

    class ImportRowChange(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        job = ForeignKeyField(ImportJob, on_delete='CASCADE')
        row = IntegerField()
        outcome = CharField(max_length=8)
        changes = TextField(default='[]')
        consequences = CharField(max_length=200, default='')

        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'import_row_change'
            indexes = ((('job', 'row'), True),)

    migrator.migrate(
        migrator.add_column('import_outcomes', 'keys', TextField(default='')),
        migrator.add_column('import_job', 'consequences', TextField(default='')),
        migrator.add_column('mark', 'last_review', TextField(default='')),
    )
    db.create_tables([ImportRowChange])
    columns = ', '.join(REVIEWED)
    cursor = db.execute_sql(f"SELECT id, status, reviewed_at, {columns} FROM mark "
                            "WHERE status IN ('verified', 'rejected')")
    for mark_id, status, reviewed_at, *values in list(cursor):
        review = {'decision': status, 'at': str(reviewed_at) if reviewed_at else None,
                  'values': {name: (None if value in (None, '') else str(value))
                             for name, value in zip(REVIEWED, values)}}
        db.execute_sql(f"UPDATE mark SET last_review = {db.param} WHERE id = {db.param}",
                       (json.dumps(review, sort_keys=True), mark_id))


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS import_row_change')
    migrator.migrate(
        migrator.drop_column('mark', 'last_review'),
        migrator.drop_column('import_job', 'consequences'),
        migrator.drop_column('import_outcomes', 'keys'),
    )
