"""Business time: adding working hours to a moment, and measuring the working time between two moments,
in a calendar's IANA time zone, working days, working hours and holidays, or around the clock (24/7).

Moments are naive UTC datetimes, the form the database stores (DESIGN.md rule 5). Working hours are wall
clock times in the calendar's zone, so each day's window is built in local time and turned into UTC on
its own: a day whose clocks change (DST) has a window of the right real length, and "Fri 16:00 + 4
business hours" lands on Monday at the same wall-clock time whatever happened to the clocks over the
weekend. A 24/7 calendar counts real elapsed time (across a DST change, 02:00 + 2 h is 2 real hours).

Days whose clocks change. A day's window is the shortest span of real time holding every moment at which
the local clock, on that date, shows a time within working hours (the test: tests/test_sla_dst.py walks
every zone's transitions minute by minute against this rule):
- an opening or closing time the clocks skip (spring forward: 02:30 in New York, where 02:00 EST becomes
  03:00 EDT) is the moment of the change, since that is when the clock passes it. Hours 02:30-08:30 open
  at 03:00 EDT, 5.5 real hours; hours 00:30-02:30 close at the change (03:00 EDT), 1.5 real hours; hours
  wholly inside the skipped time (and a day the zone skips, as Samoa did on 30 December 2011) give no
  working time that day;
- an opening time the clocks show twice (fall back: 01:30 in New York, where 02:00 EDT becomes 01:00 EST)
  is its first occurrence (fold=0), and a closing time shown twice is its last occurrence (fold=1): the
  window holds both passes through the repeated hour, so the business day loses none of its wall-clock
  hours to the change (00:00-01:30 is 2.5 real hours that day, as a 24/7 calendar would count the same
  span) and never closes while the clock still shows a working time that day. The same rule makes one
  exception: a closing time equal to the first moment of the repeated hour (01:00 in New York) is reached
  counting up only once, before the change (the second 01:00 is jumped onto from 01:59), so the window
  closes at its first occurrence;
- a window never starts before the previous day's window ends (a zone going back across midnight, as
  St. John's did from 00:01 to 23:01 until 2010, shows the next date's first minute before the previous
  date's last hour), and a window whose opening maps to or after its closing is empty: no window.

Example (DESIGN.md): Fri 16:00 + 4 business hours, Mon-Fri 09:00-17:00 Europe/London = Mon 12:00.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS_SEARCHED = 3660  # a deadline further than ten years of calendar away is a configuration mistake
RESOLUTION = timedelta(microseconds=1)  # of datetimes, and of the search for a clock change


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str = "UTC"
    working_days: frozenset = frozenset(range(5))  # 0 = Monday ... 6 = Sunday
    opens: time = time(9)
    closes: time = time(17)
    holidays: frozenset = field(default_factory=frozenset)  # local dates
    always_open: bool = False  # 24/7: every moment counts

    def __post_init__(self):
        # An unknown zone fails here, not in the middle of a deadline. Kept (not a field: equality, hashing
        # and calendar_to_dict see the zone's name only) because every window converts through it.
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))
        # Sets as frozensets whatever was passed (a set, a list): a calendar is hashable, for the window cache.
        object.__setattr__(self, "working_days", frozenset(self.working_days))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        if not self.always_open:
            if not self.working_days:
                raise ValueError("a business calendar needs at least one working day")
            if not self.opens < self.closes:
                raise ValueError("working hours must open before they close on the same day")

    @classmethod
    def twenty_four_seven(cls, timezone_name="UTC"):
        return cls(timezone=timezone_name, always_open=True)

    @property
    def zone(self):
        return self._zone

    # --- windows --------------------------------------------------------------------------------------

    def window(self, day):
        """The working window of a local date as (start, end) in naive UTC, or None on a closed day (and on a
        day whose working hours the clocks skip entirely). Windows of successive days never overlap."""
        return _cached_window(self, day)

    def _window(self, day):
        if not self._works_on(day):
            return None
        start, end = self._opening(day), self._closing(day)
        previous = day - timedelta(days=1)
        if self._works_on(previous):
            start = max(start, self._closing(previous))
        return (start, end) if start < end else None

    def _works_on(self, day):
        return day.weekday() in self.working_days and day not in self.holidays

    # A local time read with fold=0 and fold=1 (PEP 495) gives one moment when the clock shows it once, two
    # (fold=0 the earlier) when it shows it twice, and, when the clocks skip it, two in the other order
    # (fold=0 with the offset from before the change, so later): the change lies between them.

    def _opening(self, day):
        """The first moment the clock shows `opens` on `day`: its first occurrence, or the change that
        skips it."""
        local = datetime.combine(day, self.opens)
        first, second = self._utc(local, 0), self._utc(local, 1)
        return first if first <= second else self._change_between(second, first)

    def _closing(self, day):
        """The last moment the clock reaches `closes` on `day` counting up: its last occurrence (unless the
        clocks jump back onto it, rather than count up to it, there), or the change that skips it."""
        local = datetime.combine(day, self.closes)
        first, second = self._utc(local, 0), self._utc(local, 1)
        if first > second:
            return self._change_between(second, first)
        if first < second and self._wall(second - RESOLUTION) < local:
            return second
        return first

    def _utc(self, local_wall_clock, fold):
        aware = local_wall_clock.replace(tzinfo=self._zone, fold=fold)
        return aware.astimezone(timezone.utc).replace(tzinfo=None)

    def _wall(self, moment):
        """The local wall-clock time (naive) of a naive UTC moment."""
        return moment.replace(tzinfo=timezone.utc).astimezone(self._zone).replace(tzinfo=None)

    def _offset(self, moment):
        return moment.replace(tzinfo=timezone.utc).astimezone(self._zone).utcoffset()

    def _change_between(self, before, after):
        """The moment of the clock change in (before, after], found to the microsecond by bisection on the
        offset (`after` has the new one)."""
        offset_after = self._offset(after)
        while after - before > RESOLUTION:
            middle = before + (after - before) / 2
            if self._offset(middle) == offset_after:
                after = middle
            else:
                before = middle
        return after

    def _local_date(self, moment):
        return moment.replace(tzinfo=timezone.utc).astimezone(self._zone).date()

    def _windows_from(self, moment):
        """Working windows (naive UTC) from the local day of `moment` on, in order, never overlapping."""
        day = self._local_date(moment) - timedelta(days=1)  # the day before's window may reach past `moment`
        last_end = None
        for _ in range(MAX_DAYS_SEARCHED):
            window = self.window(day)
            if window is not None and last_end is not None and window[0] < last_end:
                window = (last_end, window[1]) if last_end < window[1] else None
            if window is not None:
                yield window
                last_end = window[1]
            day += timedelta(days=1)
        raise ValueError("no working time found within ten years: check the calendar's days and holidays")

    # --- arithmetic -----------------------------------------------------------------------------------

    def add(self, start, duration):
        """The moment `duration` of working time after `start` (both naive UTC)."""
        if duration < timedelta(0):
            raise ValueError("a duration of working time cannot be negative")
        if self.always_open:
            return start + duration
        remaining, cursor = duration, start
        for window_start, window_end in self._windows_from(start):
            if window_end <= cursor:
                continue
            cursor = max(cursor, window_start)
            available = window_end - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
            cursor = window_end

    def elapsed(self, start, end):
        """Working time between two naive UTC moments (zero when `end` is not after `start`)."""
        if end <= start:
            return timedelta(0)
        if self.always_open:
            return end - start
        total = timedelta(0)
        for window_start, window_end in self._windows_from(start):
            if window_start >= end:
                break
            overlap = min(window_end, end) - max(window_start, start)
            if overlap > timedelta(0):
                total += overlap
        return total

    def is_open(self, moment):
        if self.always_open:
            return True
        day = self._local_date(moment)  # a clock change may put a moment in a neighbouring day's window
        for window in (self.window(day - timedelta(days=1)), self.window(day), self.window(day + timedelta(days=1))):
            if window is not None and window[0] <= moment < window[1]:
                return True
        return False


@lru_cache(maxsize=8192)
def _cached_window(calendar, day):
    """Windows are pure (a calendar is immutable), and the clocks of a queue page, the periodic check and
    a week's report ask for the same calendar's days over and over: each is worked out once."""
    return calendar._window(day)


def parse_days(text):
    """"mon-fri" or "mon,wed,fri" or "sun-thu" -> frozenset of weekday numbers (0 = Monday)."""
    days = set()
    for part in (text or "").lower().replace(" ", "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"unknown day in {text!r}: use mon, tue, wed, thu, fri, sat, sun")
        start = WEEKDAYS.index(first)
        stop = WEEKDAYS.index(last) if last else start
        index = start
        while True:
            days.add(index)
            if index == stop:
                break
            index = (index + 1) % 7  # "fri-mon" wraps over the weekend
    return frozenset(days)


def parse_holidays(dates):
    return frozenset(date.fromisoformat(str(value)) for value in dates)


def calendar_to_dict(calendar):
    """A calendar as plain data, the form a clock snapshots when it starts."""
    return {"timezone": calendar.timezone, "always_open": calendar.always_open,
            "working_days": sorted(calendar.working_days), "opens": calendar.opens.strftime("%H:%M"),
            "closes": calendar.closes.strftime("%H:%M"), "holidays": sorted(d.isoformat() for d in calendar.holidays)}


def calendar_from_dict(data):
    if data.get("always_open"):
        return BusinessCalendar.twenty_four_seven(data.get("timezone", "UTC"))
    return BusinessCalendar(timezone=data["timezone"], working_days=frozenset(data["working_days"]),
                            opens=time.fromisoformat(data["opens"]), closes=time.fromisoformat(data["closes"]),
                            holidays=parse_holidays(data.get("holidays", ())))
