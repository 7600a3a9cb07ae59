"""Flagged-seller intelligence: sellers, flags with their sharing group, identifiers, evidence and linked
notices, sightings, strikes, authorized sellers and listing screenings. Import jobs gain a kind (marks or
flags), since bulk flagging runs through the same import service.

Strikes are derived from notice items: removals made before this migration are replayed into strikes
(and repeat-infringer marks) by `flask --app wsgi intel rebuild-strikes`, to run once after upgrading.
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

    class Marketplace(Model):
        class Meta:
            database = db
            table_name = 'marketplace'

    class Notice(Model):
        class Meta:
            database = db
            table_name = 'notice'

    class NoticeItem(Model):
        class Meta:
            database = db
            table_name = 'notice_item'

    class Seller(Model):
        marketplace = ForeignKeyField(Marketplace, on_delete='RESTRICT')
        external_id = CharField(max_length=200)
        created_at = DateTimeField()
        repeat_infringer_at = DateTimeField(null=True)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'seller'
            indexes = ((('marketplace', 'external_id'), True),)

    class Flag(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        seller = ForeignKeyField(Seller, on_delete='RESTRICT')
        category = CharField(max_length=32)
        confidence = CharField(max_length=8)
        tlp = CharField(max_length=16)
        distribution = CharField(max_length=8)
        show_group = BooleanField(default=False)
        display_name = CharField(max_length=200, default='')
        shop_url = TextField(default='')
        notes = TextField(default='')
        status = CharField(max_length=10, default='active')
        withdrawn_reason = TextField(default='')
        withdrawn_at = DateTimeField(null=True)
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'flag'
            indexes = ((('org', 'seller'), False), (('seller', 'status'), False), (('distribution', 'status'), False))

    class FlagShare(Model):
        flag = ForeignKeyField(Flag, on_delete='CASCADE')
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'flag_share'
            indexes = ((('flag', 'org'), True), (('org', 'flag'), False))

    class FlagIdentifier(Model):
        flag = ForeignKeyField(Flag, on_delete='CASCADE')
        kind = CharField(max_length=16)
        value = CharField(max_length=254)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'flag_identifier'
            indexes = ((('kind', 'value'), False), (('flag', 'kind', 'value'), True))

    class FlagEvidence(Model):
        flag = ForeignKeyField(Flag, on_delete='CASCADE')
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
            table_name = 'flag_evidence'

    class FlagNotice(Model):
        flag = ForeignKeyField(Flag, on_delete='CASCADE')
        notice = ForeignKeyField(Notice, on_delete='CASCADE')
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'flag_notice'
            indexes = ((('flag', 'notice'), True),)

    class Sighting(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        flag = ForeignKeyField(Flag, on_delete='CASCADE')
        kind = CharField(max_length=16)
        note = TextField(default='')
        listing_url = TextField(default='')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'sighting'
            indexes = ((('flag', 'created_at'), False), (('org', 'created_at'), False))

    class Strike(Model):
        seller = ForeignKeyField(Seller, on_delete='RESTRICT')
        notice = ForeignKeyField(Notice, on_delete='RESTRICT')
        item = ForeignKeyField(NoticeItem, on_delete='RESTRICT')
        listings = IntegerField(default=1)
        at = DateTimeField()
        voided_at = DateTimeField(null=True)
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'strike'
            indexes = ((('seller', 'notice'), True), (('seller', 'at'), False))

    class AuthorizedSeller(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        marketplace = ForeignKeyField(Marketplace, on_delete='RESTRICT')
        external_id = CharField(max_length=200)
        note = CharField(max_length=500, default='')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'authorized_seller'
            indexes = ((('org', 'marketplace', 'external_id'), True),)

    class Screening(Model):
        org = ForeignKeyField(Organization, on_delete='RESTRICT')
        source = CharField(max_length=16)
        filename = CharField(max_length=200, default='')
        listings = IntegerField(default=0)
        hit_count = IntegerField(default=0)
        authorized_skipped = IntegerField(default=0)
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'screening'
            indexes = ((('org', 'created_at'), False),)

    class ScreeningHit(Model):
        screening = ForeignKeyField(Screening, on_delete='CASCADE')
        row = IntegerField()
        marketplace = ForeignKeyField(Marketplace, on_delete='RESTRICT')
        url = TextField()
        title = CharField(max_length=500)
        price = CharField(max_length=64, default='')
        seller_id = CharField(max_length=200, default='')
        score = FloatField()
        words = CharField(max_length=500)
        mark_ids = TextField()
        indicators = CharField(max_length=500, default='')
        disguised = BooleanField(default=False)
        reason = TextField()
        notice = ForeignKeyField(Notice, null=True, on_delete='SET NULL')
        class Meta:
            database = db
            legacy_table_names = False
            table_name = 'screening_hit'
            indexes = ((('screening', 'row'), True),)

    db.create_tables([Seller, Flag, FlagShare, FlagIdentifier, FlagEvidence, FlagNotice, Sighting, Strike,
                      AuthorizedSeller, Screening, ScreeningHit])
    migrator.migrate(
        migrator.add_column('import_job', 'kind', CharField(max_length=16, default='marks')),
        migrator.drop_index('import_job', 'import_job_org_id_created_at'),
        migrator.add_index('import_job', ('org_id', 'kind', 'created_at'), False),
    )


def down(migrator, db):
    for table in ('screening_hit', 'screening', 'authorized_seller', 'strike', 'sighting', 'flag_notice',
                  'flag_evidence', 'flag_identifier', 'flag_share', 'flag', 'seller'):
        migrator.migrate(migrator.drop_table(table))
    migrator.migrate(
        migrator.drop_index('import_job', 'import_job_org_id_kind_created_at'),
        migrator.add_index('import_job', ('org_id', 'created_at'), False),
        migrator.drop_column('import_job', 'kind'),
    )
