"""The SLA engine: the one module that starts, pauses, resumes, stops and reads the clocks of notice
items, and finds warnings and breaches. Pages, the API, the CLI and the periodic task all call it.

Semantics (DESIGN.md, after Zendesk / ServiceNow / Zammad):
- two metrics per item: `acknowledge` starts at filing and never pauses; `action` starts at filing and
  pauses while the item waits for the brand (`info_requested`); a pause extends the deadline by its length
  in business time;
- targets are business time in the partnership calendar (or 24/7) and are copied onto the clock when it
  starts, with the calendar: new terms never move a running clock;
- stage (running, paused, completed, cancelled) and `breached` are separate: completing late keeps
  `breached`; the warning (75% of the target) and the breach are each emitted once, whether the periodic
  task, a late completion or a pause after the deadline finds them first (a late one warns first).
"""
import functools
import json
import logging
import math
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime, timedelta

from portal import bulk
from portal.db import PreparedSelect, db, is_postgresql, padded_ids
from portal.events import emit
from portal.sla.calendar import calendar_from_dict, calendar_to_dict
from portal.sla.models import SlaClock
from portal.timeutil import utcnow

WARNING_SHARE = 0.75
log = logging.getLogger(__name__)


@dataclass
class ClockReading:
    """A clock as people see it at a moment."""

    metric: str
    stage: str
    breached: bool
    target: timedelta
    started_at: datetime
    deadline: datetime  # while paused: where it would fall if resumed now
    remaining: timedelta  # business time left; negative once late
    elapsed_percent: int
    stopped_at: datetime | None
    calendar_time: bool = False  # a 24/7 calendar: every hour counts, not only business hours
    timezone: str = "UTC"  # the calendar's zone, in which its business hours are kept

    @property
    def remaining_seconds(self):
        return int(self.remaining.total_seconds())

    @property
    def remaining_hours(self):
        return round(self.remaining.total_seconds() / 3600, 2)

    @property
    def basis(self):
        """What the clock counts, as the API names it: calendar time or business hours."""
        return "calendar_time" if self.calendar_time else "business_hours"

    @property
    def basis_words(self):
        """How a page says it: "calendar time" or "business hours (Europe/London)"."""
        return "calendar time" if self.calendar_time else f"business hours ({self.timezone})"


def calendar_of(clock):
    return calendar_from_snapshot(clock.calendar)


@functools.lru_cache(maxsize=512)
def calendar_from_snapshot(text):
    """The calendar a clock snapshotted (its JSON text). Clocks share a handful of snapshots (one per policy
    version), and a calendar is immutable: parsed once, not once per clock read (a queue page reads 100)."""
    return calendar_from_dict(json.loads(text))


def business_remaining(calendar, now, deadline):
    """Business time from `now` to `deadline`, negative when the deadline has passed."""
    if now <= deadline:
        return calendar.elapsed(now, deadline)
    return -calendar.elapsed(deadline, now)


# --- starting and moving clocks ----------------------------------------------------------------------

CLOCK_FIELDS = ("item", "brand", "platform", "metric", "target_minutes", "calendar", "started_at", "deadline",
                "warn_at", "stage")


def start_many(items, calendar, ack_minutes, action_minutes, at):
    """Both clocks of newly filed items (with their brand and platform read), with the targets and calendar
    in force now. The items start together, so their deadlines are worked out once."""
    snapshot = json.dumps(calendar_to_dict(calendar), sort_keys=True)
    rows = []
    for metric, minutes in (("acknowledge", ack_minutes), ("action", action_minutes)):
        target = timedelta(minutes=minutes)
        times = (metric, minutes, snapshot, at, calendar.add(at, target), calendar.add(at, target * WARNING_SHARE),
                 "running")
        rows.extend((item.id, item.brand_id, item.platform_id, *times) for item in items)
    # The driver's bulk path (portal.bulk): building peewee's INSERT text cost more than the insert itself.
    bulk.insert(SlaClock, CLOCK_FIELDS, rows)


# Read at every move of a listing (a bulk move of 300 reads them 300 times): compiled once.
CLOCK = PreparedSelect(lambda item_id, metric: SlaClock.select().where(
    (SlaClock.item == item_id) & (SlaClock.metric == metric)), arity=2)
QUEUE_FACTS = PreparedSelect(lambda item_id: SlaClock.select(SlaClock.stage, SlaClock.deadline, SlaClock.breached)
                             .where(SlaClock.item == item_id))


def clock(item, metric):
    found = CLOCK.rows(getattr(item, "id", item), metric)
    if not found:
        raise SlaClock.DoesNotExist(f"listing {getattr(item, 'id', item)} has no {metric} clock")
    return found[0]


def pause(item, metric, at):
    """Stop the clock's run, keeping the business time left; nothing happens to a clock not running."""
    c = clock(item, metric)
    if c.stage != "running":
        return c
    left = business_remaining(calendar_of(c), at, c.deadline)
    late = at >= c.deadline  # paused after the deadline: it was missed, whatever happens next
    # Rounded up: a fraction of a second lost here would bring the resumed deadline forward.
    SlaClock.update(stage="paused", paused_at=at, remaining_seconds=math.ceil(left.total_seconds()),
                    breached=SlaClock.breached | late).where(SlaClock.id == c.id).execute()
    if late:
        _emit_late(SlaClock.get_by_id(c.id), at)
    return c


def resume(item, metric, at):
    """Run a paused clock again: its deadline moves on by the business time it spent paused."""
    c = clock(item, metric)
    if c.stage != "paused":
        return c
    calendar = calendar_of(c)
    paused_for = calendar.elapsed(c.paused_at, at)
    changes = {"stage": "running", "paused_at": None, "remaining_seconds": None,
               "paused_seconds": c.paused_seconds + int(paused_for.total_seconds())}
    left = timedelta(seconds=c.remaining_seconds)
    if left > timedelta(0):
        changes["deadline"] = calendar.add(at, left)
        if c.warned_at is None:
            to_warning = left - timedelta(minutes=c.target_minutes) * (1 - WARNING_SHARE)
            changes["warn_at"] = calendar.add(at, max(to_warning, timedelta(0)))
    SlaClock.update(**changes).where(SlaClock.id == c.id).execute()
    return c


def complete(item, metric, at):
    """The clock's goal was reached at `at`. Late: breached stays true (and is emitted if not yet)."""
    c = clock(item, metric)
    if c.stage in ("running", "paused"):
        _stop(c, "completed", at)
    return c


def cancel(item, at):
    """Stop every clock of the item that still runs (a withdrawn listing): no longer measured. A clock
    already past its deadline was missed: it keeps that breach (emitted once, like any other)."""
    for c in SlaClock.select().where((SlaClock.item == item) & SlaClock.stage.in_(("running", "paused"))):
        _stop(c, "cancelled", at)


def _stop(c, stage, at):
    """End a running or paused clock as `stage`, keeping the business time it had left (negative: late)."""
    if c.stage == "paused":
        left = timedelta(seconds=c.remaining_seconds)
        late = left <= timedelta(0)  # paused after its deadline (pause() already recorded the breach)
    else:
        left = business_remaining(calendar_of(c), at, c.deadline)
        late = at >= c.deadline
    SlaClock.update(stage=stage, stopped_at=at, remaining_seconds=int(left.total_seconds()),
                    breached=SlaClock.breached | late).where(SlaClock.id == c.id).execute()
    if late:
        _emit_late(SlaClock.get_by_id(c.id), at)


def refresh_item(item):
    """Copy onto the item what its queue position needs: the nearest running deadline, breached."""
    from portal.notices.models import NoticeItem

    clocks = QUEUE_FACTS.tuples(item.id)
    deadlines = [deadline for stage, deadline, _ in clocks if stage == "running"]
    breached = any(flag for _, _, flag in clocks)
    NoticeItem.update(due_at=min(deadlines) if deadlines else None, breached=breached).where(
        NoticeItem.id == item.id).execute()


# --- reading -----------------------------------------------------------------------------------------

def read(c, now=None):
    """What the clock says at `now`: stage, breached, deadline, business time left, % of target used."""
    now = now or utcnow()
    calendar = calendar_of(c)
    target = timedelta(minutes=c.target_minutes)
    deadline = c.deadline
    if c.stage == "running":
        remaining = business_remaining(calendar, now, c.deadline)
    else:
        remaining = timedelta(seconds=c.remaining_seconds or 0)
        if c.stage == "paused":
            deadline = calendar.add(now, remaining) if remaining > timedelta(0) else c.deadline
    breached = c.breached or (c.stage == "running" and now >= c.deadline)
    used = (target - remaining) / target if target else 1
    return ClockReading(metric=c.metric, stage=c.stage, breached=breached, target=target, started_at=c.started_at,
                        deadline=deadline, remaining=remaining, elapsed_percent=max(0, round(used * 100)),
                        stopped_at=c.stopped_at, calendar_time=calendar.always_open, timezone=calendar.timezone)


# What `read` needs of a clock, read as plain rows for pages of listings (a queue page reads 100 clocks;
# building model instances for them cost more than the query).
CLOCK_COLUMNS = ("item_id", "metric", "stage", "breached", "target_minutes", "calendar", "started_at", "deadline",
                 "remaining_seconds", "stopped_at")
ClockRow = namedtuple("ClockRow", CLOCK_COLUMNS)
CLOCKS_OF = PreparedSelect(lambda size, *ids: SlaClock.select(
    SlaClock.item, *(getattr(SlaClock, name) for name in CLOCK_COLUMNS[1:])).where(SlaClock.item.in_(list(ids))),
    arity=lambda size: size, shaped=True)


def readings(items, now=None):
    """{item id: {metric: ClockReading}} for many items in one query."""
    now = now or utcnow()
    found = {}
    ids = [getattr(item, "id", item) for item in items]
    if not ids:
        return found
    size, ids = padded_ids(ids)
    for row in CLOCKS_OF.tuples(*ids, shape=size):
        c = ClockRow(*row)
        found.setdefault(c.item_id, {})[c.metric] = read(c, now)
    return found


def nearest_due(readings_by_item):
    """{item id: the running or paused ClockReading nearest its deadline} of `readings()`'s answer; items
    with no such clock are left out."""
    nearest = {}
    for item_id, by_metric in readings_by_item.items():
        open_clocks = [by_metric[metric] for metric in ("acknowledge", "action")  # ties: acknowledge first
                       if metric in by_metric and by_metric[metric].stage in ("running", "paused")]
        if open_clocks:
            nearest[item_id] = min(open_clocks, key=lambda r: r.deadline)
    return nearest


# --- the periodic check ------------------------------------------------------------------------------

def _parties(c):
    from portal.notices.models import NoticeItem
    item = NoticeItem.get_by_id(c.item_id)
    return item, (item.brand_id, item.platform_id)


def _payload(c, item, kind):
    return {"event": kind, "notice": item.notice_id, "item": item.id, "url": item.url, "metric": c.metric,
            "target_minutes": c.target_minutes, "deadline": c.deadline.isoformat(timespec="seconds") + "Z",
            "state": item.state}


def _emit_warning(c, now):
    claimed = SlaClock.update(warned_at=now).where((SlaClock.id == c.id) & SlaClock.warned_at.is_null()).execute()
    if claimed:  # only the transaction that set warned_at emits: exactly once
        item, orgs = _parties(c)
        emit("sla.warning", orgs, item, _payload(c, item, "sla.warning"))
    return bool(claimed)


def _emit_breach(c, now):
    claimed = SlaClock.update(breached=True, breach_emitted_at=now).where(
        (SlaClock.id == c.id) & SlaClock.breach_emitted_at.is_null()).execute()
    if claimed:
        item, orgs = _parties(c)
        emit("sla.breached", orgs, item, _payload(c, item, "sla.breached"))
        refresh_item(item)
    return bool(claimed)


def _emit_late(c, now):
    """A clock found past its deadline (by the check, a late completion or a late pause): the warning
    first if it never came, then the breach; each once. Returns (warnings, breaches) emitted."""
    warned = _emit_warning(c, now) if c.warned_at is None else False
    return int(warned), int(_emit_breach(c, now))


def lock_item(item_id):
    """Lock a notice item's row for the rest of the transaction (PostgreSQL; SQLite writers are serial).

    Every writer of an item's clocks takes this lock first, then touches the clocks, then the audit
    head: one order for all, so a transition and the periodic check never deadlock, and the check never
    judges a clock an analyst is completing at that moment."""
    if is_postgresql():
        db.execute_sql("SELECT id FROM notice_item WHERE id = %s FOR NO KEY UPDATE", (item_id,))


def _check_one(clock_id, now, breach):
    """One clock, in its own transaction, re-read under its item's lock; (warnings, breaches) emitted."""
    item_id = SlaClock.select(SlaClock.item).where(SlaClock.id == clock_id).scalar()
    if item_id is None:
        return 0, 0
    with db.atomic():
        lock_item(item_id)
        c = SlaClock.get_or_none((SlaClock.id == clock_id) & (SlaClock.stage == "running"))
        if c is None:  # completed, paused or cancelled meanwhile
            return 0, 0
        if breach and c.deadline <= now:
            return _emit_late(c, now)
        if not breach and c.warn_at <= now:
            return int(_emit_warning(c, now)), 0
    return 0, 0


def check_clocks(now=None, batch=500):
    """Emit `sla.warning` for running clocks past 75% of their target and `sla.breached` for those past
    their deadline, each once. Returns (warnings, breaches) emitted by this run. A clock that fails is
    logged and left for the next run; the others go on."""
    now = now or utcnow()
    warnings = breaches = 0
    due = (SlaClock.select(SlaClock.id).where((SlaClock.stage == "running") & (SlaClock.deadline <= now)
                                              & SlaClock.breach_emitted_at.is_null()).order_by(SlaClock.id))
    warn = (SlaClock.select(SlaClock.id).where((SlaClock.stage == "running") & (SlaClock.warn_at <= now)
                                               & SlaClock.warned_at.is_null()).order_by(SlaClock.id))
    for query, breach in ((due, True), (warn, False)):
        for row in list(query.limit(batch * 20)):
            try:
                warned, breached = _check_one(row.id, now, breach)
            except Exception:  # noqa: BLE001 - one bad clock must not stop the others' events
                log.exception("SLA check of clock %s failed; it is retried on the next run", row.id)
                continue
            warnings, breaches = warnings + warned, breaches + breached
    return warnings, breaches
