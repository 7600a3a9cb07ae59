"""The good-faith score of a brand under a partnership (DESIGN.md "Good-faith filers"): one module that
the filing service (fast lane or not), the pages, the API and the demo all read.

Over a rolling 90 days, counted by when each decision was made:
- removed share = items removed / items decided (removed or rejected);
- counter-notice success = counter-notices that ended in reinstatement / counter-notices decided
  (reinstated or upheld); no decided counter-notice counts as 0%.
At least 20 decided items, >= 90% removed and <= 5% successful counter-notices earn the fast lane:
new notices get the partnership's fast-lane targets. Falling below loses it for the next notice.
A brand with at least 20 decided items of which >= 30% were rejected is listed for the platform's review.
"""
from dataclasses import dataclass
from datetime import timedelta

from peewee import fn

from portal.db import PreparedSelect
from portal.notices.models import Notice, NoticeItem
from portal.timeutil import utcnow

WINDOW_DAYS = 90
MIN_DECIDED = 20
FAST_LANE_MIN_REMOVED = 0.90
FAST_LANE_MAX_COUNTER_SUCCESS = 0.05
REVIEW_MIN_REJECTED = 0.30


@dataclass
class Score:
    removed: int
    rejected: int
    counter_reinstated: int
    counter_upheld: int

    @property
    def decided(self):
        return self.removed + self.rejected

    @property
    def counter_decided(self):
        return self.counter_reinstated + self.counter_upheld

    @property
    def removed_share(self):
        return self.removed / self.decided if self.decided else None

    @property
    def rejected_share(self):
        return self.rejected / self.decided if self.decided else None

    @property
    def counter_success_share(self):
        return self.counter_reinstated / self.counter_decided if self.counter_decided else 0.0

    @property
    def enough_history(self):
        return self.decided >= MIN_DECIDED

    @property
    def fast_lane(self):
        return (self.enough_history and self.removed_share >= FAST_LANE_MIN_REMOVED
                and self.counter_success_share <= FAST_LANE_MAX_COUNTER_SUCCESS)

    @property
    def under_review(self):
        return self.enough_history and self.rejected_share >= REVIEW_MIN_REJECTED

    def as_dict(self):
        return {"window_days": WINDOW_DAYS, "decided": self.decided, "removed": self.removed,
                "rejected": self.rejected, "removed_share": _rounded(self.removed_share),
                "counter_notices_decided": self.counter_decided, "counter_notices_succeeded": self.counter_reinstated,
                "counter_success_share": _rounded(self.counter_success_share), "fast_lane": self.fast_lane,
                "under_review": self.under_review, "min_decided": MIN_DECIDED}


def _rounded(share):
    return None if share is None else round(share, 4)


def score(partnership, now=None):
    """The partnership's brand score over the 90 days before `now` (decisions made after `now` do not
    count: a notice filed with a past `now` is scored on the history as it stood then)."""
    return scores([partnership], now)[0][1]


def _outcomes_query(shape, since, now, *ids):
    """(partnership id, outcome, count) of the decisions and of the counter-notice outcomes in the window,
    one query: the two groupings as one UNION ALL (a decision and a counter outcome never share a name)."""
    partnerships, brands, until_exclusive = ids[:shape[0]], ids[shape[0]:], shape[2]
    parts = []
    for outcome, moment in ((NoticeItem.decision, NoticeItem.decided_at),
                            (NoticeItem.counter_outcome, NoticeItem.counter_decided_at)):
        parts.append(NoticeItem.select(Notice.partnership, outcome.alias("outcome"), fn.COUNT(NoticeItem.id))
                     .join(Notice, on=(NoticeItem.notice == Notice.id))
                     # The item's own brand names the (brand, decided_at) and (brand, counter_decided_at) indexes.
                     .where(Notice.partnership.in_(list(partnerships)) & NoticeItem.brand.in_(list(brands))
                            & (moment >= since) & ((moment < now) if until_exclusive else (moment <= now))
                            & (outcome != ""))
                     .group_by(Notice.partnership, outcome))
    return parts[0].union_all(parts[1]).tuples()


# Shaped by how many partnerships and brands, and whether `now` itself is left out.
OUTCOMES = PreparedSelect(_outcomes_query, arity=lambda shape: 2 + shape[0] + shape[1], shaped=True)


def scores(partnerships, now=None, until_exclusive=False):
    """[(partnership, Score)] for many partnerships in one grouped query (lists, dashboards, API pages).
    `until_exclusive`: leave out decisions made at `now` itself (a weekly report: its week ends at `now`,
    and a decision at that instant belongs to the next week)."""
    partnerships = list(partnerships)
    if not partnerships:
        return []
    now = now or utcnow()
    since = now - timedelta(days=WINDOW_DAYS)
    counts = {}
    partnership_ids, brand_ids = [p.id for p in partnerships], sorted({p.brand_id for p in partnerships})
    shape = (len(partnership_ids), len(brand_ids), bool(until_exclusive))
    for partnership_id, name, count in OUTCOMES.rows(since, now, *partnership_ids, *brand_ids, shape=shape):
        counts[(partnership_id, name)] = count
    return [(p, Score(removed=counts.get((p.id, "removed"), 0), rejected=counts.get((p.id, "rejected"), 0),
                      counter_reinstated=counts.get((p.id, "reinstated"), 0),
                      counter_upheld=counts.get((p.id, "upheld"), 0)))
            for p in partnerships]
