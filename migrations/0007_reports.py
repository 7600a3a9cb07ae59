"""Weekly reports: the snapshot of each org's closed weeks, the receipts of shared flags (who received
which flag when; existing flags count as received by their present audience when they were raised), and
the indexes the report queries read by (an org's transitions and clocks by time, items by state and by
when their state last changed). Transitions and clocks get their item's brand and platform (copied, as
items copy their notice's)."""
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
    # Transitions and clocks carry their item's brand and platform, so a report reads one org's week by index.
    for table in ('transition', 'sla_clock'):
        migrator.migrate(
            migrator.add_column(table, 'brand_id', ForeignKeyField(Organization, null=True, on_delete='RESTRICT',
                                                                   field=Organization.id)),
            migrator.add_column(table, 'platform_id', ForeignKeyField(Organization, null=True, on_delete='RESTRICT',
                                                                      field=Organization.id)),
        )
        db.execute_sql(f"UPDATE {table} SET brand_id = (SELECT brand_id FROM notice_item WHERE notice_item.id = "
                       f"{table}.item_id), platform_id = (SELECT platform_id FROM notice_item WHERE "
                       f"notice_item.id = {table}.item_id)")
        migrator.migrate(migrator.add_not_null(table, 'brand_id'), migrator.add_not_null(table, 'platform_id'))
    migrator.migrate(
        migrator.add_index('notice_item', ('brand_id', 'state'), False),
        migrator.add_index('notice_item', ('brand_id', 'state_changed_at'), False),
        migrator.add_index('notice_item', ('platform_id', 'state_changed_at'), False),
        migrator.add_index('notice_item', ('brand_id', 'counter_decided_at'), False),
        migrator.add_index('transition', ('brand_id', 'at'), False),
        migrator.add_index('transition', ('platform_id', 'at'), False),
        migrator.add_index('sla_clock', ('brand_id', 'stage', 'stopped_at'), False),
        migrator.add_index('sla_clock', ('platform_id', 'stage', 'stopped_at'), False),
        migrator.add_index('sla_clock', ('brand_id', 'deadline'), False),
        migrator.add_index('sla_clock', ('platform_id', 'deadline'), False),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index('sla_clock', 'sla_clock_platform_id_deadline'),
        migrator.drop_index('sla_clock', 'sla_clock_brand_id_deadline'),
        migrator.drop_index('sla_clock', 'sla_clock_platform_id_stage_stopped_at'),
        migrator.drop_index('sla_clock', 'sla_clock_brand_id_stage_stopped_at'),
        migrator.drop_index('transition', 'transition_platform_id_at'),
        migrator.drop_index('transition', 'transition_brand_id_at'),
        migrator.drop_column('sla_clock', 'platform_id'),
        migrator.drop_column('sla_clock', 'brand_id'),
        migrator.drop_column('transition', 'platform_id'),
        migrator.drop_column('transition', 'brand_id'),
        migrator.drop_index('notice_item', 'notice_item_brand_id_counter_decided_at'),
        migrator.drop_index('notice_item', 'notice_item_platform_id_state_changed_at'),
        migrator.drop_index('notice_item', 'notice_item_brand_id_state_changed_at'),
        migrator.drop_index('notice_item', 'notice_item_brand_id_state'),
        migrator.drop_table('flag_receipt'),
        migrator.drop_table('weekly_report'),
    )
