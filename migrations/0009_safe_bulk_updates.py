"""Safe bulk updates: each import row's natural key (kept with its batch's outcomes), a table of what each
updated row changes field by field with its consequences, the job's count of consequences, and each mark's
last review (what the platform verified or rejected, so the queue shows what changed since).

Marks a platform decided on before this migration (verified or rejected, and expired ones it had
reviewed) get their present values as the reviewed ones: they are the best record of what was reviewed.
An expired mark's decision is unknown; it is kept as "verified", the only decision notices rely on."""
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
    # The marks a platform decided on (verified or rejected; expired since, if reviewed before), a page at a
    # time: a large registry is neither held in memory nor written one statement per mark.
    columns = ', '.join(f'm.{name}' for name in REVIEWED)
    last_id = 0
    while True:
        rows = list(db.execute_sql(
            f"SELECT m.id, m.status, m.reviewed_at, o.name, {columns} FROM mark m "
            "LEFT JOIN organization o ON o.id = m.reviewed_by_org_id "
            f"WHERE m.id > {db.param} AND (m.status IN ('verified', 'rejected') "
            "OR (m.status = 'expired' AND m.reviewed_at IS NOT NULL)) ORDER BY m.id LIMIT 1000", (last_id,)))
        if not rows:
            break
        updates = []
        for mark_id, status, reviewed_at, platform, *values in rows:
            review = {'decision': 'verified' if status == 'expired' else status,
                      'at': str(reviewed_at) if reviewed_at else None, 'by_org': platform,
                      'values': {name: (None if value in (None, '') else str(value))
                                 for name, value in zip(REVIEWED, values)}}
            updates.append((json.dumps(review, sort_keys=True), mark_id))
        with db.atomic():
            db.cursor().executemany(f"UPDATE mark SET last_review = {db.param} WHERE id = {db.param}", updates)
        last_id = rows[-1][0]


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS import_row_change')
    migrator.migrate(
        migrator.drop_column('mark', 'last_review'),
        migrator.drop_column('import_job', 'consequences'),
        migrator.drop_column('import_outcomes', 'keys'),
    )
