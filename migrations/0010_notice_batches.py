"""Notice batches (issue 19): a batch's defaults, options and Idempotency-Key (keyed by its import job), its
staged listings with the planned notice each belongs to, and the planned notices with the notice filed for
each, so a resumed batch files nothing twice."""
from peewee import *


def up(migrator, db):
    def table(name):
        class Meta:
            database = db
            table_name = name
        return type(name.title().replace('_', ''), (Model,), {'Meta': Meta})

    Organization, ImportJob, Partnership, Marketplace, Notice = (
        table('organization'), table('import_job'), table('partnership'), table('marketplace'), table('notice'))

    class NoticeBatch(Model):
        job = ForeignKeyField(ImportJob, primary_key=True, backref='+', on_delete='CASCADE')
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        partnership = ForeignKeyField(Partnership, null=True, on_delete='RESTRICT')
        marketplace = CharField(max_length=64, default='')
        reason_code = CharField(max_length=32, default='')
        marks = TextField(default='')
        explanation = TextField(default='')
        test_buy_ref = CharField(max_length=200, default='')
        good_faith_statement = TextField()
        confirm_jurisdiction = BooleanField(default=False)
        group_by_seller = BooleanField(default=False)
        source = CharField(max_length=8, default='file')
        idempotency_key = CharField(max_length=255, null=True)
        request_sha256 = CharField(max_length=64, default='')
        outcome = CharField(max_length=16, default='')
        stop_reason = TextField(default='')
        planned_at = DateTimeField(null=True)
        notices_planned = IntegerField(default=0)
        notices_filed = IntegerField(default=0)
        notices_not_filed = IntegerField(default=0)
        created_at = DateTimeField()

        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'notice_batch'
            indexes = ((('org', 'idempotency_key'), True),)

    class PlannedNotice(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        batch = ForeignKeyField(NoticeBatch, on_delete='CASCADE')
        number = IntegerField()
        partnership = ForeignKeyField(Partnership, on_delete='RESTRICT')
        marketplace = ForeignKeyField(Marketplace, on_delete='RESTRICT')
        reason_code = CharField(max_length=32)
        marks = TextField()
        seller_id = CharField(max_length=200, null=True)
        explanation = TextField()
        test_buy_ref = CharField(max_length=200, default='')
        part = IntegerField(default=1)
        parts = IntegerField(default=1)
        listing_count = IntegerField()
        status = CharField(max_length=16, default='planned')
        notice = ForeignKeyField(Notice, null=True, on_delete='SET NULL')
        skipped = IntegerField(default=0)
        reason = TextField(default='')
        filed_at = DateTimeField(null=True)

        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'planned_notice'
            indexes = ((('batch', 'number'), True),)

    class NoticeBatchRow(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        batch = ForeignKeyField(NoticeBatch, on_delete='CASCADE')
        row = IntegerField()
        url = TextField()
        url_key = CharField(max_length=255)
        seller_id = CharField(max_length=200, default='')
        title = CharField(max_length=500, default='')
        marketplace = ForeignKeyField(Marketplace, on_delete='RESTRICT')
        partnership = ForeignKeyField(Partnership, on_delete='RESTRICT')
        reason_code = CharField(max_length=32)
        marks = TextField()
        explanation = TextField(default='')
        test_buy_ref = CharField(max_length=200, default='')
        group_key = CharField(max_length=64)
        planned = ForeignKeyField(PlannedNotice, null=True, on_delete='SET NULL')
        outcome = CharField(max_length=16, default='')
        note = TextField(default='')

        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'notice_batch_row'
            indexes = ((('batch', 'row'), True), (('batch', 'group_key', 'row'), False), (('planned', 'row'), False))

    db.create_tables([NoticeBatch, PlannedNotice, NoticeBatchRow])


def down(migrator, db):
    for name in ('notice_batch_row', 'planned_notice', 'notice_batch'):
        db.execute_sql(f'DROP TABLE IF EXISTS {name}')
