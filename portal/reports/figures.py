"""The figures of one org's weekly enforcement report, computed from the records themselves.

Every figure counts events by when they happened, in the org's ISO week (portal.reports.weeks): a notice by
its filing, a decision or a counter-notice by its `Transition`, a clock by when it stopped or breached. So a
late change to a past week (a reinstatement in week 48 of a listing removed in week 46) lands in the week it
was made, and a snapshot of a closed week stays true. States "at week end" are replayed from the
transitions, not read from the items' current state.

A brand's figures are about the notices it filed; a platform's about the notices it received. One set of
grouped queries per week yields every (marketplace, partnership) cell; totals, the by-marketplace and the
by-partnership tables are sums of those cells, so they always add up.

Durations are in seconds (`*_seconds`) and, beside each, in hours (`*_hours`, two decimals) for people and
spreadsheets; the page writes them in days and hours:
- *business* time is what the SLA counts: the clock's target minus the business time it had left when it
  stopped (time waiting for the brand, an info request, is not the platform's);
- *wall* time runs from filing to the acknowledgement or the decision, pauses included.
The median and 90th percentile are nearest-rank (portal.reports.stats), over the clocks completed that week.

Compliance counts clocks *completed* in the week; a clock still open past its deadline is not in it yet.
So beside it stands `{metric}_open_breached`: clocks open at week end (as of now for the live week) whose
deadline had passed then, so that "100 % of 69 completed on time" never hides "14 open clocks breached".
"""
import json
from collections import defaultdict
from dataclasses import dataclass, field

from peewee import fn

from portal.accounts.models import Marketplace, Organization
from portal.audit import AuditEvent
from portal.db import PreparedSelect
from portal.intel import sharing
from portal.intel.models import Flag, FlagReceipt, Seller, Sighting
from portal.notices import goodfaith
from portal.notices.models import OPEN_STATES, Notice, NoticeItem, Transition
from portal.partnerships.models import Partnership
from portal.partnerships.services import partnerships_of
from portal.reports.stats import compliance, median, percentile
from portal.sla.models import SlaClock

# Transitions counted in the week, by the state they reached, and the figure each one feeds.
MOVES = {"acknowledged": "acknowledged", "info_requested": "info_requested", "removed": "removed",
         "rejected": "rejected", "withdrawn": "withdrawn", "counter_noticed": "counter_notices",
         "reinstated": "reinstated", "upheld": "upheld"}
METRICS = ("acknowledge", "action")

# The figures of every row (totals, each marketplace, each partnership), in the order pages and CSV show.
def _with_hours(*names):
    """Each duration in seconds followed by the same in hours."""
    return tuple(f for name in names for f in (name, name.removesuffix("_seconds") + "_hours"))


ITEM_FIGURES = (
    "notices_filed", "items_filed", *MOVES.values(), "pending_at_week_end",
    *_with_hours("pending_age_median_seconds", "pending_age_max_seconds"),
    *_with_hours(*(f"{metric}_{kind}_{stat}_seconds" for metric in METRICS for kind in ("business", "wall")
                   for stat in ("median", "p90"))),
    *(f"{metric}_{what}" for metric in METRICS for what in ("met", "breached", "compliance_percent",
                                                             "open_breached")),
    "breaches",
)
DURATION_FIGURES = tuple(name for name in ITEM_FIGURES if name.endswith("_seconds"))
INTEL_FIGURES = ("flags_shared", "flags_received", "sightings_made", "sightings_received", "new_repeat_infringers")
TOP_SELLERS = 10


@dataclass
class Cell:
    """What happened in one (marketplace, partnership) cell of the week; cells add up into rows."""

    counts: dict = field(default_factory=lambda: defaultdict(int))
    durations: dict = field(default_factory=lambda: defaultdict(list))

    def add(self, other):
        for name, count in other.counts.items():
            self.counts[name] += count
        for name, values in other.durations.items():
            self.durations[name].extend(values)
        return self

    def figures(self):
        counts, durations = self.counts, self.durations
        row = {name: counts.get(name, 0) for name in ("notices_filed", "items_filed", *MOVES.values(),
                                                      "pending_at_week_end", "breaches")}
        ages = durations.get("pending_age", [])
        row["pending_age_median_seconds"] = median(ages)
        row["pending_age_max_seconds"] = max(ages) if ages else None
        for metric in METRICS:
            for kind in ("business", "wall"):
                values = durations.get(f"{metric}_{kind}", [])
                row[f"{metric}_{kind}_median_seconds"] = median(values)
                row[f"{metric}_{kind}_p90_seconds"] = percentile(values, 0.9)
            met, breached = counts.get(f"{metric}_met", 0), counts.get(f"{metric}_breached", 0)
            row.update({f"{metric}_met": met, f"{metric}_breached": breached,
                        f"{metric}_compliance_percent": compliance(met, breached),
                        f"{metric}_open_breached": counts.get(f"{metric}_open_breached", 0)})
        for name in DURATION_FIGURES:
            row[name.removesuffix("_seconds") + "_hours"] = hours(row[name])
        return {name: row[name] for name in ITEM_FIGURES}


def hours(seconds):
    """Seconds as hours with two decimals (None stays None)."""
    return None if seconds is None else round(seconds / 3600, 2)


def week_figures(org, start, end, now, totals_only=False):
    """The report's figures (everything but the trends) for the week [start, end) as of `now`; with
    `totals_only`, only {"totals": ...} (a trend's week, the dashboard), without the tables' queries."""
    as_of = min(end, now)
    cells = defaultdict(Cell)
    _count_filed(org, start, end, cells)
    _count_moves(org, start, end, cells)
    _count_pending(org, end, as_of, cells)
    _count_clocks(org, start, end, as_of, cells)
    partnerships = _partnerships(org, {key[1] for key in cells}, end, as_of)
    scores = dict(goodfaith.scores(partnerships, as_of, until_exclusive=True))
    intel = _intel(org, start, end)
    totals = {**_row(cells), "fast_lane_partnerships": sum(s.fast_lane for s in scores.values()),
              **_intel_row(intel.values())}
    if totals_only:
        return {"totals": totals}
    marketplaces = _marketplaces(org, partnerships, {key[0] for key in cells} | set(intel))
    return {
        "totals": totals,
        "by_marketplace": [{"marketplace": m.slug, "name": m.name, **_row(cells, marketplace=m.id),
                            **_intel_row([intel.get(m.id, {})])} for m in marketplaces],
        "by_partnership": [{"partnership": p.reference, "partner": p.partner.slug, "partner_name": p.partner.name,
                            "status": p.status_then,
                            **_row(cells, partnership=p.id), "good_faith": scores[p].as_dict()}
                           for p in partnerships],
        "top_sellers": _top_sellers(org, start, end),
    }


def _row(cells, marketplace=None, partnership=None):
    total = Cell()
    for (marketplace_id, partnership_id), cell in cells.items():
        if marketplace in (None, marketplace_id) and partnership in (None, partnership_id):
            total.add(cell)
    return total.figures()


def _intel_row(parts):
    return {name: sum(part.get(name, 0) for part in parts) for name in INTEL_FIGURES}


# --- the queries: each groups by (marketplace, partnership) -----------------------------------------------

def _items_of(org):
    """The condition picking the org's side of notice items (joined to their notice)."""
    return (NoticeItem.platform if org.is_platform else NoticeItem.brand) == org.id


def _side(model, org):
    """The org's side of transitions or clocks (they carry their item's brand and platform, indexed)."""
    return (model.platform if org.is_platform else model.brand) == org.id


def _items(org, *columns):
    return (NoticeItem.select(NoticeItem.marketplace, Notice.partnership, *columns)
            .join(Notice, on=(NoticeItem.notice == Notice.id)).where(_items_of(org)))


# Every query below runs at each view of the dashboard and the live report: each is a PreparedSelect (its
# SQL built once per process, per kind of org), built from a stand-in org whose id is the placeholder, so
# that it is scoped by the same helpers as ever. Each takes (org id, *moments); the shape is the org's kind.

def _stand_in(kind, org_id):
    return Organization(id=org_id, kind=kind)


def _prepared(build, arity):
    return PreparedSelect(lambda kind, org_id, *moments: build(_stand_in(kind, org_id), *moments),
                          arity=arity, shaped=True)


def _filed_query(org, start, end):
    notice_side = Notice.platform if org.is_platform else Notice.org
    return (NoticeItem.select(NoticeItem.marketplace, Notice.partnership, fn.COUNT(fn.DISTINCT(Notice.id)),
                              fn.COUNT(NoticeItem.id))
            .join(Notice, on=(NoticeItem.notice == Notice.id))
            .where((notice_side == org.id) & (Notice.filed_at >= start) & (Notice.filed_at < end))
            .group_by(NoticeItem.marketplace, Notice.partnership).tuples())


FILED = _prepared(_filed_query, 3)


def _count_filed(org, start, end, cells):
    rows = FILED.rows(org.id, start, end, shape=org.kind)
    for marketplace_id, partnership_id, notices, items in rows:
        cells[(marketplace_id, partnership_id)].counts["notices_filed"] += notices
        cells[(marketplace_id, partnership_id)].counts["items_filed"] += items


def _moves_query(org, start, end):
    return (Transition.select(NoticeItem.marketplace, Notice.partnership, Transition.to_state,
                              fn.COUNT(fn.DISTINCT(Transition.item)))
            .join(NoticeItem, on=(Transition.item == NoticeItem.id)).join(Notice, on=(NoticeItem.notice == Notice.id))
            .where(_side(Transition, org) & (Transition.at >= start) & (Transition.at < end)
                   & Transition.to_state.in_(list(MOVES))
                   & ((Transition.to_state != "acknowledged") | (Transition.from_state == "submitted")))
            .group_by(NoticeItem.marketplace, Notice.partnership, Transition.to_state).tuples())


MOVED = _prepared(_moves_query, 3)


def _count_moves(org, start, end, cells):
    """Items that reached each state during the week (an item counted once per state, however often)."""
    # A brand answering an info request also moves an item back to `acknowledged`: only the platform's
    # acknowledgement of a submitted item counts as one.
    for marketplace_id, partnership_id, state, count in MOVED.rows(org.id, start, end, shape=org.kind):
        cells[(marketplace_id, partnership_id)].counts[MOVES[state]] += count


PENDING_UNCHANGED = _prepared(lambda org, as_of: _items(org, Notice.filed_at).where(
    NoticeItem.state.in_(OPEN_STATES) & (NoticeItem.state_changed_at < as_of)).tuples(), 2)
PENDING_CHANGED = _prepared(lambda org, as_of: (
    _items(org, Notice.filed_at, Transition.item, Transition.from_state)
    .join_from(NoticeItem, Transition, on=(Transition.item == NoticeItem.id))
    .where((NoticeItem.state_changed_at >= as_of) & (Notice.filed_at < as_of) & (Transition.at >= as_of))
    .order_by(Transition.item, Transition.at, Transition.id).tuples()), 2)


def _count_pending(org, end, as_of, cells):
    """Items in an open state at `as_of` (week end, or now for the live week), with their age since filing.

    An item whose state last changed before `as_of` is still in that state; for one changed since, its
    state then is where its first later transition started from.
    """
    def pending(marketplace_id, partnership_id, filed_at):
        cell = cells[(marketplace_id, partnership_id)]
        cell.counts["pending_at_week_end"] += 1
        cell.durations["pending_age"].append(int((as_of - filed_at).total_seconds()))

    for marketplace_id, partnership_id, filed_at in PENDING_UNCHANGED.rows(org.id, as_of, shape=org.kind):
        pending(marketplace_id, partnership_id, filed_at)
    seen = set()
    for marketplace_id, partnership_id, filed_at, item_id, state_then in PENDING_CHANGED.rows(org.id, as_of,
                                                                                               shape=org.kind):
        if item_id not in seen:
            seen.add(item_id)
            if state_then in OPEN_STATES:
                pending(marketplace_id, partnership_id, filed_at)


CLOCKS_COMPLETED = _prepared(lambda org, start, end: (
    SlaClock.select(NoticeItem.marketplace, Notice.partnership, SlaClock.metric, SlaClock.breached,
                    SlaClock.target_minutes, SlaClock.remaining_seconds, SlaClock.started_at, SlaClock.stopped_at)
    .join(NoticeItem, on=(SlaClock.item == NoticeItem.id))
    .join(Notice, on=(NoticeItem.notice == Notice.id))
    .where(_side(SlaClock, org) & (SlaClock.stage == "completed") & (SlaClock.stopped_at >= start)
           & (SlaClock.stopped_at < end))
    .tuples()), 3)
# A clock breaches at its deadline. One still running past it has breached even if the periodic check
# has not flagged it yet; a paused one keeps a stale deadline and counts only when flagged.
CLOCKS_BREACHED = _prepared(lambda org, start, as_of: (
    SlaClock.select(NoticeItem.marketplace, Notice.partnership, fn.COUNT(SlaClock.id))
    .join(NoticeItem, on=(SlaClock.item == NoticeItem.id)).join(Notice, on=(NoticeItem.notice == Notice.id))
    .where(_side(SlaClock, org) & (SlaClock.deadline >= start) & (SlaClock.deadline < as_of)
           & (SlaClock.breached | (SlaClock.stage == "running")))
    .group_by(NoticeItem.marketplace, Notice.partnership).tuples()), 3)
# Open at `as_of` (started, not stopped by then) and past the deadline then, by the same rule as above.
CLOCKS_OPEN_BREACHED = _prepared(lambda org, as_of: (
    SlaClock.select(NoticeItem.marketplace, Notice.partnership, SlaClock.metric, fn.COUNT(SlaClock.id))
    .join(NoticeItem, on=(SlaClock.item == NoticeItem.id)).join(Notice, on=(NoticeItem.notice == Notice.id))
    .where(_side(SlaClock, org) & (SlaClock.started_at < as_of) & (SlaClock.deadline < as_of)
           & (SlaClock.stopped_at.is_null() | (SlaClock.stopped_at >= as_of))
           & (SlaClock.breached | (SlaClock.stage == "running")))
    .group_by(NoticeItem.marketplace, Notice.partnership, SlaClock.metric).tuples()), 2)


def _count_clocks(org, start, end, as_of, cells):
    """Clocks completed in the week (durations, met or breached) and clocks that breached in it."""
    completed = CLOCKS_COMPLETED.rows(org.id, start, end, shape=org.kind)
    for marketplace_id, partnership_id, metric, breached, target, left, started, stopped in completed:
        cell = cells[(marketplace_id, partnership_id)]
        cell.counts[f"{metric}_{'breached' if breached else 'met'}"] += 1
        cell.durations[f"{metric}_business"].append(target * 60 - left)
        cell.durations[f"{metric}_wall"].append(int((stopped - started).total_seconds()))
    for marketplace_id, partnership_id, count in CLOCKS_BREACHED.rows(org.id, start, as_of, shape=org.kind):
        cells[(marketplace_id, partnership_id)].counts["breaches"] += count
    for marketplace_id, partnership_id, metric, count in CLOCKS_OPEN_BREACHED.rows(org.id, as_of, shape=org.kind):
        cells[(marketplace_id, partnership_id)].counts[f"{metric}_open_breached"] += count


def _partnerships_query(org, end, *ids):
    partner = Organization.alias()
    side = Partnership.brand if org.is_platform else Partnership.platform
    return (partnerships_of(org).select_extend(partner).join(partner, on=(side == partner.id), attr="partner")
            .where((Partnership.created_at < end) | Partnership.id.in_(list(ids)))
            .order_by(partner.name, Partnership.id))


# Shaped by the org's kind and how many ids the week's activity names.
PARTNERSHIPS = PreparedSelect(lambda shape, org_id, end, *ids: _partnerships_query(_stand_in(shape[0], org_id), end, *ids),
                              arity=lambda shape: 2 + shape[1], shaped=True)


def _partnerships(org, active_ids, end, as_of):
    """The org's partnerships in force at week end (active or suspended then) or with activity in the week,
    in partner name order, each with `status_then`: its status at week end, not now, so that a snapshot
    taken late (a stopped worker, the first deployment) lists them as one taken on time would."""
    ids = sorted(i for i in active_ids if i is not None) or [0]
    existing = PARTNERSHIPS.rows(org.id, end, *ids, shape=(org.kind, len(ids)))
    then = _statuses_at(org, existing, as_of)
    for partnership in existing:
        partnership.status_then = then[partnership.id]
    return [p for p in existing if p.status_then in ("active", "suspended") or p.id in active_ids]


def _statuses_at(org, partnerships, moment):
    """{partnership id: status at `moment`}. A partnership whose status changed since reads its status then
    from the first change after it in the audit trail (each change records [before, after])."""
    found = {p.id: p.status for p in partnerships}
    changed = {str(p.id) for p in partnerships if p.status_changed_at and p.status_changed_at >= moment}
    if changed:
        events = (AuditEvent.for_org(org).where((AuditEvent.object_type == "Partnership")
                                                & AuditEvent.object_id.in_(list(changed))
                                                & (AuditEvent.created_at >= moment))
                  .order_by(AuditEvent.seq.desc()))
        for event in events:  # newest first: the earliest change after `moment` is written last
            status = json.loads(event.change).get("status")
            if isinstance(status, list) and len(status) == 2:
                found[int(event.object_id)] = status[0]
    return found


def _marketplaces(org, partnerships, seen_ids):
    """Marketplaces of the org (platform) or of its partners' platforms, and any the week's data names."""
    platforms = [org.id] if org.is_platform else [p.platform_id for p in partnerships]
    return list(Marketplace.select().where(Marketplace.org.in_(platforms or [0])
                                           | Marketplace.id.in_(list(seen_ids) or [0])).order_by(Marketplace.name))


def _intel_query(org, name, start, end):
    """The grouped count of one intelligence figure: (marketplace id, count) rows."""
    receipts = (FlagReceipt.select().join(Flag, on=(FlagReceipt.flag == Flag.id))
                .join(Seller, on=(Flag.seller == Seller.id)))
    sightings = sharing.visible_sightings(org).join(Seller, on=(Flag.seller == Seller.id))
    query, when, counted = {
        # By receipt: a flag counts in the week another org received it (raised, widened or named later).
        "flags_shared": lambda: (receipts.where(Flag.org == org.id), FlagReceipt.at, Flag.id),
        "flags_received": lambda: (receipts.where((FlagReceipt.org == org.id) & sharing.visible_to(org)),
                                   FlagReceipt.at, Flag.id),
        "sightings_made": lambda: (sightings.where(Sighting.org == org.id), Sighting.created_at, Sighting.id),
        "sightings_received": lambda: (sightings.where((Flag.org == org.id) & (Sighting.org != org.id)),
                                       Sighting.created_at, Sighting.id),
        "new_repeat_infringers": lambda: (
            Seller.select().where(Seller.marketplace.in_(sharing.strike_marketplaces(org))),
            Seller.repeat_infringer_at, Seller.id),
    }[name]()
    return (query.select(Seller.marketplace, fn.COUNT(fn.DISTINCT(counted)))
            .where((when >= start) & (when < end)).group_by(Seller.marketplace).tuples())


INTEL = PreparedSelect(lambda shape, org_id, start, end: _intel_query(_stand_in(shape[0], org_id), shape[1], start, end),
                       arity=3, shaped=True)


def _intel(org, start, end):
    """{marketplace id: {figure: count}} of the week's intelligence the org may see (sharing predicate)."""
    found = defaultdict(lambda: defaultdict(int))
    for name in INTEL_FIGURES:
        for marketplace_id, number in INTEL.rows(org.id, start, end, shape=(org.kind, name)):
            found[marketplace_id][name] += number
    return found


def _top_sellers_query(org, start, end):
    removed = fn.COUNT(fn.DISTINCT(Transition.item))
    return (Transition.select(Marketplace.slug, NoticeItem.seller_id, removed)
            .join(NoticeItem, on=(Transition.item == NoticeItem.id))
            .join(Marketplace, on=(NoticeItem.marketplace == Marketplace.id))
            .where(_side(Transition, org) & (Transition.to_state == "removed") & (Transition.at >= start)
                   & (Transition.at < end) & (NoticeItem.seller_id != ""))
            .group_by(Marketplace.slug, NoticeItem.seller_id)
            .order_by(removed.desc(), Marketplace.slug, NoticeItem.seller_id).limit(TOP_SELLERS).tuples())


TOP = _prepared(_top_sellers_query, 3)


def _top_sellers(org, start, end):
    """The sellers with the most listings removed in the week (ties by marketplace and id, for a stable order)."""
    return [{"marketplace": slug, "seller_id": seller_id, "removed_items": count}
            for slug, seller_id, count in TOP.rows(org.id, start, end, shape=org.kind)]


# What people read for each figure (the page, the dashboard, the charts); the JSON and CSV use the names.
LABELS = {
    "notices_filed": "Notices filed", "items_filed": "Listings filed", "acknowledged": "Acknowledged",
    "info_requested": "Info requested", "removed": "Removed", "rejected": "Rejected", "withdrawn": "Withdrawn",
    "counter_notices": "Counter-notices", "reinstated": "Reinstated", "upheld": "Removals upheld",
    "pending_at_week_end": "Pending at week end", "pending_age_median_seconds": "Pending: median age",
    "pending_age_max_seconds": "Pending: oldest",
    "acknowledge_met": "Acknowledged in time", "acknowledge_breached": "Acknowledged late",
    "acknowledge_compliance_percent": "Acknowledge SLA compliance", "action_met": "Actioned in time",
    "action_breached": "Actioned late", "action_compliance_percent": "Action SLA compliance",
    "acknowledge_open_breached": "Open, past the acknowledge deadline",
    "action_open_breached": "Open, past the action deadline",
    "breaches": "SLA breaches (clocks)", "fast_lane_partnerships": "Partnerships in the fast lane",
    "flags_shared": "Flags shared", "flags_received": "Flags received", "sightings_made": "Sightings made",
    "sightings_received": "Sightings on our flags", "new_repeat_infringers": "New repeat infringers",
    **{f"{metric}_{kind}_{stat}_seconds": f"Time to {'acknowledge' if metric == 'acknowledge' else 'action'}, "
                                          f"{kind} time, {'median' if stat == 'median' else '90th percentile'}"
       for metric in METRICS for kind in ("business", "wall") for stat in ("median", "p90")},
}
LABELS.update({name.removesuffix("_seconds") + "_hours": LABELS[name] + " (hours)" for name in DURATION_FIGURES})
