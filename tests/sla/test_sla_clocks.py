"""The SLA engine (portal.sla.clocks) driven through the real filing service and transitions: deadlines
as a table of worked examples (business hours, weekends, holidays, DST, 24/7), pauses while information is
requested, warnings and breaches emitted exactly once by the periodic check, late completion, withdrawal,
snapshotted targets, the fast lane, and what read() says at a moment.

Every moment here is naive UTC, as the database stores it; `utc("2026-03-30 12:00", LONDON)` turns a local
wall-clock time into that form where the local time is what the example is about.
"""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from portal.audit import AuditEvent, acting_as
from portal.notices import services
from portal.notices.models import Notice, NoticeItem
from portal.partnerships import services as partnerships
from portal.sla import clocks
from portal.sla.models import SlaClock

LONDON = {"timezone": "Europe/London", "working_days": "mon-fri", "opens": "09:00", "closes": "17:00"}
LONDON_BANK_HOLIDAY = dict(LONDON, holidays=["2026-08-31"])  # the summer bank holiday, a Monday
SHANGHAI = {"timezone": "Asia/Shanghai", "working_days": "mon-fri", "opens": "09:00", "closes": "18:00"}
AROUND_THE_CLOCK = {"always_open": True, "timezone": "Europe/London"}
MINUTE, SECOND = timedelta(minutes=1), timedelta(seconds=1)


def utc(text, zone="UTC"):
    """A wall-clock time in `zone` ("2026-11-20 16:00") as naive UTC."""
    moment = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def sla_terms(ack, action, fast_ack=None, fast_action=None, calendar=AROUND_THE_CLOCK):
    """Partnership terms in force since January, so notices can be filed at any moment of 2026."""
    return dict(calendar, ack_minutes=ack, action_minutes=action, fast_ack_minutes=fast_ack or ack,
                fast_action_minutes=fast_action or action, effective_from="2026-01-01")


REASONS = {"info_requested": "Send the test-buy receipt.", "acknowledged": "The receipt is attached.",
           "removed": "Counterfeit: logo and packaging differ from the genuine product.",
           "rejected": "The listing sells genuine second-hand goods.", "counter_noticed": "The seller objects.",
           "reinstated": "The seller showed an invoice from the brand.", "upheld": "The invoice is forged."}


class Desk:
    """A brand and a platform under one partnership; files and moves items through the real services."""

    def __init__(self, app, world, **terms):
        self.app, self.world = app, world
        self.brand = world.org("Acme Brands")
        self.platform = world.org("Bazaar", kind="platform")
        self.partnership = world.partnership(self.brand, self.platform, **terms)
        self.mark = world.verified_mark(self.brand, self.platform)
        self.listings = 0

    def file(self, at, count=1):
        """File a notice of `count` new listings at `at`; returns (notice, items)."""
        urls = [f"https://bazaar.example/item/{self.listings + n}" for n in range(1, count + 1)]
        self.listings += count
        filed = self.world.notice(self.brand, self.partnership, urls, marks=[self.mark], now=at)
        with self.app.app_context():
            return filed.notice, services.items_of(filed.notice)

    def file_one(self, at):
        return self.file(at)[1][0]

    def move(self, item, to, at):
        """The platform decides; the brand answers a request for information or withdraws."""
        fresh = self.item(item)
        brand_moves = to == "withdrawn" or (fresh.state == "info_requested" and to == "acknowledged")
        with self.app.app_context(), acting_as("test"):
            return services.transition(fresh, self.brand if brand_moves else self.platform, to,
                                       reason=REASONS.get(to, ""), now=at)

    def check(self, at):
        with self.app.app_context(), acting_as("test"):
            return clocks.check_clocks(at)

    def clock(self, item, metric):
        with self.app.app_context():
            return clocks.clock(item, metric)

    def read(self, item, metric, at):
        return clocks.read(self.clock(item, metric), at)

    def item(self, item):
        with self.app.app_context():
            return NoticeItem.get_by_id(item.id)

    def events(self, action, item=None, metric=None):
        """{org id: number of `action` audit events} (about `item` and `metric` when given)."""
        with self.app.app_context():
            query = AuditEvent.select().where(AuditEvent.action == action)
            if item is not None:
                query = query.where((AuditEvent.object_type == "NoticeItem") & (AuditEvent.object_id == str(item.id)))
            counts = {}
            for event in query:
                if metric is None or event.change_data["metric"] == metric:
                    counts[event.org_id] = counts.get(event.org_id, 0) + 1
            return counts

    def both(self, count):
        """What events() gives for an event written `count` times to each side."""
        return {self.brand.id: count, self.platform.id: count} if count else {}


# --- deadlines: worked examples ------------------------------------------------------------------------

DEADLINES = [
    # DESIGN.md: Fri 16:00 + 4 business hours, Mon-Fri 09:00-17:00 Europe/London = Mon 12:00 (GMT = UTC in
    # November). The action target, 16 h: Fri 1 h + Mon 8 h + Tue 7 h.
    pytest.param(LONDON, "2026-11-20 16:00", 240, "2026-11-23 12:00", 960, "2026-11-24 16:00", id="london-friday"),
    # The clocks go forward on Sunday 29 March 2026: Monday noon BST is 11:00 UTC.
    pytest.param(LONDON, "2026-03-27 16:00", 240, "2026-03-30 11:00", 960, "2026-03-31 15:00", id="london-spring-dst"),
    # They go back on Sunday 25 October: Friday 16:00 BST is 15:00 UTC, Monday noon GMT is 12:00 UTC.
    pytest.param(LONDON, "2026-10-23 15:00", 240, "2026-10-26 12:00", 960, "2026-10-27 16:00", id="london-autumn-dst"),
    # A bank holiday is skipped like a weekend day ...
    pytest.param(LONDON_BANK_HOLIDAY, "2026-08-28 15:00", 240, "2026-09-01 11:00", 960, "2026-09-02 15:00",
                 id="london-bank-holiday"),
    # ... and the same filing without it ends on the Monday.
    pytest.param(LONDON, "2026-08-28 15:00", 240, "2026-08-31 11:00", 960, "2026-09-01 15:00", id="no-holiday"),
    # Filed at the weekend: the clock starts at Monday's opening.
    pytest.param(LONDON, "2026-11-21 10:00", 60, "2026-11-23 10:00", 480, "2026-11-23 17:00", id="weekend-filing"),
    # East of UTC: Friday 17:00 in Shanghai is 09:00 UTC; 1 h on Friday, then Monday from 09:00 CST (01:00 UTC).
    pytest.param(SHANGHAI, "2026-11-20 09:00", 180, "2026-11-23 03:00", 1080, "2026-11-24 09:00", id="shanghai"),
    # 24/7 counts real hours, across the night the clocks go forward too (00:30 GMT + 2 h = 03:30 BST) ...
    pytest.param(AROUND_THE_CLOCK, "2026-03-29 00:30", 120, "2026-03-29 02:30", 1440, "2026-03-30 00:30",
                 id="24/7-spring-dst-night"),
    # ... and a day of it is 24 real hours, so noon GMT on Saturday + 24 h is 13:00 BST on Sunday.
    pytest.param(AROUND_THE_CLOCK, "2026-03-28 12:00", 1440, "2026-03-29 12:00", 2880, "2026-03-30 12:00",
                 id="24/7-spring-dst-day"),
    pytest.param(AROUND_THE_CLOCK, "2026-11-21 22:00", 240, "2026-11-22 02:00", 600, "2026-11-22 08:00",
                 id="24/7-weekend"),
]


@pytest.mark.parametrize("calendar, filed, ack, ack_deadline, action, action_deadline", DEADLINES)
def test_deadlines_of_a_filed_notice(app, world, calendar, filed, ack, ack_deadline, action, action_deadline):
    desk = Desk(app, world, **sla_terms(ack, action, calendar=calendar))
    notice, items = desk.file(utc(filed), count=2)
    assert len(items) == 2 and not notice.fast_lane
    for item in items:
        acknowledge, act = desk.clock(item, "acknowledge"), desk.clock(item, "action")
        assert (acknowledge.target_minutes, acknowledge.deadline) == (ack, utc(ack_deadline))
        assert (act.target_minutes, act.deadline) == (action, utc(action_deadline))
        assert acknowledge.stage == act.stage == "running" and not acknowledge.breached and not act.breached
        assert acknowledge.started_at == act.started_at == utc(filed)
        assert desk.item(item).due_at == utc(ack_deadline)  # the nearest running deadline
        # At the deadline all of the target is used and none is left.
        reading = desk.read(item, "acknowledge", utc(ack_deadline))
        assert (reading.remaining, reading.elapsed_percent) == (timedelta(0), 100)
    # The periodic check breaches the acknowledge clocks at their deadline, not a second before.
    assert desk.check(utc(ack_deadline) - SECOND)[1] == 0
    assert desk.check(utc(ack_deadline)) == (0, 2)
    assert desk.check(utc(action_deadline) - SECOND)[1] == 0
    assert desk.check(utc(action_deadline)) == (0, 2)
    for item in items:
        assert desk.events("sla.breached", item, "acknowledge") == desk.both(1)
        assert desk.events("sla.breached", item, "action") == desk.both(1)


def test_the_designs_example_read_in_business_time(app, world):
    """Fri 16:00 + 240 business minutes: at Monday 10:00 two business hours are left, half the target used,
    though 66 wall-clock hours have passed."""
    desk = Desk(app, world, **sla_terms(240, 960, calendar=LONDON))
    item = desk.file_one(utc("2026-11-20 16:00", "Europe/London"))
    reading = desk.read(item, "acknowledge", utc("2026-11-23 10:00", "Europe/London"))
    assert reading.deadline == utc("2026-11-23 12:00", "Europe/London") == datetime(2026, 11, 23, 12)
    assert (reading.remaining, reading.elapsed_percent, reading.breached) == (timedelta(hours=2), 50, False)
    # Saturday is closed: the reading does not move over the weekend.
    weekend = desk.read(item, "acknowledge", utc("2026-11-21 15:00", "Europe/London"))
    assert (weekend.remaining, weekend.elapsed_percent) == (timedelta(hours=3), 25)


# --- pauses: info requested ----------------------------------------------------------------------------

PAUSES = [
    # DESIGN.md's pause rule on the brief's example: a 2-hour action target from 08:00, paused 09:00-10:05,
    # ends at 11:05 (24/7).
    pytest.param(AROUND_THE_CLOCK, 120, "2026-11-16 08:00", "2026-11-16 09:00", "2026-11-16 10:05",
                 "2026-11-16 11:05", 65 * 60, id="24/7"),
    # Business hours: 4 h used by Monday 13:00, paused Mon 13:00-17:00 and Tue 09:00-10:00 (5 business hours),
    # the 4 h left run from Tuesday 10:00.
    pytest.param(LONDON, 480, "2026-11-16 09:00", "2026-11-16 13:00", "2026-11-17 10:00", "2026-11-17 14:00",
                 5 * 3600, id="london"),
    # The same across the spring DST weekend: Monday 10:00 BST is 09:00 UTC, the deadline 14:00 BST.
    pytest.param(LONDON, 480, "2026-03-27 09:00", "2026-03-27 13:00", "2026-03-30 09:00", "2026-03-30 13:00",
                 5 * 3600, id="london-dst"),
    # Paused at Friday closing and answered over the weekend: no business time passed while paused.
    pytest.param(LONDON, 480, "2026-11-20 13:00", "2026-11-20 17:00", "2026-11-22 20:00", "2026-11-23 13:00",
                 0, id="paused-over-a-weekend"),
]


@pytest.mark.parametrize("calendar, target, filed, paused, resumed, deadline, paused_seconds", PAUSES)
def test_a_pause_extends_the_action_deadline(app, world, calendar, target, filed, paused, resumed, deadline,
                                             paused_seconds):
    desk = Desk(app, world, **sla_terms(target, target, calendar=calendar))
    item = desk.file_one(utc(filed))
    desk.move(item, "info_requested", utc(paused))  # acknowledged first, then put on hold
    act, acknowledge = desk.clock(item, "action"), desk.clock(item, "acknowledge")
    assert acknowledge.stage == "completed" and not acknowledge.breached  # acknowledge never pauses
    assert (act.stage, act.paused_at) == ("paused", utc(paused))
    assert desk.item(item).due_at is None  # nothing runs while the platform waits for the brand
    desk.move(item, "acknowledged", utc(resumed))  # the brand answers
    act = desk.clock(item, "action")
    assert (act.stage, act.deadline, act.paused_seconds) == ("running", utc(deadline), paused_seconds)
    assert act.paused_at is None and act.remaining_seconds is None and act.target_minutes == target
    assert desk.item(item).due_at == utc(deadline)
    assert desk.check(utc(deadline) - SECOND)[1] == 0
    assert desk.check(utc(deadline))[1] == 1


def test_the_briefs_pause_example_warns_and_breaches_on_time(app, world):
    """Action 2 h from 08:00, info requested 09:00-10:05: warning at 10:35 (90 of 120 minutes running),
    breach at 11:05. check_clocks at 11:04 emits no breach; at 11:05 one, once."""
    desk = Desk(app, world, **sla_terms(240, 120))
    item = desk.file_one(datetime(2026, 11, 16, 8))
    desk.move(item, "info_requested", datetime(2026, 11, 16, 9))
    assert desk.check(datetime(2026, 11, 16, 10)) == (0, 0)  # paused past the first deadline: nothing
    desk.move(item, "acknowledged", datetime(2026, 11, 16, 10, 5))
    act = desk.clock(item, "action")
    assert (act.deadline, act.warn_at) == (datetime(2026, 11, 16, 11, 5), datetime(2026, 11, 16, 10, 35))
    assert desk.check(datetime(2026, 11, 16, 10, 34)) == (0, 0)
    assert desk.check(datetime(2026, 11, 16, 10, 35)) == (1, 0)
    assert desk.check(datetime(2026, 11, 16, 11, 4)) == (0, 0)
    assert desk.events("sla.breached") == {} and not desk.item(item).breached
    assert desk.check(datetime(2026, 11, 16, 11, 5)) == (0, 1)
    assert desk.check(datetime(2026, 11, 16, 11, 6)) == (0, 0)
    assert desk.events("sla.breached", item, "action") == desk.both(1)
    assert desk.events("sla.warning", item, "action") == desk.both(1)
    assert desk.item(item).breached and desk.clock(item, "action").breach_emitted_at == datetime(2026, 11, 16, 11, 5)


def test_pausing_past_the_deadline_records_the_breach(app, world):
    """Asking for information after the action deadline does not hide that it was missed: the clock is
    breached at the pause, once, and withdrawing the item afterwards does not undo it."""
    desk = Desk(app, world, **sla_terms(240, 120))
    item = desk.file_one(datetime(2026, 11, 16, 8))
    desk.move(item, "acknowledged", datetime(2026, 11, 16, 8, 30))
    desk.move(item, "info_requested", datetime(2026, 11, 16, 10, 30))  # due at 10:00, no check ran since
    act = desk.clock(item, "action")
    assert (act.stage, act.breached, act.remaining_seconds) == ("paused", True, -30 * 60)
    reading = desk.read(item, "action", datetime(2026, 11, 16, 11))
    assert reading.breached and reading.remaining == timedelta(minutes=-30) and reading.elapsed_percent == 125
    assert desk.item(item).breached
    assert desk.events("sla.breached", item, "action") == desk.both(1)
    assert desk.events("sla.warning", item, "action") == desk.both(1)
    desk.move(item, "acknowledged", datetime(2026, 11, 16, 12))  # resumed: still late, the deadline stays
    assert desk.clock(item, "action").deadline == datetime(2026, 11, 16, 10)
    assert desk.check(datetime(2026, 11, 16, 13)) == (0, 0)
    desk.move(item, "removed", datetime(2026, 11, 16, 13))
    assert desk.events("sla.breached", item, "action") == desk.both(1)
    assert desk.clock(item, "action").breached


def test_pause_while_paused_and_resume_while_running_change_nothing(app, world):
    desk = Desk(app, world, **sla_terms(240, 120))
    first, second = desk.file(datetime(2026, 11, 16, 8), count=2)[1]
    fields = ("stage", "deadline", "warn_at", "paused_at", "paused_seconds", "remaining_seconds", "stopped_at",
              "breached")

    def state(item, metric):
        found = desk.clock(item, metric)
        return {name: getattr(found, name) for name in fields}

    desk.move(first, "info_requested", datetime(2026, 11, 16, 9))
    paused = state(first, "action")
    with app.app_context():
        clocks.pause(first, "action", datetime(2026, 11, 16, 9, 30))  # already paused: keeps its first pause
    assert state(first, "action") == paused and paused["remaining_seconds"] == 3600
    running = state(second, "action")
    with app.app_context():
        clocks.resume(second, "action", datetime(2026, 11, 16, 9, 30))  # running: nothing to resume
    assert state(second, "action") == running and running["deadline"] == datetime(2026, 11, 16, 10)
    completed = state(first, "acknowledge")
    with app.app_context():
        clocks.pause(first, "acknowledge", datetime(2026, 11, 16, 9, 45))
        clocks.resume(first, "acknowledge", datetime(2026, 11, 16, 9, 50))
        clocks.complete(first, "acknowledge", datetime(2026, 11, 16, 23))  # completing twice: the first stands
    assert state(first, "acknowledge") == completed and completed["stopped_at"] == datetime(2026, 11, 16, 9)
    # The resume after the no-op pause counts the pause from 09:00, not from 09:30.
    desk.move(first, "acknowledged", datetime(2026, 11, 16, 10))
    assert desk.clock(first, "action").deadline == datetime(2026, 11, 16, 11)


# --- warnings and breaches -----------------------------------------------------------------------------

def test_warning_at_75_percent_and_breach_each_emitted_once(app, world):
    """Acknowledge 60 min from 08:00 (warns 08:45, due 09:00); action 120 min (warns 09:30, due 10:00)."""
    desk = Desk(app, world, **sla_terms(60, 120))
    item = desk.file_one(datetime(2026, 11, 16, 8))
    schedule = [((8, 44), (0, 0)), ((8, 45), (1, 0)), ((8, 50), (0, 0)), ((8, 59, 59), (0, 0)), ((9, 0), (0, 1)),
                ((9, 0), (0, 0)), ((9, 29), (0, 0)), ((9, 30), (1, 0)), ((9, 59), (0, 0)), ((10, 0), (0, 1)),
                ((10, 0), (0, 0)), ((11, 0), (0, 0)), ((23, 0), (0, 0))]
    for moment, expected in schedule:
        assert desk.check(datetime(2026, 11, 16, *moment)) == expected, moment
    for metric in ("acknowledge", "action"):
        assert desk.events("sla.warning", item, metric) == desk.both(1)
        assert desk.events("sla.breached", item, metric) == desk.both(1)
    assert desk.events("sla.breached") == desk.both(2)
    with app.app_context():
        payload = AuditEvent.get((AuditEvent.action == "sla.breached") & (AuditEvent.org == desk.brand)
                                 & (AuditEvent.change.contains('"acknowledge"'))).change_data
    assert payload["deadline"] == "2026-11-16T09:00:00Z" and payload["target_minutes"] == 60
    assert payload["item"] == item.id and payload["state"] == "submitted"


def test_a_clock_found_only_after_its_deadline_still_warns_first(app, world):
    desk = Desk(app, world, **sla_terms(60, 120))
    notice, items = desk.file(datetime(2026, 11, 16, 8), count=3)
    assert desk.check(datetime(2026, 11, 17)) == (6, 6)
    assert desk.check(datetime(2026, 11, 18)) == (0, 0)
    assert desk.events("sla.warning") == desk.events("sla.breached") == desk.both(6)
    for item in items:
        assert desk.item(item).breached and desk.item(item).due_at == datetime(2026, 11, 16, 9)


def test_late_completion_keeps_breached_and_emits_once_without_the_periodic_check(app, world):
    desk = Desk(app, world, **sla_terms(60, 120))
    item = desk.file_one(datetime(2026, 11, 16, 8))
    desk.move(item, "acknowledged", datetime(2026, 11, 16, 9, 30))  # due at 09:00; check_clocks never ran
    ack = desk.clock(item, "acknowledge")
    assert (ack.stage, ack.breached, ack.stopped_at) == ("completed", True, datetime(2026, 11, 16, 9, 30))
    assert ack.remaining_seconds == -30 * 60
    assert desk.events("sla.breached", item, "acknowledge") == desk.both(1)
    assert desk.events("sla.warning", item, "acknowledge") == desk.both(1)  # warned first, as the check does
    fresh = desk.item(item)
    assert fresh.breached and fresh.due_at == datetime(2026, 11, 16, 10)  # the action clock still runs
    # The check after it neither breaches the completed clock again nor touches the running one early.
    assert desk.check(datetime(2026, 11, 16, 9, 45)) == (1, 0)  # the action clock's warning (09:30)
    desk.move(item, "removed", datetime(2026, 11, 16, 9, 50))  # in time
    act = desk.clock(item, "action")
    assert (act.stage, act.breached, act.remaining_seconds) == ("completed", False, 10 * 60)
    assert desk.check(datetime(2026, 11, 17)) == (0, 0)
    assert desk.events("sla.breached", item) == desk.both(1)
    fresh = desk.item(item)
    assert fresh.breached and fresh.due_at is None  # breached once stays breached on the item


def test_stage_and_breached_are_separate(app, world):
    """Breached while running (found by the check), then completed: stage completed, breached kept."""
    desk = Desk(app, world, **sla_terms(60, 120))
    item = desk.file_one(datetime(2026, 11, 16, 8))
    desk.move(item, "acknowledged", datetime(2026, 11, 16, 8, 15))
    assert desk.check(datetime(2026, 11, 16, 10, 1)) == (1, 1)
    act = desk.clock(item, "action")
    assert (act.stage, act.breached) == ("running", True)
    reading = desk.read(item, "action", datetime(2026, 11, 16, 10, 1))
    assert (reading.stage, reading.breached, reading.remaining) == ("running", True, -MINUTE)
    desk.move(item, "removed", datetime(2026, 11, 16, 10, 30))
    act = desk.clock(item, "action")
    assert (act.stage, act.breached) == ("completed", True)
    assert desk.events("sla.breached", item) == desk.both(1)  # completing late after the check: not again
    ack = desk.clock(item, "acknowledge")
    assert (ack.stage, ack.breached) == ("completed", False)  # the other metric kept its own result
    assert desk.events("sla.breached", item, "acknowledge") == {}


def test_completed_in_time_is_never_breached(app, world):
    desk = Desk(app, world, **sla_terms(60, 120, calendar=LONDON))
    item = desk.file_one(datetime(2026, 11, 20, 16, 30))  # Friday: ack due Monday 09:30, action Monday 10:30
    desk.move(item, "acknowledged", datetime(2026, 11, 23, 9, 29))
    desk.move(item, "rejected", datetime(2026, 11, 23, 10, 29))
    assert desk.check(datetime(2026, 12, 31)) == (0, 0)
    for metric in ("acknowledge", "action"):  # each done a business minute before its deadline
        found = desk.clock(item, metric)
        assert (found.stage, found.breached, found.remaining_seconds) == ("completed", False, 60)
    assert desk.events("sla.breached") == {} and not desk.item(item).breached


def test_withdrawal_cancels_clocks_and_cancelled_clocks_never_breach(app, world):
    desk = Desk(app, world, **sla_terms(60, 120))
    notice, (submitted, on_hold, left) = desk.file(datetime(2026, 11, 16, 8), count=3)
    desk.move(submitted, "withdrawn", datetime(2026, 11, 16, 8, 20))
    desk.move(on_hold, "info_requested", datetime(2026, 11, 16, 8, 30))
    desk.move(on_hold, "withdrawn", datetime(2026, 11, 16, 8, 40))
    assert [desk.clock(submitted, m).stage for m in ("acknowledge", "action")] == ["cancelled", "cancelled"]
    assert [desk.clock(on_hold, m).stage for m in ("acknowledge", "action")] == ["completed", "cancelled"]
    assert desk.clock(on_hold, "action").stopped_at == datetime(2026, 11, 16, 8, 40)
    assert desk.clock(on_hold, "action").remaining_seconds == 90 * 60  # its paused balance, kept as it was
    for item in (submitted, on_hold):
        assert desk.item(item).due_at is None
    # Only the listing still under notice warns and breaches.
    assert desk.check(datetime(2026, 11, 20)) == (2, 2)
    assert desk.check(datetime(2026, 11, 21)) == (0, 0)
    for item in (submitted, on_hold):
        assert not desk.item(item).breached
        assert desk.events("sla.breached", item) == {} and desk.events("sla.warning", item) == {}
        with app.app_context():
            assert not SlaClock.select().where((SlaClock.item == item.id) & SlaClock.breached).exists()
        assert desk.read(item, "action", datetime(2026, 11, 20)).breached is False
    assert desk.events("sla.breached", left) == desk.both(2)
    with app.app_context():
        clocks.cancel(left, datetime(2026, 11, 22))  # a late cancel leaves the breach as it is
    assert [desk.clock(left, m).stage for m in ("acknowledge", "action")] == ["cancelled", "cancelled"]
    assert all(desk.clock(left, m).breached for m in ("acknowledge", "action"))


# --- snapshots and the fast lane -----------------------------------------------------------------------

def test_new_terms_do_not_move_running_clocks_and_apply_to_the_next_notice(app, world):
    desk = Desk(app, world, **sla_terms(240, 960, calendar=LONDON))
    first = desk.file_one(datetime(2026, 11, 20, 16))
    before = {m: desk.clock(first, m) for m in ("acknowledge", "action")}
    with app.app_context(), acting_as("test"):
        values = partnerships.terms_form_values(partnerships.terms_in_force(desk.partnership))
        values.update(sla_terms(60, 120, fast_ack=30, fast_action=60), working_days="mon-sun")
        partnerships.revise_terms(desk.partnership, desk.brand, values)
        desk.partnership = partnerships.accept_terms(desk.partnership, desk.platform)
        assert partnerships.terms_in_force(desk.partnership).always_open
    for metric, old in before.items():
        now = desk.clock(first, metric)
        assert (now.target_minutes, now.deadline, now.warn_at, now.calendar) == (
            old.target_minutes, old.deadline, old.warn_at, old.calendar)
    # Read with the snapshotted business calendar, not the new 24/7 one.
    reading = desk.read(first, "acknowledge", datetime(2026, 11, 23, 10))
    assert reading.remaining == timedelta(hours=2) and reading.deadline == datetime(2026, 11, 23, 12)
    notice, (second,) = desk.file(datetime(2026, 11, 23, 10))
    with app.app_context():
        assert Notice.get_by_id(notice.id).terms.version == 2
    ack, act = desk.clock(second, "acknowledge"), desk.clock(second, "action")
    assert (ack.target_minutes, ack.deadline) == (60, datetime(2026, 11, 23, 11))
    assert (act.target_minutes, act.deadline) == (120, datetime(2026, 11, 23, 12))
    # The first item's clocks breach when the old terms say, the second's when the new ones do.
    assert desk.check(datetime(2026, 11, 23, 11, 59)) == (3, 1)  # second: both warn, ack breaches; first: ack warns
    assert desk.check(datetime(2026, 11, 23, 12)) == (0, 2)
    assert desk.events("sla.breached", first, "acknowledge") == desk.both(1)
    assert desk.events("sla.breached", first, "action") == {}


def test_a_fast_lane_brand_gets_the_fast_targets(app, world):
    desk = Desk(app, world, **sla_terms(240, 480, fast_ack=60, fast_action=120))
    history, items = desk.file(datetime(2026, 11, 2, 9), count=20)
    assert not history.fast_lane and desk.clock(items[0], "acknowledge").target_minutes == 240
    for item in items:
        desk.move(item, "removed", datetime(2026, 11, 2, 10))
    notice, (item,) = desk.file(datetime(2026, 11, 3, 9))
    assert notice.fast_lane
    ack, act = desk.clock(item, "acknowledge"), desk.clock(item, "action")
    assert (ack.target_minutes, ack.deadline) == (60, datetime(2026, 11, 3, 10))
    assert (act.target_minutes, act.deadline) == (120, datetime(2026, 11, 3, 11))
    assert desk.item(item).due_at == datetime(2026, 11, 3, 10)
    assert desk.check(datetime(2026, 11, 3, 10)) == (1, 1)  # fast-lane clocks are checked like the others


def test_without_the_fast_lane_the_normal_targets_apply(app, world):
    desk = Desk(app, world, **sla_terms(240, 480, fast_ack=60, fast_action=120))
    history, items = desk.file(datetime(2026, 11, 2, 9), count=19)  # one decision short of enough history
    for item in items:
        desk.move(item, "removed", datetime(2026, 11, 2, 10))
    notice, (item,) = desk.file(datetime(2026, 11, 3, 9))
    assert not notice.fast_lane
    assert (desk.clock(item, "acknowledge").target_minutes, desk.clock(item, "action").target_minutes) == (240, 480)


# --- reading a clock -----------------------------------------------------------------------------------

def test_read_running_paused_and_completed(app, world):
    """Action 2 h from 08:00 (24/7): paused 09:00-10:05, removed at 10:45."""
    desk = Desk(app, world, **sla_terms(240, 120))
    item = desk.file_one(datetime(2026, 11, 16, 8))

    def reads(hour, minute, metric="action"):
        r = desk.read(item, metric, datetime(2026, 11, 16, hour, minute))
        return r.stage, r.remaining, r.elapsed_percent, r.deadline, r.breached

    assert reads(8, 30) == ("running", timedelta(minutes=90), 25, datetime(2026, 11, 16, 10), False)
    assert desk.item(item).due_at == datetime(2026, 11, 16, 10)
    desk.move(item, "info_requested", datetime(2026, 11, 16, 9))
    # Paused: the time left stands still; the deadline shown is where it would fall if resumed now.
    assert reads(9, 30) == ("paused", timedelta(minutes=60), 50, datetime(2026, 11, 16, 10, 30), False)
    assert reads(11, 0) == ("paused", timedelta(minutes=60), 50, datetime(2026, 11, 16, 12), False)
    assert reads(11, 0, "acknowledge") == ("completed", timedelta(hours=3), 25, datetime(2026, 11, 16, 12), False)
    desk.move(item, "acknowledged", datetime(2026, 11, 16, 10, 5))
    assert reads(10, 35) == ("running", timedelta(minutes=30), 75, datetime(2026, 11, 16, 11, 5), False)
    # Had nobody acted: late by 30 minutes at 11:35, breached in the reading before the check finds it.
    assert reads(11, 35) == ("running", timedelta(minutes=-30), 125, datetime(2026, 11, 16, 11, 5), True)
    assert desk.item(item).due_at == datetime(2026, 11, 16, 11, 5) and not desk.item(item).breached
    desk.move(item, "removed", datetime(2026, 11, 16, 10, 45))
    # Completed: what was left when it stopped, whenever it is read.
    assert reads(13, 0) == ("completed", timedelta(minutes=20), 83, datetime(2026, 11, 16, 11, 5), False)
    final = desk.read(item, "action", datetime(2026, 12, 1))
    assert final.stopped_at == datetime(2026, 11, 16, 10, 45) and final.remaining_seconds == 20 * 60
    assert final.target == timedelta(minutes=120) and final.started_at == datetime(2026, 11, 16, 8)
    assert desk.item(item).due_at is None and not desk.item(item).breached


def test_readings_of_many_items_match_read(app, world):
    desk = Desk(app, world, **sla_terms(240, 960, calendar=LONDON))
    notice, items = desk.file(datetime(2026, 11, 20, 16), count=3)
    desk.move(items[1], "acknowledged", datetime(2026, 11, 23, 9, 30))
    moment = datetime(2026, 11, 23, 11)
    with app.app_context():
        found = clocks.readings(items, moment)
        assert clocks.readings([], moment) == {}
    assert set(found) == {item.id for item in items}
    for item in items:
        assert set(found[item.id]) == {"acknowledge", "action"}
        for metric, reading in found[item.id].items():
            assert reading == desk.read(item, metric, moment)
    assert found[items[0].id]["acknowledge"].remaining == timedelta(hours=1)
    assert found[items[1].id]["acknowledge"].stage == "completed"
    assert found[items[1].id]["acknowledge"].remaining == timedelta(hours=2, minutes=30)


def test_item_copies_the_nearest_running_deadline_and_breached(app, world):
    desk = Desk(app, world, **sla_terms(60, 120))
    item = desk.file_one(datetime(2026, 11, 16, 8))
    assert (desk.item(item).due_at, desk.item(item).breached) == (datetime(2026, 11, 16, 9), False)
    desk.check(datetime(2026, 11, 16, 9))  # the acknowledge clock breaches
    assert (desk.item(item).due_at, desk.item(item).breached) == (datetime(2026, 11, 16, 9), True)
    with app.app_context():
        platform_queue = [i.id for i in services.queue(desk.platform, breached=True)]
    assert platform_queue == [item.id]
    desk.move(item, "acknowledged", datetime(2026, 11, 16, 9, 10))
    assert (desk.item(item).due_at, desk.item(item).breached) == (datetime(2026, 11, 16, 10), True)
    desk.move(item, "info_requested", datetime(2026, 11, 16, 9, 20))
    assert desk.item(item).due_at is None
    desk.move(item, "acknowledged", datetime(2026, 11, 16, 9, 50))
    assert desk.item(item).due_at == datetime(2026, 11, 16, 10, 30)


# --- the periodic task ---------------------------------------------------------------------------------

def test_the_periodic_task_finds_a_breach(app, world):
    from portal.sla.tasks import check_sla_clocks
    from portal.timeutil import utcnow

    now = utcnow()
    desk = Desk(app, world, **dict(sla_terms(60, 120), effective_from=(now - timedelta(days=30)).date().isoformat()))
    overdue = desk.file_one(now - timedelta(hours=3))
    fresh = desk.file_one(now - timedelta(minutes=10))
    with app.app_context():
        assert check_sla_clocks.call_local() == {"warnings": 2, "breaches": 2}
        assert check_sla_clocks.call_local() == {"warnings": 0, "breaches": 0}
    assert desk.item(overdue).breached and not desk.item(fresh).breached
    assert desk.events("sla.breached", overdue) == desk.both(2)
    assert desk.events("sla.breached", fresh) == {}
    assert all(desk.clock(overdue, m).breach_emitted_at is not None for m in ("acknowledge", "action"))
