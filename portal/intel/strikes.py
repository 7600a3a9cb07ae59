"""Strikes and repeat infringers ("four strikes and you're out", Taobao 2013).

A strike is an upheld counterfeit removal: a listing removed under a notice whose reason is counterfeit,
as long as the removal stands (removed, counter-noticed and not yet decided, or upheld). Decided here:
- listings of one seller removed under one notice are one strike (one act of enforcement, dated by its
  first removal), so a notice naming ten listings of a shop does not make it a repeat infringer at once;
- a strike whose removals were all reinstated after a counter-notice is voided (kept, with the date);
- a seller with four strikes (not voided) within 365 days is a repeat infringer from the fourth one on;
  the mark stays unless a voided strike takes the count back under four;
- listings filed without a seller id give no strike (nobody to attribute it to).

The strikes follow the items: `sync_strike` is called by the notices service on every removal and
reinstatement, in the same transaction.
"""
from datetime import timedelta

from peewee import fn

from portal.accounts.models import Marketplace
from portal.db import PreparedSelect, get_by_id, is_postgresql
from portal.events import emit
from portal.intel.models import Seller, Strike
from portal.notices.models import Notice, NoticeItem, notice_reference
from portal.partnerships.models import Partnership

STANDING = ("removed", "counter_noticed", "upheld")
REPEAT_STRIKES = 4
REPEAT_WINDOW = timedelta(days=365)


# The lookups a removal makes for its strike, compiled once: a bulk removal of 300 listings makes each 300 times.
SELLER = PreparedSelect(lambda marketplace_id, external_id: Seller.select().where(
    (Seller.marketplace == marketplace_id) & (Seller.external_id == external_id)), arity=2)
SELLER_LOCKED = PreparedSelect(lambda marketplace_id, external_id: Seller.select().where(
    (Seller.marketplace == marketplace_id) & (Seller.external_id == external_id)).for_update(), arity=2)
NOTICE_REASON = PreparedSelect(lambda notice_id: Notice.select(Notice.reason_code).where(Notice.id == notice_id))
STANDING_ITEMS = PreparedSelect(lambda notice_id, seller_id: (
    NoticeItem.select().where((NoticeItem.notice == notice_id) & (NoticeItem.seller_id == seller_id)
                              & NoticeItem.state.in_(STANDING)).order_by(NoticeItem.decided_at, NoticeItem.id)),
    arity=2)
STRIKE_OF = PreparedSelect(lambda seller_id, notice_id: Strike.select().where(
    (Strike.seller == seller_id) & (Strike.notice == notice_id)), arity=2)
STANDING_STRIKE_TIMES = PreparedSelect(lambda seller_id: Strike.select(Strike.at).where(
    (Strike.seller == seller_id) & Strike.voided_at.is_null()).order_by(Strike.at))


def seller_for(marketplace_id, external_id):
    """The seller row for (marketplace, id), created on first use (also by concurrent first uses)."""
    external_id = external_id.strip()
    found = SELLER.rows(marketplace_id, external_id)
    if found:
        return found[0]
    Seller.insert(marketplace=marketplace_id, external_id=external_id).on_conflict_ignore().execute()
    return SELLER.rows(marketplace_id, external_id)[0]


def find_seller(marketplace_id, external_id):
    return Seller.get_or_none((Seller.marketplace == marketplace_id) & (Seller.external_id == external_id.strip()))


STRIKE_MOVES = ("removed", "reinstated")  # the moves after which the notices service calls sync_strike


def lock_seller_of(item):
    """The seller a strike of `item` would count against, locked for the transaction (created on first use);
    None when the item can give no strike (no seller id, or a notice not about counterfeits).

    The lock order of every writer is the item, then its seller, then the audit head. A move that will
    sync a strike takes the seller's lock right after the item's, before anything is audited: a removal
    straight from `submitted` audits its acknowledgement first, and taking the seller only then deadlocked
    (PostgreSQL) with a removal of another listing of the same seller that held the seller and waited for
    the audit head."""
    seller_id = (item.seller_id or "").strip()
    if not seller_id:
        return None
    if NOTICE_REASON.scalar(item.notice_id) != "counterfeit":
        return None
    if is_postgresql():  # found and locked in one statement (created first if it is new)
        found = SELLER_LOCKED.rows(item.marketplace_id, seller_id)
        return found[0] if found else lock_seller(seller_for(item.marketplace_id, seller_id))
    return seller_for(item.marketplace_id, seller_id)  # SQLite's write lock serialises the writers


_LOOK_UP = object()


def sync_strike(item, now, seller=_LOOK_UP):
    """Bring the strike of `item`'s seller under `item`'s notice in step with that notice's items.
    `seller`: what `lock_seller_of(item)` answered earlier in the transaction, if it was called."""
    if seller is _LOOK_UP:
        seller = lock_seller_of(item)
    if seller is None:
        return None
    notice = get_by_id(Notice, item.notice_id)
    standing = STANDING_ITEMS.rows(notice.id, item.seller_id)
    strike = next(iter(STRIKE_OF.rows(seller.id, notice.id)), None)
    if standing:
        first = standing[0]
        values = {"item": first.id, "listings": len(standing), "at": first.decided_at or now, "voided_at": None}
        if strike is None:
            strike = Strike.create(seller=seller, notice=notice, **values)
            _announce("intel.strike.added", strike, seller, notice)
        else:
            was_void = strike.voided_at is not None
            Strike.update(**values).where(Strike.id == strike.id).execute()
            if was_void:
                _announce("intel.strike.restored", strike, seller, notice)
    elif strike is not None and strike.voided_at is None:
        Strike.update(voided_at=_reinstated_at(notice, item.seller_id) or now).where(Strike.id == strike.id).execute()
        _announce("intel.strike.voided", strike, seller, notice)
    refresh_repeat_status(seller)
    return get_by_id(Strike, strike.id) if strike else None


def lock_seller(seller):
    """Serialise the writers of one seller's strikes (two listings of a notice removed at once by a bulk
    action on PostgreSQL would both insert the strike). SQLite's write lock already does."""
    if is_postgresql():
        return Seller.select().where(Seller.id == seller.id).for_update().get()
    return seller


def _reinstated_at(notice, seller_id):
    """When the last of the notice's listings of that seller was reinstated (a replay voids at that time)."""
    return (NoticeItem.select(fn.MAX(NoticeItem.counter_decided_at))
            .where((NoticeItem.notice == notice) & (NoticeItem.seller_id == seller_id)
                   & (NoticeItem.counter_outcome == "reinstated")).scalar())


def _announce(kind, strike, seller, notice):
    emit(kind, (notice.org_id, notice.platform_id), strike, {
        "seller": seller.external_id, "marketplace": seller.marketplace_id, "notice": notice_reference(notice.id)})


def repeat_since(times):
    """When a sorted series of strike times first holds REPEAT_STRIKES within REPEAT_WINDOW, or None."""
    for index in range(REPEAT_STRIKES - 1, len(times)):
        if times[index] - times[index - REPEAT_STRIKES + 1] <= REPEAT_WINDOW:
            return times[index]
    return None


def refresh_repeat_status(seller):
    """Recompute the seller's repeat-infringer mark from its standing strikes; announce a new mark to the
    marketplace's platform and the brands partnered on it."""
    times = [at for (at,) in STANDING_STRIKE_TIMES.tuples(seller.id)]
    since = repeat_since(times)
    if since == seller.repeat_infringer_at:
        return since
    Seller.update(repeat_infringer_at=since).where(Seller.id == seller.id).execute()
    became = seller.repeat_infringer_at is None
    seller.repeat_infringer_at = since
    if became:
        marketplace = Marketplace.get_by_id(seller.marketplace_id)
        emit("intel.seller.repeat_infringer", [marketplace.org_id, *partner_brand_ids(marketplace)], seller, {
            "seller": seller.external_id, "marketplace": marketplace.slug, "since": since.isoformat(),
            "strikes": len(times)})
    return since


def partner_brand_ids(marketplace):
    """Brands with an active partnership with the marketplace's platform: they see its repeat infringers."""
    return [brand for (brand,) in Partnership.select(Partnership.brand)
            .where((Partnership.platform == marketplace.org_id) & (Partnership.status == "active")).tuples()]


def strikes_of(seller):
    return list(Strike.select().where(Strike.seller == seller).order_by(Strike.at.desc()))


def recent_strike_count(strikes, now):
    return sum(1 for strike in strikes if strike.voided_at is None and strike.at >= now - REPEAT_WINDOW)


def rebuild_all(now=None):
    """Replay every counterfeit removal into strikes (after an upgrade, or to repair): idempotent.
    Returns the number of (notice, seller) pairs looked at."""
    from portal.db import db
    from portal.timeutil import utcnow
    now = now or utcnow()
    pairs = (NoticeItem.select(fn.MIN(NoticeItem.id).alias("first"))
             .join(Notice, on=(NoticeItem.notice == Notice.id))
             .where((Notice.reason_code == "counterfeit") & (NoticeItem.seller_id != "")
                    & NoticeItem.decided_at.is_null(False))
             .group_by(NoticeItem.notice, NoticeItem.seller_id))
    count = 0
    for (first,) in list(pairs.tuples()):
        with db.atomic():
            sync_strike(NoticeItem.get_by_id(first), now)
        count += 1
    return count
