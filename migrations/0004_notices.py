"""Partnerships with versioned terms (SLA policy), takedown notices with their items, transitions and
evidence, and the SLA clocks of each item.

The partnership table gains its status reason, date and the org that changed it; its (brand, platform) index is no
longer unique (a brand may propose again after a partnership ended). Partnerships created before this
migration (active, by the CLI or demo) get version 1 of default terms: every marketplace of the platform,
24 h to acknowledge and 72 h to act (4 h / 24 h on the fast lane), Mon-Fri 09:00-17:00 in the platform's
time zone.
"""
import datetime

from peewee import *


def up(migrator, db):
    class Organization(Model):
        slug = CharField()
        timezone = CharField()
        class Meta:
            database = db
            table_name = 'organization'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Marketplace(Model):
        org = ForeignKeyField(Organization)
        slug = CharField()
        class Meta:
            database = db
            table_name = 'marketplace'

    class Mark(Model):
        class Meta:
            database = db
            table_name = 'mark'

    class Partnership(Model):
        brand = ForeignKeyField(Organization, on_delete='RESTRICT')
        platform = ForeignKeyField(Organization, on_delete='RESTRICT')
        status = CharField(max_length=16, default='proposed')
        created_at = DateTimeField()
        status_reason = TextField(default='')
        status_changed_at = DateTimeField(null=True)
        status_changed_by = ForeignKeyField(Organization, null=True, on_delete='RESTRICT')
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'partnership'

    migrator.migrate(
        migrator.add_column('partnership', 'status_reason', TextField(default='')),
        migrator.add_column('partnership', 'status_changed_at', DateTimeField(null=True)),
        migrator.add_column('partnership', 'status_changed_by_id',
                            ForeignKeyField(Organization, null=True, on_delete='RESTRICT', field=Organization.id)),
        migrator.drop_index('partnership', 'partnership_brand_id_platform_id'),
        migrator.add_index('partnership', ('brand_id', 'platform_id'), False),
    )

    class Terms(Model):
        partnership = ForeignKeyField(Partnership, on_delete='CASCADE')
        version = IntegerField()
        state = CharField(max_length=16, default='pending')
        proposed_by_org = ForeignKeyField(Organization, on_delete='RESTRICT')
        proposed_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        proposed_at = DateTimeField()
        decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        decided_at = DateTimeField(null=True)
        note = TextField(default='')
        effective_from = DateField()
        effective_to = DateField(null=True)
        marketplaces = TextField(default='')
        ack_minutes = IntegerField()
        action_minutes = IntegerField()
        fast_ack_minutes = IntegerField()
        fast_action_minutes = IntegerField()
        always_open = BooleanField(default=False)
        timezone = CharField(max_length=64, default='UTC')
        working_days = CharField(max_length=16, default='0;1;2;3;4')
        opens = CharField(max_length=5, default='09:00')
        closes = CharField(max_length=5, default='17:00')
        holidays = TextField(default='')
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'terms'
            indexes = ((('partnership', 'version'), True),)

    class Notice(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        platform = ForeignKeyField(Organization, on_delete='RESTRICT')
        partnership = ForeignKeyField(Partnership, on_delete='RESTRICT')
        terms = ForeignKeyField(Terms, on_delete='RESTRICT')
        marketplace = ForeignKeyField(Marketplace, on_delete='RESTRICT')
        reason_code = CharField(max_length=32)
        explanation = TextField()
        test_buy_ref = CharField(max_length=200, default='')
        good_faith_statement = TextField()
        jurisdiction_confirmed = BooleanField(default=False)
        fast_lane = BooleanField(default=False)
        filed_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        filed_at = DateTimeField()
        item_count = IntegerField(default=0)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'notice'
            indexes = ((('org', 'filed_at'), False), (('platform', 'filed_at'), False))

    class NoticeMark(Model):
        notice = ForeignKeyField(Notice, on_delete='CASCADE')
        mark = ForeignKeyField(Mark, on_delete='RESTRICT')
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'notice_mark'
            indexes = ((('notice', 'mark'), True),)

    class Evidence(Model):
        notice = ForeignKeyField(Notice, on_delete='CASCADE')
        name = CharField(max_length=200)
        path = CharField(max_length=64)
        sha256 = CharField(max_length=64)
        size = IntegerField()
        content_type = CharField(max_length=64)
        uploaded_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        uploaded_at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'evidence'

    class NoticeItem(Model):
        notice = ForeignKeyField(Notice, on_delete='CASCADE')
        brand = ForeignKeyField(Organization, on_delete='RESTRICT')
        platform = ForeignKeyField(Organization, on_delete='RESTRICT')
        marketplace = ForeignKeyField(Marketplace, on_delete='RESTRICT')
        position = IntegerField()
        url = TextField()
        url_key = CharField(max_length=255)
        seller_id = CharField(max_length=200, default='')
        title = CharField(max_length=500, default='')
        state = CharField(max_length=20, default='submitted')
        state_changed_at = DateTimeField()
        due_at = DateTimeField(null=True)
        breached = BooleanField(default=False)
        decision = CharField(max_length=16, default='')
        decided_at = DateTimeField(null=True)
        counter_outcome = CharField(max_length=16, default='')
        counter_decided_at = DateTimeField(null=True)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'notice_item'
            indexes = ((('brand', 'url_key'), False), (('platform', 'state', 'due_at'), False),
                       (('notice', 'position'), True), (('brand', 'decided_at'), False))

    class Transition(Model):
        item = ForeignKeyField(NoticeItem, on_delete='CASCADE')
        from_state = CharField(max_length=20)
        to_state = CharField(max_length=20)
        reason = TextField(default='')
        redress = TextField(default='')
        actor = ForeignKeyField(User, null=True, on_delete='SET NULL')
        actor_org = ForeignKeyField(Organization, on_delete='RESTRICT')
        at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'transition'
            indexes = ((('item', 'at'), False),)

    class SlaClock(Model):
        item = ForeignKeyField(NoticeItem, on_delete='CASCADE')
        metric = CharField(max_length=16)
        target_minutes = IntegerField()
        calendar = TextField()
        started_at = DateTimeField()
        deadline = DateTimeField()
        warn_at = DateTimeField()
        stage = CharField(max_length=16, default='running')
        paused_at = DateTimeField(null=True)
        paused_seconds = IntegerField(default=0)
        remaining_seconds = IntegerField(null=True)
        stopped_at = DateTimeField(null=True)
        breached = BooleanField(default=False)
        warned_at = DateTimeField(null=True)
        breach_emitted_at = DateTimeField(null=True)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'sla_clock'
            indexes = ((('item', 'metric'), True), (('stage', 'deadline'), False), (('stage', 'warn_at'), False))

    db.create_tables([Terms, Notice, NoticeMark, Evidence, NoticeItem, Transition, SlaClock])

    # Default terms, in force, for the partnerships that existed before terms did.
    now = datetime.datetime.utcnow()
    for partnership in Partnership.select():
        platform = Organization.get_by_id(partnership.platform_id)
        slugs = [m.slug for m in Marketplace.select().where(Marketplace.org == platform.id).order_by(Marketplace.slug)]
        Terms.create(partnership=partnership.id, version=1, state='in_force', proposed_by_org=partnership.brand_id,
                     proposed_at=now, decided_at=now, effective_from=partnership.created_at.date(),
                     marketplaces=';'.join(slugs), ack_minutes=24 * 60, action_minutes=72 * 60,
                     fast_ack_minutes=4 * 60, fast_action_minutes=24 * 60, timezone=platform.timezone or 'UTC')
        Partnership.update(status_changed_at=partnership.created_at).where(
            Partnership.id == partnership.id).execute()


def down(migrator, db):
    for table in ('sla_clock', 'transition', 'notice_item', 'evidence', 'notice_mark', 'notice', 'terms'):
        migrator.migrate(migrator.drop_table(table))
    migrator.migrate(
        migrator.drop_index('partnership', 'partnership_brand_id_platform_id'),
        migrator.add_index('partnership', ('brand_id', 'platform_id'), True),
        migrator.drop_column('partnership', 'status_reason'),
        migrator.drop_column('partnership', 'status_changed_at'),
        migrator.drop_column('partnership', 'status_changed_by_id'),
    )
