"""The good-faith score (portal.notices.goodfaith) of a brand under a partnership: removed share and
counter-notice success over a rolling 90 days, the fast lane (>= 90% removed, <= 5% successful
counter-notices, at least 20 decided items) with its boundaries, losing it, and the review flag
(>= 30% rejected). History is built through the real filing service and transitions, in the past."""
from datetime import datetime, timedelta

import pytest

from portal.audit import acting_as
from portal.notices import goodfaith, services
from portal.notices.models import NoticeItem
from portal.sla import clocks

T = datetime(2026, 6, 1, 9)  # a Monday; filings and decisions happen from here on
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
TARGETS = {"always_open": True, "timezone": "UTC", "ack_minutes": 240, "action_minutes": 480,
           "fast_ack_minutes": 60, "fast_action_minutes": 120, "effective_from": "2026-01-01"}
REASONS = {"removed": "Counterfeit: the logo differs from the genuine one.",
           "rejected": "The goods are genuine second-hand items.", "counter_noticed": "The seller objects.",
           "reinstated": "The seller showed a licence.", "upheld": "The licence is forged."}


class Filer:
    """A brand filing with a platform under one partnership, and the decisions on its listings."""

    def __init__(self, app, world, brand=None, platform=None, name="Acme Brands", platform_name="Bazaar"):
        self.app, self.world = app, world
        self.brand = brand or world.org(name)
        self.platform = platform or world.org(platform_name, kind="platform")
        self.partnership = world.partnership(self.brand, self.platform, **TARGETS)
        self.mark = world.verified_mark(self.brand, self.platform, number=str(10000000 + self.partnership.id))
        self.listings = 0

    def file(self, at, count=1):
        urls = [f"https://{self.platform.slug}.example/{self.brand.slug}/{self.listings + n}"
                for n in range(1, count + 1)]
        self.listings += count
        filed = self.world.notice(self.brand, self.partnership, urls, marks=[self.mark], now=at)
        with self.app.app_context():
            return filed.notice, services.items_of(filed.notice)

    def move(self, item, to, at):
        with self.app.app_context(), acting_as("test"):
            return services.transition(item, self.platform, to, reason=REASONS.get(to, ""), now=at)

    def history(self, at, removed=0, rejected=0, reinstated=0, upheld=0, countered=0, pending=0):
        """One notice filed at `at`: items removed or rejected an hour later; of the removed ones,
        `countered` get a counter-notice two hours later, `reinstated` and `upheld` also its decision
        three hours later; `pending` stay undecided. Returns the items by outcome."""
        plan = (["removed"] * removed + ["rejected"] * rejected + ["reinstated"] * reinstated
                + ["upheld"] * upheld + ["counter_noticed"] * countered + ["submitted"] * pending)
        notice, items = self.file(at, len(plan))
        found = {}
        for item, outcome in zip(items, plan):
            if outcome != "submitted":
                item = self.move(item, "rejected" if outcome == "rejected" else "removed", at + HOUR)
            if outcome in ("counter_noticed", "reinstated", "upheld"):
                item = self.move(item, "counter_noticed", at + 2 * HOUR)
            if outcome in ("reinstated", "upheld"):
                item = self.move(item, outcome, at + 3 * HOUR)
            found.setdefault(outcome, []).append(item)
        return found

    def score(self, at):
        with self.app.app_context():
            return goodfaith.score(self.partnership, at)

    def targets(self, item):
        with self.app.app_context():
            return clocks.clock(item, "acknowledge").target_minutes, clocks.clock(item, "action").target_minutes


def figures(score):
    return (score.removed, score.rejected, score.counter_reinstated, score.counter_upheld, score.fast_lane,
            score.under_review)


# --- the arithmetic, exactly at the thresholds ---------------------------------------------------------

@pytest.mark.parametrize("removed, rejected, reinstated, upheld, fast_lane, under_review", [
    (19, 0, 0, 0, False, False),  # 100% removed but 19 decided: not enough history
    (20, 0, 0, 0, True, False),
    (18, 2, 0, 0, True, False),  # exactly 90%
    (89, 11, 0, 0, False, False),  # 89%
    (90, 10, 0, 0, True, False),  # 90%
    (899, 101, 0, 0, False, False),  # 89.9%
    (20, 0, 1, 19, True, False),  # exactly 5% of counter-notices succeeded
    (20, 0, 1, 18, False, False),  # 5.26%
    (20, 0, 1, 0, False, False),  # the only counter-notice succeeded
    (14, 6, 0, 0, False, True),  # exactly 30% rejected
    (15, 5, 0, 0, False, False),  # 25%
    (9, 10, 0, 0, False, False),  # 53% rejected, but 19 decided
    (0, 20, 0, 0, False, True),
])
def test_thresholds(removed, rejected, reinstated, upheld, fast_lane, under_review):
    score = goodfaith.Score(removed=removed, rejected=rejected, counter_reinstated=reinstated, counter_upheld=upheld)
    assert (score.fast_lane, score.under_review) == (fast_lane, under_review)
    assert score.as_dict()["fast_lane"] is fast_lane and score.as_dict()["under_review"] is under_review


def test_an_empty_history_has_no_shares_and_no_lane(app, world):
    filer = Filer(app, world)
    score = filer.score(T)
    shares = (score.removed_share, score.rejected_share, score.counter_success_share)
    assert score.decided == 0 and shares == (None, None, 0.0)
    assert not score.fast_lane and not score.under_review and not score.enough_history
    assert score.as_dict() == {"window_days": 90, "decided": 0, "removed": 0, "rejected": 0, "removed_share": None,
                               "counter_notices_decided": 0, "counter_notices_succeeded": 0,
                               "counter_success_share": 0.0, "fast_lane": False, "under_review": False,
                               "min_decided": 20}


# --- counting from the notices -------------------------------------------------------------------------

def test_shares_count_decided_items_and_decided_counter_notices(app, world):
    filer = Filer(app, world)
    filer.history(T, removed=10, rejected=5, reinstated=3, upheld=1, countered=1, pending=2)
    # Two listings still in hand (one acknowledged, one waiting for information) are not decided either.
    notice, (in_hand, waiting) = filer.file(T, count=2)
    filer.move(in_hand, "acknowledged", T + HOUR)
    with app.app_context(), acting_as("test"):
        services.transition(waiting, filer.platform, "info_requested", reason="Send the receipt.", now=T + HOUR)
    score = filer.score(T + DAY)
    # Removed: 10 + 3 reinstated + 1 upheld + 1 counter-noticed still open; a reinstatement does not undo
    # the removal decision in the removed share, it counts in the counter-notice share.
    assert (score.removed, score.rejected, score.decided) == (15, 5, 20)
    assert (score.removed_share, score.rejected_share) == (0.75, 0.25)
    assert (score.counter_reinstated, score.counter_upheld, score.counter_decided) == (3, 1, 4)
    assert score.counter_success_share == 0.75
    assert score.enough_history and not score.fast_lane and not score.under_review
    assert score.as_dict()["removed_share"] == 0.75 and score.as_dict()["counter_notices_succeeded"] == 3


def test_the_score_is_per_partnership(app, world):
    filer = Filer(app, world)
    filer.history(T, removed=20)
    # The same brand with another platform, and another brand with the same platform: rejected a lot.
    elsewhere = Filer(app, world, brand=filer.brand, platform_name="Other Market")
    elsewhere.history(T, rejected=20)
    rival = Filer(app, world, platform=filer.platform, name="Rival Brand")
    rival.history(T, rejected=10, reinstated=10)
    assert figures(filer.score(T + DAY)) == (20, 0, 0, 0, True, False)
    assert figures(elsewhere.score(T + DAY)) == (0, 20, 0, 0, False, True)
    assert figures(rival.score(T + DAY)) == (10, 10, 10, 0, False, True)
    with app.app_context():
        listed = goodfaith.scores([filer.partnership, elsewhere.partnership], T + DAY)
    assert [(p.id, s.fast_lane) for p, s in listed] == [(filer.partnership.id, True), (elsewhere.partnership.id, False)]


def test_a_rolling_window_of_90_days(app, world):
    filer = Filer(app, world)
    filer.history(T, removed=20)  # decided at T + 1 h
    decided = T + HOUR
    assert filer.score(decided).decided == 20
    assert filer.score(decided + 90 * DAY).decided == 20  # exactly 90 days old still counts
    assert filer.score(decided + 90 * DAY + timedelta(seconds=1)).decided == 0
    assert filer.score(decided + 90 * DAY).fast_lane and not filer.score(decided + 91 * DAY).fast_lane


def test_decisions_after_the_scoring_moment_do_not_count(app, world):
    """A score "at" a moment looks back 90 days from it, not forward: history filed in the past is scored
    as it stood then (the filing service scores the brand at the filing moment)."""
    filer = Filer(app, world)
    filer.history(T, removed=20, reinstated=1, upheld=1)  # decided at T + 1 h, counter-notices at T + 3 h
    assert figures(filer.score(T + 30 * timedelta(minutes=1))) == (0, 0, 0, 0, False, False)
    assert figures(filer.score(T + 2 * HOUR)) == (22, 0, 0, 0, True, False)
    assert figures(filer.score(T + 3 * HOUR)) == (22, 0, 1, 1, False, False)
    notice, (item,) = filer.file(T + 30 * timedelta(minutes=1))  # back-filed before those decisions
    assert not notice.fast_lane and filer.targets(item) == (240, 480)


def test_counter_notices_count_by_when_they_were_decided(app, world):
    filer = Filer(app, world)
    found = filer.history(T, removed=21)
    old = found["removed"][0]
    filer.move(filer.move(old, "counter_noticed", T + 2 * DAY), "reinstated", T + 60 * DAY)
    # At T + 91 days the removals have left the window, the reinstatement (day 60) has not.
    score = filer.score(T + 91 * DAY)
    assert (score.decided, score.counter_reinstated, score.counter_success_share) == (0, 1, 1.0)
    assert figures(filer.score(T + 30 * DAY)) == (21, 0, 0, 0, True, False)
    assert figures(filer.score(T + 61 * DAY)) == (21, 0, 1, 0, False, False)


# --- the boundaries, built from notices ----------------------------------------------------------------

@pytest.mark.parametrize("removed, rejected, reinstated, upheld, fast_lane, under_review", [
    pytest.param(19, 0, 0, 0, False, False, id="19-decided"),
    pytest.param(20, 0, 0, 0, True, False, id="20-decided"),
    pytest.param(18, 2, 0, 0, True, False, id="90%-removed"),
    pytest.param(17, 3, 0, 0, False, False, id="85%-removed"),
    pytest.param(89, 11, 0, 0, False, False, id="89%-removed"),
    pytest.param(90, 10, 0, 0, True, False, id="90%-of-100-removed"),
    pytest.param(0, 0, 1, 19, True, False, id="5%-counter-success"),
    pytest.param(0, 0, 2, 18, False, False, id="10%-counter-success"),
    pytest.param(14, 6, 0, 0, False, True, id="30%-rejected"),
    pytest.param(15, 5, 0, 0, False, False, id="25%-rejected"),
    pytest.param(9, 10, 0, 0, False, False, id="19-decided-mostly-rejected"),
])
def test_boundaries_from_filed_notices(app, world, removed, rejected, reinstated, upheld, fast_lane, under_review):
    filer = Filer(app, world)
    filer.history(T, removed=removed, rejected=rejected, reinstated=reinstated, upheld=upheld)
    score = filer.score(T + DAY)
    assert figures(score) == (removed + reinstated + upheld, rejected, reinstated, upheld, fast_lane, under_review)
    notice, (item,) = filer.file(T + DAY)
    assert notice.fast_lane is fast_lane
    assert filer.targets(item) == ((60, 120) if fast_lane else (240, 480))


# --- earning and losing the fast lane ------------------------------------------------------------------

def test_a_successful_counter_notice_pushes_above_5_percent_and_loses_the_lane(app, world):
    filer = Filer(app, world)
    found = filer.history(T, removed=1, reinstated=1, upheld=19)  # 21 removed; 1 of 20 counter-notices won
    score = filer.score(T + DAY)
    assert (score.counter_success_share, score.fast_lane) == (0.05, True)
    notice, (fast,) = filer.file(T + DAY)
    assert notice.fast_lane and filer.targets(fast) == (60, 120)
    last = filer.move(found["removed"][0], "counter_noticed", T + 2 * DAY)
    filer.move(last, "reinstated", T + 3 * DAY)  # 2 of 21: 9.5%
    score = filer.score(T + 3 * DAY)
    assert score.counter_reinstated == 2 and score.counter_success_share > 0.05 and not score.fast_lane
    assert score.removed_share == 1.0  # still every decided item removed
    notice, (normal,) = filer.file(T + 3 * DAY)
    assert not notice.fast_lane and filer.targets(normal) == (240, 480)
    assert filer.targets(fast) == (60, 120)  # the notice filed in the fast lane keeps its targets


def test_rejections_lose_the_lane_and_it_comes_back_as_they_age_out(app, world):
    filer = Filer(app, world)
    filer.history(T, removed=20)
    assert filer.score(T + DAY).fast_lane
    filer.history(T + 10 * DAY, rejected=2)  # 20 of 22: 90.9%
    assert filer.score(T + 11 * DAY).fast_lane
    filer.history(T + 20 * DAY, rejected=1)  # 20 of 23: 87%
    score = filer.score(T + 21 * DAY)
    assert (score.decided, score.fast_lane, score.under_review) == (23, False, False)
    notice, (item,) = filer.file(T + 21 * DAY)
    assert not notice.fast_lane and filer.targets(item) == (240, 480)
    # New removals after the old ones age out: at day 95 the first 20 removals are gone, so only 3
    # rejections and these 20 removals count.
    filer.history(T + 80 * DAY, removed=20)
    score = filer.score(T + 95 * DAY)
    assert (score.removed, score.rejected, score.fast_lane) == (20, 3, False)
    # At day 111 the rejections of days 10 and 20 have aged out too: the lane is back.
    score = filer.score(T + 111 * DAY)
    assert (score.removed, score.rejected, score.fast_lane) == (20, 0, True)
    notice, (item,) = filer.file(T + 111 * DAY)
    assert notice.fast_lane and filer.targets(item) == (60, 120)


def test_persistently_unfounded_notices_are_listed_for_review(app, world):
    filer = Filer(app, world)
    filer.history(T, removed=13, rejected=6)  # 19 decided: not yet
    assert not filer.score(T + DAY).under_review
    filer.history(T + 2 * DAY, rejected=1)  # 7 of 20 rejected: 35%
    score = filer.score(T + 3 * DAY)
    assert (score.decided, score.under_review, score.fast_lane) == (20, True, False)
    assert score.as_dict()["under_review"] is True
    filer.history(T + 4 * DAY, removed=4)  # 7 of 24: 29%
    assert not filer.score(T + 5 * DAY).under_review
    with app.app_context():
        assert NoticeItem.select().where(NoticeItem.decision == "rejected").count() == 7
