"""Flagged-seller intelligence through its services: sharing rules, sightings, updates and withdrawal,
strikes and repeat infringers, linked sellers, bulk flagging through the import service."""
import io
from datetime import datetime, timedelta

import pytest

from portal.audit import AuditEvent, acting_as
from portal.errors import Conflict, Forbidden, NotFound, ValidationError
from portal.intel import services, sharing, strikes
from portal.intel.models import Flag, Seller, Sighting, Strike
from portal.notices.models import NoticeItem
from portal.notices.services import transition


@pytest.fixture
def alliance(world):
    """Louis Vuitton, Swarovski and Microsoft (brands) and Alibaba (platform, Taobao), everyone partnered."""
    alibaba = world.org("Alibaba", kind="platform")
    taobao = world.marketplace(alibaba, "Taobao")
    lv, swarovski, microsoft = world.org("Louis Vuitton"), world.org("Swarovski"), world.org("Microsoft")
    outsider = world.org("Lonely Brand")
    return dict(alibaba=alibaba, taobao=taobao, lv=lv, swarovski=swarovski, microsoft=microsoft, outsider=outsider)


def seen_by(org):
    return {flag.id for flag in sharing.visible_flags(org)}


@pytest.mark.parametrize("tlp,distribution", [("clear", "own"), ("red", "alliance"), ("amber+strict", "alliance")])
def test_contradicting_label_and_distribution_are_refused(app, world, alliance, tlp, distribution):
    with pytest.raises(ValidationError) as refused:
        world.flag(alliance["lv"], "shop-1", "taobao", tlp=tlp, distribution=distribution)
    assert "tlp" in refused.value.errors
    assert not Flag.select().exists() and not Seller.select().exists()


def test_group_needs_named_orgs_and_only_group_names_them(app, world, alliance):
    with pytest.raises(ValidationError) as refused:
        world.flag(alliance["lv"], "shop-1", "taobao", tlp="amber", distribution="group")
    assert "share_with" in refused.value.errors
    with pytest.raises(ValidationError):
        world.flag(alliance["lv"], "shop-1", "taobao", distribution="alliance", share_with=[alliance["swarovski"]])
    with pytest.raises(ValidationError) as unknown:
        world.flag(alliance["lv"], "shop-1", "taobao", tlp="amber", distribution="group", share_with=["nobody"])
    assert "nobody" in unknown.value.message


def test_each_distribution_reaches_exactly_its_audience(app, world, alliance):
    lv, swarovski, microsoft, alibaba = alliance["lv"], alliance["swarovski"], alliance["microsoft"], alliance["alibaba"]
    everyone = world.flag(lv, "shop-1", "taobao", tlp="green", distribution="alliance")
    own = world.flag(lv, "shop-2", "taobao", tlp="red", distribution="own")
    group = world.flag(microsoft, "shop-3", "taobao", tlp="amber", distribution="group", share_with=[alibaba])
    assert seen_by(lv) == {everyone.id, own.id}
    assert seen_by(swarovski) == {everyone.id}
    assert seen_by(alibaba) == {everyone.id, group.id}
    assert seen_by(microsoft) == {everyone.id, group.id}
    assert [o.slug for o in sharing.audience(group)] == sorted([microsoft.slug, alibaba.slug],
                                                               key=lambda s: {microsoft.slug: microsoft.id,
                                                                              alibaba.slug: alibaba.id}[s])
    with app.app_context():
        with pytest.raises(NotFound):
            sharing.get_visible_flag(group.id, lv)
        with pytest.raises(NotFound):
            sharing.get_visible_flag(own.id, swarovski)


def test_group_members_learn_each_other_only_when_the_owner_shows_them(app, world, alliance):
    lv, swarovski, microsoft = alliance["lv"], alliance["swarovski"], alliance["microsoft"]
    hidden = world.flag(lv, "shop-1", "taobao", tlp="amber", distribution="group", share_with=[swarovski, microsoft])
    shown = world.flag(lv, "shop-2", "taobao", tlp="amber", distribution="group", share_with=[swarovski, microsoft],
                       show_group=True)
    assert [o.slug for o in sharing.shared_with(hidden, swarovski)] == [swarovski.slug]
    assert {o.slug for o in sharing.shared_with(hidden, lv)} == {swarovski.slug, microsoft.slug}
    assert {o.slug for o in sharing.shared_with(shown, swarovski)} == {swarovski.slug, microsoft.slug}
    # Sightings follow: on the hidden group, Microsoft does not see Swarovski's (it would name a member).
    with acting_as("test"):
        for flag in (hidden, shown):
            services.add_sighting(flag, swarovski, {"kind": "seen", "note": "Selling fake crystals too."})
    visible_to_microsoft = {s.flag_id for s in sharing.visible_sightings(microsoft)}
    assert visible_to_microsoft == {shown.id}
    assert {s.flag_id for s in sharing.visible_sightings(lv)} == {hidden.id, shown.id}
    assert {s.flag_id for s in sharing.visible_sightings(swarovski)} == {hidden.id, shown.id}


def test_sightings_rules_and_audit(app, world, alliance):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    flag = world.flag(lv, "shop-1", "taobao")
    with acting_as("test"):
        with pytest.raises(Conflict):
            services.add_sighting(flag, lv, {"kind": "seen"})
        with pytest.raises(ValidationError):
            services.add_sighting(flag, swarovski, {"kind": "maybe"})
        with pytest.raises(ValidationError):
            services.add_sighting(flag, swarovski, {"kind": "seen", "listing_url": "not a url"})
        sighting = services.add_sighting(flag, swarovski, {"kind": "false_positive", "note": "Authorized reseller."})
    assert Sighting.select().count() == 1 and sighting.org_id == swarovski.id
    assert AuditEvent.for_org(lv).where(AuditEvent.action == "intel.sighting.added").exists()
    assert AuditEvent.for_org(swarovski).where(AuditEvent.action == "intel.sighting.added").exists()


def test_only_the_owner_updates_and_withdraws(app, world, alliance):
    lv, swarovski, microsoft = alliance["lv"], alliance["swarovski"], alliance["microsoft"]
    flag = world.flag(lv, "shop-1", "taobao", identifiers=[{"kind": "email", "value": "Fake@Shop.example"}])
    with app.app_context(), acting_as("test"):
        with pytest.raises(Forbidden):
            services.update_flag(flag, swarovski, {"confidence": "high"})
        # Narrowing the distribution takes the flag away from those no longer named.
        flag = services.update_flag(flag, lv, {"tlp": "amber", "distribution": "group", "share_with": ["microsoft"]})
        assert flag.id not in seen_by(swarovski) and flag.id in seen_by(microsoft)
        with pytest.raises(ValidationError):
            services.update_flag(flag, lv, {"tlp": "red", "distribution": "alliance"})
        assert Flag.get_by_id(flag.id).tlp == "amber"  # the refused change changed nothing
        flag = services.withdraw_flag(flag, lv, "Turned out to be an authorized reseller.")
        assert flag.status == "withdrawn" and flag.id in seen_by(microsoft)  # the audience learns it
        with pytest.raises(Conflict):
            services.update_flag(flag, lv, {"confidence": "high"})
        with pytest.raises(Conflict):
            services.add_sighting(flag, microsoft, {"kind": "seen"})
    actions = [e.action for e in AuditEvent.for_org(lv).order_by(AuditEvent.id)]
    assert actions.count("intel.flag.created") == 1 and "intel.flag.updated" in actions
    assert "intel.flag.withdrawn" in actions
    shared = AuditEvent.for_org(microsoft).where(AuditEvent.action == "intel.flag.shared").count()
    assert shared == 1  # when the group first named it


def test_one_active_flag_per_seller_and_org(app, world, alliance):
    world.flag(alliance["lv"], "shop-1", "taobao")
    with pytest.raises(Conflict):
        world.flag(alliance["lv"], " shop-1 ", "taobao")
    world.flag(alliance["swarovski"], "shop-1", "taobao")  # another org may flag the same seller
    assert Seller.select().count() == 1 and Flag.select().count() == 2


def test_identifiers_are_normalised(app, world, alliance):
    flag = world.flag(alliance["lv"], "shop-1", "taobao", identifiers={
        "email": "  Sales@Fake-Shop.Example ", "domain": "https://www.Fake-Shop.example/about",
        "payment": "PayPal Me/FakeShop", "phone": "+86 (138) 0013-8000"})
    values = services.identifiers_of([flag])[flag.id]
    assert values == [("domain", "fake-shop.example"), ("email", "sales@fake-shop.example"),
                      ("payment", "paypalme/fakeshop"), ("phone", "+8613800138000")]
    with pytest.raises(ValidationError):
        world.flag(alliance["lv"], "shop-2", "taobao", identifiers={"email": "not-an-address"})


def test_linked_sellers_only_through_visible_flags(app, world, alliance):
    lv, swarovski, microsoft = alliance["lv"], alliance["swarovski"], alliance["microsoft"]
    same_mail = {"email": "boss@fakes.example"}
    world.flag(lv, "shop-1", "taobao", identifiers=same_mail)
    world.flag(lv, "shop-2", "taobao", identifiers=same_mail)
    world.flag(microsoft, "shop-3", "taobao", tlp="red", distribution="own", identifiers=same_mail)
    shop1 = strikes.find_seller(alliance["taobao"].id, "shop-1")
    for viewer, expected in ((swarovski, {"shop-2"}), (lv, {"shop-2"}), (microsoft, {"shop-2", "shop-3"})):
        linked = services.linked_sellers(viewer, shop1)
        assert {link.seller.external_id for link in linked} == expected
        assert all(link.shared == [("email", "boss@fakes.example")] for link in linked)


def test_seller_profile_is_404_when_nothing_is_visible(app, world, alliance):
    world.flag(alliance["microsoft"], "shop-9", "taobao", tlp="red", distribution="own", display_name="Hidden Name")
    with app.app_context():
        with pytest.raises(NotFound):
            services.seller_profile(alliance["lv"], "taobao", "shop-9")
        with pytest.raises(NotFound):
            services.seller_profile(alliance["lv"], "taobao", "never-heard-of")
        profile = services.seller_profile(alliance["microsoft"], "taobao", "shop-9")
    assert profile.names == ["Hidden Name"]


def _remove(app, item, platform, at):
    with app.app_context(), acting_as("test"):
        return transition(item, platform, "removed", reason="Counterfeit confirmed.", now=at)


def test_four_strikes_within_a_year_make_a_repeat_infringer(app, world, alliance):
    lv, alibaba = alliance["lv"], alliance["alibaba"]
    partnership = world.partnership(lv, alibaba)
    start = datetime.utcnow().replace(microsecond=0) + timedelta(days=1)  # terms start today
    notices = []
    for n in range(4):
        filed_at = start + timedelta(days=60 * n)
        urls = [(f"https://item.taobao.com/item.htm?id={n}{k}", "bad-shop") for k in range(2)]
        notices.append(world.notice(lv, partnership, urls, now=filed_at).notice)
    for n, notice in enumerate(notices):
        for item in list(NoticeItem.select().where(NoticeItem.notice == notice)):
            _remove(app, item, alibaba, start + timedelta(days=60 * n, hours=2))
        seller = strikes.find_seller(alliance["taobao"].id, "bad-shop")
        assert Strike.select().where(Strike.seller == seller).count() == n + 1  # one per notice, not per listing
        assert (seller.repeat_infringer_at is not None) == (n == 3)
    assert seller.repeat_infringer_at == start + timedelta(days=180, hours=2)
    assert AuditEvent.for_org(alibaba).where(AuditEvent.action == "intel.seller.repeat_infringer").count() == 1
    assert AuditEvent.for_org(lv).where(AuditEvent.action == "intel.seller.repeat_infringer").count() == 1
    # Visible to the platform and partner brands; not to a brand without a partnership there.
    assert sharing.sees_strikes(alibaba, alliance["taobao"].id)
    assert sharing.sees_strikes(lv, alliance["taobao"].id)
    assert not sharing.sees_strikes(alliance["outsider"], alliance["taobao"].id)
    with app.app_context():
        profile = services.seller_profile(lv, "taobao", "bad-shop", now=start + timedelta(days=200))
        assert profile.recent_strikes == 4 and profile.repeat_infringer_at is not None
        with pytest.raises(NotFound):  # nothing of it is the outsider's to see
            services.seller_profile(alliance["outsider"], "taobao", "bad-shop")


def test_a_reinstatement_voids_the_strike_and_can_lift_the_mark(app, world, alliance):
    lv, alibaba = alliance["lv"], alliance["alibaba"]
    partnership = world.partnership(lv, alibaba)
    start = datetime.utcnow().replace(microsecond=0) + timedelta(days=1)
    items = []
    for n in range(4):
        filed = world.notice(lv, partnership, [(f"https://item.taobao.com/item.htm?id=7{n}", "shop-x")],
                             now=start + timedelta(days=n))
        items.append(_remove(app, NoticeItem.get(NoticeItem.notice == filed.notice), alibaba,
                             start + timedelta(days=n, hours=1)))
    seller = strikes.find_seller(alliance["taobao"].id, "shop-x")
    assert seller.repeat_infringer_at is not None
    last = items[-1]
    with app.app_context(), acting_as("test"):
        transition(last, alibaba, "counter_noticed", reason="Seller sent invoices.", now=start + timedelta(days=5))
        assert strikes.find_seller(alliance["taobao"].id, "shop-x").repeat_infringer_at is not None  # still stands
        transition(last, alibaba, "reinstated", reason="Invoices are genuine.", now=start + timedelta(days=6))
    strike = Strike.get(Strike.item == last.id)
    assert strike.voided_at == start + timedelta(days=6)
    assert strikes.find_seller(alliance["taobao"].id, "shop-x").repeat_infringer_at is None


def test_non_counterfeit_notices_and_unknown_sellers_give_no_strike(app, world, alliance):
    lv, alibaba = alliance["lv"], alliance["alibaba"]
    partnership = world.partnership(lv, alibaba)
    misuse = world.notice(lv, partnership, [("https://item.taobao.com/item.htm?id=1", "shop-y")],
                          reason_code="trademark_misuse")
    anonymous = world.notice(lv, partnership, ["https://item.taobao.com/item.htm?id=2"])
    for filed in (misuse, anonymous):
        _remove(app, NoticeItem.get(NoticeItem.notice == filed.notice), alibaba, datetime.utcnow())
    assert not Strike.select().exists()


def test_repeat_since_needs_four_within_365_days():
    day = datetime(2026, 1, 1)
    spread = [day, day + timedelta(days=200), day + timedelta(days=366), day + timedelta(days=500)]
    assert strikes.repeat_since(spread) is None
    tight = spread + [day + timedelta(days=560)]
    assert strikes.repeat_since(tight) == day + timedelta(days=560)  # 200, 366, 500, 560: within 360 days
    exactly = [day, day + timedelta(days=1), day + timedelta(days=2), day + timedelta(days=365)]
    assert strikes.repeat_since(exactly) == day + timedelta(days=365)


FLAG_CSV = """marketplace,seller_id,category,confidence,tlp,distribution,share_with,display_name,email
taobao,shop-a,suspected_counterfeit,high,green,alliance,,Shop A,a@fakes.example
taobao,shop-b,counterfeit_confirmed,high,amber,group,swarovski;microsoft,Shop B,
taobao,shop-c,suspected_counterfeit,low,red,alliance,,Shop C,
nowhere,shop-d,suspected_counterfeit,low,green,alliance,,Shop D,
taobao,shop-a,suspected_counterfeit,high,green,alliance,,Shop A again,
"""


def test_bulk_flagging_runs_through_the_import_service(app, world, alliance):
    from portal.intel.imports import start_flag_import
    from portal.imports.report import row_outcomes
    from portal.imports.runner import row_errors
    lv = alliance["lv"]
    with app.app_context(), acting_as("test"):
        dry = start_flag_import(lv, io.BytesIO(FLAG_CSV.encode()), "flags.csv", dry_run=True)
        assert dry.status == "done" and dry.created == 2 and dry.error_rows == 3
        assert not Flag.select().exists()
        job = start_flag_import(lv, io.BytesIO(FLAG_CSV.encode()), "flags.csv")
        errors = {(e.row, e.column) for e in row_errors(job)}
        outcomes = row_outcomes(job)
    assert job.kind == "flags" and job.created == 2 and job.error_rows == 3
    assert errors == {(4, "tlp"), (5, "marketplace"), (6, "seller_id")}
    assert outcomes[:2] == [(2, "create"), (3, "create")]
    b = Flag.get(Flag.display_name == "Shop B")
    assert seen_by(alliance["swarovski"]) >= {b.id} and b.id in seen_by(alliance["microsoft"])
    assert b.id not in seen_by(alliance["alibaba"])
    # The same file again changes nothing; an edited row updates its flag.
    with app.app_context(), acting_as("test"):
        again = start_flag_import(lv, io.BytesIO(FLAG_CSV.encode()), "flags.csv")
        assert again.created == 0 and again.unchanged == 2
        edited = FLAG_CSV.replace("Shop B,", "Shop B (renamed),")
        changed = start_flag_import(lv, io.BytesIO(edited.encode()), "flags.csv")
    assert changed.updated == 1 and Flag.get_by_id(b.id).display_name == "Shop B (renamed)"
    assert AuditEvent.for_org(alliance["swarovski"]).where(AuditEvent.action == "intel.flag.shared").exists()


def test_a_platform_cannot_import_marks_but_can_flag(app, world, alliance):
    from portal.intel.imports import start_flag_import
    from portal.imports.tables import FileRefused
    csv = "marketplace,seller_id,category,tlp,distribution\ntaobao,shop-z,other,green,alliance\n"
    with app.app_context(), acting_as("test"):
        with pytest.raises(FileRefused):
            world.upload(alliance["alibaba"], "word,office,registration_number,nice_classes\n")
        job = start_flag_import(alliance["alibaba"], io.BytesIO(csv.encode()), "flags.csv")
    assert job.created == 1 and Flag.get().org_id == alliance["alibaba"].id


def test_a_flag_file_without_a_column_keeps_what_the_flags_say_there(app, world, alliance):
    """Re-importing a narrower file (no notes, no display name, only the e-mail column) changes only what it
    has columns for: notes, names and the other identifiers stay."""
    from portal.intel.imports import start_flag_import
    lv = alliance["lv"]
    flag = world.flag(lv, "shop-k", "taobao", display_name="Keep Me", notes="Test buy TB-1.", confidence="high",
                      identifiers={"email": "old@shop.example", "domain": "shop.example"})
    narrow = ("marketplace,seller_id,category,tlp,distribution,email\n"
              "taobao,shop-k,counterfeit_confirmed,green,alliance,new@shop.example\n")
    with app.app_context(), acting_as("test"):
        job = start_flag_import(lv, io.BytesIO(narrow.encode()), "narrow.csv")
    assert job.updated == 1
    flag = Flag.get_by_id(flag.id)
    assert (flag.display_name, flag.notes, flag.confidence, flag.category) == (
        "Keep Me", "Test buy TB-1.", "high", "counterfeit_confirmed")
    assert services.identifiers_of([flag])[flag.id] == [("domain", "shop.example"), ("email", "new@shop.example")]


def test_two_listings_of_one_seller_removed_at_once_make_one_strike(app, world, alliance):
    """PostgreSQL: two analysts (or a bulk action and an analyst) remove two listings of the same seller
    and notice in overlapping transactions. The second waits for the first (the seller is locked), then
    counts its listing into the same strike instead of failing on the strike's unique key."""
    import threading

    from portal.db import db, is_postgresql
    if not is_postgresql():
        pytest.skip("SQLite runs one writer at a time; the interleaving exists only on PostgreSQL")
    lv, alibaba = alliance["lv"], alliance["alibaba"]
    partnership = world.partnership(lv, alibaba)
    filed = world.notice(lv, partnership, [(f"https://item.taobao.com/item.htm?id=6{n}", "twin-shop") for n in (1, 2)])
    first, second = list(NoticeItem.select().where(NoticeItem.notice == filed.notice).order_by(NoticeItem.position))
    world.flag(lv, "twin-shop", "taobao")  # the seller is known already: no insert of it to wait on
    with app.app_context(), acting_as("test"):
        for item in (first, second):  # so that removing is the transaction's first audited change
            transition(item, alibaba, "acknowledged")
    holding, release, errors = threading.Event(), threading.Event(), []

    def remove(item, hold):
        try:
            with app.app_context(), acting_as("analyst"), db.connection_context():
                with db.atomic():
                    transition(item, alibaba, "removed", reason="Counterfeit confirmed.")
                    if hold:
                        holding.set()
                        release.wait(10)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(repr(error))

    a = threading.Thread(target=remove, args=(first, True))
    a.start()
    assert holding.wait(10)
    b = threading.Thread(target=remove, args=(second, False))
    b.start()
    b.join(1)
    assert b.is_alive()  # waiting for the seller the first transaction holds
    release.set()
    a.join(10)
    b.join(10)
    assert errors == []
    strike = Strike.get()
    assert strike.listings == 2 and strike.item_id == first.id
