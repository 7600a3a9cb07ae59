"""Weekly reports: the snapshot of each org's closed weeks, the receipts of shared flags (who received
which flag when; existing flags count as received by their present audience when they were raised), and
the indexes the report queries read by (transitions and clocks by time, items by state and by when their
state last changed)."""
from peewee import *


def up(migrator, db):
    class Organization(Model):
        class Meta:
            database = db
            table_name = 'organization'

    class WeeklyReport(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        week = CharField(max_length=8)
        starts_at = DateTimeField()
        ends_at = DateTimeField()
        body = TextField()
        sha256 = CharField(max_length=64)
        created_at = DateTimeField()

        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'weekly_report'
            indexes = ((('org', 'week'), True),)

    class Flag(Model):
        class Meta:
            database = db
            table_name = 'flag'

    class FlagReceipt(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        flag = ForeignKeyField(Flag, on_delete='CASCADE')
        at = DateTimeField()

        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'flag_receipt'
            indexes = ((('org', 'at'), False), (('flag', 'at'), False))

    db.create_tables([WeeklyReport, FlagReceipt])
    db.execute_sql(
        "INSERT INTO flag_receipt (org_id, flag_id, at) "
        "SELECT o.id, f.id, f.created_at FROM flag f JOIN organization o ON o.id <> f.org_id "
        "WHERE f.distribution = 'alliance' "
        "UNION ALL SELECT s.org_id, f.id, f.created_at FROM flag f JOIN flag_share s ON s.flag_id = f.id "
        "WHERE f.distribution = 'group' AND s.org_id <> f.org_id")
    migrator.migrate(
        migrator.add_index('notice_item', ('brand_id', 'state'), False),
        migrator.add_index('notice_item', ('brand_id', 'state_changed_at'), False),
        migrator.add_index('notice_item', ('platform_id', 'state_changed_at'), False),
        migrator.add_index('notice_item', ('brand_id', 'counter_decided_at'), False),
        migrator.add_index('transition', ('at',), False),
        migrator.add_index('sla_clock', ('stage', 'stopped_at'), False),
        migrator.add_index('sla_clock', ('deadline',), False),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index('sla_clock', 'sla_clock_deadline'),
        migrator.drop_index('sla_clock', 'sla_clock_stage_stopped_at'),
        migrator.drop_index('transition', 'transition_at'),
        migrator.drop_index('notice_item', 'notice_item_brand_id_counter_decided_at'),
        migrator.drop_index('notice_item', 'notice_item_platform_id_state_changed_at'),
        migrator.drop_index('notice_item', 'notice_item_brand_id_state_changed_at'),
        migrator.drop_index('notice_item', 'notice_item_brand_id_state'),
        migrator.drop_table('flag_receipt'),
        migrator.drop_table('weekly_report'),
    )
