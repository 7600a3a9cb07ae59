"""Listing screening as a service (portal.intel.screen): disguised marks found with their reasons, authorized
sellers left out, flagged sellers scored up only through flags the brand may see, bad batches refused whole,
platforms refused, filing a notice from hits, and the list of authorized sellers."""
import pytest

from portal.audit import AuditEvent, acting_as
from portal.errors import Conflict, Forbidden, NotFound, ValidationError
from portal.intel import screen
from portal.intel.models import AuthorizedSeller, Screening, ScreeningHit
from portal.intel.services import withdraw_flag
from portal.notices.models import Notice, NoticeItem
from portal.notices.services import marks_of


@pytest.fixture
def alliance(app, world):
    """Alibaba (Taobao, Tmall) and Louis Vuitton under an active partnership; LOUIS VUITTON verified, LV
    registered but still pending; two other brands for sharing."""
    alibaba = world.org("Alibaba", kind="platform")
    taobao = world.marketplace(alibaba, "Taobao", "CN")
    tmall = world.marketplace(alibaba, "Tmall", "CN")
    lv = world.org("Louis Vuitton")
    partnership = world.partnership(lv, alibaba)
    verified = world.verified_mark(lv, alibaba, word="LOUIS VUITTON", number="12345678")
    pending = world.mark(lv, word="LV", office="CNIPA", number="87654321")
    return {"app": app, "platform": alibaba, "taobao": taobao, "tmall": tmall, "brand": lv,
            "partnership": partnership, "verified": verified, "pending": pending,
            "swarovski": world.org("Swarovski"), "microsoft": world.org("Microsoft")}


def listing(n, title, seller="shop-1", marketplace=None, price="¥ 199"):
    values = {"url": f"https://item.taobao.com/item.htm?id={1000 + n}", "title": title, "seller_id": seller,
              "price": price}
    if marketplace:
        values["marketplace"] = marketplace
    return (n, values)


def run(alliance, entries, org=None, **more):
    with alliance["app"].app_context(), acting_as("test"):
        return screen.screen_listings(org or alliance["brand"], entries, default_marketplace="taobao", **more)


def hits_by_row(screening):
    return {hit.row: hit for hit in screen.hits_of(screening)}


def test_disguised_marks_are_found_with_their_reasons_and_plain_titles_are_not(alliance):
    screening = run(alliance, [
        listing(1, "L o u i s  V u i t t o n Neverfull bag"),  # spacing
        listing(2, "Louis Vu1tt0n wallet"),  # leetspeak
        listing(3, "Lоuis Vuіttоn speedy"),  # Cyrillic о and і
        listing(4, "L.V. replica 1:1 AAA belt"),  # punctuation, short mark, indicators
        listing(5, "Plain cotton t-shirt, 100% organic"),
        listing(6, "LOUIS VUITTON Neverfull MM"),  # written plainly
        listing(7, "Vuitton-style tote"),  # half a mark is not the mark
        listing(8, "Loúis Vuittón mirror quality"),  # diacritics, indicator
    ])
    assert (screening.listings, screening.hit_count, screening.authorized_skipped) == (8, 6, 0)
    hits = hits_by_row(screening)
    assert set(hits) == {1, 2, 3, 4, 6, 8}
    for row in (1, 2, 3, 8):
        assert hits[row].words == "LOUIS VUITTON" and hits[row].disguised
        assert "in disguise" in hits[row].reason
        assert hits[row].mark_ids == str(alliance["verified"].id)
    assert hits[1].score == 0.75 and hits[1].indicators == ""
    assert hits[8].score == 0.85 and hits[8].indicators == "mirror quality" and "mirror quality" in hits[8].reason
    belt = hits[4]
    assert belt.words == "LV" and belt.disguised and belt.mark_ids == str(alliance["pending"].id)
    assert set(belt.indicators.split("; ")) == {"replica", "aaa", "1:1"}
    assert belt.score == 1.0 and "replica" in belt.reason and "1:1" in belt.reason
    plain = hits[6]
    assert plain.score == 0.6 and not plain.disguised and "disguise" not in plain.reason
    # Stored with what was sent, best first then in batch order.
    assert (belt.price, belt.seller_id, belt.marketplace.slug) == ("¥ 199", "shop-1", "taobao")
    assert [h.row for h in screen.hits_of(screening)] == [4, 8, 1, 2, 3, 6]
    event = AuditEvent.for_org(alliance["brand"]).where(AuditEvent.action == "intel.screening.run").get()
    assert event.object_id == str(screening.id) and '"hits":6' in event.change


def test_rejected_marks_are_not_screened_for(alliance, world):
    from portal.marks.services import review_mark
    rejected = world.mark(alliance["brand"], word="MONOGRAM", office="CNIPA", number="55555555")
    with alliance["app"].app_context(), acting_as("test"):
        review_mark(rejected, alliance["platform"], None, "reject", reason="Not the owner's registration.")
    screening = run(alliance, [listing(1, "Monogram canvas bag replica"), listing(2, "LV monogram")])
    assert set(hits_by_row(screening)) == {2}


def test_authorized_sellers_are_left_out_and_counted(alliance):
    with alliance["app"].app_context(), acting_as("test"):
        screen.add_authorized_seller(alliance["brand"], "taobao", "lv-official", "Our own store")
    screening = run(alliance, [
        listing(1, "Louis Vuitton Neverfull", seller="lv-official"),
        listing(2, "Louis Vuitton Neverfull replica", seller="shop-9"),
        listing(3, "Louis Vuitton Speedy", seller="lv-official", marketplace="tmall"),  # not authorized on Tmall
        listing(4, "Leather gloves", seller="lv-official"),  # no hit: not counted
    ])
    assert (screening.listings, screening.hit_count, screening.authorized_skipped) == (4, 2, 1)
    assert set(hits_by_row(screening)) == {2, 3}


def test_a_flag_the_brand_may_see_scores_the_seller_up_and_a_hidden_one_changes_nothing(alliance, world):
    taobao = alliance["taobao"]
    world.flag(alliance["swarovski"], "known-fake", taobao, distribution="alliance")
    world.flag(alliance["microsoft"], "hidden-fake", taobao, tlp="amber", distribution="group",
               share_with=[alliance["swarovski"]])  # not shared with Louis Vuitton
    gone = world.flag(alliance["swarovski"], "cleaned-up", taobao, distribution="alliance")
    with alliance["app"].app_context(), acting_as("test"):
        withdraw_flag(gone, alliance["swarovski"], "Shop closed.")
    title = "Louis Vuitton Neverfull replica"
    screening = run(alliance, [listing(1, title, seller="known-fake"), listing(2, title, seller="hidden-fake"),
                               listing(3, title, seller="clean-shop"), listing(4, title, seller="cleaned-up")])
    hits = hits_by_row(screening)
    assert hits[1].flagged and hits[1].score == 0.8 and "active flag shared with you" in hits[1].reason
    for row in (2, 4):  # a flag shared with someone else, or withdrawn, is no flag for this screening
        assert not hits[row].flagged
        assert (hits[row].score, hits[row].reason) == (hits[3].score, hits[3].reason) == (0.7, hits[3].reason)
        assert "flag" not in hits[row].reason
    # The score is capped at 1.
    capped = run(alliance, [listing(1, "L o u i s V u i t t o n replica 1:1 AAA", seller="known-fake")])
    assert hits_by_row(capped)[1].score == 1.0 and hits_by_row(capped)[1].flagged


def test_a_batch_with_bad_rows_is_refused_whole_with_row_numbers(alliance):
    entries = [
        listing(2, "Louis Vuitton Neverfull"),
        (3, {"url": "not a url", "title": "Louis Vuitton"}),
        (4, {"url": "https://item.taobao.com/item.htm?id=4", "title": ""}),
        (5, {"url": "https://item.taobao.com/item.htm?id=5", "title": "LV", "marketplace": "nowhere"}),
        (6, {"url": "https://item.taobao.com/item.htm?id=1002#reviews", "title": "LV bag"}),  # row 2's URL again
        (7, {"url": "https://item.taobao.com/item.htm?id=7", "title": "LV\nbag", "seller_id": "x" * 201,
             "price": "9" * 65}),
    ]
    with pytest.raises(screen.ScreeningRefused) as refused:
        run(alliance, entries)
    found = {(p.row, p.column, p.code) for p in refused.value.problems}
    assert found == {(3, "url", "invalid_url"), (4, "title", "required"), (5, "marketplace", "unknown_marketplace"),
                     (6, "url", "duplicate_url"), (7, "title", "invalid_title"), (7, "seller_id", "invalid_seller_id"),
                     (7, "price", "invalid_price")}
    assert "row 3" in refused.value.message
    assert Screening.select().count() == 0 and ScreeningHit.select().count() == 0
    assert not AuditEvent.select().where(AuditEvent.action == "intel.screening.run").exists()


def test_a_row_needs_a_marketplace_and_the_batch_is_capped(alliance):
    with alliance["app"].app_context(), acting_as("test"):
        with pytest.raises(screen.ScreeningRefused) as refused:
            screen.screen_listings(alliance["brand"], [listing(1, "LV belt")])  # no default, no column
        assert [(p.row, p.column, p.code) for p in refused.value.problems] == [(1, "marketplace", "required")]
        many = [listing(n, "LV belt") for n in range(1, screen.MAX_LISTINGS + 2)]
        with pytest.raises(screen.ScreeningRefused) as refused:
            screen.screen_listings(alliance["brand"], many, default_marketplace="taobao")
        assert refused.value.problems[0].code == "too_many_listings" and "10,000" in refused.value.message
        with pytest.raises(ValidationError):
            screen.screen_listings(alliance["brand"], [], default_marketplace="taobao")
    assert Screening.select().count() == 0


def test_platforms_are_refused(alliance):
    with pytest.raises(Forbidden) as refused:
        run(alliance, [listing(1, "Louis Vuitton")], org=alliance["platform"])
    assert "Only brands" in refused.value.message
    with pytest.raises(Forbidden):
        screen.add_authorized_seller(alliance["platform"], "taobao", "someone")
    assert Screening.select().count() == 0


def test_pasted_lines_are_read_with_tabs_or_like_a_notice():
    entries = screen.entries_from_text("https://a.example/1\tshop-1\tLV belt replica\t¥ 99\n\n"
                                       "https://a.example/2, shop-2, Louis Vuitton, wallet\n")
    assert entries == [(1, {"url": "https://a.example/1", "seller_id": "shop-1", "title": "LV belt replica",
                            "price": "¥ 99"}),
                       (3, {"url": "https://a.example/2", "seller_id": "shop-2", "title": "Louis Vuitton, wallet"})]


# --- filing from hits ---------------------------------------------------------------------------------

def file(alliance, screening, hits, **values):
    values.setdefault("good_faith", True)
    with alliance["app"].app_context(), acting_as("test"):
        return screen.file_notice_from_hits(alliance["brand"], screening, [h.id for h in hits], values)


def test_a_notice_is_filed_from_hits_in_one_step(alliance):
    screening = run(alliance, [listing(1, "L o u i s V u i t t o n bag replica", seller="s1"),
                               listing(2, "LOUIS VUITTON wallet", seller="s2"),
                               listing(3, "Louis Vuitton belt", seller="s3")])
    hits = hits_by_row(screening)
    filed = file(alliance, screening, [hits[1], hits[2]])
    notice = filed.notice
    assert (notice.org_id, notice.partnership_id, notice.reason_code) == (
        alliance["brand"].id, alliance["partnership"].id, "counterfeit")
    items = NoticeItem.select().where(NoticeItem.notice == notice).order_by(NoticeItem.position)
    assert [(i.url, i.seller_id, i.title) for i in items] == [
        (hits[1].url, "s1", hits[1].title), (hits[2].url, "s2", hits[2].title)]
    assert "LOUIS VUITTON" in notice.explanation and hits[1].url in notice.explanation
    assert [m.id for m in marks_of(notice)] == [alliance["verified"].id]
    after = hits_by_row(screening)
    assert after[1].notice_id == after[2].notice_id == notice.id and after[3].notice_id is None
    # The same hits again: refused, nothing filed twice.
    with pytest.raises(Conflict) as refused:
        file(alliance, screening, [hits[2], hits[3]])
    assert "row 2" in refused.value.message and notice.reference in refused.value.message
    assert Notice.select().count() == 1
    assert AuditEvent.select().where(AuditEvent.action == "intel.screening.notice_filed").count() == 1


def test_filing_needs_verified_marks_one_marketplace_and_good_faith(alliance):
    screening = run(alliance, [listing(1, "LV belt replica"), listing(2, "Louis Vuitton bag", marketplace="tmall"),
                               listing(3, "Louis Vuitton wallet")])
    hits = hits_by_row(screening)
    with pytest.raises(ValidationError) as refused:  # LV is still pending
        file(alliance, screening, [hits[1]])
    assert "LV" in refused.value.errors["marks"][0] and "verification" in refused.value.errors["marks"][0]
    with pytest.raises(ValidationError) as refused:
        file(alliance, screening, [hits[2], hits[3]])
    assert "marketplaces" in refused.value.errors["hits"][0] and "taobao, tmall" in refused.value.errors["hits"][0]
    with pytest.raises(ValidationError) as refused:
        file(alliance, screening, [hits[3]], good_faith=False)
    assert "good_faith" in refused.value.errors
    with pytest.raises(ValidationError):
        file(alliance, screening, [])
    assert Notice.select().count() == 0
    assert all(hit.notice_id is None for hit in screen.hits_of(screening))


def test_another_brands_hits_cannot_be_filed(alliance, world):
    screening = run(alliance, [listing(1, "Louis Vuitton bag")])
    other = world.org("Gucci")
    with pytest.raises(NotFound):
        screen.get_screening(screening.id, other)
    with alliance["app"].app_context(), acting_as("test"):
        with pytest.raises(NotFound):
            screen.file_notice_from_hits(other, screening, [h.id for h in screen.hits_of(screening)],
                                         {"good_faith": True})


def test_notice_drafts_hold_the_fileable_hits_per_marketplace(alliance):
    screening = run(alliance, [listing(1, "LV belt replica"), listing(2, "Louis Vuitton bag", marketplace="tmall"),
                               listing(3, "Louis Vuitton wallet 1:1")])
    drafts = screen.notice_drafts(alliance["brand"], screening)
    assert [(d.marketplace.slug, [h.row for h in d.hits], d.marks) for d in drafts] == [
        ("taobao", [3], [alliance["verified"].id]), ("tmall", [2], [alliance["verified"].id])]
    assert drafts[0].partnership.id == alliance["partnership"].id
    assert [h.row for h in drafts[0].left_out] == [1]  # LV is pending


# --- authorized sellers -------------------------------------------------------------------------------

def test_authorized_sellers_are_added_once_removed_and_scoped(alliance):
    brand = alliance["brand"]
    with alliance["app"].app_context(), acting_as("test"):
        added = screen.add_authorized_seller(brand, "taobao", " lv-official ", "Our store")
        assert (added.external_id, added.marketplace_id) == ("lv-official", alliance["taobao"].id)
        with pytest.raises(Conflict):
            screen.add_authorized_seller(brand, "taobao", "lv-official", "again")
        with pytest.raises(ValidationError) as refused:
            screen.add_authorized_seller(brand, "nowhere", "", "")
        assert set(refused.value.errors) == {"marketplace", "seller_id"}
        with pytest.raises(NotFound):
            screen.remove_authorized_seller(alliance["swarovski"], added.id)
        assert [a.external_id for a in screen.authorized_sellers(brand)] == ["lv-official"]
        screen.remove_authorized_seller(brand, added.id)
    assert AuthorizedSeller.select().count() == 0
    actions = [e.action for e in AuditEvent.for_org(brand).order_by(AuditEvent.seq)]
    assert actions[-2:] == ["intel.authorized_seller.added", "intel.authorized_seller.removed"]
