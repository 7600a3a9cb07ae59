"""What the platform's queue shows beside each listing, read for a whole page at once (never a query per row):
its notice with its parties, the marks relied on, the brand's good-faith standing under the partnership, the
seller's standing strikes (and repeat-infringer mark) and the active flags on the seller the platform may see.
"""
from dataclasses import dataclass, field

from peewee import fn

from portal.intel.models import Flag, Seller, Strike
from portal.intel.sharing import visible_to
from portal.marks.models import Mark
from portal.notices import goodfaith, services
from portal.notices.models import NoticeMark
from portal.partnerships.models import Partnership


@dataclass
class SellerFacts:
    strikes: int = 0
    repeat_infringer: bool = False
    flags: int = 0


@dataclass
class PageFacts:
    notices: dict = field(default_factory=dict)  # notice id -> Notice (with org, platform, marketplace, terms)
    marks: dict = field(default_factory=dict)  # notice id -> [mark words]
    standing: dict = field(default_factory=dict)  # partnership id -> goodfaith.Score
    sellers: dict = field(default_factory=dict)  # (marketplace id, seller id) -> SellerFacts

    def seller(self, item):
        return self.sellers.get((item.marketplace_id, item.seller_id), SellerFacts())


def facts_for(platform, items, now=None):
    facts = PageFacts()
    if not items:
        return facts
    notice_ids = {item.notice_id for item in items}
    facts.notices = services.notices_with_parties(platform, notice_ids)
    for notice_id, word in (Mark.select(NoticeMark.notice, Mark.word).join(NoticeMark, on=(NoticeMark.mark == Mark.id))
                            .where(NoticeMark.notice.in_(notice_ids)).order_by(Mark.word).tuples()):
        facts.marks.setdefault(notice_id, []).append(word)
    partnerships = Partnership.select().where(Partnership.id.in_({n.partnership_id for n in facts.notices.values()}))
    facts.standing = {p.id: score for p, score in goodfaith.scores(partnerships, now=now)}
    seller_ids = {item.seller_id for item in items if item.seller_id}
    if seller_ids:
        markets = {item.marketplace_id for item in items}
        sellers = Seller.select(Seller.id, Seller.marketplace, Seller.external_id, Seller.repeat_infringer_at).where(
            Seller.marketplace.in_(markets) & Seller.external_id.in_(seller_ids))
        by_id = {s.id: (s.marketplace_id, s.external_id) for s in sellers}
        for s in sellers:
            facts.sellers[by_id[s.id]] = SellerFacts(repeat_infringer=s.repeat_infringer_at is not None)
        if by_id:
            standing = (Strike.select(Strike.seller, fn.COUNT(Strike.id))
                        .where(Strike.seller.in_(list(by_id)) & Strike.voided_at.is_null())
                        .group_by(Strike.seller).tuples())
            for seller_id, count in standing:
                facts.sellers[by_id[seller_id]].strikes = count
            flagged = (Flag.select(Flag.seller, fn.COUNT(Flag.id))
                       .where(Flag.seller.in_(list(by_id)) & (Flag.status == "active") & visible_to(platform))
                       .group_by(Flag.seller).tuples())
            for seller_id, count in flagged:
                facts.sellers[by_id[seller_id]].flags = count
    return facts

